#!/usr/bin/env python3
"""Run the benchmarks against the real back end and print the figures.

Usage: ``python scripts/bench.py`` runs every scenario; ``python scripts/bench.py
NAME ...`` runs the named ones; ``--list`` shows them. Names are kebab-case
(``groups-fanout``); the older snake_case spellings are accepted. Each scenario
lives in a module of ``scripts/benchmarks/`` that defines ``SCENARIOS = {name:
function}`` as a dict literal; a function returns a list of
:class:`benchmarks.common.Result`. A module is imported only when one of its
scenarios runs, so ``--list`` works in the client's .venv; scenarios that
drive client processes need the development extras (pexpect), and say so.
The figures recorded in docs/benchmarks.md come from this script. Without a
DISPLAY it starts its own Xvfb for the scenarios that open windows (as
``scripts/test.sh`` does) and stops it at the end.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

# Scenarios fork client processes (pexpect) while gRPC threads run in this
# process; gRPC's fork handlers could then crash the child before it execs.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from benchmarks.common import Result  # noqa: E402
from benchmarks.display import NoDisplay, virtual_display  # noqa: E402

#: What to install when a scenario needs a package the client's .venv lacks.
DEV_EXTRAS = ".venv/bin/pip install -e '.[dev]'"


def scenario_names(module: Path) -> dict[str, str]:
    """Map each scenario a module declares to its function's name, without importing it.

    A module declares ``SCENARIOS = {"name": function, ...}`` at its top level.
    Reading that dict from the source keeps ``--list`` free of the modules'
    imports, some of which (pexpect, the tests' helpers) only the development
    extras install.

    Args:
        module: A ``scripts/benchmarks/*.py`` file.

    Returns:
        ``{scenario: function}``; empty when the module declares none.

    Raises:
        ValueError: ``SCENARIOS`` is not such a literal.
    """
    tree = ast.parse(module.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "SCENARIOS" for t in node.targets
        ):
            value = node.value
            pairs = (
                zip(value.keys, value.values, strict=True) if isinstance(value, ast.Dict) else []
            )
            found = {
                key.value: function.id
                for key, function in pairs
                if isinstance(key, ast.Constant)
                and isinstance(key.value, str)
                and isinstance(function, ast.Name)
            }
            if not isinstance(value, ast.Dict) or len(found) != len(value.keys):
                raise ValueError(
                    f"{module}: SCENARIOS must be a dict literal of "
                    '{"name": function, ...} for --list to read it'
                )
            return found
    return {}


def scenarios() -> dict[str, tuple[str, str]]:
    """Every scenario, as ``{name: (module, function)}``, in module order."""
    found: dict[str, tuple[str, str]] = {}
    for path in sorted((HERE / "benchmarks").glob("*.py")):
        for name, function in scenario_names(path).items():
            found[name] = (path.stem, function)
    return found


def canonical(name: str) -> str:
    """The kebab-case name; the older snake_case names still work."""
    return name.replace("_", "-")


def load(name: str, where: tuple[str, str]) -> Callable[[], list[Result]]:
    """Import the scenario's module only now, naming a missing dependency plainly.

    Raises:
        SystemExit: The module needs a package this environment lacks.
    """
    module, function = where
    try:
        return getattr(importlib.import_module(f"benchmarks.{module}"), function)
    except ModuleNotFoundError as exc:
        raise SystemExit(
            f"bench.py: scenario {name} needs {exc.name}, which only the development "
            f"extras install; run {DEV_EXTRAS} in {HERE.parent} and try again"
        ) from None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="scenarios to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the scenarios")
    parser.add_argument(
        "--minutes", type=float, help="how long the soak runs (default: 10 minutes)"
    )
    args = parser.parse_args()
    if args.minutes is not None:
        from benchmarks import soak

        soak.MINUTES = args.minutes
    available = scenarios()
    if args.list:
        print("\n".join(available))
        return 0
    wanted = [canonical(n) for n in args.names]
    unknown = [n for n, c in zip(args.names, wanted, strict=True) if c not in available]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}; try --list", file=sys.stderr)
        return 2
    results: list[Result] = []
    # Clean-up scenarios run only when named: they delete what other runs reuse.
    default = [n for n in available if not n.endswith("-clean")]
    chosen = wanted or default
    runs = {name: load(name, available[name]) for name in chosen}
    try:
        with virtual_display():
            for name, run in runs.items():
                print(f"running {name} ...", file=sys.stderr, flush=True)
                results.extend(run())
    except NoDisplay as exc:
        print(f"bench.py: {exc}", file=sys.stderr)
        return 2
    width = max((len(f"{r.scenario}: {r.metric}") for r in results), default=10)
    print(f"{'figure'.ljust(width)}  {'measured':>14}  target")
    for r in results:
        verdict = "" if r.ok is None else ("  ok" if r.ok else "  MISSED")
        value = f"{r.value:,.3f} {r.unit}" if r.value < 100 else f"{r.value:,.0f} {r.unit}"
        print(f"{f'{r.scenario}: {r.metric}'.ljust(width)}  {value:>14}  {r.target}{verdict}")
    return 0 if all(r.ok is not False for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

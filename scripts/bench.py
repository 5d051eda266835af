#!/usr/bin/env python3
"""Run the benchmarks against the real back end and print the figures.

Usage: ``python scripts/bench.py`` runs every scenario; ``python scripts/bench.py
NAME ...`` runs the named ones; ``--list`` shows them. Each scenario lives in a
module of ``scripts/benchmarks/`` that defines ``SCENARIOS = {name: function}``;
a function returns a list of :class:`benchmarks.common.Result`.
The figures recorded in docs/benchmarks.md come from this script. Without a
DISPLAY it starts its own Xvfb for the scenarios that open windows (as
``scripts/test.sh`` does) and stops it at the end.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
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


def scenarios() -> dict[str, Callable[[], list[Result]]]:
    import benchmarks

    found: dict[str, Callable[[], list[Result]]] = {}
    for info in sorted(pkgutil.iter_modules(benchmarks.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"benchmarks.{info.name}")
        found.update(getattr(module, "SCENARIOS", {}))
    return found


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
    unknown = [n for n in args.names if n not in available]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}; try --list", file=sys.stderr)
        return 2
    results: list[Result] = []
    # Clean-up scenarios run only when named: they delete what other runs reuse.
    default = [n for n in available if not n.endswith("_clean")]
    try:
        with virtual_display():
            for name in args.names or default:
                print(f"running {name} ...", file=sys.stderr, flush=True)
                results.extend(available[name]())
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

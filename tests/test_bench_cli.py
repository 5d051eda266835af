"""scripts/bench.py in the client's .venv: scenarios listed and named without test-only packages."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.support import ROOT

#: Runs bench.py as the client's .venv would: pexpect and pytest cannot be imported.
WITHOUT_DEV_EXTRAS = (
    "import runpy, sys; "
    "sys.modules.update(pexpect=None, pytest=None); "
    "sys.argv = ['bench.py', *sys.argv[1:]]; "
    "runpy.run_path('scripts/bench.py', run_name='__main__')"
)


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_DEV_EXTRAS, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_list_works_without_the_development_extras():
    done = bench("--list")
    assert done.returncode == 0, done.stderr
    names = done.stdout.split()
    assert {"startup", "exit", "private-chat", "groups-fanout", "insults-live"} <= set(names)
    assert all(name == name.lower() and "_" not in name for name in names), names


def test_a_scenario_that_needs_pexpect_says_which_command_installs_it():
    done = bench("startup")
    assert done.returncode != 0
    assert "scenario startup needs pexpect" in done.stderr
    assert ".venv/bin/pip install -e '.[dev]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_old_snake_case_names_still_run_and_unknown_names_are_named():
    done = bench("groups_fanout", "no_such_thing")
    assert done.returncode == 2
    assert "unknown scenario(s): no_such_thing; try --list" in done.stderr
    assert "groups_fanout" not in done.stderr.split("unknown scenario(s):")[1]


def test_every_benchmark_module_declares_scenarios_that_list_can_read(tmp_path, monkeypatch):
    # bench.py extends sys.path and sets an environment default on import: undone afterwards.
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("GRPC_ENABLE_FORK_SUPPORT", raising=False)
    spec = importlib.util.spec_from_file_location("bench", ROOT / "scripts" / "bench.py")
    assert spec is not None and spec.loader is not None
    bench_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_module)
    modules = sorted((ROOT / "scripts" / "benchmarks").glob("*.py"))
    declaring = [m for m in modules if "SCENARIOS =" in m.read_text(encoding="utf-8")]
    assert declaring and all(bench_module.scenario_names(m) for m in declaring)

    odd = tmp_path / "odd.py"
    odd.write_text("SCENARIOS = {name: run for name, run in []}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="must be a dict literal"):
        bench_module.scenario_names(odd)

"""Client processes the soak drives: start, command, measure (RSS, CPU) and kill.

Each is :mod:`benchmarks.soak_agent` in a process of its own; commands go to
its stdin and answers come back on its stdout, read by a thread that hands
each answer to the caller waiting for it.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AGENT = Path(__file__).resolve().parent / "soak_agent.py"
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


class AgentError(RuntimeError):
    """The client refused a command (a sentence for the user) or is gone."""


@dataclass
class Sample:
    """One reading of a process: wall time, resident memory and CPU seconds used so far."""

    at: float
    rss_mb: float
    cpu_s: float


def sample(pid: int) -> Sample | None:
    """RSS and CPU time of ``pid`` from /proc; None once it has gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    cpu = (int(stat[11]) + int(stat[12])) / TICKS  # utime, stime
    return Sample(time.monotonic(), pages * PAGE / 2**20, cpu)


def cpu_percent(first: Sample, last: Sample) -> float:
    wall = last.at - first.at
    return 100 * (last.cpu_s - first.cpu_s) / wall if wall > 0 else 0.0


class Agent:
    """One client process; :meth:`call` sends a command and waits for its answer."""

    def __init__(self, name: str, workdir: Path, servers: dict[str, str], seed: int) -> None:
        self.name = name
        self.workdir = workdir
        self.stderr = open(workdir / f"{name}.stderr", "ab")  # noqa: SIM115 (kept for the child's life)
        args = [
            sys.executable,
            str(AGENT),
            "--name",
            name,
            "--namespace",
            servers["namespace"],
            "--redis-url",
            servers["redis"],
            "--amqp-url",
            servers["amqp"],
            "--log-dir",
            str(workdir / "logs"),
            "--state-dir",
            str(workdir / "state" / name),
            "--seed",
            str(seed),
            "--gap-low",
            servers.get("gap_low", "1"),
            "--gap-high",
            servers.get("gap_high", "4"),
        ]
        self.process = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True
        )
        self.pid = self.process.pid
        self.id = ""
        self._seq = itertools.count(1)
        self._answers: dict[Any, dict[str, Any]] = {}
        self._arrived = threading.Condition()
        self._closed = False
        self._writing = threading.Lock()  # the day's thread and a drill's may both call
        threading.Thread(target=self._read, name=f"agent {name}", daemon=True).start()
        self.samples: list[Sample] = []

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                answer = json.loads(line)
            except ValueError:
                continue
            with self._arrived:
                self._answers["ready" if answer.get("ready") else answer.get("seq")] = answer
                self._arrived.notify_all()
        with self._arrived:
            self._closed = True
            self._arrived.notify_all()

    def _answer(self, key: Any, timeout: float, what: str) -> dict[str, Any]:
        with self._arrived:
            if not self._arrived.wait_for(
                lambda: key in self._answers or self._closed, timeout=timeout
            ):
                raise AgentError(f"{self.name} did not answer {what} within {timeout:.0f} s")
            if key not in self._answers:
                raise AgentError(f"{self.name} exited (see {self.stderr.name})")
            return self._answers.pop(key)

    def wait_ready(self, timeout: float = 90) -> str:
        self.id = self._answer("ready", timeout, "start-up")["id"]
        self.take_sample()
        return self.id

    def call(self, op: str, timeout: float = 30, **args: Any) -> Any:
        """Run ``op`` in the client; its result, or :class:`AgentError` with its sentence."""
        seq = next(self._seq)
        assert self.process.stdin is not None
        try:
            with self._writing:
                self.process.stdin.write(json.dumps({"seq": seq, "op": op, **args}) + "\n")
                self.process.stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise AgentError(f"{self.name} is gone") from exc
        answer = self._answer(seq, timeout, op)
        if not answer["ok"]:
            raise AgentError(answer["error"])
        return answer["result"]

    def take_sample(self) -> Sample | None:
        reading = sample(self.pid)
        if reading is not None:
            self.samples.append(reading)
        return reading

    def kill(self) -> None:
        """SIGKILL, as a crash or ``kill -9`` ends a client."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.process.wait(10)
        self.stderr.close()

    def quit(self, timeout: float = 15) -> None:
        try:
            self.call("quit", timeout=timeout)
            self.process.wait(timeout)
        except (AgentError, subprocess.TimeoutExpired):
            pass
        self.kill()

"""Helpers the tests share: waiting with a deadline, driving real client processes."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pexpect

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def wait_for(
    condition: Callable[[], T],
    timeout: float = 5.0,
    what: str = "condition",
    step: Callable[[], Any] | None = None,
) -> T:
    """Return the first truthy value of ``condition()``, or fail after ``timeout`` seconds.

    ``step`` runs between checks (e.g. ``root.update`` to let Tk process events);
    without it the wait sleeps briefly between checks.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        if step is not None:
            step()
        time.sleep(0.005)


def tk_wait(
    root: Any, condition: Callable[[], T], timeout: float = 5.0, what: str = "condition"
) -> T:
    """Like :func:`wait_for`, processing Tk events (and so the UI queue) meanwhile."""
    return wait_for(condition, timeout, what, step=root.update)


class ClientProcess:
    """A real client started the way a user does, driven through a pseudo-terminal."""

    def __init__(
        self,
        name: str,
        namespace: str,
        log_dir: Path,
        *extra: str,
        env: dict[str, str] | None = None,
        timeout: float = 15,
    ) -> None:
        self.name = name
        args = ["-m", "chat.app", "--namespace", namespace, "--log-dir", str(log_dir), *extra]
        if name:
            args += ["--name", name]
        self.child = pexpect.spawn(
            sys.executable,
            args,
            cwd=str(ROOT),
            env={**os.environ, **(env or {})},
            encoding="utf-8",
            timeout=timeout,
            dimensions=(50, 200),
        )
        self.id: str | None = None

    def wait_ready(self) -> str:
        self.child.expect(rf"You are {re.escape(self.name)} \(ID (\w+)\) at (\S+)")
        self.id = self.child.match.group(1)
        self.address = self.child.match.group(2)
        self.child.expect("Choose")
        return self.id

    def choose(self, label_or_number: str) -> None:
        self.child.sendline(label_or_number)

    def expect(self, pattern: str, timeout: float | None = None) -> Any:
        return self.child.expect(pattern, timeout=timeout if timeout is not None else -1)

    def exit_status(self, timeout: float = 15) -> int | None:
        self.child.expect(pexpect.EOF, timeout=timeout)
        self.child.close()
        return self.child.exitstatus

    def kill(self) -> None:
        if self.child.isalive():
            self.child.kill(9)
            self.child.close(force=True)

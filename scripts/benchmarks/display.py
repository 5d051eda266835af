"""A virtual X display for the benchmarks that open windows, as scripts/test.sh starts one."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

#: How long Xvfb may take to open its socket.
START_TIMEOUT = 10.0


class NoDisplay(RuntimeError):
    """No display is set and none could be started."""


def _start(number: int) -> subprocess.Popen[bytes] | None:
    """Xvfb on ``:number`` once its socket is there; None when it exited (display taken)."""
    process = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    socket = Path(f"/tmp/.X11-unix/X{number}")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if socket.exists():
            return process
        if process.poll() is not None:
            return None
        time.sleep(0.05)  # another process's start-up; no event to wait on
    process.kill()
    raise NoDisplay(f"Xvfb :{number} did not open its socket within {START_TIMEOUT:g} s")


@contextlib.contextmanager
def virtual_display() -> Iterator[str]:
    """Yield the display to use: ``$DISPLAY``, or a fresh Xvfb stopped afterwards.

    Raises:
        NoDisplay: DISPLAY is not set and Xvfb is not installed or would not start.
    """
    current = os.environ.get("DISPLAY")
    if current:
        yield current
        return
    if shutil.which("Xvfb") is None:
        raise NoDisplay("DISPLAY is not set and Xvfb is not installed: apt-get install xvfb")
    for number in range(99, 199):
        if Path(f"/tmp/.X{number}-lock").exists() or Path(f"/tmp/.X11-unix/X{number}").exists():
            continue
        process = _start(number)
        if process is None:
            continue
        os.environ["DISPLAY"] = f":{number}"
        try:
            yield os.environ["DISPLAY"]
        finally:
            del os.environ["DISPLAY"]
            process.terminate()
            process.wait(5)
        return
    raise NoDisplay("no free X display number between :99 and :198")

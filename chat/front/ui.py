"""The hand-off from worker threads to the Tk main thread, without importing tkinter.

Worker threads (menu, gRPC, broker, heartbeat) never touch Tk. They call
:meth:`UiQueue.post` with a function; the main thread runs it. The queue owns
a pipe: the first post after a drain writes one byte to it, and the main
loop watches the pipe's read end (Tk's ``createfilehandler``), so the main
thread wakes the moment there is work and sleeps otherwise, with no polling.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: Longest run of queued calls in one drain, in seconds, while more keep coming.
DRAIN_SLICE = 0.05


class UiQueue:
    """A thread-safe queue of calls for the UI thread, with a wake-up pipe."""

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]]] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._signalled = False
        self._closed = False
        #: Called on the UI thread at every wake-up, before the queued calls
        #: (the app checks its quit flag here, which signal handlers set).
        self.on_wake: Callable[[], None] | None = None
        self.read_fd, self._write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self._write_fd, False)

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the UI thread soon. Safe from any thread."""
        self._calls.put((fn, args))
        with self._lock:
            if self._signalled or self._closed:
                return
            self._signalled = True
        try:
            os.write(self._write_fd, b"!")
        except (BlockingIOError, OSError):  # pipe full or closed: a wake-up is pending anyway
            pass

    def drain(self) -> int:
        """Run the queued calls on the calling (UI) thread; returns how many ran.

        A call that raises is logged and the rest still run. After
        :data:`DRAIN_SLICE` seconds the drain stops with calls still queued and
        leaves a wake-up byte for the next one, so a flood of posts never
        keeps the UI thread from its own events (or from noticing a quit).
        """
        # Empty the pipe first, then lower the flag: lowered first, a wake-up
        # byte written in between would be swallowed here while the flag stayed
        # raised, and no later post would ever wake the main thread again.
        try:
            while os.read(self.read_fd, 4096):
                pass
        except (BlockingIOError, OSError):
            pass
        with self._lock:
            self._signalled = False
        if self.on_wake is not None:
            try:
                self.on_wake()
            except Exception:
                log.exception("UI wake-up hook failed")
        ran = 0
        until = time.monotonic() + DRAIN_SLICE
        while True:
            try:
                fn, args = self._calls.get_nowait()
            except queue.Empty:
                return ran
            ran += 1
            try:
                fn(*args)
            except Exception:
                log.exception("UI call %r failed", fn)
            if time.monotonic() >= until and not self._calls.empty():
                # Workers post faster than the calls run: give the loop back to
                # Tk (redraws, input, a quit request) and come back at once.
                self._wake()
                return ran

    def _wake(self) -> None:
        """Make sure a wake-up byte is waiting for the next drain."""
        with self._lock:
            if self._closed:
                return
            self._signalled = True
        try:
            os.write(self._write_fd, b"!")
        except (BlockingIOError, OSError):  # pipe full: a wake-up is pending anyway
            pass

    @property
    def wake_fd(self) -> int:
        """Write end of the wake-up pipe (for ``signal.set_wakeup_fd``)."""
        return self._write_fd

    def pending(self) -> int:
        return self._calls.qsize()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        os.close(self._write_fd)
        os.close(self.read_fd)

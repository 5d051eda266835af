"""Run a :class:`~chat.front.ui.UiQueue` on the Tk main loop."""

from __future__ import annotations

import logging
import tkinter

from chat.front.ui import UiQueue

log = logging.getLogger(__name__)

#: Fallback poll interval where Tk cannot watch a file descriptor (Windows); idlelib uses 50 ms.
POLL_MS = 50


class Pump:
    """Drains a UI queue on the Tk thread whenever a worker posts to it.

    On Unix the queue's wake-up pipe is watched by Tk's event loop; elsewhere
    the queue is drained every :data:`POLL_MS` milliseconds, as idlelib does.
    """

    def __init__(self, root: tkinter.Tk, calls: UiQueue) -> None:
        self.root = root
        self.calls = calls
        self._after_id: str | None = None
        self._watching = False
        try:
            root.tk.createfilehandler(calls.read_fd, tkinter.READABLE, self._on_readable)
            self._watching = True
        except (AttributeError, RuntimeError, tkinter.TclError):
            log.info("no file handlers in this Tk; polling the UI queue every %d ms", POLL_MS)
            self._after_id = root.after(POLL_MS, self._on_timer)
        # Work posted before the pump existed.
        root.after_idle(calls.drain)

    def _on_readable(self, _fd: int, _mask: int) -> None:
        self.calls.drain()

    def _on_timer(self) -> None:
        self.calls.drain()
        self._after_id = self.root.after(POLL_MS, self._on_timer)

    def stop(self) -> None:
        if self._watching:
            self.root.tk.deletefilehandler(self.calls.read_fd)
            self._watching = False
        if self._after_id is not None:
            self.root.after_cancel(self._after_id)
            self._after_id = None

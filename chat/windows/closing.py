"""The visible, stoppable closing of a chat window whose other side left.

A bar over the input counts down and offers "Keep open". The countdown runs
only while the user is in the window: a chat that ended while they were away
waits with its notice, and the countdown starts afresh when they come back.
It also waits while they read above the bottom or have text selected. Main
thread only.
"""

from __future__ import annotations

import contextlib
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

#: How often the countdown looks again while the user reads above the bottom.
READING_CHECK_MS = 300


class Countdown:
    """The closing bar of one window.

    Args:
        parent: the window's frame (the bar is gridded into ``row``).
        row: the frame's row for the bar.
        present: True while the user is in the window.
        reading: True while the user reads above the bottom or has a selection.
        finish: closes the window.
    """

    def __init__(
        self,
        parent: tk.Misc,
        row: int,
        present: Callable[[], bool],
        reading: Callable[[], bool],
        finish: Callable[[], None],
    ) -> None:
        self.bar = ttk.Frame(parent, padding=(8, 4), style="Closing.TFrame")
        self.label = ttk.Label(self.bar, text="", style="Closing.TLabel")
        self.label.pack(side="left")
        self.keep_button = ttk.Button(self.bar, text="Keep open", command=self.cancel)
        self.keep_button.pack(side="right")
        self._row = row
        self._present, self._reading, self._finish = present, reading, finish
        self._job: str | None = None
        self._delay = self._left = 0.0
        self._waits = False  # waiting for the user to come back
        self._done = False

    @property
    def active(self) -> bool:
        """True while the window is set to close by itself (counting down or waiting)."""
        return self._job is not None or self._waits

    def start(self, seconds: float) -> None:
        if self._done or self.active:
            return
        self._delay = self._left = max(0.0, seconds)
        self.bar.grid(row=self._row, column=0, columnspan=2, sticky="ew", pady=(6, 0))
        self._tick()

    def came_back(self) -> None:
        """The user is in the window again: a waiting close counts down from the start."""
        if self._waits:
            self._waits = False
            self._left = self._delay
            self._tick()

    def _tick(self) -> None:
        self._job = None
        if self._done:
            return
        if not self._present():
            self._waits = True
            whole = max(1, round(self._delay))
            self.label.configure(
                text=f"This chat is over; the window closes {whole} s after you come back to it."
            )
            return
        if self._reading():
            self.label.configure(text="This window closes when you are back at the bottom.")
            self._job = self.bar.after(READING_CHECK_MS, self._tick)
            return
        if self._left <= 0:
            self._done = True
            self._finish()
            return
        whole = max(1, round(self._left))
        self.label.configure(text=f"This chat is over; the window closes in {whole} s.")
        step = min(1.0, self._left)
        self._left -= step
        self._job = self.bar.after(int(step * 1000), self._tick)

    def cancel(self) -> None:
        """Stop the closing ("Keep open"); the window stays until the user closes it."""
        self._waits = False
        if self._job is not None:
            with contextlib.suppress(tk.TclError):
                self.bar.after_cancel(self._job)
            self._job = None
        with contextlib.suppress(tk.TclError):
            self.bar.grid_remove()

    def stop(self) -> None:
        """The window is going: nothing more runs."""
        self._done = True
        self.cancel()

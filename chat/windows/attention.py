"""Bringing arrivals to the user: the bell, the urgency hint and desktop notifications.

A message that arrives in a window without focus rings the bell once per
burst (messages less than :data:`BURST_GAP` seconds apart, ended early by
the user looking), sets the window manager's urgency hint until the window
gets focus, and, when the user asked for them (``notify: true``), pops up one
desktop notification per burst through ``notify-send``, started on a thread
of its own without a shell. Main thread only, except the notifier's thread.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
import tkinter as tk
from collections.abc import Callable

from chat.textsafe import for_terminal, for_title
from chat.windows import xhints

log = logging.getLogger(__name__)

#: Arrivals closer together than this belong to one burst: one bell, one notification.
BURST_GAP = 30.0
#: Longest text a notification shows.
NOTIFY_CHARS = 120
#: How long a notification stays, in milliseconds.
NOTIFY_MS = 8000


def notification_text(text: str) -> str:
    """A message made safe and short for a notification body (which may take markup)."""
    one_line = " ".join(text.split())
    safe = for_terminal(one_line, NOTIFY_CHARS)
    return safe.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def notify(title: str, text: str, program: str | None = None) -> threading.Thread | None:
    """Show a desktop notification through ``notify-send``; None where there is none."""
    program = program or shutil.which("notify-send")
    if program is None:
        return None
    argv = [
        program,
        "--app-name=distchat",
        f"--expire-time={NOTIFY_MS}",
        "--",
        for_title(title, 60),
        notification_text(text),
    ]

    def run() -> None:
        try:
            subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            log.info("notify-send failed: %s", exc)

    thread = threading.Thread(target=run, name="notify", daemon=True)
    thread.start()
    return thread


class Attention:
    """The arrivals state of one window: bursts, the urgency hint, notifications.

    Args:
        top: the window's toplevel (its ``bell`` rings; its wrapper gets the hint).
        notify: pop up desktop notifications.
        clock: monotonic seconds (tests replace it).
    """

    def __init__(
        self, top: tk.Toplevel, notify: bool = False, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.top = top
        self.notify = notify
        self.clock = clock
        self.urgent = False
        self._last: float | None = None  # the last arrival of the current burst

    def arrived(self, title: str, sender: str, text: str) -> None:
        """A message came while the window has no focus."""
        now = self.clock()
        new_burst = self._last is None or now - self._last > BURST_GAP
        self._last = now
        if new_burst:
            self.top.bell()
            if self.notify:
                notify(title, f"{sender}: {text}")
        if not self.urgent:
            self.urgent = True
            try:
                xhints.set_urgent(self.top, True)
            except Exception:  # a hint is worth less than the message
                log.exception("could not set the urgency hint")

    def seen(self) -> None:
        """The user is in the window: the burst ends and the hint clears."""
        self._last = None
        if self.urgent:
            self.urgent = False
            try:
                xhints.set_urgent(self.top, False)
            except Exception:
                log.exception("could not clear the urgency hint")

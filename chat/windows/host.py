"""The Tk window host: the one owner of every chat window of a client.

Features hand it a :class:`~chat.windows.api.Chat`; it opens a window or
brings the open one to the front, places new windows in a cascade kept on
the screen, and shows notices, delivery marks, the unread count and the
closing of each chat. Modelled on idlelib's ``FileList``. Main thread only.
"""

from __future__ import annotations

import logging
import tkinter as tk

from chat.windows import style
from chat.windows.api import Chat
from chat.windows.chat_window import HEIGHT, WIDTH, ChatWindow

log = logging.getLogger(__name__)

#: Each new window sits this many pixels right of and below the previous one.
CASCADE = 32
#: Where the first window goes, from the top left of the screen.
ORIGIN = (80, 60)
#: How far apart the cascades of several clients on one screen start.
CLIENT_SHIFT = (200, 100)


def instance_number(root: tk.Misc) -> int:
    """Which Tk application this is on its display: 1, 2, 3, ...

    Tk gives every live application on a display a unique name, adding
    " #2", " #3", ... to the second and later ones with the same name, so
    clients started in several terminals on one desktop learn their rank
    without talking to each other.
    """
    try:
        name = str(root.tk.call("tk", "appname"))
    except tk.TclError:  # a Tk without application names: assume the first
        return 1
    head, _, tail = name.rpartition(" #")
    return int(tail) if head and tail.isdigit() else 1


class TkWindowHost:
    """Every chat window of one client (implements :class:`~chat.windows.api.WindowHost`)."""

    def __init__(self, root: tk.Misc, notify: bool = False, max_bytes: int | None = None) -> None:
        """Args:
        root: the hidden Tk root.
        notify: desktop notifications for arrivals (``notify`` in the config).
        max_bytes: the longest message (the "too long" sentence clears below it).
        """
        self.root = root
        self.notify = notify
        self.max_bytes = max_bytes
        style.configure_theme(root)
        self._windows: dict[str, ChatWindow] = {}
        self._opened = 0
        # Each client on the screen starts its cascade elsewhere, so the first
        # windows of clients run side by side do not open on top of each other.
        rank = instance_number(root) - 1
        self._origin = (
            ORIGIN[0] + rank % 4 * CLIENT_SHIFT[0],
            ORIGIN[1] + rank // 4 % 3 * CLIENT_SHIFT[1],
        )

    # -- what features call --------------------------------------------------

    def open(self, chat: Chat, focus: bool = True) -> None:
        window = self._windows.get(chat.key)
        if window is not None and not window.closed:
            if window.chat is not chat:
                window.take(chat)
            if focus:
                window.present()
            return
        window = ChatWindow(
            self.root,
            chat,
            self._next_geometry(),
            focus=focus,
            on_destroyed=self._forget,
            notify=self.notify,
            max_bytes=self.max_bytes,
        )
        self._windows[chat.key] = window
        log.info("opened window %r (%s)", chat.title, chat.key)

    def is_open(self, key: str) -> bool:
        window = self._windows.get(key)
        return window is not None and not window.closed

    def window(self, key: str) -> ChatWindow | None:
        """The open window of ``key``, or None (for tests and screenshots)."""
        window = self._windows.get(key)
        return window if window is not None and not window.closed else None

    def open_windows(self) -> list[ChatWindow]:
        """The open windows, oldest first (for tests and screenshots)."""
        return [w for w in self._windows.values() if not w.closed]

    def status(self, key: str, text: str) -> None:
        window = self.window(key)
        if window is not None:
            window.set_status(text)

    def lost(self, key: str, text: str) -> None:
        window = self.window(key)
        if window is not None:
            window.log.notice(text)
            window.set_status(text)

    def back(self, key: str, text: str) -> None:
        window = self.window(key)
        if window is not None:
            window.log.notice(text)
            window.set_status("")

    def ended(self, key: str, notice: str, reason: str, delay: float) -> None:
        window = self.window(key)
        if window is None:
            return
        window.log.notice(notice)
        window.set_read_only(reason)
        window.close_after(delay)

    def close(self, key: str) -> None:
        window = self.window(key)
        if window is not None:
            window.close()

    def close_all(self) -> None:
        windows, self._windows = list(self._windows.values()), {}
        for window in windows:
            window.destroy()

    # -- placement -----------------------------------------------------------

    def _next_geometry(self) -> str:
        """A cascade: each new window offset from the last, wrapping to stay on screen."""
        screen_w = self.root.winfo_screenwidth()
        screen_h = self.root.winfo_screenheight()
        width, height = min(WIDTH, screen_w), min(HEIGHT, screen_h)
        origin_x = min(self._origin[0], max(0, screen_w - width))
        origin_y = min(self._origin[1], max(0, screen_h - height))
        room_x = max(1, (screen_w - width - origin_x) // CASCADE + 1)
        room_y = max(1, (screen_h - height - origin_y) // CASCADE + 1)
        step = self._opened % min(room_x, room_y, 10)
        lap = self._opened // min(room_x, room_y, 10)
        self._opened += 1
        x = min(origin_x + step * CASCADE + lap * CASCADE // 2, max(0, screen_w - width))
        y = min(origin_y + step * CASCADE, max(0, screen_h - height))
        return f"{width}x{height}+{x}+{y}"

    def _forget(self, window: ChatWindow) -> None:
        if self._windows.get(window.chat.key) is window:
            del self._windows[window.chat.key]

"""One way a feature binds to its window: a :class:`Binding` holds the host and the key.

Every feature used to call the host with its key each time, and each said a
lost connection in its own words. A binding names the window once, and
:data:`LOST` / :data:`BACK` are the one sentence for a lost (and restored)
connection to RabbitMQ. UI thread only, as the host is; no tkinter here.
"""

from __future__ import annotations

from chat.windows.api import Chat, WindowHost

#: Said in a window when the connection to RabbitMQ drops, and when it is back.
LOST = "Lost the connection to RabbitMQ; reconnecting…"
BACK = "Connected to RabbitMQ again."


class Binding:
    """A feature's hold on one window of the host (UI thread only).

    Args:
        windows: the client's window host.
        key: the conversation's key for the whole run ("private:k7m2x9qa").
    """

    def __init__(self, windows: WindowHost, key: str) -> None:
        self.windows = windows
        self.key = key

    def open(self, chat: Chat, focus: bool = True) -> None:
        """Open the window (or bring it to the front) with ``chat``, which has this key."""
        assert chat.key == self.key, (chat.key, self.key)
        self.windows.open(chat, focus=focus)

    @property
    def is_open(self) -> bool:
        return self.windows.is_open(self.key)

    def status(self, text: str) -> None:
        """A short sentence under the input ("" clears it)."""
        self.windows.status(self.key, text)

    def lost(self, text: str = LOST) -> None:
        self.windows.lost(self.key, text)

    def back(self, text: str = BACK) -> None:
        self.windows.back(self.key, text)

    def ended(self, notice: str, reason: str, delay: float) -> None:
        """The other side is gone: the notice, the input off, the window closing."""
        self.windows.ended(self.key, notice, reason, delay)

    def close(self) -> None:
        self.windows.close(self.key)

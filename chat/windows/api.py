"""What features hand the window host, and what they may ask of it. No tkinter here.

A feature describes a conversation with a :class:`Chat` and gives it to the
host (``client.windows``); the host decides how it is shown: opening,
bringing to the front, placement, unread counts, notices, delivery marks and
closing. Features never hold widgets, so a host without a display (a
terminal view, a test double) can take the Tk host's place.

Every method of :class:`WindowHost` runs on the UI thread; other threads
reach it through ``client.ui.post``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from chat.history import ChatLog

#: ``on_send(text)`` returns None when the text was taken, else a sentence to
#: show (the text then stays in the input box).
SendHandler = Callable[[str], "str | None"]


@dataclass
class Chat:
    """One conversation as a feature hands it to the host.

    Attributes:
        key: names the conversation for the whole run ("private:k7m2x9qa").
        title: the window title (the host may prefix an unread count).
        log: the entries to show; the host follows its changes.
        on_send: takes a typed message; None for a read-only chat.
        read_only: why the input is off, or None when the user may write.
        on_close: the user closed the window (the feature leaves the chat).
        on_older: the user scrolled to the top and older entries may exist;
            the feature puts them in with :meth:`ChatLog.older`.
        empty_warning: shown when the user sends an empty message; None
            ignores an empty message silently.
    """

    key: str
    title: str
    log: ChatLog
    on_send: SendHandler | None = None
    read_only: str | None = None
    on_close: Callable[[], None] | None = None
    on_older: Callable[[], None] | None = None
    empty_warning: str | None = None


class WindowHost(Protocol):
    """The owner of every chat window of one client (UI thread only)."""

    def open(self, chat: Chat, focus: bool = True) -> None:
        """Show ``chat``, or bring its window to the front if it is open already.

        A window opened with ``focus=False`` (a chat that someone else
        started) never takes the keyboard from the window the user types in.
        Opening a key whose window is closing cancels the closing and takes
        the new handlers.
        """

    def is_open(self, key: str) -> bool:
        """True while a window shows ``key``."""

    def status(self, key: str, text: str) -> None:
        """Show a short sentence under the input ("" clears it)."""

    def lost(self, key: str, text: str) -> None:
        """The connection behind ``key`` dropped: a notice, and the sentence stays shown."""

    def back(self, key: str, text: str) -> None:
        """The connection is back: a notice, and the status line clears."""

    def ended(self, key: str, notice: str, reason: str, delay: float) -> None:
        """The other side is gone: show ``notice``, stop the input (saying
        ``reason``) and close the window after ``delay`` seconds, visibly and
        stoppably ("Keep open"), never while the user is reading above or has
        text selected."""

    def close(self, key: str) -> None:
        """Close ``key``'s window as the user's close button does (runs ``on_close``)."""

    def close_all(self) -> None:
        """At exit: close every window without running the close hooks."""

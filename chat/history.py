"""What a chat window shows, as plain data: no tkinter here.

A :class:`ChatLog` is the ordered list of entries of one chat: own messages,
others' messages, centred notices and separators. It drops a message it has
already shown (same sender ID and message ID), so a redelivery is never shown
twice, and it tells its listener (the window) about every change. All methods
run on the UI thread; other threads post to it through the UI queue.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from chat.textsafe import for_window
from chat.textsafe import name as safe_name

Side = Literal["own", "peer", "notice", "separator"]
Status = Literal["sent", "sending", "failed"]


@dataclass
class Entry:
    """One line (or block) in a chat window."""

    side: Side
    text: str
    ts: float
    sender_name: str = ""
    sender_id: str = ""
    msg_id: str = ""
    status: Status = "sent"
    #: Shown beside the sender's name: the sender's key changed (a sentence), or "".
    warning: str = ""

    @property
    def clock(self) -> str:
        try:
            return time.strftime("%H:%M", time.localtime(self.ts))
        except (OverflowError, OSError, ValueError):  # a time no clock can show
            return "--:--"


def local_time(ts: float) -> time.struct_time:
    """``time.localtime(ts)``, or now for a time no calendar holds (a sender's bad clock)."""
    try:
        return time.localtime(ts)
    except (OverflowError, ValueError, OSError):
        return time.localtime()


class OldMessage(NamedTuple):
    """One message of a history page, for :meth:`ChatLog.older`.

    ``warning`` is shown beside the sender's name (its key changed).
    """

    sender_id: str
    sender_name: str
    text: str
    msg_id: str
    ts: float
    warning: str = ""


#: ``listener(event, what)``: ("added", entry), ("updated", entry),
#: ("prepended", list of entries, oldest first, now above all the others), or
#: ("members", tuple of names): who is in the chat now.
Listener = Callable[[str, Any], None]


class ChatLog:
    """The entries of one chat, in the order they are shown."""

    def __init__(self, own_id: str) -> None:
        self.own_id = own_id
        self.entries: list[Entry] = []
        self._seen: set[tuple[str, str]] = set()
        self._by_id: dict[str, Entry] = {}
        self.listener: Listener | None = None
        self._members: tuple[str, ...] | None = None

    def _add(self, entry: Entry) -> Entry:
        self.entries.append(_made_safe(entry))
        if self.listener is not None:
            self.listener("added", entry)
        return entry

    def message(
        self,
        sender_id: str,
        sender_name: str,
        text: str,
        msg_id: str,
        ts: float | None = None,
        status: Status = "sent",
        warning: str = "",
    ) -> Entry | None:
        """Add a message; returns None when this (sender, ID) was shown already.

        ``warning`` is shown beside the sender's name (its key changed).
        """
        key = (sender_id, msg_id)
        if msg_id and key in self._seen:
            return None
        self._seen.add(key)
        side: Side = "own" if sender_id == self.own_id else "peer"
        entry = Entry(
            side,
            text,
            time.time() if ts is None else ts,
            sender_name,
            sender_id,
            msg_id,
            status,
            warning,
        )
        if side == "own" and msg_id:
            self._by_id[msg_id] = entry
        return self._add(entry)

    def older(self, messages: Sequence[tuple[Any, ...]]) -> list[Entry]:
        """Put a page of older messages above everything shown, oldest first.

        Each item is an :class:`OldMessage` (or a tuple of its first five
        fields). A message shown already is left out. Returns the entries
        that went in.
        """
        page: list[Entry] = []
        for item in messages:
            old = OldMessage(*item)
            key = (old.sender_id, old.msg_id)
            if old.msg_id and key in self._seen:
                continue
            self._seen.add(key)
            side: Side = "own" if old.sender_id == self.own_id else "peer"
            entry = Entry(
                side,
                old.text,
                old.ts,
                old.sender_name,
                old.sender_id,
                old.msg_id,
                "sent",
                old.warning,
            )
            page.append(_made_safe(entry))
        if page:
            self.entries[:0] = page
            if self.listener is not None:
                self.listener("prepended", page)
        return page

    def notice(self, text: str, ts: float | None = None) -> Entry:
        return self._add(Entry("notice", text, time.time() if ts is None else ts))

    def separator(self, text: str) -> Entry:
        return self._add(Entry("separator", text, time.time()))

    def set_status(self, msg_id: str, status: Status) -> Entry | None:
        """Change the delivery status of an own message (e.g. to ``failed``)."""
        entry = self._by_id.get(msg_id)
        if entry is None or entry.status == status:
            return entry
        entry.status = status
        if self.listener is not None:
            self.listener("updated", entry)
        return entry

    def set_members(self, names: Sequence[str]) -> None:
        """Who is in the chat now: stored sorted and made safe, and told to the listener."""
        safe = tuple(sorted((safe_name(n) for n in names), key=lambda n: (n.casefold(), n)))
        self._members = safe
        if self.listener is not None:
            self.listener("members", safe)

    @property
    def members(self) -> tuple[str, ...]:
        """The names of who is in the chat, sorted; () until :meth:`set_members` is called."""
        return self._members or ()

    @property
    def members_known(self) -> bool:
        """True once :meth:`set_members` was called (a chat that has members to show)."""
        return self._members is not None

    def texts(self, side: Side | None = None) -> list[str]:
        return [e.text for e in self.entries if side is None or e.side == side]


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` and the noun that goes with it: "1 earlier message", "2 earlier messages"."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def _made_safe(entry: Entry) -> Entry:
    """Names and texts come from other clients: no control characters or
    direction overrides reach a window, whichever way an entry goes in."""
    entry.text = for_window(entry.text)
    entry.sender_name = safe_name(entry.sender_name)
    entry.warning = for_window(entry.warning)
    return entry

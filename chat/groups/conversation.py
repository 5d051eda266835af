"""What one group window shows, kept on the UI thread: no tkinter, no broker.

The conversation is the sole owner of the group's :class:`~chat.history.ChatLog`,
its live point, its history paging state, the own messages on their way (one
pending map) and the window's status line. Every method runs on the UI (Tk
main) thread, except :meth:`Conversation.arrive`, which any thread may call:
it appends to an inbox under a lock and posts one drain per burst.

A persistent group is consumed live from the stream's end; the history below
the first live offset is read a page at a time, newest first, as the reader
scrolls up (:mod:`chat.groups.paging`). This member's own join notice marks
the live point: the separator is drawn where it comes back, once the newest
page of history is in (live messages wait for it, so they always come below
the separator).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from chat.groups import paging
from chat.groups.model import (
    BACK_TRANSIENT,
    NOT_CONNECTED,
    READ_ONLY,
    SEND_DEADLINE,
    SENDING,
    SEPARATOR,
    Kind,
    Mode,
    mode_label,
)
from chat.history import ChatLog, OldMessage, Status
from chat.transport.boundary import guarded
from chat.transport.broker import BrokerUnavailable
from chat.transport.wire import ChatMessage, check_text
from chat.trust.known_peers import together
from chat.trust.verifier import Verdict
from chat.windows.binding import BACK, LOST

log = logging.getLogger(__name__)

_TRUSTED = Verdict("")


@dataclass
class _Pending:
    """An own message on its way: confirmed by the broker? back in our feed yet?"""

    msg: ChatMessage
    confirmed: bool = False
    shown: bool = False


@dataclass
class Outlet:
    """What the conversation may ask of the membership: ``publish`` one own message
    (the future holds the broker's confirm), ``read_page(end, seq)`` below an
    offset, run a function on the UI thread ``later``, whether ``connected``."""

    publish: Callable[[ChatMessage], Future[None]]
    read_page: Callable[[int, int], None]
    later: Callable[[float, Callable[[], None]], None]
    connected: Callable[[], bool]


class Conversation:
    """One member's view of one group.

    The UI thread owns all of it (the log, the live point, the paging state,
    the pending map, the member list, the status line), except the inbox,
    which :meth:`arrive` fills from any thread under its lock.

    Args:
        own_id: this client's ID; ``own_name`` its username.
        title: the group's name as first created (shown); ``name`` its canonical form.
        mode: ``connect`` or ``subscribe``; ``kind``: ``persistent`` or ``transient``.
        outlet: the feed's side of the membership.
        post: hands a call to the UI thread (``client.ui.post``).
        max_bytes: the longest message, in bytes of UTF-8.
    """

    def __init__(
        self,
        own_id: str,
        own_name: str,
        title: str,
        name: str,
        mode: Mode,
        kind: Kind,
        outlet: Outlet,
        post: Callable[..., None],
        max_bytes: int,
    ) -> None:
        self.own_id, self.own_name = own_id, own_name
        self.title, self.name, self.mode, self.kind = title, name, mode, kind
        self.outlet = outlet
        self.post = post
        self.max_bytes = max_bytes
        self.log = ChatLog(own_id)
        self.closed = False
        #: Shows a short status under the input, if set; "lost" (True) or "back".
        self.on_status: Callable[[str], None] | None = None
        self.on_connection: Callable[[bool, str], None] | None = None
        self.marker_id = ""  # this member's join notice: the live point
        # Any thread, under the lock.
        self._inbox_lock = threading.Lock()
        self._inbox: list[tuple[ChatMessage, Verdict]] = []
        # UI thread only.
        self._live = kind == "transient"
        self._oldest: int | None = None  # the lowest offset whose page is in the log
        self._at_start = kind == "transient"
        self._loading = kind == "persistent"  # the newest page is asked for at the live start
        self._page_seq = 0
        self._history_shown = 0
        self._history_ready = kind == "transient"
        self._holding = False  # live messages wait for the newest page of history
        self._held: list[tuple[ChatMessage, Verdict]] = []
        self._history_meetings: list[str] = []
        self._pending: dict[str, _Pending] = {}
        self._meetings: dict[str, str] = {}  # sender ID -> "first meeting with ..."
        self._here: dict[str, str] = {own_id: own_name}  # who is in the group: ID -> name
        self._listed: tuple[str, ...] = ()

    # -- any thread ---------------------------------------------------------------

    def arrive(self, msg: ChatMessage, verdict: Verdict) -> None:
        """A checked message (any thread): shown in order on the UI thread."""
        with self._inbox_lock:
            self._inbox.append((msg, verdict))
            first = len(self._inbox) == 1
        if first:
            self.post(self._drain)

    # -- the start and the live point ------------------------------------------------

    def joined(self) -> None:
        """The feed consumes and the join is announced."""
        self._show_members()
        if self.kind == "transient":
            self.log.notice(self._joined_text())

    def _joined_text(self) -> str:
        text = f"You joined {self.title} ({mode_label(self.mode)}, {self.kind})."
        return text if self.mode == "connect" else f"{text} {READ_ONLY}"

    def live_start(self, offset: int) -> None:
        """Everything below ``offset`` is history: its newest page goes first."""
        if self._oldest is None and not self.closed:
            self._oldest = offset
            self.outlet.read_page(offset, self._page_seq)

    def _drain(self) -> None:
        with self._inbox_lock:
            batch, self._inbox = self._inbox, []
        if self.closed:
            return
        for item in batch:
            if self._holding:
                self._held.append(item)
            else:
                self._show(*item)

    def _show(self, msg: ChatMessage, verdict: Verdict) -> None:
        guarded(f"group {self.name}: showing a message", self._apply, msg, verdict, body=msg)

    def _go_live(self) -> None:
        """The newest history is in: the separator, "You joined", then what waited."""
        self._live = True
        self._holding = False
        if any(e.side in ("own", "peer") for e in self.log.entries):
            self.log.separator(SEPARATOR)  # only where there is history above it
        self.log.notice(self._joined_text())
        meetings, self._history_meetings = self._history_meetings, []
        for sentence in together(meetings):  # everyone first met in the history, in one line
            self.log.notice(sentence)
        held, self._held = self._held, []
        for item in held:
            self._show(*item)

    def _apply(self, msg: ChatMessage, verdict: Verdict = _TRUSTED) -> None:
        own = msg.sender_id == self.own_id
        if verdict.first_meeting:  # shown before the first thing of theirs that is shown
            self._meetings[msg.sender_id] = verdict.first_meeting
        if msg.kind == "text":
            if own:
                self._own_came_back(msg)
            else:
                self._meet(msg)
                self.log.message(
                    msg.sender_id,
                    msg.sender_name,
                    msg.text,
                    msg.id,
                    msg.ts,
                    warning=verdict.warning,
                )
        elif msg.kind in ("join", "leave"):
            if own:
                if msg.id == self.marker_id and not self._live:
                    if self._history_ready:
                        self._go_live()
                    else:
                        self._holding = True
                return
            if self._live:  # past comings and goings are not part of the conversation
                verb = "joined" if msg.kind == "join" else "left"
                warning = f" ({verdict.warning})" if verdict.warning else ""
                self._meet(msg)
                self.log.notice(f"{msg.sender_name} {verb}{warning}", ts=msg.ts)
                if msg.kind == "join":
                    self._here[msg.sender_id] = msg.sender_name
                else:
                    self._here.pop(msg.sender_id, None)
                self._show_members()
        else:
            log.warning("group %s: ignored a message of kind %r", self.name, msg.kind)

    def _meet(self, msg: ChatMessage) -> None:
        sentence = self._meetings.pop(msg.sender_id, None)
        if sentence is not None:
            self.log.notice(sentence, ts=msg.ts)

    # -- who is here ------------------------------------------------------------------

    def roster(self, here: dict[str, str]) -> None:
        """The name server's members of the group (ID -> name), read just now."""
        if self.closed:
            return
        self._here = {**here, self.own_id: self.own_name}
        self._show_members()

    def _show_members(self) -> None:
        names = tuple(sorted(self._here.values(), key=str.casefold))
        if names != self._listed:
            self._listed = names
            self.log.set_members(names)

    # -- history pages ---------------------------------------------------------------

    def load_older(self) -> None:
        """The reader wants older history: ask for the next page down, unless one
        is on its way or the first message is shown already."""
        if self.closed or self._loading or self._at_start or self._oldest is None:
            return
        self._loading = True
        self.outlet.read_page(self._oldest, self._page_seq)

    def page(
        self, page: paging.Page, older: list[OldMessage], meetings: list[str], seq: int
    ) -> None:
        if self.closed or seq != self._page_seq:
            return  # asked for before a reconnect; asked again since
        self._loading = False
        self._oldest = page.start
        self._at_start = page.at_start
        # A key first met in history is met now, at the live point.
        if self._live:
            for sentence in together(meetings):
                self.log.notice(sentence)
        else:
            self._history_meetings.extend(meetings)
        self._history_shown += len(self.log.older(older))
        if not self._at_start and self._history_shown < paging.FIRST_SCREEN:
            self.load_older()  # mostly comings and goings on this page: fill the window first
            if not self._history_shown:
                return
        if not self._history_ready:
            self._history_ready = True
            if self._holding:
                self._go_live()

    # -- sending ----------------------------------------------------------------------

    def send(self, text: str) -> str | None:
        """Publish ``text``; None when taken, else a sentence (the text stays in the box).

        The message enters the log when the broker routes it back to this
        member, so every member shows the group's messages in the same order;
        a message the broker never took is added marked as not delivered.
        """
        if self.closed:
            return "This group is closed."
        if self.mode != "connect":
            return READ_ONLY
        problem = check_text(text, self.max_bytes)
        if problem is not None:
            return problem
        if not self.outlet.connected():
            return NOT_CONNECTED
        msg = ChatMessage(self.own_id, self.own_name, self.name, text)
        self._pending[msg.id] = _Pending(msg)
        self.post(self._show_sending, msg.id)  # after the window cleared its status line
        future = self.outlet.publish(msg)
        future.add_done_callback(lambda f: self.post(self._on_published, msg.id, f))
        self.outlet.later(SEND_DEADLINE, lambda: self._deadline(msg.id))
        return None

    def _own_came_back(self, msg: ChatMessage) -> None:
        pending = self._pending.get(msg.id)
        if pending is None:  # from an earlier visit, or settled already
            if self.log.message(msg.sender_id, msg.sender_name, msg.text, msg.id, msg.ts) is None:
                self.log.set_status(msg.id, "sent")  # marked not delivered, yet it arrived
            return
        pending.shown = True
        status: Status = "sent" if pending.confirmed else "sending"
        self.log.message(msg.sender_id, msg.sender_name, msg.text, msg.id, msg.ts, status)
        if pending.confirmed:
            self._settle(msg.id)

    def _on_published(self, msg_id: str, future: Future[None]) -> None:
        pending = self._pending.get(msg_id)
        if pending is None:
            return
        exc = future.exception()
        if exc is None:
            pending.confirmed = True
            if pending.shown:
                self.log.set_status(msg_id, "sent")
                self._settle(msg_id)
            return
        if not isinstance(exc, BrokerUnavailable):
            log.warning("group %s: message %s not delivered: %r", self.name, msg_id, exc)
        self._finish(pending, "failed")

    def _deadline(self, msg_id: str) -> None:
        """No message stays "Sending…": the broker has it (sent) or not (failed)."""
        pending = self._pending.get(msg_id)
        if pending is None or self.closed:
            return
        if pending.confirmed:
            self._finish(pending, "sent")
        else:
            log.warning("group %s: message %s not confirmed in time", self.name, msg_id)
            self._finish(pending, "failed")

    def _finish(self, pending: _Pending, status: Status) -> None:
        """Settle an own message as ``sent`` or ``failed`` (not delivered)."""
        msg = pending.msg
        if pending.shown:
            self.log.set_status(msg.id, status)
        else:
            self.log.message(msg.sender_id, msg.sender_name, msg.text, msg.id, msg.ts, status)
        self._settle(msg.id)

    def _settle(self, msg_id: str) -> None:
        self._pending.pop(msg_id, None)
        if not self._pending:
            self._say("")

    def _show_sending(self, msg_id: str) -> None:
        if msg_id in self._pending:
            self._say(SENDING)

    def _say(self, text: str) -> None:
        if self.on_status is not None:
            self.on_status(text)

    # -- the connection -----------------------------------------------------------------

    def lost(self, connection: bool = True) -> None:
        """The connection (or only the group's stream channel) is gone."""
        if self.closed:
            return
        self._connection_notice(True, LOST)
        if not connection:
            return  # publishes go on the shared channel: confirmed, or failed at the deadline
        # A publish under way when the connection dropped may never be answered.
        for pending in list(self._pending.values()):
            if pending.confirmed:  # the broker has it; its copy to us was lost
                self._finish(pending, "sent")
            else:
                self._finish(pending, "failed")

    def back(self) -> None:
        if self.closed:
            return
        self._connection_notice(False, BACK_TRANSIENT if self.kind == "transient" else BACK)
        if self._loading and self._oldest is not None:  # the page reader went with the channel
            self._loading = False
            self._page_seq += 1
            self.load_older()

    def _connection_notice(self, lost: bool, text: str) -> None:
        if self.on_connection is not None:
            self.on_connection(lost, text)
        else:
            self.log.notice(text)

    def close(self) -> None:
        self.closed = True
        self.on_status = self.on_connection = None

"""One open group chat in one client: join, receive, send, leave. No tkinter.

Threads:
- :meth:`GroupSession.start` runs on the menu thread (it waits for the broker).
- ``_on_message`` and the connection listeners run on the broker thread; they
  only append to an inbox and post to the UI queue, so a slow window never
  holds the broker up.
- Everything that touches the :class:`~chat.history.ChatLog` (``send``,
  ``_drain``, ``close``) runs on the UI (Tk main) thread.

A persistent group is consumed live from the stream's end (offset ``next``);
the history below the first live offset is read a page at a time, newest
first, as the reader scrolls up (:mod:`chat.groups.paging`), so joining costs
the same whatever the history's length. This member's own join notice marks
the live point: it is published right after the consumer starts, and the
separator is drawn where it comes back, once the newest page of history is in
(live messages wait for it, so they always come below the separator).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pika
from pika.adapters.blocking_connection import BlockingChannel

from chat.groups import amqp, paging
from chat.groups.model import Kind, Mode, check_max_age, mode_label
from chat.history import ChatLog, OldMessage, Status
from chat.transport.boundary import consumer, guarded, preview
from chat.transport.broker import BrokerUnavailable, Subscription
from chat.transport.topology import Names
from chat.transport.wire import BadMessage, ChatMessage, check_text, decode_object
from chat.trust.verifier import Verdict, verifier_of

if TYPE_CHECKING:
    from chat.client import Client

log = logging.getLogger(__name__)

SEPARATOR = "earlier messages above · live from here"
LOST = "Lost the connection to the chat server; reconnecting…"
BACK = "Connected to the chat server again."
BACK_TRANSIENT = "Connected to the chat server again; messages sent meanwhile were missed."
NOT_CONNECTED = (
    "Not connected to the chat server right now, so nothing was sent. "
    "Send it again once the window says the connection is back."
)
SENDING = "Sending…"
#: A stream consumer acknowledges once per this many deliveries (under its prefetch).
#: Small: RabbitMQ 3.10 refills a stream consumer's credit as acks arrive, and
#: reading 10,000 messages took 1.2-1.6 s acking every 1-4 against 2.3-2.5 s
#: acking every 50-100 (same machine, same broker).
ACK_EVERY = 4
READ_ONLY = "You subscribed to this group: it is read only."
_TRUSTED = Verdict("")


@dataclass
class _Pending:
    """An own message on its way: confirmed by the broker? back in our queue yet?"""

    msg: ChatMessage
    confirmed: bool = False
    shown: bool = False


class GroupSession:
    """The membership of one client in one group.

    Args:
        client: the running client (broker, UI queue, identity, config).
        name: a valid group name (see :func:`chat.groups.model.check_group_name`).
        mode: ``connect`` (read and write) or ``subscribe`` (read only).
        kind: ``persistent`` or ``transient``, as recorded in the name server.
    """

    def __init__(self, client: Client, name: str, mode: Mode, kind: Kind) -> None:
        self.client = client
        self.name = name
        self.mode = mode
        self.kind = kind
        self.names = Names(client.config.namespace)
        self.log = ChatLog(client.me.id)
        # Read on every thread: events, so no thread sees a stale value.
        self._closed = threading.Event()
        self._joined = threading.Event()
        self._inbox: list[tuple[ChatMessage, Verdict]] = []
        self._verifier = verifier_of(client)
        # Own bodies on their way (message ID -> bytes sent): when the same bytes come
        # back they need no verification. Under the inbox lock.
        self._sent: dict[str, bytes] = {}
        self._inbox_lock = threading.Lock()
        # Broker thread only.
        self._consumer_tag: str | None = None
        self._last_offset: int | None = None
        self._subscription: Subscription | None = None
        self._stream_channel: BlockingChannel | None = None
        self._unacked = 0
        self._live_start: int | None = None  # the first offset consumed live
        # UI thread only.
        self._live = kind == "transient"
        self._oldest: int | None = None  # the lowest offset whose page is in the log
        self._at_start = kind == "transient"
        #: A page is on its way (the newest one is asked for by the broker thread
        #: as soon as the first live offset is known).
        self._loading = kind == "persistent"
        self._page_seq = 0
        self._history_shown = 0
        self._history_ready = kind == "transient"
        self._holding = False  # live messages wait for the newest page of history
        self._held: list[tuple[ChatMessage, Verdict]] = []
        self._history_meetings: list[str] = []  # first meetings, until the live point
        self._pending: dict[str, _Pending] = {}
        self._meetings: dict[str, str] = {}  # sender ID -> "first meeting with ..."
        #: Shows a short status under the input (the window's status line), if set.
        self.on_status: Callable[[str], None] | None = None
        #: Shows "connection lost" (True) or "back" (False) notices, if set;
        #: else they go straight into the log.
        self.on_connection: Callable[[bool, str], None] | None = None
        self._marker_id = ""

    @property
    def closed(self) -> bool:
        """True once left (or once joining failed)."""
        return self._closed.is_set()

    @property
    def active(self) -> bool:
        """True once joined (consuming, join announced) and until left."""
        return self._joined.is_set() and not self._closed.is_set()

    @property
    def queue(self) -> str:
        """The queue this member reads: the group's stream, or its own transient queue."""
        if self.kind == "persistent":
            return self.names.group_stream(self.name)
        return self.names.group_member_queue(self.name, self.client.me.id)

    @property
    def exchange(self) -> str:
        return self.names.groups_exchange

    # -- joining (menu thread) -----------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Declare, bind and consume, then announce the join.

        Raises:
            BrokerUnavailable: the broker is not reachable; nothing is left behind.
            ValueError: the retention setting is not valid (a sentence for the user).
        """
        if self.kind == "persistent":
            check_max_age(self.client.config.group_max_age)
        marker = self._notice("join")
        self._marker_id = marker.id
        broker = self.client.broker
        try:
            self._subscription = broker.add_setup(
                self._setup, timeout, on_lost=self._on_lost, on_back=self._on_back
            )
            broker.call(
                lambda ch: ch.basic_publish(
                    self.exchange, self.name, self._body(marker), self._properties(marker), True
                ),
                timeout,
            )
        except Exception:
            self._stop(wait=True, timeout=timeout, announce=False)
            raise
        self._joined.set()
        log.info("joined group %s (%s, %s)", self.name, self.mode, self.kind)
        if self._live:
            self.client.ui.post(self.log.notice, self._joined_text())

    def _joined_text(self) -> str:
        text = f"You joined {self.name} ({mode_label(self.mode)}, {self.kind})."
        return text if self.mode == "connect" else f"{text} {READ_ONLY}"

    def _notice(self, kind: str) -> ChatMessage:
        me = self.client.me
        return ChatMessage(me.id, me.name, self.name, "", kind=kind)

    def _body(self, msg: ChatMessage) -> bytes:
        return msg.encode(self.client.identity)

    def _properties(self, msg: ChatMessage) -> pika.BasicProperties:
        return msg.properties(persistent=self.kind == "persistent")

    # -- broker thread ---------------------------------------------------------

    def _setup(self, channel: BlockingChannel) -> None:
        """Declare and consume; re-run by the broker after every reconnect until cancelled."""
        amqp.declare_exchange(channel, self.exchange)
        if self.kind == "persistent":
            if self._stream_channel is not None and self._stream_channel.is_open:
                return  # only the shared channel was reopened; ours still consumes
            config = self.client.config
            amqp.declare_stream(channel, self.queue, config.group_max_age, config.group_max_bytes)
            self._stream_channel = own = amqp.open_stream_channel(channel)
            self._unacked = 0
            # Live from the end; after a reconnect just after what was delivered,
            # so nothing is shown twice.
            offset: int | str = "next" if self._last_offset is None else self._last_offset + 1
            self._consumer_tag = amqp.consume_stream(
                own, self.exchange, self.queue, self.name, offset, self._on_message_guarded
            )
        else:
            self._consumer_tag = amqp.consume_transient(
                channel, self.exchange, self.queue, self.name, self._on_message_guarded
            )

    @property
    def _on_message_guarded(self) -> Any:
        return consumer(f"group {self.name}")(self._on_message)

    def _on_message(
        self, channel: BlockingChannel, method: Any, properties: pika.BasicProperties, body: bytes
    ) -> None:
        if self.kind == "persistent":
            if self.closed or channel is not self._stream_channel or not channel.is_open:
                return  # on its way when we left; the broker forgets it with the channel
            # Acknowledgements only return credit to a stream; one for many is enough.
            self._unacked += 1
            if self._unacked >= ACK_EVERY:
                channel.basic_ack(method.delivery_tag, multiple=True)
                self._unacked = 0
            offset = amqp.stream_offset(properties)
            if offset is not None:
                self._last_offset = offset
                if self._live_start is None:
                    self._live_start = offset
                    # Everything below is history: its newest page goes first.
                    self._read_page(channel, offset, self._page_seq)
        elif self.closed:
            return
        try:
            fields = decode_object(body)
            msg = ChatMessage.from_fields(fields)
        except BadMessage as exc:
            log.warning("group %s: dropped a message (%s); body %s", self.name, exc, preview(body))
            return
        if msg.chat != self.name:
            log.warning("group %s: dropped a message for %s", self.name, preview(msg.chat, 80))
            return
        verdict = self._own_body(msg, body)
        if verdict is None:
            verdict = self._checked(fields, msg, body, "a message")
        if verdict is None:
            return
        with self._inbox_lock:
            self._inbox.append((msg, verdict))
            first = len(self._inbox) == 1
        if first:
            self.client.ui.post(self._drain)

    def _checked(self, fields: Any, msg: ChatMessage, body: bytes, what: str) -> Verdict | None:
        """The verifier's verdict on ``msg``, or None (logged) when it is dropped."""
        verdict = self._verifier.check(fields, msg.sender_id, msg.sender_name)
        if verdict.ok:
            return verdict
        log.warning(
            "group %s: dropped %s (%s); body %s", self.name, what, verdict.reason, preview(body)
        )
        return None

    def _own_body(self, msg: ChatMessage, body: bytes) -> Verdict | None:
        """Trusted without a verification: the very bytes this session signed and sent."""
        if msg.sender_id != self.client.me.id:
            return None
        with self._inbox_lock:
            sent = self._sent.pop(msg.id, None)
        return _TRUSTED if sent is not None and sent == body else None

    def _read_page(self, channel: BlockingChannel, end: int, seq: int) -> None:
        paging.read_page(channel, self.queue, end, lambda page: self._page_read(page, seq))

    def _page_read(self, page: paging.Page, seq: int) -> None:
        """Decode and verify a page here, on the broker thread, then hand it to the UI."""
        items: list[OldMessage] = []
        meetings: list[str] = []
        for body in page.bodies:  # one message that cannot be read does not stop the rest
            item = guarded(
                f"group {self.name}: reading history", self._history_item, body, body=body
            )
            if item is not None:
                items.append(item[0])
                if item[1]:
                    meetings.append(item[1])
        self.client.ui.post(self._on_page, page, items, meetings, seq)

    def _history_item(self, body: bytes) -> tuple[OldMessage, str] | None:
        """One stored body as a :meth:`ChatLog.older` item and its first-meeting
        sentence (or ""); None when it is not a text here or fails the same
        checks as a live message."""
        try:
            fields = decode_object(body)
            msg = ChatMessage.from_fields(fields)
        except BadMessage as exc:
            log.warning(
                "group %s: dropped a history message (%s); body %s", self.name, exc, preview(body)
            )
            return None
        if msg.kind != "text" or msg.chat != self.name:
            return None
        verdict = self._checked(fields, msg, body, "a history message")
        if verdict is None:
            return None
        old = OldMessage(msg.sender_id, msg.sender_name, msg.text, msg.id, msg.ts, verdict.warning)
        return old, verdict.first_meeting

    def _on_lost(self) -> None:
        self.client.ui.post(self._show_lost)

    def _on_back(self) -> None:
        self.client.ui.post(self._show_back)

    # -- UI thread -------------------------------------------------------------

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
        """Apply one message; one that cannot be shown does not stop the rest."""
        guarded(f"group {self.name}: showing a message", self._apply, msg, verdict, body=msg)

    # -- history pages (UI thread) -----------------------------------------------

    def load_older(self) -> None:
        """The reader wants older history: read the next page down, unless one is
        on its way or the first message is shown already."""
        if self.closed or self._loading or self._at_start or self._oldest is None:
            return
        self._loading = True
        end, seq = self._oldest, self._page_seq
        future = self.client.broker.submit(lambda channel: self._read_page(channel, end, seq))
        future.add_done_callback(_log_failure)

    def _on_page(
        self, page: paging.Page, older: list[OldMessage], meetings: list[str], seq: int
    ) -> None:
        if self.closed or seq != self._page_seq:
            return  # asked for before a reconnect; asked again since
        self._loading = False
        self._oldest = page.start
        self._at_start = page.at_start
        # A key first met in history is met now: said below, at the live point.
        for sentence in meetings:
            if self._live:
                self.log.notice(sentence)
            else:
                self._history_meetings.append(sentence)
        self._history_shown += len(self.log.older(older))
        if not self._at_start and self._history_shown < paging.FIRST_SCREEN:
            # Mostly comings and goings on this page: fill the window first.
            self.load_older()
            if not self._history_shown:
                return
        if not self._history_ready:
            self._history_ready = True
            if self._holding:
                self._go_live()

    def _go_live(self) -> None:
        """The newest history is in: the separator, "You joined", then what waited."""
        self._live = True
        self._holding = False
        if any(e.side in ("own", "peer") for e in self.log.entries):
            self.log.separator(SEPARATOR)  # only where there is history above it
        self.log.notice(self._joined_text())
        meetings, self._history_meetings = self._history_meetings, []
        for sentence in meetings:
            self.log.notice(sentence)
        held, self._held = self._held, []
        for item in held:
            self._show(*item)

    def _apply(self, msg: ChatMessage, verdict: Verdict = _TRUSTED) -> None:
        own = msg.sender_id == self.client.me.id
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
                if msg.id == self._marker_id and not self._live:
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
        else:
            log.warning("group %s: ignored a message of kind %r", self.name, msg.kind)

    def _meet(self, msg: ChatMessage) -> None:
        sentence = self._meetings.pop(msg.sender_id, None)
        if sentence is not None:
            self.log.notice(sentence, ts=msg.ts)

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
        problem = check_text(text, self.client.config.max_message_bytes)
        if problem is not None:
            return problem
        broker = self.client.broker
        if not broker.connected:
            return NOT_CONNECTED
        me = self.client.me
        msg = ChatMessage(me.id, me.name, self.name, text)
        body, properties = self._body(msg), self._properties(msg)
        self._pending[msg.id] = _Pending(msg)
        with self._inbox_lock:
            self._sent[msg.id] = body
        # After the window has cleared its status line for the text it took.
        self.client.ui.post(self._show_sending, msg.id)
        future = broker.submit(
            lambda ch: ch.basic_publish(self.exchange, self.name, body, properties, True)
        )
        future.add_done_callback(lambda f: self.client.ui.post(self._on_published, msg.id, f))
        return None

    def _own_came_back(self, msg: ChatMessage) -> None:
        pending = self._pending.get(msg.id)
        if pending is None:  # from an earlier visit, or already shown
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
        self._fail(pending)

    def _fail(self, pending: _Pending) -> None:
        msg = pending.msg
        if pending.shown:
            self.log.set_status(msg.id, "failed")
        else:
            self.log.message(msg.sender_id, msg.sender_name, msg.text, msg.id, msg.ts, "failed")
        self._settle(msg.id)

    def _settle(self, msg_id: str) -> None:
        self._pending.pop(msg_id, None)
        with self._inbox_lock:
            self._sent.pop(msg_id, None)
        if not self._pending:
            self._say("")

    def _show_sending(self, msg_id: str) -> None:
        if msg_id in self._pending:
            self._say(SENDING)

    def _say(self, text: str) -> None:
        if self.on_status is not None:
            self.on_status(text)

    def _show_lost(self) -> None:
        if self.closed:
            return
        self._connection_notice(True, LOST)
        # A publish under way when the connection dropped may never be answered.
        for pending in list(self._pending.values()):
            if pending.confirmed:  # the broker has it; its copy to us was lost with the queue
                msg = pending.msg
                self.log.message(msg.sender_id, msg.sender_name, msg.text, msg.id, msg.ts)
                self._settle(msg.id)
            else:
                self._fail(pending)

    def _connection_notice(self, lost: bool, text: str) -> None:
        if self.on_connection is not None:
            self.on_connection(lost, text)
        else:
            self.log.notice(text)

    def _show_back(self) -> None:
        if not self.closed:
            self._connection_notice(False, BACK_TRANSIENT if self.kind == "transient" else BACK)
            if self._loading:  # the page channel went with the old connection
                self._loading = False
                self._page_seq += 1
                if self._oldest is None and self._live_start is not None:
                    self._oldest = self._live_start  # the newest page, asked for again
                self.load_older()

    # -- leaving ---------------------------------------------------------------

    def close(self, wait: bool = False, timeout: float = 2.0) -> Future[None] | None:
        """Leave the group: announce it, stop consuming, leave no queue behind.

        On the UI thread use ``wait=False`` (the broker does it in the
        background); at exit wait, so it is done before the broker closes.
        Returns the broker's work (None when left already).
        """
        if self.closed:
            return None
        future = self._stop(wait=wait, timeout=timeout, announce=True)
        log.info("left group %s", self.name)
        return future

    def _stop(self, wait: bool, timeout: float, announce: bool) -> Future[None]:
        self._closed.set()
        broker = self.client.broker
        if self._subscription is not None:
            self._subscription.cancel()
        leave = self._notice("leave")

        def stop(channel: BlockingChannel) -> None:
            tag, self._consumer_tag = self._consumer_tag, None
            if self.kind == "persistent":
                if self._stream_channel is not None:
                    amqp.close_without_rejects(self._stream_channel)
                    self._stream_channel = None
            else:
                if tag is not None:
                    channel.basic_cancel(tag)
                channel.queue_delete(self.queue)
            if announce:
                body, properties = self._body(leave), self._properties(leave)
                channel.basic_publish(self.exchange, self.name, body, properties)

        future = broker.submit(stop)
        future.add_done_callback(_log_failure)
        if wait:
            with contextlib.suppress(Exception):
                future.result(timeout)
        return future


def _log_failure(future: Future[None]) -> None:
    exc = future.exception()
    if exc is not None and not isinstance(exc, BrokerUnavailable):
        log.warning("leaving a group did not finish cleanly: %r", exc)

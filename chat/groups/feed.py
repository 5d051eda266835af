"""The broker side of one group membership: consume, acknowledge, read history pages.

Threads:
- :meth:`Feed.start` runs on the menu thread (it waits for the broker);
  :meth:`Feed.close`, :meth:`Feed.publish`, :meth:`Feed.read_page` and
  :meth:`Feed.later` on any thread: they hand their work to the broker thread.
- The broker thread owns the consumer: the stream channel, the consumer tag,
  the last offset delivered, the first live offset, acknowledgements, the
  reaction to the broker closing the stream channel, and the history page
  readers. It never decodes or verifies.
- The feed's :class:`~chat.transport.checker.Checker` thread decodes and verifies
  each body, in order, hands it onward (``arrive``) and then says it was
  handled, so it is acknowledged within moments (the broker thread never waits
  on Redis or SQLite).

Acknowledgements on a stream only return credit, but an unacknowledged
delivery older than RabbitMQ's ``consumer_timeout`` (30 min by default) makes
the broker close the channel. So the worker acknowledges (on the broker
thread, through :meth:`Broker.submit`) every :data:`ACK_EVERY` deliveries and
whenever it has nothing more to check: nothing stays unacknowledged while the
group is quiet.

When the broker closes the stream channel for any reason, the feed says so
(``lost``), consumes again from just after the last offset delivered, with
capped backoff, and says ``back``; connection loss is the broker's (its lost
and back listeners, then the setup runs again).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from chat.groups import amqp, paging
from chat.groups.model import Kind
from chat.history import OldMessage
from chat.transport.boundary import consumer, guarded, preview
from chat.transport.broker import BACKOFF_CAP, BACKOFF_FIRST, BrokerUnavailable, Subscription
from chat.transport.checker import Checker
from chat.transport.topology import Names
from chat.transport.wire import BadMessage, ChatMessage, decode_object
from chat.trust.verifier import Verdict, verifier_of

log = logging.getLogger(__name__)

#: The worker acknowledges at least once per this many deliveries (and whenever
#: it runs out of work). Small: RabbitMQ refills a stream consumer's credit as
#: acks arrive, and reading 10,000 messages took 1.2-1.6 s acking every 1-4
#: against 2.3-2.5 s acking every 50-100 (same machine, same broker).
ACK_EVERY = 4


class Onward(Protocol):
    """Where a feed hands what it found; each method must hand on and return."""

    def arrive(self, msg: ChatMessage, verdict: Verdict) -> None:
        """A message passed the checks (worker thread)."""

    def page(
        self, page: paging.Page, items: list[OldMessage], meetings: list[str], seq: int
    ) -> None:
        """A history page, checked (worker thread)."""

    def live_start(self, offset: int) -> None:
        """The first offset consumed live: history lies below it (broker thread)."""

    def lost(self, connection: bool = True) -> None:
        """The connection is gone, or (``connection`` False) only the stream channel
        (broker thread)."""

    def back(self) -> None:
        """Consuming again (broker thread)."""


class Feed:
    """One member's consumer of one group, on the client's broker.

    The broker thread owns the stream channel, the consumer tag, the offsets,
    the retry delay and the down flag; the worker thread owns the count of
    deliveries since the last acknowledgement; ``closed`` is an event any
    thread reads. Nothing here touches the chat log.

    Args:
        client: the running client (broker, config, verifier).
        name: the group's canonical name (routing key, queue names).
        kind: ``persistent`` (a stream) or ``transient`` (a queue of its own).
        onward: told what arrives, on the threads its methods name.
    """

    def __init__(self, client: Any, name: str, kind: Kind, onward: Onward) -> None:
        self.broker = client.broker
        self.config = client.config
        self.name = name
        self.kind = kind
        self.onward = onward
        names = Names(client.config.namespace)
        self.exchange = names.groups_exchange
        self.queue = (
            names.group_stream(name)
            if kind == "persistent"
            else names.group_member_queue(name, client.me.id)
        )
        self._verifier = verifier_of(client)
        self._closed = threading.Event()  # read on every thread
        self._checker = Checker(f"group {name}")
        self._subscription: Subscription | None = None
        # Broker thread only.
        self._stream_channel: BlockingChannel | None = None
        self._consumer_tag: str | None = None
        self._last_offset: int | None = None
        self._live_started = False
        self._connection: Any = None  # the connection the setup last ran on
        self._down = False  # the stream channel was closed by the broker
        self._retry_delay = BACKOFF_FIRST
        # Worker thread only.
        self._since_ack = 0

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @property
    def on_delivery(self) -> Any:
        """The consumer callback (broker thread), behind the per-message boundary."""
        return consumer(f"group {self.name}")(self._on_message)

    # -- any thread ------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Declare, bind and consume (now and after every reconnect); blocks.

        Raises:
            BrokerUnavailable: the broker is not reachable.
        """
        self._subscription = self.broker.add_setup(
            self._setup, timeout, on_lost=self.onward.lost, on_back=self.onward.back
        )

    def publish(self, body: bytes, properties: pika.BasicProperties) -> Future[None]:
        """Publish to the group (mandatory, confirmed); the future says how it went."""
        exchange, name = self.exchange, self.name
        return self.broker.submit(
            lambda ch: ch.basic_publish(exchange, name, body, properties, True)
        )

    def read_page(self, end: int, seq: int) -> None:
        """Read the history page just below offset ``end``; ``onward.page`` gets it."""

        def start(channel: BlockingChannel) -> None:
            paging.read_page(
                channel,
                self.queue,
                end,
                lambda page: self._checker.put(lambda: self._page(page, seq)),
            )

        self.broker.submit(start).add_done_callback(_log_failure)

    def later(self, seconds: float, fn: Callable[[], None]) -> None:
        """Call ``fn`` on the broker thread in ``seconds`` (not at all if the connection drops)."""
        self.broker.submit(lambda ch: ch.connection.call_later(seconds, fn)).add_done_callback(
            _log_failure
        )

    def close(self, leave: tuple[bytes, pika.BasicProperties] | None) -> Future[None]:
        """Stop consuming, leave no queue behind and publish ``leave`` (body, properties)."""
        self._closed.set()
        self._checker.stop()
        if self._subscription is not None:
            self._subscription.cancel()

        def stop(channel: BlockingChannel) -> None:
            tag, self._consumer_tag = self._consumer_tag, None
            if self.kind == "persistent":
                own, self._stream_channel = self._stream_channel, None
                if own is not None:
                    amqp.close_without_rejects(own)
            else:
                if tag is not None:
                    channel.basic_cancel(tag)
                channel.queue_delete(self.queue)
            if leave is not None:
                channel.basic_publish(self.exchange, self.name, *leave)

        future = self.broker.submit(stop)
        future.add_done_callback(_log_failure)
        return future

    # -- broker thread -----------------------------------------------------------

    def _setup(self, channel: BlockingChannel) -> None:
        """Declare and consume; run again by the broker after every reconnect."""
        amqp.declare_exchange(channel, self.exchange)
        fresh = channel.connection is not self._connection
        self._connection = channel.connection
        if self.kind == "transient":
            self._consumer_tag = amqp.consume_transient(
                channel, self.exchange, self.queue, self.name, self.on_delivery
            )
            return
        if self._stream_channel is not None and self._stream_channel.is_open:
            return  # only the shared channel was reopened; ours still consumes
        self._stream_channel = None
        self._consume_stream(channel.connection)
        if self._down:
            self._down = False
            if not fresh:  # on a new connection the broker says "back" itself
                self.onward.back()

    def _consume_stream(self, connection: Any) -> None:
        """Consume the stream on a channel of its own, live from the end or
        just after the last offset delivered (nothing shown twice, nothing missed)."""
        own = amqp.open_stream_channel(connection)
        try:
            config = self.config
            amqp.declare_stream(own, self.queue, config.group_max_age, config.group_max_bytes)
        except BaseException:
            amqp.close_without_rejects(own)  # a retried setup must open a new one
            raise
        self._stream_channel = own
        own._impl.add_on_close_callback(lambda _ch, reason: self._on_stream_closed(own, reason))
        offset: int | str = "next" if self._last_offset is None else self._last_offset + 1
        self._consumer_tag = amqp.consume_stream(
            own, self.exchange, self.queue, self.name, offset, self.on_delivery
        )

    def _on_stream_closed(self, own: BlockingChannel, reason: Exception) -> None:
        if own is not self._stream_channel:
            return  # an old channel, replaced already
        self._stream_channel = None
        if self.closed or not isinstance(reason, pika.exceptions.ChannelClosedByBroker):
            return  # left, or the connection went (the broker reconnects and says so)
        delay, self._retry_delay = self._retry_delay, min(self._retry_delay * 2, BACKOFF_CAP)
        log.warning(
            "group %s: the broker closed the stream channel (%s); consuming again in %.1f s",
            self.name,
            reason,
            delay,
        )
        if not self._down:
            self._down = True
            self.onward.lost(False)
        connection = own.connection
        connection.call_later(delay, lambda: self._reconsume(connection))

    def _reconsume(self, connection: Any) -> None:
        subscription = self._subscription
        if self.closed or subscription is None or not subscription.active:
            return
        if connection is not self._connection or not connection.is_open:
            return  # a new connection runs the setup again
        if self._stream_channel is not None:
            return  # the setup ran meanwhile
        try:
            self._consume_stream(connection)
        except pika.exceptions.ChannelClosed:
            return  # closed again: its close callback tries later
        except (pika.exceptions.AMQPConnectionError, ConnectionError, OSError):
            return  # the broker reconnects and runs the setup
        except Exception as exc:
            log.warning("group %s: could not consume again (%r)", self.name, exc)
            own, self._stream_channel = self._stream_channel, None
            if own is not None:
                amqp.close_without_rejects(own)
            delay, self._retry_delay = self._retry_delay, min(self._retry_delay * 2, BACKOFF_CAP)
            connection.call_later(delay, lambda: self._reconsume(connection))
            return
        log.info("group %s: consuming again from offset %s", self.name, self._last_offset)
        if self._down:
            self._down = False
            self.onward.back()

    def _on_message(
        self, channel: BlockingChannel, method: Any, properties: pika.BasicProperties, body: bytes
    ) -> None:
        if self.closed:
            return
        if self.kind == "transient":
            self._checker.put(lambda: self._live(body, None, None))
            return
        if channel is not self._stream_channel or not channel.is_open:
            return  # on its way when the channel was replaced; the broker forgot it with it
        self._retry_delay = BACKOFF_FIRST
        offset = amqp.stream_offset(properties)
        if offset is not None:
            self._last_offset = offset
            if not self._live_started:
                self._live_started = True
                self.onward.live_start(offset)  # everything below is history
        tag = method.delivery_tag
        self._checker.put(lambda: self._live(body, channel, tag))

    def _ack(self, channel: BlockingChannel, tag: int) -> None:
        if channel is self._stream_channel and channel.is_open:
            channel.basic_ack(tag, multiple=True)

    # -- worker thread -------------------------------------------------------------

    def _live(self, body: bytes, channel: BlockingChannel | None, tag: int | None) -> None:
        try:
            checked = self._check(body, "a message")
            if checked is not None and not self.closed:
                self.onward.arrive(*checked)
        finally:
            if channel is not None and tag is not None:
                self._handled(channel, tag)

    def _handled(self, channel: BlockingChannel, tag: int) -> None:
        """Acknowledge up to ``tag`` when the worker runs dry, or every ACK_EVERY."""
        self._since_ack += 1
        if self._since_ack < ACK_EVERY and not self._checker.idle():
            return
        self._since_ack = 0
        self.broker.submit(lambda _ch: self._ack(channel, tag)).add_done_callback(_log_failure)

    def _check(
        self, body: bytes, what: str, texts_only: bool = False
    ) -> tuple[ChatMessage, Verdict] | None:
        """Decode and verify one body of this group; None (logged) when it is dropped
        (or, with ``texts_only``, when it is not a text: left unverified)."""
        try:
            fields = decode_object(body)
            msg = ChatMessage.from_fields(fields)
        except BadMessage as exc:
            log.warning("group %s: dropped %s (%s); body %s", self.name, what, exc, preview(body))
            return None
        if msg.chat.lower() != self.name:
            log.warning("group %s: dropped %s for %s", self.name, what, preview(msg.chat, 80))
            return None
        if texts_only and msg.kind != "text":
            return None
        verdict = self._verifier.check(fields, msg.sender_id, msg.sender_name)
        if not verdict.ok:
            log.warning(
                "group %s: dropped %s (%s); body %s", self.name, what, verdict.reason, preview(body)
            )
            return None
        return msg, verdict

    def _page(self, page: paging.Page, seq: int) -> None:
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
        if not self.closed:
            self.onward.page(page, items, meetings, seq)

    def _history_item(self, body: bytes) -> tuple[OldMessage, str] | None:
        checked = self._check(body, "a history message", texts_only=True)
        if checked is None:
            return None
        msg, verdict = checked
        old = OldMessage(msg.sender_id, msg.sender_name, msg.text, msg.id, msg.ts, verdict.warning)
        return old, verdict.first_meeting


def _log_failure(future: Future[Any]) -> None:
    exc = future.exception()
    if exc is not None and not isinstance(exc, BrokerUnavailable):
        log.warning("group broker work did not finish cleanly: %r", exc)

"""The insult channel: one quorum RabbitMQ work queue, each insult to exactly one listener.

No tkinter here. A client *listens* while :meth:`InsultChannel.connect` is in
force: its consumer takes one insult at a time (``prefetch_count=1``) and
acknowledges it only after handing it on (to the UI queue), so the broker
spreads insults evenly over the listeners and gives an unacknowledged insult
to another listener when a client dies.

An insult is not kept by its own sender while someone else is listening: the
sender's consumer rejects it back to the queue (``requeue``) once, and only
when the broker reports another consumer. The broker then hands it to the
next consumer in its round robin. If it still comes back (every other
listener was busy at that instant, or has just left), the sender keeps it:
each client passes each of its own insults on at most once, so nothing can
bounce back and forth.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

import pika.exceptions
import pika.frame
import pika.spec
from pika.adapters.blocking_connection import BlockingChannel

from chat.transport import boundary
from chat.transport.broker import Broker, BrokerUnavailable, Subscription
from chat.transport.checker import Checker
from chat.transport.topology import Names
from chat.transport.wire import ChatMessage, check_text, decode_object
from chat.trust.identity import Identity
from chat.trust.verifier import Verdict, Verifier

log = logging.getLogger(__name__)

#: A quorum queue: replicated over the cluster's nodes (one on a single node).
QUEUE_ARGUMENTS = {"x-queue-type": "quorum"}
#: The ``chat`` field of every insult.
CHANNEL_NAME = "insults"
KIND = "insult"
#: How many of its own insults a client remembers having passed on (oldest forgotten first).
PASSED_ON_MEMORY = 10_000
#: After the broker cancels the consumer (its queue deleted, or the broker
#: shutting down), listen again at once; if it keeps happening, wait longer
#: each time (doubling from RESUME_FIRST up to RESUME_CAP seconds) until
#: RESUME_CALM seconds pass without a cancel.
RESUME_FIRST = 0.5
RESUME_CAP = 8.0
RESUME_CALM = 30.0

#: ``deliver(message, verdict)`` runs on the broker thread (the signature check
#: ran before it on the channel's checker thread); it must hand the insult
#: on (e.g. to the UI queue) and return. The insult is acknowledged once it returns.
#: ``verdict`` says what the signature check found (see ``chat.trust.verifier``).
Deliver = Callable[[ChatMessage, Verdict], None]
_UNCHECKED = Verdict(None)


@dataclass
class _Consumer:
    """One connection to the channel: live from :meth:`connect` until :meth:`disconnect`.

    ``stopped`` is set by the thread that disconnects and read on the broker
    thread; ``channel`` and ``tag`` belong to the broker thread.
    """

    deliver: Deliver
    setup: Callable[[BlockingChannel], None] | None = None
    stopped: threading.Event = field(default_factory=threading.Event)
    subscription: Subscription | None = None
    channel: BlockingChannel | None = None
    tag: str | None = None

    @property
    def active(self) -> bool:
        return not self.stopped.is_set()


class InsultChannel:
    """Send insults to the queue, and listen to it while connected.

    Args:
        broker: the client's broker connection.
        names: the namespace's RabbitMQ names.
        sender_id: this client's ID (insults it sends carry it).
        sender_name: this client's username.
        max_bytes: the largest insult, in bytes of UTF-8 text.
        identity: signs every insult sent (unsigned without it).
        verifier: checks every insult received; one that fails is dropped
            (without it nothing is checked).
    """

    def __init__(
        self,
        broker: Broker,
        names: Names,
        sender_id: str,
        sender_name: str,
        max_bytes: int = 4096,
        identity: Identity | None = None,
        verifier: Verifier | None = None,
    ) -> None:
        self.identity = identity
        self.verifier = verifier
        self.broker = broker
        self.queue = names.insult_queue
        self.sender_id = sender_id
        self.sender_name = sender_name
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._consumer: _Consumer | None = None  # under the lock
        self._passed_on: OrderedDict[str, None] = OrderedDict()  # broker thread only
        self._hooked: BlockingChannel | None = None  # broker thread only
        self._declared: BlockingChannel | None = None  # broker thread only
        self._last_cancel = float("-inf")  # broker thread only
        self._resume_delay = 0.0  # broker thread only
        self._checker: Checker | None = None  # from the first connect until close

    # -- sending ---------------------------------------------------------------

    def check(self, text: str) -> str | None:
        """A sentence for the user when ``text`` cannot be sent as an insult, else None."""
        return check_text(text, self.max_bytes)

    def message(self, text: str) -> ChatMessage:
        """A new insult from this client (not yet sent)."""
        return ChatMessage(self.sender_id, self.sender_name, CHANNEL_NAME, text, kind=KIND)

    def send(self, message: ChatMessage, count_listeners: bool = True) -> Future[int | None]:
        """Publish ``message`` with a publisher confirm, without waiting for it.

        With ``count_listeners`` the future holds how many *other* clients were
        listening when the broker took the insult (0: it waits in the queue, or
        comes back to this client if it is the only listener); that costs one
        more round trip (``queue.declare``). Without it the future holds None.
        It fails with :class:`~chat.transport.broker.BrokerUnavailable` when the
        connection is down or drops before the confirm, and with pika's errors
        when the broker refuses the insult.
        """
        body = message.encode(self.identity)
        properties = message.properties(persistent=True)

        def publish(channel: BlockingChannel) -> int | None:
            if count_listeners or self._declared is not channel:
                declared = self._declare(channel)
                self._declared = channel
            try:
                channel.basic_publish("", self.queue, body, properties, mandatory=True)
            except pika.exceptions.UnroutableError:  # the queue was deleted meanwhile
                declared = self._declare(channel)
                channel.basic_publish("", self.queue, body, properties, mandatory=True)
            if not count_listeners:
                return None
            own = 1 if self.connected else 0
            return declared.method.consumer_count - own

        # The broker fails this future itself when the connection drops first.
        return self.broker.submit(publish)

    def _declare(self, channel: BlockingChannel) -> pika.frame.Method:
        return channel.queue_declare(self.queue, durable=True, arguments=QUEUE_ARGUMENTS)

    # -- listening -------------------------------------------------------------

    @property
    def connected(self) -> bool:
        with self._lock:
            consumer = self._consumer
        return consumer is not None and consumer.active

    def connect(self, deliver: Deliver, timeout: float = 10.0) -> None:
        """Start listening: ``deliver`` gets each insult this client receives.

        The consumer is a broker setup, so it resumes after a reconnect.
        Connecting while connected does nothing.

        Raises:
            BrokerUnavailable: the broker could not be reached; not connected.
        """
        if self.connected:
            return
        if self._checker is None:
            self._checker = Checker("insult checks")
        consumer = _Consumer(deliver)

        def setup(channel: BlockingChannel) -> None:
            self._declare(channel)
            # Per consumer in RabbitMQ: binds the consumer created next, on this channel.
            channel.basic_qos(prefetch_count=1)
            consumer.channel = channel
            consumer.tag = channel.basic_consume(
                self.queue,
                boundary.consumer("insult channel", ack=True)(
                    lambda ch, method, props, body: self._on_message(consumer, ch, method, body)
                ),
                auto_ack=False,
            )
            log.info("listening on %s (consumer %s)", self.queue, consumer.tag)
            if self._hooked is not channel:
                self._hooked = channel
                channel.add_on_cancel_callback(lambda frame: self._on_cancelled(channel, frame))

        consumer.setup = setup
        try:
            consumer.subscription = self.broker.add_setup(setup, timeout)
        except FutureTimeout:
            consumer.stopped.set()
            raise BrokerUnavailable("RabbitMQ did not answer in time") from None
        except BrokerUnavailable:
            consumer.stopped.set()
            raise
        with self._lock:
            self._consumer = consumer

    def disconnect(self) -> None:
        """Stop listening, without waiting for the broker (safe on the UI thread).

        An insult the broker delivers after this is rejected back to the queue
        for another listener, never dropped.
        """
        with self._lock:
            consumer, self._consumer = self._consumer, None
        if consumer is None:
            return
        consumer.stopped.set()
        if consumer.subscription is not None:
            consumer.subscription.cancel()

        def cancel(channel: BlockingChannel) -> None:
            # A consumer of an earlier channel died with it.
            if consumer.channel is channel and channel.is_open and consumer.tag is not None:
                channel.basic_cancel(consumer.tag)
                log.info("stopped listening on %s (consumer %s)", self.queue, consumer.tag)

        self.broker.submit(cancel).add_done_callback(_log_failure)

    def close(self) -> None:
        """Stop listening (at exit); the checker thread ends after its current check."""
        self.disconnect()
        checker, self._checker = self._checker, None
        if checker is not None:
            checker.stop()

    def _on_cancelled(self, channel: BlockingChannel, frame: pika.frame.Method) -> None:
        """The broker cancelled a consumer on this channel (e.g. the queue was deleted)."""
        with self._lock:
            consumer = self._consumer
        if consumer is None or not consumer.active or frame.method.consumer_tag != consumer.tag:
            return
        now = time.monotonic()
        if now - self._last_cancel > RESUME_CALM:
            self._resume_delay = 0.0
        else:
            self._resume_delay = min(max(self._resume_delay * 2, RESUME_FIRST), RESUME_CAP)
        self._last_cancel = now
        log.warning(
            "the broker cancelled consumer %s of %s; listening again in %.1f s",
            consumer.tag,
            self.queue,
            self._resume_delay,
        )
        # A timer on the broker thread, not a call from inside pika's frame dispatch.
        channel.connection.call_later(self._resume_delay, lambda: self._resume(consumer, channel))

    def _resume(self, consumer: _Consumer, channel: BlockingChannel) -> None:
        if not (consumer.active and consumer.channel is channel and channel.is_open):
            return
        assert consumer.setup is not None
        try:
            consumer.setup(channel)
        except (pika.exceptions.AMQPError, OSError):
            raise  # the broker thread reopens the channel or reconnects, and runs the setup
        except Exception:
            log.exception("could not listen on %s again", self.queue)

    def _on_message(
        self,
        consumer: _Consumer,
        channel: BlockingChannel,
        method: pika.spec.Basic.Deliver,
        body: bytes,
    ) -> None:
        """One delivery, on the broker thread: hand it to the checker thread and return.

        With ``prefetch_count=1`` the broker sends nothing more until this one
        is acknowledged or rejected, so the listener still takes one insult at
        a time while its signature check waits on Redis or SQLite elsewhere.
        """
        checker = self._checker
        if not consumer.active or checker is None:
            channel.basic_reject(method.delivery_tag, requeue=True)  # for another listener
            return

        def job() -> None:  # on the checker thread
            checked = self._check(body)
            self.broker.submit(
                lambda _ch: self._finish(consumer, channel, method, checked)
            ).add_done_callback(_log_failure)

        checker.put(job)

    def _check(self, body: bytes) -> tuple[ChatMessage, Verdict] | None:
        """Decode and verify one insult (checker thread); None (logged) when it is dropped."""
        try:
            fields = decode_object(body)
            message = ChatMessage.from_fields(fields)
            if message.kind != KIND:
                raise ValueError(f"kind {message.kind!r} is not an insult")
            verdict = _UNCHECKED
            if self.verifier is not None:
                verdict = self.verifier.check(fields, message.sender_id, message.sender_name)
                if not verdict.ok:
                    raise ValueError(verdict.reason)
        except Exception as exc:
            log.warning("dropped an insult: %s; body %s", exc, boundary.preview(body))
            return None
        return message, verdict

    def _finish(
        self,
        consumer: _Consumer,
        channel: BlockingChannel,
        method: pika.spec.Basic.Deliver,
        checked: tuple[ChatMessage, Verdict] | None,
    ) -> None:
        """Hand on, pass on, drop or requeue one checked delivery (broker thread)."""
        if not channel.is_open:
            return  # the broker gave the insult back to the queue with the channel
        tag = method.delivery_tag
        if checked is None:
            channel.basic_ack(tag)  # dropped: it cannot be read or verified
            return
        message, verdict = checked
        if not consumer.active:
            channel.basic_reject(tag, requeue=True)  # for another listener
            return
        if message.sender_id == self.sender_id and self._pass_on(channel, message):
            channel.basic_reject(tag, requeue=True)
            return
        try:
            consumer.deliver(message, verdict)
        except Exception:
            log.exception("could not hand on insult %s", message.id)
            # Requeue once; a second failure drops it rather than loop.
            channel.basic_reject(tag, requeue=not method.redelivered)
            return
        channel.basic_ack(tag)

    def _pass_on(self, channel: BlockingChannel, message: ChatMessage) -> bool:
        """Whether to give an own insult back to the queue for someone else (at most once)."""
        if message.id in self._passed_on:
            del self._passed_on[message.id]
            return False
        listeners = channel.queue_declare(self.queue, passive=True).method.consumer_count
        if listeners <= 1:
            return False
        self._passed_on[message.id] = None
        while len(self._passed_on) > PASSED_ON_MEMORY:
            self._passed_on.popitem(last=False)
        return True


def _log_failure(future: Future[None]) -> None:
    exc = future.exception()
    if exc is not None and not isinstance(exc, BrokerUnavailable):
        log.error("insult broker work failed", exc_info=exc)

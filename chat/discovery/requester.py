"""Asking every connected client who is there: one event out, answers back until a deadline.

The request goes to the namespace's fanout discovery exchange with
``reply_to`` set to RabbitMQ's direct reply-to pseudo-queue
(``amq.rabbitmq.reply-to``) and a fresh ``correlation_id``. One consumer of
that pseudo-queue lives on the client's broker channel (it must be the channel
that publishes the requests); it hands each answer to the waiting request by
correlation ID. The requesting thread waits on a queue with a deadline, so
answers are shown the moment they arrive and the wait ends at the deadline,
never later; it ends sooner once every expected client (those the name
server lists) has answered. Answers for an unknown (or finished) request and answers that
do not parse are logged and dropped.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

import pika
import pika.spec
from pika.adapters.blocking_connection import BlockingChannel

from chat.transport.boundary import consumer, guarded, preview
from chat.transport.broker import Broker, BrokerUnavailable, Subscription
from chat.transport.topology import Names
from chat.transport.wire import BadMessage, DiscoveryAnswer, DiscoveryRequest, decode_object
from chat.trust.verifier import Verdict, Verifier
from nameserver.registry import ClientRecord

log = logging.getLogger(__name__)

#: RabbitMQ's direct reply-to pseudo-queue.
REPLY_TO = "amq.rabbitmq.reply-to"
#: How long to wait for the broker to take the request before calling it unreachable.
PUBLISH_TIMEOUT = 5.0

BROKER_DOWN = (
    "RabbitMQ is not reachable right now, so no discovery event could be sent; "
    "the Redis way still works."
)


NOT_SENT = (
    "RabbitMQ refused the discovery event (details are in the log); the Redis way still works."
)


@dataclass(frozen=True)
class Answered:
    """One answer, and when it arrived (seconds after the request was sent)."""

    answer: DiscoveryAnswer
    after: float
    #: Set when the answering username's key differs from the one known for it.
    warning: str = ""


@dataclass
class EventResult:
    """What one discovery event found.

    Attributes:
        answers: valid answers that arrived before the deadline, in arrival order,
            one per client.
        waited: seconds from sending the request to the end of the wait.
        dropped: answers that were malformed or duplicates (logged).
        error: a sentence for the user when the request could not be sent.
    """

    answers: list[Answered] = field(default_factory=list)
    waited: float = 0.0
    dropped: int = 0
    error: str | None = None

    @property
    def clients(self) -> list[ClientRecord]:
        return [a.answer.client for a in self.answers]

    @property
    def last_answer(self) -> float | None:
        return self.answers[-1].after if self.answers else None

    def groups(self) -> dict[str, list[ClientRecord]]:
        """Group name -> clients that have it open, by name."""
        found: dict[str, list[ClientRecord]] = {}
        for a in self.answers:
            for group in a.answer.groups:
                found.setdefault(group, []).append(a.answer.client)
        return dict(sorted(found.items()))


class Requester:
    """Sends discovery requests and collects the answers, for one client.

    Args:
        broker: the client's broker; its channel carries the reply consumer.
        names: RabbitMQ names of the namespace.
        me: the requesting client's record.
        verifier: checks each answer's signature and key; a forged or unsigned
            answer is dropped (without it nothing is checked).
    """

    def __init__(
        self, broker: Broker, names: Names, me: ClientRecord, verifier: Verifier | None = None
    ) -> None:
        self.verifier = verifier
        self.broker = broker
        self.names = names
        self.me = me
        self._lock = threading.Lock()
        self._waiting: dict[str, queue.SimpleQueue[tuple[float, bytes] | None]] = {}
        self._subscription: Subscription | None = None

    def start(self) -> None:
        """Consume the direct reply-to pseudo-queue (now and after every reconnect)."""
        self._subscription = self.broker.add_setup(self.setup)

    def stop(self) -> None:
        if self._subscription is not None:
            self._subscription.cancel()
            self._subscription = None

    # -- broker thread -------------------------------------------------------------

    def setup(self, channel: BlockingChannel) -> None:
        channel.basic_consume(REPLY_TO, consumer("discovery answer")(self.on_answer), auto_ack=True)

    def on_answer(
        self,
        channel: BlockingChannel,
        method: pika.spec.Basic.Deliver,
        properties: pika.BasicProperties,
        body: bytes,
    ) -> None:
        arrived = time.monotonic()
        with self._lock:
            inbox = self._waiting.get(properties.correlation_id or "")
        if inbox is None:
            log.warning(
                "dropping a discovery answer for an unknown or finished request %s: %s",
                preview(properties.correlation_id, 80),
                preview(body),
            )
            return
        inbox.put((arrived, body))

    # -- the asking thread -------------------------------------------------------

    def discover(
        self,
        timeout: float,
        on_answer: Callable[[Answered], None] | None = None,
        expected: Future[set[str]] | None = None,
        enough: int | None = None,
    ) -> EventResult:
        """Send one request and collect answers for ``timeout`` seconds.

        ``on_answer`` is called (on this thread) with each valid answer as it
        arrives. With ``expected`` (the IDs of the clients that should answer,
        known when the future resolves), the wait ends as soon as each of them
        has answered; a failed future expects nothing. With ``enough``, the
        wait ends once that many answers have come. Never raises for broker
        trouble: the result's ``error`` says it.
        """
        correlation_id = uuid.uuid4().hex
        inbox: queue.SimpleQueue[tuple[float, bytes] | None] = queue.SimpleQueue()
        result = EventResult()
        request = DiscoveryRequest(self.me.id, self.me.name)
        props = request.properties(REPLY_TO, correlation_id, expiration_ms=int(timeout * 1000))
        with self._lock:
            self._waiting[correlation_id] = inbox
        sent = time.monotonic()
        try:
            result.error = self._send(request, props)
            if result.error is not None:
                return result
            # The wait for answers starts once the broker has the request, so a
            # slow confirm does not eat the time the others have to answer.
            deadline = time.monotonic() + timeout
            log.info(
                "discovery request %s sent; waiting %.2f s for answers", correlation_id, timeout
            )
            seen: set[str] = set()
            if expected is not None:  # wakes the wait below when the list is known
                expected.add_done_callback(lambda _: inbox.put(None))
            while True:
                if _all_answered(expected, seen):
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = inbox.get(timeout=remaining)
                except queue.Empty:
                    break
                if item is None:
                    continue
                arrived, body = item
                if arrived > deadline:
                    self._late(correlation_id, body)
                    break
                answered = guarded(
                    "discovery answer", self._accept, body, arrived - sent, seen, correlation_id
                )
                if answered is None:
                    result.dropped += 1
                    continue
                result.answers.append(answered)
                if on_answer is not None:
                    guarded("showing a discovery answer", on_answer, answered, body=body)
                if enough is not None and len(result.answers) >= enough:
                    break
            result.waited = time.monotonic() - sent
            log.info(
                "discovery request %s: %d answer(s), %d dropped, in %.3f s",
                correlation_id,
                len(result.answers),
                result.dropped,
                result.waited,
            )
        finally:
            with self._lock:
                self._waiting.pop(correlation_id, None)
        while True:  # answers that came in while the wait was ending
            try:
                item = inbox.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                self._late(correlation_id, item[1])
        return result

    def _send(self, request: DiscoveryRequest, props: pika.BasicProperties) -> str | None:
        """Publish the request; None when the broker took it, else a sentence for the user.

        When the exchange has gone (someone deleted it), the broker closes the
        channel; reopening it re-runs the setups, which declare the exchange
        again, so one more try goes through.
        """
        for attempt in (1, 2):
            try:
                self.broker.publish(
                    self.names.discovery_exchange,
                    "",
                    request.encode(),
                    props,
                    timeout=PUBLISH_TIMEOUT,
                )
                return None
            except (BrokerUnavailable, FutureTimeout) as exc:
                log.warning("discovery request not sent: %r", exc)
                return BROKER_DOWN
            except pika.exceptions.ChannelClosedByBroker as exc:
                if attempt == 1 and exc.reply_code == 404:
                    log.warning("the discovery exchange was missing (%s); trying again", exc)
                    continue
                log.exception("discovery request not sent")
                return NOT_SENT
            except pika.exceptions.AMQPError:
                log.exception("discovery request not sent")
                return NOT_SENT
        return NOT_SENT

    def _accept(
        self, body: bytes, after: float, seen: set[str], correlation_id: str
    ) -> Answered | None:
        try:
            fields = decode_object(body)
            answer = DiscoveryAnswer.from_fields(fields)
        except BadMessage as exc:
            log.warning(
                "dropping a malformed answer to discovery request %s: %s; body %s",
                correlation_id,
                exc,
                preview(body),
            )
            return None
        warning = ""
        if self.verifier is not None:
            client = answer.client
            verdict = self.verifier.check(fields, client.id, client.name)
            if verdict.ok and client.key and verdict.key != client.key:
                verdict = Verdict(None, "forged: signed by another key than the record's")
            if not verdict.ok:
                log.warning(
                    "dropping an answer to discovery request %s: %s; body %s",
                    correlation_id,
                    verdict.reason,
                    preview(body),
                )
                return None
            warning = verdict.warning
        if answer.client.id in seen:
            log.warning(
                "dropping a second answer from %s to request %s", answer.client.id, correlation_id
            )
            return None
        seen.add(answer.client.id)
        return Answered(answer, after, warning)

    @staticmethod
    def _late(correlation_id: str, body: bytes) -> None:
        log.warning(
            "dropping an answer to discovery request %s that came after the deadline: %s",
            correlation_id,
            preview(body),
        )


def _all_answered(expected: Future[set[str]] | None, seen: set[str]) -> bool:
    """Whether every expected client has answered (False while the list is not known)."""
    if expected is None or not expected.done() or expected.exception() is not None:
        return False
    ids = expected.result()
    return bool(ids) and ids <= seen

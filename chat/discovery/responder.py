"""Answering discovery requests: every client does this for as long as it runs.

The client binds a server-named, exclusive, auto-delete queue to the
namespace's fanout discovery exchange (declared again after every reconnect
through :meth:`Broker.add_setup`). A request is checked on the broker thread and handed
to a worker thread, which gathers what the client has open and publishes the
answer to the request's ``reply_to`` with the same ``correlation_id``. The
worker keeps the broker thread free: gathering the answer calls into other
features, which may take their own locks while waiting on the broker.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout

import pika
import pika.spec
from pika.adapters.blocking_connection import BlockingChannel

from chat.transport.boundary import consumer, preview
from chat.transport.broker import Broker, BrokerUnavailable, Subscription
from chat.transport.topology import Names
from chat.transport.wire import BadMessage, DiscoveryAnswer, DiscoveryRequest
from chat.trust.identity import Identity
from nameserver.registry import ClientRecord

log = logging.getLogger(__name__)

#: What the client has open: (group names, [(peer ID, peer name), ...]).
Describe = Callable[[], tuple[list[str], list[tuple[str, str]]]]

#: Longest reply_to or correlation_id accepted (AMQP short strings are at most 255).
MAX_PROPERTY = 255
#: Requests waiting for the worker beyond which new ones are dropped (a flood).
MAX_WAITING = 100
#: How long the worker waits for the broker to confirm an answer.
PUBLISH_TIMEOUT = 5.0


class Responder:
    """Answers every discovery request of one namespace on behalf of one client.

    Args:
        broker: the client's broker.
        names: RabbitMQ names of the namespace.
        me: this client's record, sent in every answer.
        describe: returns the groups and private chats open right now.
        identity: signs every answer (unsigned without it).
    """

    def __init__(
        self,
        broker: Broker,
        names: Names,
        me: ClientRecord,
        describe: Describe,
        identity: Identity | None = None,
    ) -> None:
        self.identity = identity
        self.broker = broker
        self.names = names
        self.me = me
        self.describe = describe
        self._requests: queue.SimpleQueue[tuple[str, str] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="discovery", daemon=True)
        self._subscription: Subscription | None = None
        #: Requests answered so far (for tests and the log).
        self.answered = 0

    def start(self) -> None:
        """Listen for requests (now and after every reconnect) and start the worker."""
        self._thread.start()
        self._subscription = self.broker.add_setup(self.setup)

    def stop(self) -> None:
        if self._subscription is not None:
            self._subscription.cancel()
            self._subscription = None
        self._requests.put(None)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(2)

    # -- broker thread ---------------------------------------------------------

    def setup(self, channel: BlockingChannel) -> None:
        exchange = self.names.discovery_exchange
        channel.exchange_declare(exchange, "fanout", durable=True)
        # Server-named: after a reconnect the new queue can never collide with
        # the old one, which the broker may not yet have noticed is dead.
        own_queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
        channel.queue_bind(own_queue, exchange)
        on_request = consumer("discovery request")(self.on_request)
        channel.basic_consume(own_queue, on_request, auto_ack=True, exclusive=True)

    def on_request(
        self,
        channel: BlockingChannel,
        method: pika.spec.Basic.Deliver,
        properties: pika.BasicProperties,
        body: bytes,
    ) -> None:
        reply_to = properties.reply_to
        correlation_id = properties.correlation_id
        try:
            request = DiscoveryRequest.decode(body)
            for name, value in (("reply_to", reply_to), ("correlation_id", correlation_id)):
                if not isinstance(value, str) or not value or len(value) > MAX_PROPERTY:
                    raise BadMessage(f"property {name} is missing or too long")
        except BadMessage as exc:
            log.warning("ignoring a malformed discovery request: %s; body %s", exc, preview(body))
            return
        if self._requests.qsize() >= MAX_WAITING:
            log.warning(
                "dropping discovery request %s: %d still waiting", correlation_id, MAX_WAITING
            )
            return
        log.info(
            "discovery request %s from %s (%s)",
            correlation_id,
            request.sender_name,
            request.sender_id,
        )
        self._requests.put((reply_to, correlation_id))

    # -- worker thread -------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._requests.get()
            if item is None:
                return
            reply_to, correlation_id = item
            try:
                self.answer(reply_to, correlation_id)
            except (BrokerUnavailable, FutureTimeout) as exc:
                log.info("could not answer discovery request %s: %r", correlation_id, exc)
            except Exception:
                log.exception("answering discovery request %s failed", correlation_id)

    def answer(self, reply_to: str, correlation_id: str) -> None:
        groups, peers = self.describe()
        answer = DiscoveryAnswer(self.me, tuple(groups), tuple(peers))
        self.broker.publish(
            "",
            reply_to,
            answer.encode(self.identity),
            answer.properties(correlation_id),
            timeout=PUBLISH_TIMEOUT,
        )
        self.answered += 1
        log.info("answered discovery request %s", correlation_id)

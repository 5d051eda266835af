"""The client's one RabbitMQ connection, owned by one thread.

pika connections are not thread-safe, so a single "broker" thread owns the
connection and its channel. Other threads hand it work with :meth:`Broker.call`
or :meth:`Broker.submit` (carried over by ``add_callback_threadsafe``); the
thread otherwise sleeps in ``process_data_events`` until the broker or another
thread has something for it, so an idle client costs nothing.

Topology and consumers are registered with :meth:`Broker.add_setup`: a setup
runs on the broker thread now and again after every reconnect (or after the
channel was closed by a channel error), so features declare their exchanges,
queues and consumers in one place and survive a broker restart. It returns a
:class:`Subscription`, which also carries the feature's "lost" and "back"
listeners and whose :meth:`~Subscription.cancel` undoes all of it. The channel
is in publisher-confirm mode: :meth:`Broker.publish` returns only once the
broker has taken the message.

Bookkeeping (setups, listeners, pending futures, the current connection and
node) is changed only under the broker's own lock; the broker thread works on
copies, and checks that a setup is still registered right before it runs it,
so a cancelled setup never runs again and needs no check of its own.

A broker may be given several URLs, the nodes of one RabbitMQ cluster: it
connects to the first that answers and, when that connection drops, tries the
next one at once, going round the list; only after every node has failed in
a row does it wait (doubling, capped) before the next round.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from nameserver.connect import redact

log = logging.getLogger(__name__)

T = TypeVar("T")
Setup = Callable[[BlockingChannel], None]

#: Reconnect delays in seconds: doubling, capped.
BACKOFF_FIRST = 0.5
BACKOFF_CAP = 8.0
#: AMQP heartbeat in seconds: a dead broker is noticed within about twice this.
HEARTBEAT = 10

_REFUSED = (
    pika.exceptions.ProbableAuthenticationError,
    pika.exceptions.AuthenticationError,
)
_CONNECTION_LOST = (
    pika.exceptions.AMQPConnectionError,
    pika.exceptions.ConnectionClosed,
    pika.exceptions.StreamLostError,
    ConnectionError,
    OSError,
)


class RetryLater(Exception):
    """Raised by a setup when the broker cannot serve it yet, e.g. a durable queue
    whose replica is still starting after a broker restart. The broker runs the
    setup again after a back-off, for as long as it stays registered."""


class BrokerUnavailable(ConnectionError):
    """The broker cannot be reached (at start) or the connection is down right now."""


class BrokerRefused(BrokerUnavailable):
    """The broker answered but refused the user name or password (at start)."""


Listener = Callable[[], None]


class Subscription:
    """A feature's hold on the broker: a setup and/or lost/back listeners.

    Made by :meth:`Broker.add_setup` and :meth:`Broker.add_listener`;
    :meth:`cancel` (any thread, idempotent) stops the setup from running again
    and the listeners from being called. Consumers the setup started are the
    feature's to cancel (on the broker thread, e.g. with :meth:`Broker.submit`).
    """

    def __init__(
        self,
        broker: Broker,
        setup: Setup | None = None,
        on_lost: Listener | None = None,
        on_back: Listener | None = None,
    ) -> None:
        self._broker = broker
        self.setup = setup
        self.on_lost = on_lost
        self.on_back = on_back

    @property
    def active(self) -> bool:
        return self._broker._holds(self)

    def cancel(self) -> None:
        self._broker._drop(self)


class Broker:
    """One RabbitMQ connection on its own thread, shared by every feature of a client.

    Args:
        url: an ``amqp://`` URL, or several (a sequence, or one comma-separated
            string): the nodes of one cluster, tried in turn.
        name: shown as the connection name in RabbitMQ's management UI.
        on_lost: called (on the broker thread) when the connection drops.
        on_back: called (on the broker thread) when it is up again.

    More listeners can be added with :meth:`add_listener` or with a setup.
    """

    def __init__(
        self,
        url: str | Sequence[str],
        name: str = "distchat",
        on_lost: Callable[[], None] | None = None,
        on_back: Callable[[], None] | None = None,
    ) -> None:
        urls = url.split(",") if isinstance(url, str) else list(url)
        self.urls: tuple[str, ...] = tuple(u.strip() for u in urls if u.strip())
        if not self.urls:
            raise ValueError("a broker needs at least one amqp:// URL")
        self._current = 0  # index into urls of the node in use (or tried next)
        self.name = name
        # Everything below is changed under this lock only (or, for the
        # connection and channel, also only on the broker thread).
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []  # in the order they were added
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        # Futures handed to the connection but not run yet: failed when it drops,
        # since pika then discards their callbacks and they would never resolve.
        self._pending: set[Future[Any]] = set()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._first_error: BaseException | None = None
        self._refused_at: int | None = None  # index of a node that refused the login at start
        if on_lost is not None or on_back is not None:
            self.add_listener(on_lost, on_back)

    # -- life cycle ----------------------------------------------------------

    @property
    def url(self) -> str:
        """The URL of the node in use (or the one tried next while disconnected)."""
        return self.urls[self._current]

    @property
    def node(self) -> str:
        """The node in use, for people: ``host:port`` (and its place in the list)."""
        parts = urlsplit(self.url)
        where = parts.netloc.rsplit("@", 1)[-1] or "localhost"
        if len(self.urls) == 1:
            return where
        return f"{where} (node {self._current + 1} of {len(self.urls)})"

    def _everywhere(self) -> str:
        return ", ".join(redact(u) for u in self.urls)

    def _parameters(self) -> pika.URLParameters:
        params = pika.URLParameters(self.url)
        params.heartbeat = HEARTBEAT
        params.blocked_connection_timeout = 30
        params.connection_attempts = 1
        params.socket_timeout = 3
        params.client_properties = {"connection_name": self.name}
        return params

    def start(self, timeout: float = 10.0) -> None:
        """Connect and start the broker thread.

        Raises:
            BrokerUnavailable: the first connection attempt failed.
        """
        self._thread = threading.Thread(target=self._run, name="broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self._stopping.set()
            raise BrokerUnavailable(f"RabbitMQ did not answer at {self._everywhere()}")
        if self._refused_at is not None:
            index = self._refused_at
            url = self.urls[index]
            user = pika.URLParameters(url).credentials.username
            node = f" (node {index + 1} of {len(self.urls)})" if len(self.urls) > 1 else ""
            raise BrokerRefused(
                f"RabbitMQ refused the user {user!r} at {redact(url)}{node}; "
                "check the user name and password in amqp_url"
            )
        if self._first_error is not None:
            reason = str(self._first_error).strip("() ")
            raise BrokerUnavailable(
                f"RabbitMQ is not answering at {self._everywhere()}"
                + (f" ({reason})" if reason else "")
            )

    @property
    def connected(self) -> bool:
        with self._lock:
            connection, channel = self._connection, self._channel
        return connection is not None and connection.is_open and channel is not None

    def close(self, timeout: float = 3.0) -> None:
        """Close the connection and stop the thread (idempotent)."""
        self._stopping.set()
        with self._lock:
            connection = self._connection
        if connection is not None:
            try:
                connection.add_callback_threadsafe(lambda: None)  # wake the thread
            except Exception:  # already closed
                pass
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # -- the thread ----------------------------------------------------------

    def _set_link(
        self, connection: pika.BlockingConnection | None, channel: BlockingChannel | None
    ) -> None:
        """Broker thread: the connection and channel in use now (None: down)."""
        with self._lock:
            self._connection, self._channel = connection, channel

    def _holds(self, subscription: Subscription) -> bool:
        with self._lock:
            return any(s is subscription for s in self._subscriptions)

    def _drop(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions = [s for s in self._subscriptions if s is not subscription]

    def _setups(self) -> list[Subscription]:
        with self._lock:
            return [s for s in self._subscriptions if s.setup is not None]

    def _run_setups(self) -> None:
        """Broker thread: run every registered setup on the current channel."""
        for subscription in self._setups():
            if subscription.active:  # not cancelled since the copy was taken
                self._run_setup(subscription)

    def _connect(self) -> None:
        connection = pika.BlockingConnection(self._parameters())
        channel = connection.channel()
        channel.confirm_delivery()
        self._set_link(connection, channel)
        self._run_setups()

    def _run_setup(self, subscription: Subscription, delay: float = BACKOFF_FIRST) -> None:
        assert subscription.setup is not None
        try:
            subscription.setup(self._channel)  # type: ignore[arg-type]
        except pika.exceptions.ChannelClosed:
            raise
        except _CONNECTION_LOST:
            raise
        except RetryLater as exc:
            log.warning("broker setup not possible yet (%s); again in %.1f s", exc, delay)
            connection = self._connection
            if connection is not None:
                connection.call_later(
                    delay, lambda: self._retry_setup(subscription, connection, delay)
                )
        except Exception:
            log.exception("broker setup %r failed; dropping it", subscription.setup)
            subscription.cancel()

    def _retry_setup(self, subscription: Subscription, connection: Any, delay: float) -> None:
        if not subscription.active or connection is not self._connection or self._channel is None:
            return  # cancelled meanwhile, or a reconnect has run every setup again
        self._run_setup(subscription, min(delay * 2, BACKOFF_CAP))

    def _run(self) -> None:
        delay = BACKOFF_FIRST
        first = True
        failed_in_a_row = 0
        while not self._stopping.is_set():
            try:
                self._connect()
            except _CONNECTION_LOST as exc:
                # Lost while connecting or running the setups: work handed to
                # that connection meanwhile would never be answered; fail it.
                self._shutdown()
                failed_in_a_row += 1
                log.info("broker node %s unreachable (%s)", redact(self.url), exc)
                if first and isinstance(exc, _REFUSED) and self._refused_at is None:
                    self._refused_at = self._current  # the sentence at start names it
                self._next_node()
                if failed_in_a_row % len(self.urls):
                    continue  # try the next node at once
                if first:
                    self._first_error = exc
                    self._ready.set()
                    return
                log.info("no broker node reachable; next try in %.1f s", delay)
                self._stopping.wait(delay)
                delay = min(delay * 2, BACKOFF_CAP)
                continue
            except pika.exceptions.ChannelClosed as exc:
                # A setup was refused right after connecting (say, an exclusive
                # queue still held by our previous connection, which the broker
                # has not yet found dead): start over later rather than die.
                log.warning("setup refused after connecting (%r); next try in %.1f s", exc, delay)
                self._shutdown()
                self._stopping.wait(delay)
                delay = min(delay * 2, BACKOFF_CAP)
                continue
            delay = BACKOFF_FIRST
            failed_in_a_row = 0
            if first:
                first = False
                self._ready.set()
                log.info("connected to %s, node %s", redact(self.url), self.node)
            else:
                log.warning("reconnected to %s, node %s", redact(self.url), self.node)
                self._notify("back")
            self._serve()
            if len(self.urls) > 1 and not self._stopping.is_set():
                # The node in use has most likely gone: start with another.
                self._next_node()
        self._shutdown()

    def _next_node(self) -> None:
        """Broker thread: the next node of the list is the one to try."""
        with self._lock:
            self._current = (self._current + 1) % len(self.urls)

    def _serve(self) -> None:
        """Dispatch broker events and cross-thread calls until the connection drops."""
        assert self._connection is not None
        while not self._stopping.is_set():
            try:
                self._connection.process_data_events(time_limit=None)
            except pika.exceptions.ChannelClosed as exc:
                log.warning("channel closed by the broker (%s); reopening it", exc)
                if not self._reopen_channel():
                    break
            except _CONNECTION_LOST as exc:
                if self._stopping.is_set():
                    return
                log.warning("lost the broker connection: %r", exc)
                self._set_link(None, None)
                self._fail_pending()
                self._notify("lost")
                return

    def _reopen_channel(self) -> bool:
        try:
            assert self._connection is not None
            channel = self._connection.channel()
            channel.confirm_delivery()
            self._set_link(self._connection, channel)
            self._run_setups()
            return True
        except (*_CONNECTION_LOST, pika.exceptions.ChannelClosed) as exc:
            log.warning("could not reopen the channel (%r); reconnecting", exc)
            self._shutdown()  # the connection may still be up, with consumers on other channels
            self._notify("lost")
            return False

    def _fail_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, set()
        for future in pending:
            if future.set_running_or_notify_cancel():
                future.set_exception(BrokerUnavailable("the connection to RabbitMQ was lost"))

    def _shutdown(self) -> None:
        connection = self._connection
        self._set_link(None, None)  # first: no new work is handed to this connection
        self._fail_pending()
        if connection is None:
            return
        if connection.is_open:
            try:
                connection.close()
            except Exception:
                log.debug("error closing the broker connection", exc_info=True)
        log.info("broker connection closed")

    def add_listener(
        self, on_lost: Listener | None = None, on_back: Listener | None = None
    ) -> Subscription:
        """Be told (on the broker thread) when the connection drops and when it is back.

        Returns the handle whose :meth:`~Subscription.cancel` stops it.
        """
        subscription = Subscription(self, None, on_lost, on_back)
        with self._lock:
            self._subscriptions.append(subscription)
        return subscription

    def _notify(self, event: str) -> None:
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            listener = subscription.on_lost if event == "lost" else subscription.on_back
            if listener is not None and subscription.active:
                try:
                    listener()
                except Exception:
                    log.exception("broker state listener failed")

    # -- work from other threads ---------------------------------------------

    def submit(self, fn: Callable[[BlockingChannel], T]) -> Future[T]:
        """Run ``fn(channel)`` on the broker thread; the future holds its result.

        The future fails with :class:`BrokerUnavailable` when the connection is
        down, and with ``fn``'s own exception otherwise.
        """
        future: Future[T] = Future()
        if threading.current_thread() is self._thread:
            self._invoke(fn, future)
            return future
        with self._lock:
            connection = self._connection
            up = connection is not None and not self._stopping.is_set()
            if up:
                self._pending.add(future)
        if not up or connection is None:  # decided under the lock, with the pending set
            future.set_exception(BrokerUnavailable("not connected to RabbitMQ right now"))
            return future
        try:
            connection.add_callback_threadsafe(lambda: self._invoke(fn, future))
        except Exception:
            with self._lock:
                ours = future in self._pending
                self._pending.discard(future)
            # Not ours any more: the connection dropped meanwhile and the broker
            # thread has failed it already (see _fail_pending).
            if ours:
                future.set_exception(BrokerUnavailable("not connected to RabbitMQ right now"))
        return future

    def _invoke(self, fn: Callable[[BlockingChannel], T], future: Future[T]) -> None:
        with self._lock:
            self._pending.discard(future)
        if not future.set_running_or_notify_cancel():
            return
        channel = self._channel
        if channel is None or not channel.is_open:
            future.set_exception(BrokerUnavailable("not connected to RabbitMQ right now"))
            return
        try:
            future.set_result(fn(channel))
        except BaseException as exc:
            if isinstance(exc, _CONNECTION_LOST) and not isinstance(
                exc, pika.exceptions.ChannelClosed
            ):
                lost = BrokerUnavailable("the connection to RabbitMQ was lost")
                lost.__cause__ = exc
                future.set_exception(lost)
            else:
                future.set_exception(exc)
            if isinstance(exc, (pika.exceptions.ChannelClosed, *_CONNECTION_LOST)):
                raise  # the serve loop reopens the channel or reconnects

    def call(self, fn: Callable[[BlockingChannel], T], timeout: float | None = 10.0) -> T:
        """Run ``fn(channel)`` on the broker thread and return its result (blocking)."""
        return self.submit(fn).result(timeout)

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        properties: pika.BasicProperties | None = None,
        mandatory: bool = False,
        timeout: float | None = 10.0,
    ) -> None:
        """Publish with a publisher confirm: returns once the broker has the message.

        Raises:
            BrokerUnavailable: the connection is down; the message was not sent.
            pika.exceptions.UnroutableError: ``mandatory`` and no queue took it.
            pika.exceptions.NackError: the broker refused it.
        """

        def send(channel: BlockingChannel) -> None:
            channel.basic_publish(exchange, routing_key, body, properties, mandatory=mandatory)

        self.call(send, timeout)

    def add_setup(
        self,
        setup: Setup,
        timeout: float | None = 10.0,
        on_lost: Listener | None = None,
        on_back: Listener | None = None,
    ) -> Subscription:
        """Run ``setup(channel)`` now and after every reconnect; returns its handle.

        ``on_lost`` and ``on_back`` (broker thread) hear when the connection
        drops and when it is back, for as long as the handle is not cancelled.

        Raises whatever the first run raises (and then forgets the setup).
        """
        subscription = Subscription(self, setup, on_lost, on_back)
        cancelled = threading.Event()

        def first_run(channel: BlockingChannel) -> None:
            setup(channel)
            with self._lock:
                if not cancelled.is_set():
                    self._subscriptions.append(subscription)

        try:
            self.call(first_run, timeout)
        except BaseException:
            cancelled.set()  # a first run still queued must not register it later
            subscription.cancel()
            raise
        return subscription

"""The client's one RabbitMQ connection, owned by one thread.

pika connections are not thread-safe, so a single "broker" thread owns the
connection and its channel. Other threads hand it work with :meth:`Broker.call`
or :meth:`Broker.submit` (carried over by ``add_callback_threadsafe``); the
thread otherwise sleeps in ``process_data_events`` until the broker or another
thread has something for it, so an idle client costs nothing.

Topology and consumers are registered with :meth:`Broker.add_setup`: a setup
runs on the broker thread now and again after every reconnect (or after the
channel was closed by a channel error), so features declare their exchanges,
queues and consumers in one place and survive a broker restart. The channel
is in publisher-confirm mode: :meth:`Broker.publish` returns only once the
broker has taken the message.

A broker may be given several URLs, the nodes of one RabbitMQ cluster: it
connects to the first that answers and, when that connection drops, tries the
next one at once, going round the list; only after every node has failed in
a row does it wait (doubling, capped) before the next round.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

log = logging.getLogger(__name__)

T = TypeVar("T")
Setup = Callable[[BlockingChannel], None]

#: Reconnect delays in seconds: doubling, capped.
BACKOFF_FIRST = 0.5
BACKOFF_CAP = 8.0
#: AMQP heartbeat in seconds: a dead broker is noticed within about twice this.
HEARTBEAT = 10

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


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


class Broker:
    """One RabbitMQ connection on its own thread, shared by every feature of a client.

    Args:
        url: an ``amqp://`` URL, or several (a sequence, or one comma-separated
            string): the nodes of one cluster, tried in turn.
        name: shown as the connection name in RabbitMQ's management UI.
        on_lost: called (on the broker thread) when the connection drops.
        on_back: called (on the broker thread) when it is up again.

    More listeners can be added with :meth:`add_listener`.
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
        self._listeners: list[tuple[Callable[[], None] | None, Callable[[], None] | None]] = []
        if on_lost is not None or on_back is not None:
            self._listeners.append((on_lost, on_back))
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._setups: dict[int, Setup] = {}
        self._setup_ids = itertools.count(1)
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._first_error: BaseException | None = None
        # Futures handed to the connection but not run yet: failed when it drops,
        # since pika then discards their callbacks and they would never resolve.
        self._pending: set[Future[Any]] = set()
        self._pending_lock = threading.Lock()

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
            self._stopping = True
            raise BrokerUnavailable(f"RabbitMQ did not answer at {self._everywhere()}")
        if self._first_error is not None:
            reason = str(self._first_error).strip("() ")
            raise BrokerUnavailable(
                f"RabbitMQ is not answering at {self._everywhere()}"
                + (f" ({reason})" if reason else "")
            )

    @property
    def connected(self) -> bool:
        connection = self._connection
        return connection is not None and connection.is_open and self._channel is not None

    def close(self, timeout: float = 3.0) -> None:
        """Close the connection and stop the thread (idempotent)."""
        self._stopping = True
        connection = self._connection
        if connection is not None:
            try:
                connection.add_callback_threadsafe(lambda: None)  # wake the thread
            except Exception:  # already closed
                pass
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # -- the thread ----------------------------------------------------------

    def _connect(self) -> None:
        connection = pika.BlockingConnection(self._parameters())
        channel = connection.channel()
        channel.confirm_delivery()
        self._connection, self._channel = connection, channel
        for setup_id, setup in list(self._setups.items()):
            self._run_setup(setup_id, setup)

    def _run_setup(self, setup_id: int, setup: Setup, delay: float = BACKOFF_FIRST) -> None:
        try:
            setup(self._channel)  # type: ignore[arg-type]
        except pika.exceptions.ChannelClosed:
            raise
        except _CONNECTION_LOST:
            raise
        except RetryLater as exc:
            log.warning(
                "broker setup %s not possible yet (%s); again in %.1f s", setup_id, exc, delay
            )
            connection = self._connection
            if connection is not None:
                connection.call_later(delay, lambda: self._retry_setup(setup_id, connection, delay))
        except Exception:
            log.exception("broker setup %s failed; dropping it", setup_id)
            self._setups.pop(setup_id, None)

    def _retry_setup(self, setup_id: int, connection: Any, delay: float) -> None:
        setup = self._setups.get(setup_id)
        if setup is None or connection is not self._connection or self._channel is None:
            return  # removed meanwhile, or a reconnect has run every setup again
        self._run_setup(setup_id, setup, min(delay * 2, BACKOFF_CAP))

    def _run(self) -> None:
        delay = BACKOFF_FIRST
        first = True
        failed_in_a_row = 0
        while not self._stopping:
            try:
                self._connect()
            except _CONNECTION_LOST as exc:
                self._connection = self._channel = None
                failed_in_a_row += 1
                log.info("broker node %s unreachable (%s)", redact(self.url), exc)
                self._next_node()
                if failed_in_a_row % len(self.urls):
                    continue  # try the next node at once
                if first:
                    self._first_error = exc
                    self._ready.set()
                    return
                log.info("no broker node reachable; next try in %.1f s", delay)
                time.sleep(delay)
                delay = min(delay * 2, BACKOFF_CAP)
                continue
            except pika.exceptions.ChannelClosed as exc:
                # A setup was refused right after connecting (say, an exclusive
                # queue still held by our previous connection, which the broker
                # has not yet found dead): start over later rather than die.
                log.warning("setup refused after connecting (%r); next try in %.1f s", exc, delay)
                self._shutdown()
                time.sleep(delay)
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
            if len(self.urls) > 1 and not self._stopping:
                # The node in use has most likely gone: start with another.
                self._next_node()
        self._shutdown()

    def _next_node(self) -> None:
        self._current = (self._current + 1) % len(self.urls)

    def _serve(self) -> None:
        """Dispatch broker events and cross-thread calls until the connection drops."""
        assert self._connection is not None
        while not self._stopping:
            try:
                self._connection.process_data_events(time_limit=None)
            except pika.exceptions.ChannelClosed as exc:
                log.warning("channel closed by the broker (%s); reopening it", exc)
                if not self._reopen_channel():
                    break
            except _CONNECTION_LOST as exc:
                if self._stopping:
                    return
                log.warning("lost the broker connection: %r", exc)
                self._connection = self._channel = None
                self._fail_pending()
                self._notify("lost")
                return

    def _reopen_channel(self) -> bool:
        try:
            assert self._connection is not None
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
            for setup_id, setup in list(self._setups.items()):
                self._run_setup(setup_id, setup)
            return True
        except (*_CONNECTION_LOST, pika.exceptions.ChannelClosed) as exc:
            log.warning("could not reopen the channel (%r); reconnecting", exc)
            self._shutdown()  # the connection may still be up, with consumers on other channels
            self._notify("lost")
            return False

    def _fail_pending(self) -> None:
        with self._pending_lock:
            pending, self._pending = self._pending, set()
        for future in pending:
            if future.set_running_or_notify_cancel():
                future.set_exception(BrokerUnavailable("the connection to RabbitMQ was lost"))

    def _shutdown(self) -> None:
        self._fail_pending()
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except Exception:
                log.debug("error closing the broker connection", exc_info=True)
        log.info("broker connection closed")

    def add_listener(
        self, on_lost: Callable[[], None] | None = None, on_back: Callable[[], None] | None = None
    ) -> None:
        """Be told (on the broker thread) when the connection drops and when it is back."""
        self._listeners.append((on_lost, on_back))

    def remove_listener(
        self, on_lost: Callable[[], None] | None = None, on_back: Callable[[], None] | None = None
    ) -> None:
        if (on_lost, on_back) in self._listeners:
            self._listeners.remove((on_lost, on_back))

    def _notify(self, event: str) -> None:
        for on_lost, on_back in list(self._listeners):
            listener = on_lost if event == "lost" else on_back
            if listener is not None:
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
        connection = self._connection
        if connection is None or self._stopping:
            future.set_exception(BrokerUnavailable("not connected to RabbitMQ right now"))
            return future
        with self._pending_lock:
            self._pending.add(future)
        try:
            connection.add_callback_threadsafe(lambda: self._invoke(fn, future))
        except Exception:
            with self._pending_lock:
                ours = future in self._pending
                self._pending.discard(future)
            # Not ours any more: the connection dropped meanwhile and the broker
            # thread has failed it already (see _fail_pending).
            if ours:
                future.set_exception(BrokerUnavailable("not connected to RabbitMQ right now"))
        return future

    def _invoke(self, fn: Callable[[BlockingChannel], T], future: Future[T]) -> None:
        with self._pending_lock:
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

    def add_setup(self, setup: Setup, timeout: float | None = 10.0) -> int:
        """Run ``setup(channel)`` now and after every reconnect; returns a handle.

        Raises whatever the first run raises (and then forgets the setup).
        """
        setup_id = next(self._setup_ids)

        def first_run(channel: BlockingChannel) -> None:
            setup(channel)
            self._setups[setup_id] = setup

        self.call(first_run, timeout)
        return setup_id

    def remove_setup(self, setup_id: int) -> None:
        """Stop re-running a setup (its consumers should be cancelled by the caller)."""
        self._setups.pop(setup_id, None)

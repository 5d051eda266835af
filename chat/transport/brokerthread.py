"""The broker thread: one RabbitMQ connection, kept up by itself.

:class:`BrokerThread` owns the pika connection and its shared channel (see
``chat.transport.broker`` for what features do with them). It sleeps in
``process_data_events`` until the broker or another thread has something
for it, so an idle client costs nothing.

Whatever the broker closes is noticed and recovered the same way: the
connection (a node lost, a missed heartbeat, a close from the management
side, a publish not confirmed in time) or only the shared channel (a channel
error such as 406 or 404, an unacknowledged delivery past
``consumer_timeout``), whether inside a call or while the client idles. The
listeners hear "lost", the connection or channel is opened again, the setups
run, and the listeners hear "back". A connection dropped again within
:data:`CALM` seconds, or a channel whose setups are refused again, waits
first, doubling up to :data:`BACKOFF_CAP`.

Given several URLs, the nodes of one RabbitMQ cluster, it connects to the
first that answers and, when that connection drops, tries the next one at
once, going round the list; only after every node has failed in a row does
it wait (doubling, capped) before the next round.

Setups and listeners are kept in ``chat.transport.subscriptions``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any
from urllib.parse import urlsplit

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from chat.transport.brokererrors import (
    CONNECTION_LOST,
    REFUSED,
    BrokerRefused,
    BrokerUnavailable,
    RetryLater,
    redact,
)
from chat.transport.confirms import open_confirmed_channel
from chat.transport.subscriptions import Subscription, Subscriptions

log = logging.getLogger(__name__)

#: Reconnect delays in seconds: doubling, capped.
BACKOFF_FIRST = 0.5
BACKOFF_CAP = 8.0
#: A connection that lasted this many seconds was fine: its drop is recovered at once.
CALM = 30.0
#: AMQP heartbeat in seconds: a dead broker is noticed within about twice this.
HEARTBEAT = 10


def _doubled(delay: float) -> float:
    """The next delay of a back-off: doubling from BACKOFF_FIRST, capped."""
    return min(max(delay * 2, BACKOFF_FIRST), BACKOFF_CAP)


class BrokerThread:
    """One RabbitMQ connection on its own thread: the base of the features' ``Broker``.

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
        self._subscriptions = Subscriptions()
        # The connection, channel and pending futures are changed under this
        # lock only (and the connection and channel only on the broker thread).
        self._lock = threading.Lock()
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None  # None while down or being reopened
        # Futures handed to the connection but not run yet: failed when it drops,
        # since pika then discards their callbacks and they would never resolve.
        self._pending: set[Future[Any]] = set()
        self._channel_down = False  # broker thread only: "lost" said, "back" not yet
        self._reopen_delay = 0.0  # broker thread only: grows while reopening is refused
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._first_error: BaseException | None = None
        self._refused_at: int | None = None  # index of a node that refused the login at start
        if on_lost is not None or on_back is not None:
            self._subscriptions.hold(self._subscriptions.new(None, on_lost, on_back))

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
        return (
            connection is not None
            and connection.is_open
            and channel is not None
            and channel.is_open
        )

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

    # -- the thread: connecting ------------------------------------------------

    def _set_link(
        self, connection: pika.BlockingConnection | None, channel: BlockingChannel | None
    ) -> None:
        """Broker thread: the connection and channel in use now (None: down)."""
        with self._lock:
            self._connection, self._channel = connection, channel

    def _run_setups(self) -> None:
        """Broker thread: run every registered setup on the current channel."""
        for subscription in self._subscriptions.setups():
            if subscription.active:  # not cancelled since the copy was taken
                self._run_setup(subscription)

    def _connect(self) -> None:
        connection = pika.BlockingConnection(self._parameters())
        channel = open_confirmed_channel(connection)
        self._set_link(connection, channel)
        self._run_setups()

    def _run_setup(self, subscription: Subscription, delay: float = BACKOFF_FIRST) -> None:
        assert subscription.setup is not None
        try:
            subscription.setup(self._channel)  # type: ignore[arg-type]
        except pika.exceptions.ChannelClosed:
            raise
        except CONNECTION_LOST:
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
        last_drop, pause = float("-inf"), 0.0
        while not self._stopping.is_set():
            try:
                self._connect()
            except CONNECTION_LOST as exc:
                # Lost while connecting or running the setups: work handed to
                # that connection meanwhile would never be answered; fail it.
                self._shutdown()
                failed_in_a_row += 1
                log.info("broker node %s unreachable (%s)", redact(self.url), exc)
                if first and isinstance(exc, REFUSED) and self._refused_at is None:
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
            self._channel_down = False
            if first:
                first = False
                self._ready.set()
                log.info("connected to %s, node %s", redact(self.url), self.node)
            else:
                log.warning("reconnected to %s, node %s", redact(self.url), self.node)
                self._subscriptions.notify("back")
            self._serve()
            if self._stopping.is_set():
                break
            if len(self.urls) > 1:
                self._next_node()  # the node in use has most likely gone: start with another
            now = time.monotonic()
            pause = _doubled(pause) if now - last_drop < CALM else 0.0
            last_drop = now
            if pause:
                # Dropped again soon after the last recovery (say, the broker
                # closes every connection of ours): not at full speed forever.
                log.info("the connection dropped again soon; next try in %.1f s", pause)
                self._stopping.wait(pause)
        self._shutdown()

    def _next_node(self) -> None:
        """Broker thread: the next node of the list is the one to try."""
        with self._lock:
            self._current = (self._current + 1) % len(self.urls)

    # -- the thread: serving ---------------------------------------------------

    def _serve(self) -> None:
        """Dispatch broker events and cross-thread calls until the connection drops."""
        connection = self._connection
        assert connection is not None
        while not self._stopping.is_set():
            try:
                try:
                    connection.process_data_events(time_limit=None)
                    channel = self._channel
                    if channel is not None and channel.is_closed:
                        # Closed by the broker while no call was made on it:
                        # pika only wakes this loop and raises nothing.
                        self._channel_lost("closed by the broker")
                except pika.exceptions.ChannelClosed as exc:
                    self._channel_lost(exc)  # may raise a lost connection itself
            except CONNECTION_LOST as exc:
                if self._stopping.is_set():
                    return
                log.warning("lost the broker connection: %r", exc)
                self._set_link(None, None)
                self._fail_pending()
                if not self._channel_down:  # said already when the channel went first
                    self._subscriptions.notify("lost")
                return

    def _channel_lost(self, reason: object, refused: bool = False) -> None:
        """Broker thread: the broker closed a channel; recover the shared one if it was that.

        The shared channel is reopened at once, unless the setups were just
        ``refused`` on the reopened one: then after a pause, doubling, capped.
        """
        connection, channel = self._connection, self._channel
        if channel is not None and channel.is_open:
            log.warning("the broker closed a feature's own channel (%s)", reason)
            return  # that feature's business; the shared channel serves on
        if channel is None and self._channel_down:
            return  # a reopen is already on its way
        assert connection is not None
        self._set_link(connection, None)
        if refused:
            self._reopen_delay = _doubled(self._reopen_delay)
        pause = self._reopen_delay if refused else 0.0
        log.warning(
            "the broker closed the shared channel (%s); reopening it in %.1f s", reason, pause
        )
        if not self._channel_down:
            self._channel_down = True
            self._subscriptions.notify("lost")
        if pause:
            connection.call_later(pause, lambda: self._reopen_channel(connection))
        else:  # at once, so that work handed over meanwhile finds the channel open
            self._reopen_channel(connection)

    def _reopen_channel(self, connection: pika.BlockingConnection) -> None:
        """Broker thread (at once, or from a timer): a new shared channel, its setups, "back"."""
        if connection is not self._connection or self._stopping.is_set():
            return  # the connection went meanwhile; reconnecting runs every setup
        channel = open_confirmed_channel(connection)
        self._set_link(connection, channel)
        try:
            self._run_setups()
        except pika.exceptions.ChannelClosed as exc:
            if channel.is_open:  # a setup's own channel was refused: start over all the same
                channel.close()
            self._channel_lost(exc, refused=True)
            return
        self._reopen_delay = 0.0
        self._channel_down = False
        log.warning("the shared channel is open again")
        self._subscriptions.notify("back")

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

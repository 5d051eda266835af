"""The client's one RabbitMQ connection, as the features use it.

pika connections are not thread-safe, so a single "broker" thread owns the
connection and its shared channel (``chat.transport.brokerthread``). Other
threads hand it work with :meth:`Broker.call` or :meth:`Broker.submit`
(carried over by ``add_callback_threadsafe``).

Topology and consumers are registered with :meth:`Broker.add_setup`: a setup
runs on the broker thread now and again after every reconnect (or after the
shared channel was reopened), so features declare their exchanges, queues and
consumers in one place and survive a broker restart. It returns a
:class:`Subscription`, which also carries the feature's "lost" and "back"
listeners and whose :meth:`~Subscription.cancel` undoes all of it; a
cancelled setup never runs again and needs no check of its own.

The shared channel is in publisher-confirm mode with a deadline on every
confirm (``chat.transport.confirms``): :meth:`Broker.publish` returns only
once the broker has taken the message, and fails with
:class:`BrokerUnavailable` when it does not say so in time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from chat.transport.brokererrors import (
    CONNECTION_LOST,
    BrokerRefused,
    BrokerUnavailable,
    RetryLater,
    redact,
)
from chat.transport.brokerthread import BACKOFF_CAP, BACKOFF_FIRST, CALM, HEARTBEAT, BrokerThread
from chat.transport.subscriptions import Listener, Setup, Subscription

__all__ = [
    "BACKOFF_CAP",
    "BACKOFF_FIRST",
    "CALM",
    "HEARTBEAT",
    "Broker",
    "BrokerRefused",
    "BrokerUnavailable",
    "Listener",
    "RetryLater",
    "Setup",
    "Subscription",
    "redact",
]

T = TypeVar("T")


class Broker(BrokerThread):
    """One RabbitMQ connection on its own thread, shared by every feature of a client.

    Takes the arguments of :class:`~chat.transport.brokerthread.BrokerThread`;
    adds what features use: work run on the broker thread, setups run again
    after each reconnect, and listeners told of a lost and restored link.
    """

    # -- features' hold on the broker -------------------------------------------

    def add_listener(
        self, on_lost: Listener | None = None, on_back: Listener | None = None
    ) -> Subscription:
        """Be told (on the broker thread) when the connection drops and when it is back.

        Returns the handle whose :meth:`~Subscription.cancel` stops it.
        """
        subscription = self._subscriptions.new(None, on_lost, on_back)
        self._subscriptions.hold(subscription)
        return subscription

    def add_setup(
        self,
        setup: Setup,
        timeout: float | None = 10.0,
        on_lost: Listener | None = None,
        on_back: Listener | None = None,
    ) -> Subscription:
        """Run ``setup(channel)`` now and after every reconnect; returns its handle.

        ``on_lost`` and ``on_back`` (broker thread) hear when the connection
        (or the shared channel) drops and when it is back, for as long as the
        handle is not cancelled.

        Raises whatever the first run raises (and then forgets the setup).
        """
        subscription = self._subscriptions.new(setup, on_lost, on_back)
        cancelled = threading.Event()

        def first_run(channel: BlockingChannel) -> None:
            setup(channel)
            self._subscriptions.hold(subscription, unless=cancelled)

        try:
            self.call(first_run, timeout)
        except BaseException:
            cancelled.set()  # a first run still queued must not register it later
            subscription.cancel()
            raise
        return subscription

    # -- work from other threads ---------------------------------------------

    def submit(self, fn: Callable[[BlockingChannel], T]) -> Future[T]:
        """Run ``fn(channel)`` on the broker thread; the future holds its result.

        The future fails with :class:`BrokerUnavailable` when the connection is
        down (or a publish is not confirmed in time), and with ``fn``'s own
        exception otherwise.
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
            if isinstance(exc, CONNECTION_LOST) and not isinstance(
                exc, pika.exceptions.ChannelClosed
            ):
                lost = BrokerUnavailable("the connection to RabbitMQ was lost")
                lost.__cause__ = exc
                future.set_exception(lost)
            else:
                future.set_exception(exc)
            if isinstance(exc, (pika.exceptions.ChannelClosed, *CONNECTION_LOST)):
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
            BrokerUnavailable: the connection is down, or the broker did not
                confirm in time; the message may not have been sent.
            pika.exceptions.UnroutableError: ``mandatory`` and no queue took it.
            pika.exceptions.NackError: the broker refused it.
        """

        def send(channel: BlockingChannel) -> None:
            channel.basic_publish(exchange, routing_key, body, properties, mandatory=mandatory)

        self.call(send, timeout)

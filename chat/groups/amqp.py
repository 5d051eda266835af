"""The RabbitMQ side of group chats: declarations and consumers, on the broker thread.

Every function here takes the broker thread's channel (see
:meth:`chat.transport.broker.Broker.add_setup` and :meth:`~chat.transport.broker.Broker.submit`)
and must run on that thread.

- One durable topic exchange for all groups; the routing key is the group name.
- A transient group's reader: an exclusive, auto-delete queue named after the
  client and the group, bound to the exchange; it vanishes when the reader
  leaves or its connection dies.
- A persistent group's log: a durable stream queue bound to the exchange,
  read from offset ``first`` or from just after the last offset delivered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from chat.transport.broker import RetryLater

log = logging.getLogger(__name__)

#: Deliveries a stream consumer may have unacknowledged (the broker's credit).
STREAM_PREFETCH = 1000
#: AMQP reply code when a queue exists with other arguments.
PRECONDITION_FAILED = 406


class StreamRefused(Exception):
    """The broker would not create or open a persistent group's stream."""


class StreamNotReady(StreamRefused, RetryLater):
    """The stream exists but its home node is not serving it yet (just after a
    broker restart); the broker retries the setup after a back-off."""


#: AMQP reply code of "home node of durable queue ... is down or inaccessible".
NOT_FOUND = 404


OnMessage = Callable[[BlockingChannel, Any, pika.BasicProperties, bytes], None]


def declare_exchange(channel: BlockingChannel, exchange: str) -> None:
    channel.exchange_declare(exchange, exchange_type="topic", durable=True)


#: Replicas of a persistent group's stream. RabbitMQ places min(this, cluster
#: nodes) of them, so every client declares the same number whatever cluster it
#: sees (a re-declare with another number is refused, 406), and a single node works.
STREAM_REPLICAS = 3


def stream_arguments(max_age: str, max_bytes: int) -> dict[str, Any]:
    """Queue arguments of a persistent group's stream: type, replicas and retention."""
    return {
        "x-queue-type": "stream",
        "x-initial-cluster-size": STREAM_REPLICAS,
        "x-max-age": max_age,
        "x-max-length-bytes": max_bytes,
    }


def declare_stream(channel: BlockingChannel, queue: str, max_age: str, max_bytes: int) -> None:
    """Make sure the stream queue exists, accepting one created with other retention.

    The declaration runs on a channel of its own: a stream created by a client
    with other retention settings makes the broker close the declaring channel
    (406), and that must not take the shared channel and its consumers down.
    """
    probe = channel.connection.channel()
    try:
        probe.queue_declare(queue, durable=True, arguments=stream_arguments(max_age, max_bytes))
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code == NOT_FOUND:
            raise StreamNotReady(f"{exc.reply_code} {exc.reply_text}") from None
        if exc.reply_code != PRECONDITION_FAILED:
            # Not a channel error of the shared channel: that one is fine.
            raise StreamRefused(f"{exc.reply_code} {exc.reply_text}") from None
        log.info("stream %s exists with other settings (%s); using it as is", queue, exc.reply_text)
        return
    probe.close()


def open_stream_channel(connection: Any) -> BlockingChannel:
    """A channel of the stream consumer's own on the broker thread's ``connection``.

    A stream consumer lives on its own channel so that its prefetch and its
    acknowledgements never mix with the shared channel's other consumers, and
    so that leaving can close it without rejecting anything (see
    :func:`close_without_rejects`).
    """
    own = connection.channel()
    own.basic_qos(prefetch_count=STREAM_PREFETCH)
    return own


def consume_stream(
    channel: BlockingChannel,
    exchange: str,
    queue: str,
    routing_key: str,
    offset: int | str,
    on_message: OnMessage,
) -> str:
    """Bind the stream and consume it from ``offset``; returns the consumer tag."""
    channel.queue_bind(queue, exchange, routing_key=routing_key)
    return channel.basic_consume(
        queue, on_message, auto_ack=False, arguments={"x-stream-offset": offset}
    )


def close_without_rejects(channel: BlockingChannel) -> None:
    """Close a stream consumer's channel, dropping what is still on its way.

    pika's ``BlockingChannel.basic_cancel`` and ``close`` reject the
    deliveries not yet handed to the callback, and a stream queue answers a
    reject by closing the whole connection (540 NOT_IMPLEMENTED), which would
    take every other feature's consumers down with it. Closing the underlying
    channel object cancels the consumer without rejecting: deliveries that
    arrive while it closes are ignored, and the broker forgets them with the
    channel.
    """
    impl = channel._impl  # the asynchronous channel under the blocking facade
    if impl.is_open:
        impl.close()


def consume_transient(
    channel: BlockingChannel, exchange: str, queue: str, routing_key: str, on_message: OnMessage
) -> str:
    """Declare this reader's own queue, bind it and consume it; returns the consumer tag."""
    channel.queue_declare(queue, exclusive=True, auto_delete=True)
    channel.queue_bind(queue, exchange, routing_key=routing_key)
    return channel.basic_consume(queue, on_message, auto_ack=True)


def stream_offset(properties: pika.BasicProperties) -> int | None:
    """The ``x-stream-offset`` header a stream adds to each delivery."""
    headers = properties.headers or {}
    value = headers.get("x-stream-offset")
    return value if isinstance(value, int) else None


def stream_exists(channel: BlockingChannel, queue: str) -> bool:
    """Whether the broker holds a queue named ``queue`` (a persistent group's stream).

    A passive declaration on a throw-away channel: the broker answers a
    missing queue by closing the declaring channel (404), which must not be
    the shared one.
    """
    probe = channel.connection.channel()
    try:
        probe.queue_declare(queue, passive=True)
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code == NOT_FOUND:
            return False
        raise
    probe.close()
    return True

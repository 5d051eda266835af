"""Persistent history on Redis Streams and on a RabbitMQ stream: append, replay, restarts.

The RabbitMQ stream is declared and consumed through :mod:`chat.groups.amqp`,
as a persistent group's member does; the Redis Stream is appended with
``XADD`` and read with paged ``XRANGE``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions
import redis

from benchmarks.common import namespace
from benchmarks.members import GROUP, Target, message, number, wait_for
from benchmarks.servers import RabbitNode, RedisServer
from chat.groups import amqp
from chat.transport.topology import Names

# -- (b) persistent history -----------------------------------------------------------


@dataclass
class History:
    appended: int
    append_rate: float  # messages per second, each answered before the next
    replay: float  # seconds from asking to having decoded the last one
    replayed: list[int]


def stream_key(target: Target) -> str:
    return f"{target.ns}:history:{GROUP}"


def redis_append(target: Target, count: int) -> float:
    """``XADD`` ``count`` messages one by one; returns the rate."""
    connection = redis.Redis.from_url(target.url)
    key = stream_key(target)
    started = time.perf_counter()
    for n in range(count):
        connection.xadd(key, {"m": message(n)})
    rate = count / (time.perf_counter() - started)
    connection.close()
    return rate


def redis_replay(target: Target, page: int = 1000) -> list[int]:
    """Read the whole stream from the start, ``page`` entries per ``XRANGE``."""
    connection = redis.Redis.from_url(target.url)
    key = stream_key(target)
    seen: list[int] = []
    start = "-"
    while True:
        entries = connection.xrange(key, min=start, max="+", count=page)
        seen.extend(number(fields[b"m"])[0] for _, fields in entries)
        if len(entries) < page:
            break
        start = "(" + entries[-1][0].decode()
    connection.close()
    return seen


def amqp_append(target: Target, count: int) -> float:
    """Publish ``count`` messages to the group's stream, each confirmed; returns the rate."""
    names = Names(target.ns)
    connection = pika.BlockingConnection(pika.URLParameters(target.url))
    channel = connection.channel()
    amqp.declare_exchange(channel, names.groups_exchange)
    amqp.declare_stream(channel, names.group_stream(GROUP), "1D", 1_000_000_000)
    channel.queue_bind(names.group_stream(GROUP), names.groups_exchange, routing_key=GROUP)
    channel.confirm_delivery()
    properties = pika.BasicProperties(content_type="application/json", delivery_mode=2)
    started = time.perf_counter()
    for n in range(count):
        channel.basic_publish(names.groups_exchange, GROUP, message(n), properties)
    rate = count / (time.perf_counter() - started)
    connection.close()
    return rate


def amqp_replay(
    target: Target, expected: int, quiet: float = 2.0, deadline: float = 60
) -> list[int]:
    """Consume the group's stream from ``first`` as a joining member does.

    Stops at ``expected`` messages, or once nothing has come for ``quiet``
    seconds. Just after a restart a node may refuse to serve the stream for a
    while (404 "home node ... is down", 406 "does not have a replica on the
    local node"); the declaration and the consumer are tried again until
    ``deadline``, and then :class:`chat.groups.amqp.StreamNotReady` is raised.
    """
    names = Names(target.ns)
    seen: list[int] = []

    def on_message(ch: Any, method: Any, _props: Any, body: bytes) -> None:
        seen.append(number(body)[0])
        if len(seen) % 100 == 0:
            ch.basic_ack(method.delivery_tag, multiple=True)

    give_up = time.monotonic() + deadline
    while True:
        connection = pika.BlockingConnection(pika.URLParameters(target.url))
        channel = connection.channel()
        try:
            amqp.declare_exchange(channel, names.groups_exchange)
            amqp.declare_stream(channel, names.group_stream(GROUP), "1D", 1_000_000_000)
            own = amqp.open_stream_channel(channel.connection)
            amqp.consume_stream(
                own, names.groups_exchange, names.group_stream(GROUP), GROUP, "first", on_message
            )
            break
        except (amqp.StreamNotReady, pika.exceptions.ChannelClosedByBroker) as exc:
            connection.close()
            if time.monotonic() > give_up:
                raise amqp.StreamNotReady(str(exc)) from None
            time.sleep(0.5)
    last_change, last = time.monotonic(), 0
    while len(seen) < expected and time.monotonic() - last_change < quiet:
        connection.process_data_events(time_limit=0.1)
        if len(seen) != last:
            last_change, last = time.monotonic(), len(seen)
    amqp.close_without_rejects(own)
    wait_for(lambda: connection.process_data_events(0) or own._impl.is_closed, 5)
    connection.close()
    return seen


def history(target: Target, count: int) -> History:
    if target.kind == "redis":
        rate = redis_append(target, count)
        started = time.perf_counter()
        seen = redis_replay(target)
    else:
        rate = amqp_append(target, count)
        started = time.perf_counter()
        seen = amqp_replay(target, count)
    return History(count, rate, time.perf_counter() - started, seen)


# -- restarts ---------------------------------------------------------------------------


def redis_survivors(persistence: str, how: str, count: int, port: int = 0) -> int:
    """Append ``count`` messages to a stream, restart Redis, count what is left."""
    server = RedisServer(persistence, port)
    try:
        target = Target("redis", server.url, namespace())
        redis_append(target, count)
        server.restart(how)
        connection = redis.Redis.from_url(server.url)
        left = connection.xlen(stream_key(target))
        connection.close()
        return left
    finally:
        server.close()


def amqp_survivors(
    node: RabbitNode, how: str, count: int, deadline: float = 120
) -> tuple[int | None, float]:
    """Append ``count`` messages to a durable stream, restart the node, count what is left.

    Returns the count and the seconds from the node taking connections again
    to the stream being read; the count is None when the node would not serve
    the stream within ``deadline`` (``404 home node ... is down or inaccessible``).
    """
    target = Target("amqp", node.url, namespace())
    amqp_append(target, count)
    node.restart(how)
    started = time.perf_counter()
    try:
        left: int | None = len(amqp_replay(target, count, quiet=5, deadline=deadline))
    except amqp.StreamNotReady:
        left = None
    return left, time.perf_counter() - started


def cleanup_amqp(target: Target) -> None:
    """Delete what a run left on a broker: the group's stream and exchange."""
    connection = pika.BlockingConnection(pika.URLParameters(target.url))
    channel = connection.channel()
    channel.queue_delete(Names(target.ns).group_stream(GROUP))
    channel.exchange_delete(Names(target.ns).groups_exchange)
    connection.close()

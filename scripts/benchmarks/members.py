"""Group members and senders on Redis pub/sub or on RabbitMQ, as the benchmark drives them.

A :class:`Member` reads on a thread of its own that owns its connection, and
can be told to stop reading, or to disconnect, for a while. On RabbitMQ it is
a transient group member as the client is one: an exclusive queue declared and
consumed through :mod:`chat.groups.amqp`. Messages are the chat's own bodies
(:class:`chat.transport.wire.ChatMessage`) whose text starts with a sequence number.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pika
import pika.exceptions
import redis

from chat.groups import amqp
from chat.transport.topology import Names
from chat.transport.wire import ChatMessage

GROUP = "lobby"
TEXT = "x" * 100


@dataclass(frozen=True)
class Target:
    """Where one system under test is: ``kind`` is ``redis`` or ``amqp``."""

    kind: str
    url: str
    ns: str

    @property
    def channel(self) -> str:
        """The pub/sub channel (Redis) or routing key (RabbitMQ) of the group."""
        return f"{self.ns}.groups.{GROUP}" if self.kind == "redis" else GROUP


def message(n: int, text: str = TEXT) -> bytes:
    return ChatMessage("sender", "bench", GROUP, f"{n} {text}").encode()


def number(body: bytes) -> tuple[int, float]:
    """The message's sequence number and the sender's clock."""
    msg = ChatMessage.decode(body)
    return int(msg.text.split(" ", 1)[0]), msg.ts


# -- members: one connection and one reading thread each ------------------------------


class Member:
    """A group member reading on a thread of its own, which owns its connection.

    ``away(how, seconds)`` asks the thread to stop reading (``pause``) or to
    close its connection (``leave``) for that long, then to read again (after
    subscribing afresh, for ``leave``). ``left`` is set once it has stopped,
    ``rejoining`` just before it subscribes again, ``back`` once it reads again.
    """

    def __init__(self, target: Target, on_body: Callable[[bytes], None]) -> None:
        self.target = target
        self.on_body = on_body
        self.left = threading.Event()
        self.rejoining = threading.Event()
        self.back = threading.Event()
        self.disconnected = False  # the server closed the connection
        self._request: tuple[str, float] | None = None
        self._stop = threading.Event()
        self._open()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def away(self, how: str, seconds: float) -> None:
        self._request = (how, seconds)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if self._request is not None:
                    self._be_away(*self._request)
                self._read(0.1)
        except (redis.exceptions.ConnectionError, pika.exceptions.AMQPConnectionError):
            self.disconnected = True
        finally:
            self._close()

    def _be_away(self, how: str, seconds: float) -> None:
        self._request = None
        if how == "leave":
            self._close()
        self.left.set()
        time.sleep(seconds)  # the point of the exercise: not reading for this long
        if how == "leave":
            self.rejoining.set()
            self._open()
        self.back.set()

    def _open(self) -> None:
        raise NotImplementedError

    def _read(self, timeout: float) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError


class RedisMember(Member):
    """A Redis pub/sub subscriber of the group's channel."""

    def _open(self) -> None:
        self.connection = redis.Redis.from_url(self.target.url)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(self.target.channel)
        reply = self.pubsub.get_message(timeout=10)  # the server's confirmation
        assert reply is not None and reply["type"] == "subscribe", reply

    def _read(self, timeout: float) -> None:
        reply = self.pubsub.get_message(timeout=timeout)
        while reply is not None:
            if reply["type"] == "message":
                self.on_body(reply["data"])
            reply = self.pubsub.get_message(timeout=0)

    def _close(self) -> None:
        self.pubsub.close()
        self.connection.close()


class AmqpMember(Member):
    """A transient group member as the client is one: its own exclusive queue, no-ack."""

    def __init__(self, target: Target, on_body: Callable[[bytes], None]) -> None:
        # The same queue name after a reconnect, as the client does (its client ID).
        self.queue = Names(target.ns).group_member_queue(GROUP, f"m{id(self):x}")
        super().__init__(target, on_body)

    def _open(self) -> None:
        self.connection = pika.BlockingConnection(pika.URLParameters(self.target.url))
        channel = self.connection.channel()
        exchange = Names(self.target.ns).groups_exchange
        amqp.declare_exchange(channel, exchange)
        amqp.consume_transient(
            channel, exchange, self.queue, GROUP, lambda _c, _m, _p, body: self.on_body(body)
        )

    def _read(self, timeout: float) -> None:
        self.connection.process_data_events(time_limit=timeout)

    def _close(self) -> None:
        if self.connection.is_open:
            self.connection.close()


def member(target: Target, on_body: Callable[[bytes], None]) -> Member:
    return (RedisMember if target.kind == "redis" else AmqpMember)(target, on_body)


def publisher(target: Target) -> tuple[Callable[[bytes], None], Callable[[], None]]:
    """A sender that waits for the server's answer per message; returns (send, close).

    Redis answers ``PUBLISH`` once the message is in every subscriber's output
    buffer; RabbitMQ confirms once the exchange has routed it to every queue.
    """
    if target.kind == "redis":
        connection = redis.Redis.from_url(target.url)
        return (lambda body: connection.publish(target.channel, body)), connection.close
    amqp_connection = pika.BlockingConnection(pika.URLParameters(target.url))
    channel = amqp_connection.channel()
    exchange = Names(target.ns).groups_exchange
    amqp.declare_exchange(channel, exchange)
    channel.confirm_delivery()
    properties = pika.BasicProperties(content_type="application/json", delivery_mode=1)

    def send(body: bytes) -> None:
        channel.basic_publish(exchange, target.channel, body, properties)

    return send, amqp_connection.close


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True

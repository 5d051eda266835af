"""Redis beside RabbitMQ for group chats: the same workloads on both, in one run.

- ``redis_vs_rabbitmq_fanout``: a paced group chat to 50 members, Redis
  pub/sub beside a RabbitMQ topic exchange with one exclusive queue per
  member (declared by :mod:`chat.groups.amqp`, as the client does): delivered
  count, p50 and p99; what a member that stops reading for 2 s receives, what
  one that disconnects and reconnects after 2 s receives; and what a
  subscriber that stops reading during a large burst receives (Redis
  disconnects it past ``client-output-buffer-limit``).
- ``redis_vs_rabbitmq_history``: 10,000 messages appended, then read from the
  start by a late joiner: Redis Streams (``XADD``, paged ``XRANGE``) beside a
  RabbitMQ stream (declared and consumed by :mod:`chat.groups.amqp`).
- ``redis_vs_rabbitmq_restart``: how many of N appended messages survive a
  server restart: Redis without persistence, with its default RDB snapshots,
  and with AOF (``appendfsync everysec``), beside a durable RabbitMQ stream;
  each killed (SIGKILL) and stopped cleanly.

Redis always runs as a ``redis-server`` of our own (:mod:`benchmarks.servers`),
so its settings can be changed and it can be killed. RabbitMQ is the shared
broker for the first two, and a node of our own for the restarts. Every size
is a parameter, so ``tests/test_redis_vs_rabbitmq.py`` runs the same code small.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pika
import pika.exceptions
import redis

from benchmarks.common import AMQP_URL, Result, median, namespace, percentile
from benchmarks.servers import RabbitNode, RedisServer, free_port
from chat.groups import amqp
from chat.topology import Names
from chat.wire import ChatMessage

GROUP = "lobby"
TEXT = "x" * 100
#: Ports of this benchmark's own servers when run from scripts/bench.py.
REDIS_PORTS = range(6420, 6440)
AMQP_PORTS = range(5720, 5740)
DIST_OFFSET = 20000  # the Erlang distribution port sits 20,000 above the AMQP port


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


def _message(n: int, text: str = TEXT) -> bytes:
    return ChatMessage("sender", "bench", GROUP, f"{n} {text}").encode()


def _number(body: bytes) -> tuple[int, float]:
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
        message = self.pubsub.get_message(timeout=timeout)
        while message is not None:
            if message["type"] == "message":
                self.on_body(message["data"])
            message = self.pubsub.get_message(timeout=0)

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


# -- (a) fan-out of a paced group chat --------------------------------------------------


@dataclass(frozen=True)
class FanoutSize:
    members: int = 50
    processes: int = 10  # members live in this many processes, as real clients would
    messages: int = 200
    rate: float = 20.0  # messages per second from the one sender
    away: float = 2.0  # seconds the pausing and the reconnecting member are away
    away_at: float = 0.25  # ... starting after this fraction of the messages


@dataclass
class Away:
    """What a member that was away received, by when each message was sent."""

    before: list[int] = field(default_factory=list)  # sent before it went away
    during: list[int] = field(default_factory=list)  # sent and answered before it came back
    after: list[int] = field(default_factory=list)  # sent after it was back
    received: list[int] = field(default_factory=list)  # in arrival order
    latencies: list[float] = field(default_factory=list)

    def got(self, sent: list[int]) -> int:
        return len(set(sent) & set(self.received))


@dataclass
class Fanout:
    expected: int
    latencies: list[float]  # seconds, the regular members' deliveries
    paused: Away
    rejoined: Away


def _member_process(target: Target, count: int, ready: Any, stop: Any, out: Any) -> None:
    latencies: list[float] = []
    lock = threading.Lock()

    def on_body(body: bytes) -> None:
        _, ts = _number(body)
        with lock:
            latencies.append(time.time() - ts)

    members = [member(target, on_body) for _ in range(count)]
    ready.set()
    stop.wait(300)
    for m in members:
        m.close()
    out.put(latencies)


def _watched(target: Target, record: Away) -> Member:
    def on_body(body: bytes) -> None:
        n, ts = _number(body)
        record.received.append(n)
        record.latencies.append(time.time() - ts)

    return member(target, on_body)


def _wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def fanout(target: Target, size: FanoutSize = FanoutSize()) -> Fanout:
    """One sender, ``size.members`` members reading, plus a pausing and a reconnecting one."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    stop = context.Event()
    shares = [size.members // size.processes] * size.processes
    shares[-1] += size.members - sum(shares)
    readies = [context.Event() for _ in shares]
    processes = [
        context.Process(target=_member_process, args=(target, n, r, stop, out), daemon=True)
        for n, r in zip(shares, readies, strict=True)
    ]
    for process in processes:
        process.start()
    paused, rejoined = Away(), Away()
    pauser, leaver = _watched(target, paused), _watched(target, rejoined)
    send, close = publisher(target)
    try:
        started = lambda: all(r.is_set() for r in readies)  # noqa: E731
        gone = lambda: any(p.exitcode is not None for p in processes)  # noqa: E731
        if not _wait_for(lambda: started() or gone(), 120) or not started():
            raise RuntimeError("the members did not start")
        away_at = int(size.messages * size.away_at)
        start = time.perf_counter()
        for n in range(size.messages):
            if n == away_at:
                pauser.away("pause", size.away)
                leaver.away("leave", size.away)
                pauser.left.wait(10)
                leaver.left.wait(10)
            delay = start + n / size.rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            was_back = [pauser.back.is_set(), leaver.back.is_set()]
            send(_message(n))
            _classify(n, paused, pauser, was_back[0])
            _classify(n, rejoined, leaver, was_back[1])
        _wait_for(lambda: len(paused.received) >= size.messages, 10 + size.away)
        _wait_for(lambda: rejoined.got(rejoined.after) >= len(rejoined.after), 10)
        time.sleep(0.5)  # the regular members' last deliveries (they report only at the end)
        stop.set()
        latencies: list[float] = []
        for _ in processes:
            latencies.extend(out.get(timeout=60))
    finally:
        stop.set()
        close()
        pauser.close()
        leaver.close()
        for process in processes:
            process.join(10)
    return Fanout(size.members * size.messages, latencies, paused, rejoined)


def _classify(n: int, record: Away, m: Member, was_back: bool) -> None:
    """File message ``n``, just answered by the server, by where ``m`` was when it was sent.

    ``during`` holds only messages the server had answered before the member
    began to subscribe again, so none of them can reach its new subscription;
    ``after`` only those sent once it was reading again. A message sent while
    it was subscribing again belongs to neither.
    """
    if not m.left.is_set():
        record.before.append(n)
    elif was_back:
        record.after.append(n)
    elif not m.rejoining.is_set() and not m.back.is_set():
        record.during.append(n)


# -- a subscriber that stops reading during a burst -----------------------------------------


@dataclass
class Burst:
    sent: int
    received: int
    disconnected: bool


def burst(target: Target, count: int, message_bytes: int, pause: float = 2.0) -> Burst:
    """A member stops reading while ``count`` messages of ``message_bytes`` go out at once.

    Redis keeps what a subscriber has not read in that client's output buffer
    and closes the connection once it passes ``client-output-buffer-limit
    pubsub`` (hard limit 32 MB by default); RabbitMQ keeps it in the member's queue.
    """
    received: list[int] = []
    reader = member(target, lambda body: received.append(1))
    send, close = publisher(target)
    padding = "y" * message_bytes
    try:
        reader.away("pause", pause)
        reader.left.wait(10)
        for n in range(count):
            send(_message(n, padding))
        reader.back.wait(pause + 30)
        # Read until everything is in, the server has closed the connection, or it goes quiet.
        last = -1
        while len(received) < count and not reader.disconnected and len(received) != last:
            last = len(received)
            _wait_for(lambda seen=last: len(received) > seen or reader.disconnected, 2)
    finally:
        close()
        reader.close()
    return Burst(count, len(received), reader.disconnected)


def output_buffer_limit(url: str, hard: str, soft: str = "0", seconds: int = 0) -> None:
    """Set the pub/sub client output buffer limit of a Redis server of our own."""
    connection = redis.Redis.from_url(url)
    connection.config_set("client-output-buffer-limit", f"pubsub {hard} {soft} {seconds}")
    connection.close()


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
        connection.xadd(key, {"m": _message(n)})
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
        seen.extend(_number(fields[b"m"])[0] for _, fields in entries)
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
        channel.basic_publish(names.groups_exchange, GROUP, _message(n), properties)
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
        seen.append(_number(body)[0])
        if len(seen) % 100 == 0:
            ch.basic_ack(method.delivery_tag, multiple=True)

    give_up = time.monotonic() + deadline
    while True:
        connection = pika.BlockingConnection(pika.URLParameters(target.url))
        channel = connection.channel()
        try:
            amqp.declare_exchange(channel, names.groups_exchange)
            amqp.declare_stream(channel, names.group_stream(GROUP), "1D", 1_000_000_000)
            own = amqp.open_stream_channel(channel)
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
    _wait_for(lambda: connection.process_data_events(0) or own._impl.is_closed, 5)
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


# -- the scenarios ------------------------------------------------------------------------


def _own_redis(persistence: str) -> RedisServer:
    return RedisServer(persistence, free_port(REDIS_PORTS))


def _cleanup_amqp(target: Target) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(target.url))
    channel = connection.channel()
    channel.queue_delete(Names(target.ns).group_stream(GROUP))
    channel.exchange_delete(Names(target.ns).groups_exchange)
    connection.close()


def _away_results(scenario: str, system: str, record: Away, size: FanoutSize) -> list[Result]:
    what = f"{system} {size.away:.0f} s"
    lateness = max(record.latencies, default=0.0)
    ordered = record.received == sorted(record.received)
    return [
        Result(
            scenario,
            f"{what}: got",
            len(set(record.received)),
            "msgs",
            f"of {size.messages}" + ("" if ordered else ", OUT OF ORDER"),
        ),
        Result(
            scenario,
            f"{what}: sent before / got",
            record.got(record.before),
            "msgs",
            f"of {len(record.before)}",
        ),
        Result(
            scenario,
            f"{what}: sent while away / got",
            record.got(record.during),
            "msgs",
            f"of {len(record.during)}",
        ),
        Result(
            scenario,
            f"{what}: sent after / got",
            record.got(record.after),
            "msgs",
            f"of {len(record.after)}",
        ),
        Result(scenario, f"{what}: latest arrival", lateness * 1000, "ms"),
    ]


def fanout_scenario(size: FanoutSize = FanoutSize(), burst_mb: int = 64) -> list[Result]:
    scenario = "redis_vs_rabbitmq_fanout"
    server = _own_redis("none")
    targets = {
        "Redis pub/sub": Target("redis", server.url, namespace()),
        "RabbitMQ exclusive queues": Target("amqp", AMQP_URL, namespace()),
    }
    results: list[Result] = []
    try:
        for system, target in targets.items():
            run = fanout(target, size)
            ms = [s * 1000 for s in run.latencies]
            what = f"{system}, {size.members} members, {size.rate:.0f} msg/s"
            results += [
                Result(scenario, f"{what}: delivered", len(ms), "msgs", f"of {run.expected}"),
                Result(scenario, f"{what}: p50", median(ms), "ms"),
                Result(scenario, f"{what}: p99", percentile(ms, 99), "ms"),
            ]
            results += _away_results(scenario, f"{system}, stopped reading", run.paused, size)
            results += _away_results(scenario, f"{system}, reconnecting", run.rejoined, size)
            count = burst_mb * 1024 // 64
            got = burst(target, count, 64 * 1024)
            results.append(
                Result(
                    scenario,
                    f"{system}, stopped reading during a {burst_mb} MB burst: got",
                    got.received,
                    "msgs",
                    f"of {got.sent}" + (", disconnected by the server" if got.disconnected else ""),
                )
            )
    finally:
        server.close()
        _cleanup_amqp(targets["RabbitMQ exclusive queues"])
    return results


def history_scenario(count: int = 10_000) -> list[Result]:
    scenario = "redis_vs_rabbitmq_history"
    server = _own_redis("aof")
    targets = {
        "Redis Streams (AOF everysec)": Target("redis", server.url, namespace()),
        "RabbitMQ stream": Target("amqp", AMQP_URL, namespace()),
    }
    results: list[Result] = []
    try:
        for system, target in targets.items():
            run = history(target, count)
            whole = run.replayed == list(range(count))
            results += [
                Result(
                    scenario, f"{system}: append, one at a time, answered", run.append_rate, "msg/s"
                ),
                Result(
                    scenario,
                    f"{system}: replay {count:,} from the start",
                    run.replay,
                    "s",
                    "all, in order" if whole else "INCOMPLETE",
                    whole,
                ),
            ]
    finally:
        server.close()
        _cleanup_amqp(targets["RabbitMQ stream"])
    return results


def restart_scenario(count: int = 10_000) -> list[Result]:
    scenario = "redis_vs_rabbitmq_restart"
    results: list[Result] = []
    for persistence in ("none", "rdb", "aof"):
        for how in ("kill", "stop"):
            left = redis_survivors(persistence, how, count, free_port(REDIS_PORTS))
            results.append(
                Result(
                    scenario,
                    f"Redis stream, persistence {persistence}, {how}",
                    left,
                    "msgs",
                    f"of {count}",
                )
            )
    port = free_port(AMQP_PORTS)
    node = RabbitNode(f"report-bench-{port}", port, port + DIST_OFFSET)
    try:
        for how in ("stop", "kill"):  # a killed node may leave its streams down: last
            left, seconds = amqp_survivors(node, how, count)
            note = f"of {count}" if left is not None else "stream not served within 120 s"
            results += [
                Result(scenario, f"RabbitMQ durable stream, {how}", left or 0.0, "msgs", note),
                Result(
                    scenario, f"RabbitMQ durable stream, {how}: back up to all read", seconds, "s"
                ),
            ]
    finally:
        node.close()
    return results


SCENARIOS = {
    "redis_vs_rabbitmq_fanout": fanout_scenario,
    "redis_vs_rabbitmq_history": history_scenario,
    "redis_vs_rabbitmq_restart": restart_scenario,
}

"""Fan-out of a paced group chat, and a subscriber that stops reading during a burst.

Runs the same on Redis pub/sub and on RabbitMQ (:mod:`benchmarks.members`):
one sender, members in a few processes as real clients would be, and two
watched members in this process, one that stops reading for a while and one
that disconnects and subscribes again.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import redis

from benchmarks.members import Member, Target, member, message, number, publisher, wait_for

# -- (a) fan-out of a paced group chat --------------------------------------------------


@dataclass(frozen=True)
class FanoutSize:
    """How big the fan-out run is; the defaults are the benchmark's."""

    members: int = 50
    processes: int = 10  # members live in this many processes, as real clients would
    messages: int = 200
    rate: float = 20.0  # messages per second from the one sender
    away: float = 2.0  # seconds the pausing and the reconnecting member are away
    away_at: float = 0.25  # ... starting after this fraction of the messages


#: The benchmark's sizes; tests pass smaller ones.
FULL = FanoutSize()


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
    """What one fan-out run measured."""

    expected: int
    latencies: list[float]  # seconds, the regular members' deliveries
    paused: Away
    rejoined: Away


def _member_process(
    target: Target, count: int, ready: Any, stop: Any, out: Any, delivered: Any
) -> None:
    """Host ``count`` members; count deliveries in ``delivered``, report latencies at ``stop``."""
    latencies: list[float] = []
    lock = threading.Lock()

    def on_body(body: bytes) -> None:
        _, ts = number(body)
        latency = time.time() - ts
        with lock:
            latencies.append(latency)
        with delivered.get_lock():
            delivered.value += 1

    members = [member(target, on_body) for _ in range(count)]
    ready.set()
    stop.wait(300)
    for m in members:
        m.close()
    out.put(latencies)


def _watched(target: Target, record: Away) -> Member:
    def on_body(body: bytes) -> None:
        n, ts = number(body)
        record.received.append(n)
        record.latencies.append(time.time() - ts)

    return member(target, on_body)


def fanout(target: Target, size: FanoutSize = FULL) -> Fanout:
    """One sender, ``size.members`` members reading, plus a pausing and a reconnecting one."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    stop = context.Event()
    delivered = context.Value("q", 0)
    shares = [size.members // size.processes] * size.processes
    shares[-1] += size.members - sum(shares)
    readies = [context.Event() for _ in shares]
    processes = [
        context.Process(
            target=_member_process, args=(target, n, r, stop, out, delivered), daemon=True
        )
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
        if not wait_for(lambda: started() or gone(), 120) or not started():
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
            send(message(n))
            _classify(n, paused, pauser, was_back[0])
            _classify(n, rejoined, leaver, was_back[1])
        wait_for(lambda: len(paused.received) >= size.messages, 10 + size.away)
        wait_for(lambda: rejoined.got(rejoined.after) >= len(rejoined.after), 10)
        everyone = size.members * size.messages
        wait_for(lambda: delivered.value >= everyone, 30)
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
    return Fanout(everyone, latencies, paused, rejoined)


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
            send(message(n, padding))
        reader.back.wait(pause + 30)
        # Read until everything is in, the server has closed the connection, or it goes quiet.
        last = -1
        while len(received) < count and not reader.disconnected and len(received) != last:
            last = len(received)
            wait_for(lambda seen=last: len(received) > seen or reader.disconnected, 2)
    finally:
        close()
        reader.close()
    return Burst(count, len(received), reader.disconnected)


def output_buffer_limit(url: str, hard: str, soft: str = "0", seconds: int = 0) -> None:
    """Set the pub/sub client output buffer limit of a Redis server of our own."""
    connection = redis.Redis.from_url(url)
    connection.config_set("client-output-buffer-limit", f"pubsub {hard} {soft} {seconds}")
    connection.close()

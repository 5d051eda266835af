"""Group chat figures, each beside bare pika doing the same work in the same run.

- ``groups-fanout``: one sender, 50 members of a transient group, paced sending;
  delivery latency from the sender's clock to the member's chat model, and the
  same for 50 bare pika consumers.
- ``groups-send-rate``: a member sending as fast as it can (every message
  signed, publisher confirms, every message also routed back, verified and
  put into its own chat model) against a bare pika publisher with confirms,
  and one without.

A late joiner of a long persistent history is measured in real windows by
``group-join-window`` (scripts/benchmarks/windows.py), and the verifier's
share of it by ``trust`` (scripts/benchmarks/trust.py).

Members are the real :class:`chat.groups.session.GroupSession` with their own
broker connection; a thread per member stands in for the Tk main thread,
sleeping on the UI queue's pipe and draining it, as the window's pump does.
"""

from __future__ import annotations

import atexit
import multiprocessing
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import pika
import redis

from benchmarks.common import (
    AMQP_URL,
    REDIS_URL,
    Result,
    amqp_urls,
    median,
    namespace,
    percentile,
)
from chat.config import Config
from chat.groups import amqp
from chat.groups.session import GroupSession
from chat.transport.topology import Names
from chat.transport.wire import ChatMessage
from nameserver.connect import connect
from nameserver.keys import Keys
from nameserver.registry import Registry
from tests.support import TestClient

MEMBERS = 50
MEMBER_PROCESSES = 10
FANOUT_GROUP = "fanout"
PACED_MESSAGES = 200
PACED_RATE = 20.0  # messages per second from the one sender
RATE_MESSAGES = 2000
TEXT = "x" * 100


class Headless(TestClient):
    """The one test client without a display or features; a thread drains its UI queue."""

    def __init__(self, config: Config, connection: redis.Redis, name: str) -> None:
        registry = Registry(connection, Keys(config.namespace))
        super().__init__(config, registry, name, keys=(), drain=True)


#: Identities and known peers of this run, removed at exit.
_STATE = tempfile.mkdtemp(prefix="distchat-bench-")
atexit.register(shutil.rmtree, _STATE, True)


def _config(ns: str, shift: int = 0) -> Config:
    """A member's settings; ``shift`` spreads members over a cluster's nodes.

    A fresh state directory: identities and known peers of earlier runs do not count.
    """
    urls = ",".join(amqp_urls(shift))
    state = tempfile.mkdtemp(dir=_STATE)
    return Config(redis_url=REDIS_URL, amqp_url=urls, namespace=ns, log_dir="/tmp", state_dir=state)


def _cleanup(ns: str, connection: redis.Redis, queues: list[str]) -> None:
    keys = list(connection.scan_iter(match=Keys(ns).pattern, count=1000))
    if keys:
        connection.delete(*keys)
    amqp_connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = amqp_connection.channel()
    for queue in queues:
        channel.queue_delete(queue)
    channel.exchange_delete(Names(ns).groups_exchange)
    amqp_connection.close()


def _body(ns_sender: str, group: str, n: int) -> tuple[bytes, pika.BasicProperties]:
    msg = ChatMessage(ns_sender, "bench", group, f"{n} {TEXT}")
    return msg.encode(), msg.properties(persistent=False)


# -- fan-out -------------------------------------------------------------------------


def _paced(send: Callable[[int], None]) -> None:
    start = time.perf_counter()
    for n in range(PACED_MESSAGES):
        delay = start + n / PACED_RATE - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        send(n)


def _member_process(ns: str, bare: bool, count: int, ready: Any, stop: Any, out: Any) -> None:
    """Host ``count`` members (ours or bare pika) in one process; report their latencies.

    Members run in a few processes, as real clients do, rather than as 100
    threads of the benchmark's own process fighting over one interpreter lock.
    """
    latencies: list[float] = []
    lock = threading.Lock()

    def record(ts: float) -> None:
        with lock:
            latencies.append(time.time() - ts)

    closers: list[Callable[[], None]] = []
    connection = connect(REDIS_URL)
    for i in range(count):
        if bare:
            closers.append(_bare_member(ns, record))
            continue
        member = Headless(_config(ns, i), connection, f"m{i}")
        session = GroupSession(member.client, FANOUT_GROUP, "subscribe", "transient")
        session.log.listener = lambda event, entry: (
            record(entry.ts) if event == "added" and entry.side == "peer" else None
        )
        session.start()
        closers.append(member.close)
    ready.set()
    stop.wait(120)
    for close in closers:
        close()
    shutil.rmtree(_STATE, True)  # a child process runs no atexit handlers
    out.put(latencies)


def _bare_member(ns: str, record: Callable[[float], None]) -> Callable[[], None]:
    """A bare pika consumer on its own connection and thread; returns its stopper."""
    exchange = Names(ns).groups_exchange
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    amqp.declare_exchange(channel, exchange)
    queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
    channel.queue_bind(queue, exchange, routing_key=FANOUT_GROUP)
    channel.basic_consume(
        queue, lambda _c, _m, _p, body: record(ChatMessage.decode(body).ts), auto_ack=True
    )
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            connection.process_data_events(time_limit=0.2)
        connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return lambda: (stopping.set(), thread.join(2))


def _fanout(ns: str, bare: bool, send: Callable[[int], None]) -> list[float]:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    stop = context.Event()
    readies = [context.Event() for _ in range(MEMBER_PROCESSES)]
    per_process = MEMBERS // MEMBER_PROCESSES
    processes = [
        context.Process(target=_member_process, args=(ns, bare, per_process, r, stop, out))
        for r in readies
    ]
    for process in processes:
        process.start()
    try:
        for ready in readies:
            if not ready.wait(60):
                raise RuntimeError("the members did not start")
        _paced(send)
        time.sleep(1.0)  # let the last deliveries arrive before the members stop
        stop.set()
        latencies: list[float] = []
        for _ in processes:
            latencies.extend(out.get(timeout=60))
    finally:
        stop.set()
        for process in processes:
            process.join(10)
    return latencies


def fanout() -> list[Result]:
    ns = namespace()
    connection = connect(REDIS_URL)
    sender = Headless(_config(ns), connection, "sender")
    bare_connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        out = GroupSession(sender.client, FANOUT_GROUP, "connect", "transient")
        out.start()
        ours = _fanout(ns, False, lambda n: sender.ui.post(out.send, f"{n} {TEXT}"))
        channel = bare_connection.channel()
        channel.confirm_delivery()

        def bare_send(n: int) -> None:
            body, properties = _body("bare", FANOUT_GROUP, n)
            channel.basic_publish(Names(ns).groups_exchange, FANOUT_GROUP, body, properties)

        bare = _fanout(ns, True, bare_send)
    finally:
        sender.close()
        bare_connection.close()
        _cleanup(ns, connection, [])
        connection.close()
    ours = [s * 1000 for s in ours]
    bare = [s * 1000 for s in bare]
    expected = MEMBERS * PACED_MESSAGES
    what = f"{MEMBERS} members, {PACED_RATE:.0f} msg/s"
    p99 = percentile(ours, 99)
    return [
        Result(
            "groups-fanout",
            f"{what}: delivered",
            len(ours),
            "msgs",
            f"{expected}",
            len(ours) == expected,
        ),
        Result("groups-fanout", f"{what}: p50 into the chat model", median(ours), "ms"),
        Result(
            "groups-fanout", f"{what}: p99 into the chat model", p99, "ms", "<= 20 ms", p99 <= 20
        ),
        Result("groups-fanout", f"{what}: max into the chat model", max(ours), "ms"),
        Result("groups-fanout", f"bare pika, {what}: delivered", len(bare), "msgs"),
        Result("groups-fanout", f"bare pika, {what}: p50", median(bare), "ms"),
        Result("groups-fanout", f"bare pika, {what}: p99", percentile(bare, 99), "ms"),
    ]


# -- sender's sustained rate ------------------------------------------------------------


def _rate_ours(ns: str, connection: redis.Redis) -> float:
    sender = Headless(_config(ns), connection, "sender")
    try:
        session = GroupSession(sender.client, "rate", "connect", "transient")
        session.start()
        finished = threading.Event()
        session.on_status = lambda text: finished.set() if text == "" else None
        started = time.perf_counter()

        def send_all() -> None:
            for n in range(RATE_MESSAGES):
                problem = session.send(f"{n} {TEXT}")
                assert problem is None, problem

        sender.ui.post(send_all)
        finished.wait(60)
        elapsed = time.perf_counter() - started
        sent = sender.on_ui(
            lambda: sum(1 for e in session.log.entries if e.side == "own" and e.status == "sent")
        )
        assert sent == RATE_MESSAGES, f"only {sent} of {RATE_MESSAGES} sent"
        return RATE_MESSAGES / elapsed
    finally:
        sender.close()


def _rate_bare(ns: str, confirms: bool) -> float:
    exchange = Names(ns).groups_exchange
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    amqp.declare_exchange(channel, exchange)
    # Like the member: its own queue bound, so the broker routes every message.
    queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
    channel.queue_bind(queue, exchange, routing_key="rate-bare")
    if confirms:
        channel.confirm_delivery()
    started = time.perf_counter()
    for n in range(RATE_MESSAGES):
        body, properties = _body("bare", "rate-bare", n)
        channel.basic_publish(exchange, "rate-bare", body, properties, mandatory=confirms)
    if not confirms:
        channel.queue_declare(queue, passive=True)  # a round trip: everything went out
    elapsed = time.perf_counter() - started
    connection.close()
    return RATE_MESSAGES / elapsed


def send_rate() -> list[Result]:
    ns = namespace()
    connection = connect(REDIS_URL)
    try:
        bare = _rate_bare(ns, confirms=True)
        ours = _rate_ours(ns, connection)
        unconfirmed = _rate_bare(ns, confirms=False)
    finally:
        _cleanup(ns, connection, [])
        connection.close()
    return [
        Result(
            "groups-send-rate",
            "member sending, confirmed and routed back",
            ours,
            "msg/s",
            f">= {bare / 2:,.0f} (half the bare one)",
            ours >= bare / 2,
        ),
        Result("groups-send-rate", "bare pika publisher with confirms", bare, "msg/s"),
        Result("groups-send-rate", "bare pika publisher without confirms", unconfirmed, "msg/s"),
        Result(
            "groups-send-rate",
            "member / bare with confirms",
            ours / bare * 100,
            "%",
            ">= 50 %",
            ours >= bare / 2,
        ),
    ]


SCENARIOS = {"groups-fanout": fanout, "groups-send-rate": send_rate}

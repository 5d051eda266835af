"""Private chats: one-way delivery between two client processes, beside a bare gRPC stream.

The figure is the time from the sender's send call (what the window's Send
button calls) to the message being on the receiver's UI queue, both processes
on this machine. ``time.perf_counter_ns`` is the system-wide monotonic clock
on Linux, so a stamp taken in one process can be compared with one taken in
the other. The chat runs over TLS with the handshake (docs/protocol.md,
"Trust"). The same run measures bare grpcio bidirectional streams of the same
frames between the same two processes, as yardsticks: one in plain text (what
the chat cost before it was encrypted) and one over TLS. It also times opening
a chat (TLS, Hello, Challenge, Proof with the name-server lookup, Hello).
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import grpc

from benchmarks.common import AMQP_URL, REDIS_URL, Result, namespace, percentile
from nameserver.connect import connect

PACED_COUNT = 2000
PACED_GAP = 0.002  # seconds between paced messages
BURST_COUNT = 20000
WAIT = 60.0  # seconds to wait for every message before giving up
OPENS = 20


# -- the receiving process ----------------------------------------------------


def _receiver(conn: Any, ns: str) -> None:
    """A chat client whose UI queue stamps each message, plus a bare gRPC server."""
    from chat.front.ui import UiQueue
    from chat.proto import private_chat_pb2_grpc as pb_grpc
    from chat.transport.rpc import create_server
    from chat.trust.tls import generate
    from nameserver.keys import Keys
    from nameserver.registry import Registry
    from tests.support import TestClient

    stamps: dict[str, list[tuple[int, str]]] = {"chat": [], "bare": [], "bare_tls": []}
    lock = threading.Lock()

    class StampingQueue(UiQueue):
        def post(self, fn: Callable[..., Any], *args: Any) -> None:
            if getattr(fn, "__name__", "") == "message":
                now = time.perf_counter_ns()
                with lock:
                    stamps["chat"].append((now, args[2]))
            super().post(fn, *args)

    class Bare(pb_grpc.PrivateChatServicer):
        def __init__(self, kind: str) -> None:
            self.kind = kind

        def Chat(self, request_iterator, context):  # the .proto's method name
            for frame in request_iterator:
                now = time.perf_counter_ns()
                with lock:
                    stamps[self.kind].append((now, frame.text.text))
            return iter(())

    config = _config(ns)
    registry = Registry(connect(REDIS_URL), Keys(ns))
    client = TestClient(config, registry, "receiver", keys={"private"}, ui=StampingQueue())
    me = client.me
    bare, bare_port = create_server("127.0.0.1:0", config.keepalive_seconds)
    pb_grpc.add_PrivateChatServicer_to_server(Bare("bare"), bare)
    bare.start()
    tls = generate()
    bare_tls, tls_port = create_server("127.0.0.1:0", config.keepalive_seconds, tls=tls)
    pb_grpc.add_PrivateChatServicer_to_server(Bare("bare_tls"), bare_tls)
    bare_tls.start()
    conn.send((me, bare_port, tls_port, tls.cert_pem))
    while True:
        command, *args = conn.recv()
        if command == "collect":
            kind, count = args
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                with lock:
                    if len(stamps[kind]) >= count:
                        break
                time.sleep(0.01)  # waiting on another process's progress; checked seldom
            with lock:
                conn.send(stamps[kind])
                stamps[kind] = []
        else:
            break
    client.close()
    bare.stop(None)
    bare_tls.stop(None)


# -- the sending side (this process) ------------------------------------------


def _config(ns: str) -> Any:
    from chat.config import Config

    return Config(redis_url=REDIS_URL, amqp_url=AMQP_URL, namespace=ns, advertise_host="127.0.0.1")


def _sender_client(ns: str) -> Any:
    """The sending client: the one test client, with private chats only (no windows)."""
    from nameserver.keys import Keys
    from nameserver.registry import Registry
    from tests.support import TestClient

    registry = Registry(connect(REDIS_URL), Keys(ns))
    return TestClient(_config(ns), registry, "sender", keys={"private"})


class BareSender:
    """A plain bidirectional stream fed from a queue, as the chat session does."""

    def __init__(self, port: int, cert_pem: bytes | None = None) -> None:
        from chat.proto import private_chat_pb2 as pb
        from chat.proto import private_chat_pb2_grpc as pb_grpc
        from chat.trust.tls import channel_credentials

        self.pb = pb
        self.outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        if cert_pem is None:
            self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        else:
            credentials, options = channel_credentials(cert_pem)
            self.channel = grpc.secure_channel(f"127.0.0.1:{port}", credentials, options)
        grpc.channel_ready_future(self.channel).result(timeout=5)
        self.call = pb_grpc.PrivateChatStub(self.channel).Chat(self._frames())
        self.seq = 0

    def _frames(self) -> Any:
        while (frame := self.outbox.get()) is not None:
            yield frame

    def send(self, text: str) -> None:
        self.seq += 1
        self.outbox.put(self.pb.Frame(text=self.pb.Text(seq=self.seq, id=str(self.seq), text=text)))

    def close(self) -> None:
        self.outbox.put(None)
        for _ in self.call:
            pass
        self.channel.close()


def _paced(send: Callable[[str], Any]) -> None:
    next_at = time.perf_counter()
    for _ in range(PACED_COUNT):
        send(str(time.perf_counter_ns()))
        next_at += PACED_GAP
        pause = next_at - time.perf_counter()
        if pause > 0:
            time.sleep(pause)


def _burst(send: Callable[[str], Any]) -> int:
    started = time.perf_counter_ns()
    for n in range(BURST_COUNT):
        send(str(n))
    return started


def _latencies_ms(stamps: list[tuple[int, str]]) -> list[float]:
    return [(at - int(text)) / 1e6 for at, text in stamps]


def _rate(started_ns: int, stamps: list[tuple[int, str]]) -> float:
    texts = [text for _at, text in stamps]
    if texts != [str(n) for n in range(BURST_COUNT)]:
        raise RuntimeError("the burst arrived incomplete or out of order")
    return BURST_COUNT / ((stamps[-1][0] - started_ns) / 1e9)


def _open_times(chats: Any, callee: Any) -> list[float]:
    """Seconds each of :data:`OPENS` openings of a chat with ``callee`` took."""
    took = []
    for _ in range(OPENS):
        with chats._lock:
            conversation = chats._chats.get(callee.id)
        if conversation is not None:
            conversation.close()
            conversation.session.done.wait(5)
        started = time.monotonic()
        chats.open_with(callee)
        took.append(time.monotonic() - started)
    return took


def private_chat() -> list[Result]:
    ns = namespace()
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_receiver, args=(child, ns), daemon=True)
    process.start()
    client = bare = bare_tls = None
    try:
        receiver, bare_port, tls_port, cert_pem = parent.recv()
        client = _sender_client(ns)
        chats = client.private
        chats.open_with(receiver)
        conversation = chats._chats[receiver.id]
        bare = BareSender(bare_port)
        bare_tls = BareSender(tls_port, cert_pem)

        def collect(kind: str, count: int) -> list[tuple[int, str]]:
            parent.send(("collect", kind, count))
            stamps = parent.recv()
            if len(stamps) < count:
                raise RuntimeError(f"{kind}: only {len(stamps)} of {count} messages arrived")
            return stamps

        # Warm up both paths (connections, code paths) before measuring.
        senders = ((conversation.send, "chat"), (bare.send, "bare"), (bare_tls.send, "bare_tls"))
        for send, kind in senders:
            for _ in range(200):
                send(str(time.perf_counter_ns()))
            collect(kind, 200)

        _paced(conversation.send)
        chat_paced = _latencies_ms(collect("chat", PACED_COUNT))
        _paced(bare.send)
        bare_paced = _latencies_ms(collect("bare", PACED_COUNT))
        _paced(bare_tls.send)
        tls_paced = _latencies_ms(collect("bare_tls", PACED_COUNT))
        started = _burst(conversation.send)
        chat_rate = _rate(started, collect("chat", BURST_COUNT))
        started = _burst(bare.send)
        bare_rate = _rate(started, collect("bare", BURST_COUNT))
        started = _burst(bare_tls.send)
        tls_rate = _rate(started, collect("bare_tls", BURST_COUNT))
        # The callee looks the caller up in the name server, and the test client
        # has no heartbeat thread: refresh its record as the heartbeat would.
        client.registry.heartbeat(client.me)
        opens = _open_times(chats, receiver)
    finally:
        for sender in (bare, bare_tls):
            if sender is not None:
                sender.close()
        if client is not None:
            client.close()
        parent.send(("stop",))
        process.join(10)

    p50, p99 = percentile(chat_paced, 50), percentile(chat_paced, 99)
    open_p50, open_worst = percentile(opens, 50) * 1000, max(opens) * 1000
    name = "private-chat"
    return [
        Result(name, "paced one-way p50", p50, "ms", "<= 1 ms", p50 <= 1.0),
        Result(name, "paced one-way p99", p99, "ms", "<= 5 ms", p99 <= 5.0),
        Result(name, "bare stream paced p50", percentile(bare_paced, 50), "ms"),
        Result(name, "bare stream paced p99", percentile(bare_paced, 99), "ms"),
        Result(name, "bare TLS stream paced p50", percentile(tls_paced, 50), "ms"),
        Result(name, "bare TLS stream paced p99", percentile(tls_paced, 99), "ms"),
        Result(
            name,
            "burst rate",
            chat_rate,
            "msgs/s",
            ">= 5,000 msgs/s and >= half the bare stream",
            chat_rate >= 5000 and chat_rate >= bare_rate / 2,
        ),
        Result(name, "bare stream burst rate", bare_rate, "msgs/s"),
        Result(name, "bare TLS stream burst rate", tls_rate, "msgs/s"),
        Result(
            name, "open a chat (TLS + handshake) p50", open_p50, "ms", "<= 50 ms", open_p50 <= 50
        ),
        Result(name, "open a chat (TLS + handshake) worst", open_worst, "ms"),
    ]


SCENARIOS = {"private-chat": private_chat}

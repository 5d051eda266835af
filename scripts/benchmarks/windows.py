"""Chat window figures, in real Tk windows (needs a display; scripts/test.sh starts Xvfb).

- ``group-join-window``: join a persistent group holding 10,000 and holding
  100,000 messages, through the real group manager and window host; the time
  from the join until the newest 50 messages are in the window. Beside it, in
  the same run, a bare pika consumer reading the whole stream.
- ``window-live-add``: a window holding 10,000 messages; the time to add one
  more live message and redraw, p50 and p99.
- ``group-join-window-clean``: delete the kept streams (nothing measured).

Filling 100,000 messages takes a while, so the streams are filled once
(batched publishes) under the namespace :data:`KEEP` and reused by later runs
that find them complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
import time
from typing import Any

import pika
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from benchmarks.common import AMQP_URL, REDIS_URL, Result, percentile
from chat.config import Config
from chat.groups import amqp
from chat.groups.manager import chat_key
from chat.history import ChatLog
from chat.transport.topology import Names
from chat.transport.wire import BadMessage, ChatMessage
from chat.trust.identity import Identity
from nameserver.connect import connect
from nameserver.keys import Keys
from nameserver.registry import Registry

#: The kept streams' namespace; its bodies are signed (a stream of unsigned bodies
#: from before signing, under the old name "bench-keep", would be dropped).
KEEP = "bench-keep-signed"
OLD_KEEP = "bench-keep"
SIZES = (10_000, 100_000)
NEWEST = 50
TARGET_MS = 150.0
LIVE_TARGET_MS = 5.0
TEXT = "a message of about the length people write in a chat, give or take"
BATCH = 500
LIVE_ADDS = 1000


def _group(size: int) -> str:
    return f"history-{size // 1000}k"


def _stream_length(channel: Any, queue: str) -> int:
    """Offsets in the stream (0 when it is missing or empty), from its last chunk."""
    try:
        channel.queue_declare(queue, passive=True)
    except pika.exceptions.ChannelClosedByBroker:
        return 0
    last: list[int] = []

    def on_message(ch: Any, method: Any, props: Any, _body: bytes) -> None:
        offset = amqp.stream_offset(props)
        if offset is not None:
            last.append(offset)

    channel.basic_qos(prefetch_count=1000)
    channel.basic_consume(queue, on_message, arguments={"x-stream-offset": "last"})
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and not last:
        channel.connection.process_data_events(time_limit=0.1)
    channel.connection.process_data_events(time_limit=0.2)  # the rest of the last chunk
    amqp.close_without_rejects(channel)
    return max(last) + 1 if last else 0


def _writer(n: int) -> Identity:
    """Writer ``n``'s key, the same in every run: a fill that resumes signs as before."""
    seed = hashlib.sha256(f"{KEEP} writer {n}".encode()).digest()
    return Identity(Ed25519PrivateKey.from_private_bytes(seed))


def _fill(size: int) -> None:
    """Make the kept stream hold at least ``size`` messages (batched, confirmed at the end)."""
    names = Names(KEEP)
    group, queue = _group(size), names.group_stream(_group(size))
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        have = _stream_length(connection.channel(), queue)
        if have >= size:
            return
        channel = connection.channel()
        amqp.declare_exchange(channel, names.groups_exchange)
        amqp.declare_stream(channel, queue, "30D", 5_000_000_000)
        channel.queue_bind(queue, names.groups_exchange, routing_key=group)
        props = pika.BasicProperties(content_type="application/json")
        writers = [_writer(w) for w in range(7)]
        for n in range(have, size):
            msg = ChatMessage(f"w{n % 7}", f"writer{n % 7}", group, f"{n} {TEXT}")
            body = msg.encode(writers[n % 7])
            channel.basic_publish(names.groups_exchange, group, body, props)
            if n % BATCH == 0:
                connection.process_data_events(time_limit=0)
        channel.confirm_delivery()  # one confirmed publish: the broker has all before it
        done = ChatMessage("w0", "writer0", group, "filled")
        channel.basic_publish(names.groups_exchange, group, done.encode(writers[0]), props)
    finally:
        connection.close()


def _bare_read(size: int) -> float:
    queue = Names(KEEP).group_stream(_group(size))
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=amqp.STREAM_PREFETCH)
    seen = 0
    started = time.perf_counter()

    def on_message(ch: Any, method: Any, _props: Any, body: bytes) -> None:
        nonlocal seen
        with contextlib.suppress(BadMessage):
            ChatMessage.decode(body)
        seen += 1
        if seen % 4 == 0:
            ch.basic_ack(method.delivery_tag, multiple=True)

    channel.basic_consume(queue, on_message, arguments={"x-stream-offset": "first"})
    while seen < size:
        connection.process_data_events(time_limit=1)
    elapsed = time.perf_counter() - started
    amqp.close_without_rejects(channel)
    connection.close()
    return elapsed


def _join_once(root: Any, size: int, name: str, state_dir: str) -> tuple[float, bool]:
    """Join through the real manager and host; seconds until the newest 50 are shown."""
    from tests.support import TestClient

    config = Config(
        redis_url=REDIS_URL,
        amqp_url=AMQP_URL,
        namespace=KEEP,
        log_dir="/tmp",
        state_dir=state_dir,
        advertise_host="127.0.0.1",
    )
    connection = connect(REDIS_URL)
    reader = TestClient(config, Registry(connection, Keys(KEEP)), name, root=root, keys={"groups"})
    host = reader.client.windows
    group = _group(size)
    want = [f"{n} {TEXT}" for n in range(size - NEWEST, size)]
    try:
        started = time.perf_counter()
        reader.groups.join(group, "subscribe", "persistent")
        deadline = started + 30
        while time.perf_counter() < deadline:
            root.dooneevent()
            window = host.window(chat_key(group))
            if window is None:
                continue
            texts = [t for side, t in window.shown() if side == "peer"]
            if texts[-NEWEST - 1 : -1] == want:  # the newest 50, then "filled"
                return time.perf_counter() - started, True
        return time.perf_counter() - started, False
    finally:
        reader.close()
        root.update()
        connection.close()


def join_window() -> list[Result]:
    import tkinter

    root = tkinter.Tk()
    root.withdraw()
    results: list[Result] = []
    state = tempfile.TemporaryDirectory(prefix="distchat-bench-")
    try:
        for size in SIZES:
            _fill(size)
            runs = [_join_once(root, size, f"reader{i}", state.name) for i in range(5)]
            times = sorted(t * 1000 for t, _ok in runs)
            ok = all(ok for _t, ok in runs)
            worst = times[-1]
            results.append(
                Result(
                    "group-join-window",
                    f"{size:,} messages: join to newest {NEWEST} in the window, median of 5",
                    times[len(times) // 2],
                    "ms",
                    f"<= {TARGET_MS:.0f} ms",
                    ok and times[len(times) // 2] <= TARGET_MS,
                )
            )
            results.append(
                Result("group-join-window", f"{size:,} messages: slowest of 5", worst, "ms")
            )
            results.append(
                Result(
                    "group-join-window",
                    f"{size:,} messages: bare pika reading the whole stream",
                    _bare_read(size) * 1000,
                    "ms",
                )
            )
    finally:
        root.destroy()
        state.cleanup()
    return results


def _bare_text_adds(root: Any) -> list[float]:
    """The same, into a plain Tk Text of 10,000 lines: what Tk alone costs here."""
    import tkinter

    top = tkinter.Toplevel(root)
    top.geometry("560x540+60+60")
    text = tkinter.Text(top, font="TkTextFont", wrap="word")
    text.pack(fill="both", expand=True)
    text.insert("end", "".join(f"{n} {TEXT}\n" for n in range(10_000)))
    text.see("end")
    root.update()
    times: list[float] = []
    for n in range(LIVE_ADDS):
        started = time.perf_counter()
        text.insert("end", f"live {n} {TEXT}\n")
        text.see("end")
        root.update_idletasks()
        times.append((time.perf_counter() - started) * 1000)
        root.update()
    top.destroy()
    return times


def live_add() -> list[Result]:
    import tkinter

    from chat.windows.api import Chat
    from chat.windows.host import TkWindowHost

    root = tkinter.Tk()
    root.withdraw()
    host = TkWindowHost(root)
    chat_log = ChatLog("me")
    now = time.time() - 20_000
    for n in range(10_000):
        sender = f"p{n % 5}" if n % 3 else "me"
        chat_log.message(sender, f"person{n % 5}", f"{n} {TEXT}", f"h{n}", ts=now + n)
    host.open(Chat("bench", "Bench", chat_log, on_send=lambda _t: None))
    root.update()
    times: list[float] = []
    try:
        for n in range(LIVE_ADDS):
            started = time.perf_counter()
            chat_log.message(f"p{n % 4}", f"person{n % 4}", f"live {n} {TEXT}", f"l{n}")
            root.update_idletasks()  # drawn, not only inserted
            times.append((time.perf_counter() - started) * 1000)
            root.update()
        host.close_all()
        bare = _bare_text_adds(root)
    finally:
        root.destroy()
    p99 = percentile(times, 99)
    metric = "10,000 in the window: add one live message and draw it"
    return [
        Result("window-live-add", f"{metric}, p50", percentile(times, 50), "ms"),
        Result(
            "window-live-add",
            f"{metric}, p99",
            p99,
            "ms",
            f"<= {LIVE_TARGET_MS:.0f} ms",
            p99 <= LIVE_TARGET_MS,
        ),
        Result("window-live-add", "bare Tk Text of 10,000 lines, p50", percentile(bare, 50), "ms"),
        Result("window-live-add", "bare Tk Text of 10,000 lines, p99", percentile(bare, 99), "ms"),
    ]


def clean() -> list[Result]:
    """Delete the streams kept for :func:`join_window` (and the unsigned ones of old)."""
    for namespace in (KEEP, OLD_KEEP):
        _clean(namespace)
    return []


def _clean(namespace: str) -> None:
    names = Names(namespace)
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        for size in SIZES:
            connection.channel().queue_delete(names.group_stream(_group(size)))
        connection.channel().exchange_delete(names.groups_exchange)
    finally:
        connection.close()
    redis_connection = connect(REDIS_URL)
    keys = list(redis_connection.scan_iter(match=Keys(namespace).pattern, count=1000))
    if keys:
        redis_connection.delete(*keys)
    redis_connection.close()


SCENARIOS = {
    "group-join-window": join_window,
    "window-live-add": live_add,
    "group-join-window-clean": clean,
}

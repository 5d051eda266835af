"""A private chat opened while 100 silent callers keep the callee's server busy.

Each silent caller opens a ``Chat`` stream, never says hello, and opens a new
one (over TLS) as soon as it is cut off (after the hello deadline, or earlier when newer
silent callers push it out). Meanwhile a real client opens chats with the
callee, one after the other; the figure is how long each ``open_with`` takes
(dial, hello both ways), against the same opening with nobody else calling.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from benchmarks.common import Result, namespace, percentile
from benchmarks.private import _sender_client

SILENT = 100
OPENS = 10


def _open_times(caller: Any, callee: Any, count: int) -> list[float]:
    chats = caller.private
    took = []
    for _ in range(count):
        started = time.monotonic()
        chats.open_with(callee.me)
        took.append(time.monotonic() - started)
        with chats._lock:
            conversation = chats._chats[callee.me.id]
        conversation.close()
        conversation.session.done.wait(5)
    return took


def private_silent_callers() -> list[Result]:
    import grpc

    from chat.private.auth import pinned_channel
    from chat.proto import private_chat_pb2_grpc as pb_grpc

    ns = namespace()
    alice, bob = _sender_client(ns), _sender_client(ns)
    stop = threading.Event()
    cut = [0]

    def silent(channel: grpc.Channel) -> None:
        stub = pb_grpc.PrivateChatStub(channel)
        while not stop.is_set():
            try:
                for _ in stub.Chat(iter(stop.wait, True), timeout=30):
                    pass
            except grpc.RpcError:
                cut[0] += 1

    channels = [pinned_channel(alice.me, []) for _ in range(10)]
    try:
        quiet = _open_times(bob, alice, OPENS)
        threads = [
            threading.Thread(target=silent, args=(channels[n % 10],), daemon=True)
            for n in range(SILENT)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while cut[0] < SILENT and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for the callers to churn; not a measured path
        bob.registry.heartbeat(bob.me)  # no heartbeat thread in the test client
        crowded = _open_times(bob, alice, OPENS)
        churned = cut[0]
    finally:
        stop.set()
        for channel in channels:
            channel.close()
        for client in (alice, bob):
            client.close()
    worst = max(crowded)
    name = "private-silent-callers"
    return [
        Result(name, "open, nobody else calling, p50", percentile(quiet, 50) * 1000, "ms"),
        Result(
            name,
            f"open beside {SILENT} silent callers, worst of {OPENS}",
            worst * 1000,
            "ms",
            "< 2,000 ms",
            worst < 2.0,
        ),
        Result(name, "silent streams cut off meanwhile", churned, "streams"),
    ]


SCENARIOS = {"private-silent-callers": private_silent_callers}

"""Insult channel: how fast five listeners take insults off the queue, and how evenly.

``insults-live``: five sending clients publish 5,000 insults (each waiting for
its publisher confirms) while five listeners take them. ``insults-backlog``:
10,000 insults wait in the queue, and five listeners that start together
drain it.

Five listeners, each with its own broker connection (as five clients have),
hand every insult to a real UI queue before it is acknowledged, as the
client does. All of them run in this one process, so they share one Python
interpreter: a conservative setting next to five separate clients.
"""

from __future__ import annotations

import threading
import time

from benchmarks.common import AMQP_URL, Result, namespace
from chat.front.ui import UiQueue
from chat.insults.channel import InsultChannel
from chat.transport.broker import Broker
from chat.transport.topology import Names
from chat.transport.wire import ChatMessage

LISTENERS = 5
#: Live insults come from this many sending clients, each on its own connection.
SENDERS = 5
LIVE_INSULTS = 5000
BACKLOG_INSULTS = 10000
TARGET_RATE = 1000.0


class _Listener:
    def __init__(self, names: Names, n: int) -> None:
        self.broker = Broker(AMQP_URL, name=f"insult bench {n}")
        self.broker.start()
        self.channel = InsultChannel(self.broker, names, f"bench{n}", f"bench{n}")
        self.ui = UiQueue()
        self.count = 0
        self.last = 0.0
        self.gate: threading.Event | None = None

    def deliver(self, message: ChatMessage, verdict: object = None) -> None:
        if self.gate is not None:
            self.gate.wait()
        self.ui.post(len, message.text)
        self.count += 1
        self.last = time.perf_counter()

    def close(self) -> None:
        self.channel.close()
        self.broker.close()
        self.ui.close()


def _wait_until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("the insults did not all arrive in time")
        time.sleep(0.005)


def _spread(scenario: str, counts: list[int], held_to_target: bool) -> list[Result]:
    mean = sum(counts) / len(counts)
    worst = max(abs(c - mean) for c in counts) / mean * 100
    return [
        Result(
            scenario,
            f"busiest minus idlest listener ({min(counts)}..{max(counts)})",
            max(counts) - min(counts),
            "insults",
        ),
        Result(
            scenario,
            "largest distance from an equal share",
            worst,
            "%",
            "≤ 2.5 % (as 200 ± 5 of 1,000)" if held_to_target else "",
            worst <= 2.5 if held_to_target else None,
        ),
    ]


def _run(backlog: bool) -> list[Result]:
    names = Names(namespace())
    publishers = [Broker(AMQP_URL, name=f"insult bench sender {n}") for n in range(SENDERS)]
    for publisher in publishers:
        publisher.start()
    senders = [InsultChannel(p, names, f"sender{n}", "sender") for n, p in enumerate(publishers)]
    listeners = [_Listener(names, n) for n in range(LISTENERS)]
    total = BACKLOG_INSULTS if backlog else LIVE_INSULTS
    scenario = "insults-backlog" if backlog else "insults-live"
    try:
        if backlog:
            # Fill the queue first; each listener then holds its first insult
            # at the gate until all five are connected, so none starts early.
            sender = senders[0]
            futures = [
                sender.send(sender.message(f"insult {n}"), count_listeners=False)
                for n in range(total)
            ]
            for future in futures:
                future.result(60)
            gate = threading.Event()
            for listener in listeners:
                listener.gate = gate
                listener.channel.connect(listener.deliver)
            started = time.perf_counter()
            gate.set()
        else:
            for listener in listeners:
                listener.channel.connect(listener.deliver)
            started = time.perf_counter()
            futures = [
                senders[n % SENDERS].send(
                    senders[n % SENDERS].message(f"insult {n}"), count_listeners=False
                )
                for n in range(total)
            ]
            for future in futures:
                future.result(60)
            published = time.perf_counter() - started
        _wait_until(lambda: sum(x.count for x in listeners) >= total, 120)
        elapsed = max(x.last for x in listeners) - started
        rate = total / elapsed
        if backlog:
            # Pure dispatch: every insult is already in the queue.
            headline = Result(
                scenario,
                f"dispatch rate, {LISTENERS} listeners, {total:,} insults",
                rate,
                "insults/s",
                f"≥ {TARGET_RATE:,.0f} insults/s",
                rate >= TARGET_RATE,
            )
        else:
            # Bounded by the senders: a persistent insult is confirmed once on disk.
            headline = Result(
                scenario,
                f"end-to-end rate, {SENDERS} senders, {LISTENERS} listeners, {total:,} insults",
                rate,
                "insults/s",
            )
        results = [headline]
        if not backlog:
            results.append(
                Result(
                    scenario,
                    f"publish rate with confirms, {SENDERS} senders",
                    total / published,
                    "insults/s",
                )
            )
        return results + _spread(scenario, [x.count for x in listeners], not backlog)
    finally:
        for listener in listeners:
            listener.close()
        publishers[0].call(lambda ch: ch.queue_delete(names.insult_queue))
        for publisher in publishers:
            publisher.close()


def live() -> list[Result]:
    """Insults published (confirmed) while five listeners take them."""
    return _run(backlog=False)


def backlog() -> list[Result]:
    """A full queue drained by five listeners that start together."""
    return _run(backlog=True)


SCENARIOS = {"insults-live": live, "insults-backlog": backlog}

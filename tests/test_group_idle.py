"""Drill: group chats that idle past RabbitMQ's ``consumer_timeout`` stay alive.

RabbitMQ closes a channel holding a delivery unacknowledged for longer than
``consumer_timeout`` (30 min by default). On a RabbitMQ node of the test's own
the timeout is cut to 5 s (and the channels' check of it to every second); a
persistent and a transient group then idle past it twice. Every delivery must
have been acknowledged, no window may say the connection was lost, messages
go both ways afterwards and are marked sent, and a late joiner reads the
whole history.
"""

from __future__ import annotations

import dataclasses
import time
import uuid

import pytest

from chat.config import Config
from chat.windows.binding import LOST
from nameserver.registry import Registry
from scripts.benchmarks.servers import RabbitNode, free_port
from tests.support import tk_wait
from tests.test_groups import Member, scroll_to_first, send, separator_at, texts

#: The shortened consumer_timeout, in milliseconds, and how often channels check it.
TIMEOUT_MS = 5000
TICK_MS = 1000


def unacknowledged(node: RabbitNode) -> list[int]:
    """Deliveries each open channel of the node holds unacknowledged."""
    out = node.ctl("list_channels", "messages_unacknowledged")
    return [int(line) for line in out.split() if line.isdigit()]


@pytest.fixture
def node():
    try:
        own = RabbitNode(f"groupidle{uuid.uuid4().hex[:6]}", free_port(), free_port())
    except RuntimeError as exc:
        pytest.fail(f"could not start a RabbitMQ node of the test's own: {exc}")
    try:
        for key, value in (("consumer_timeout", TIMEOUT_MS), ("channel_tick_interval", TICK_MS)):
            own.ctl("eval", f"application:set_env(rabbit, {key}, {value}).")
        yield own
    finally:
        own.close()


def idle(root, seconds: float, windows) -> None:
    """Let the clients idle (Tk keeps running) while nothing may be lost."""
    until = time.monotonic() + seconds
    for window in windows:
        assert ("notice", LOST) not in window.shown()

    def idled() -> bool:
        assert all(("notice", LOST) not in w.shown() for w in windows), "a window lost its feed"
        return time.monotonic() >= until

    tk_wait(root, idled, seconds + 5, f"{seconds} s of idling")


def test_groups_idle_past_the_consumer_timeout_twice(
    node, config: Config, registry: Registry, tk_root
):
    config = dataclasses.replace(config, amqp_url=node.url)
    made: list[Member] = []

    def member(name: str) -> Member:
        made.append(Member(config, registry, name, root=tk_root, keys={"groups"}))
        return made[-1]

    try:
        alice, bob = member("alice"), member("bob")
        _, pa = alice.join(tk_root, "idle-p", kind="persistent")
        _, pb = bob.join(tk_root, "idle-p", kind="persistent")
        _, ta = alice.join(tk_root, "idle-t")
        _, tb = bob.join(tk_root, "idle-t")
        windows = (pa, pb, ta, tb)
        said = {pa: [], ta: []}
        for n in range(3):  # fewer than a batch of acknowledgements
            for window in (pa, ta):
                said[window].append(f"early {n}")
                send(tk_root, window, f"early {n}")
        tk_wait(tk_root, lambda: texts(pb) == said[pa] and texts(tb) == said[ta], what="early")
        # Every delivery is acknowledged within moments of being shown.
        tk_wait(tk_root, lambda: not any(unacknowledged(node)), 2, "nothing unacknowledged")

        for round_ in range(2):  # each round idles past the timeout
            idle(tk_root, (TIMEOUT_MS + 2 * TICK_MS) / 1000, windows)
            for here, there, window in ((pa, pb, pa), (pb, pa, pa), (ta, tb, ta), (tb, ta, ta)):
                text = f"round {round_} from {'alice' if here in (pa, ta) else 'bob'}"
                said[window].append(text)
                send(tk_root, here, text)
                tk_wait(tk_root, lambda t=there, x=text: texts(t)[-1:] == [x], 10, text)
        for window in windows:
            want = said[pa] if window in (pa, pb) else said[ta]
            tk_wait(tk_root, lambda w=window, x=want: texts(w) == x, 10, "the same conversation")
            log = (
                (alice if window in (pa, ta) else bob)
                .groups.membership("idle-p" if window in (pa, pb) else "idle-t")
                .log
            )
            tk_wait(
                tk_root,
                lambda lg=log: all(e.status == "sent" for e in lg.entries if e.side == "own"),
                10,
                "every own message marked sent",
            )
            assert ("notice", LOST) not in window.shown()
        tk_wait(tk_root, lambda: not any(unacknowledged(node)), 5, "still nothing unacknowledged")

        carol = member("carol")  # a late joiner reads the persistent history
        _, pc = carol.join(tk_root, "idle-p", kind="persistent")
        tk_wait(tk_root, lambda: separator_at(pc) is not None, 15, "carol's separator")
        scroll_to_first(tk_root, pc, "early 0")
        assert texts(pc) == said[pa]
        # The history page readers closed their channels: nothing left open.
        tk_wait(tk_root, lambda: not any(unacknowledged(node)), 2, "page readers closed")
    finally:
        for m in made:
            m.close()

"""A long day, compressed: idling past ``consumer_timeout``, the broker closing
connections and channels, a node frozen mid-send. Nothing goes quiet by itself.

Runs against a RabbitMQ node of the module's own (started once, ~5-12 s), with
``consumer_timeout`` at 5 s and the channel tick that checks it at 1 s, so a
delivery left unacknowledged costs its channel within about 6 s, as the
default 30 minutes would over a real day. Clients are real, in the test
process, with real windows; what is asserted is what their windows show.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from chat.config import Config
from chat.groups.manager import chat_key
from chat.insults import KEY as INSULTS
from chat.transport.confirms import CONFIRM_DEADLINE
from chat.windows.chat_window import ChatWindow
from scripts.benchmarks.servers import RabbitNode, free_port
from tests.support import TestClient, tk_wait, wait_for

pytestmark = pytest.mark.cluster  # a RabbitMQ node of its own

#: consumer_timeout of the module's node, in seconds.
CONSUMER_TIMEOUT = 5
ADVANCED_CONFIG = (
    f"[{{rabbit, [{{consumer_timeout, {CONSUMER_TIMEOUT * 1000}}}, "
    "{channel_tick_interval, 1000}]}].\n"
)
#: What a window's notices say when the broker link drops and comes back.
LOST_WORDS = "Lost the connection"
BACK_WORDS = "again"


@pytest.fixture(scope="module")
def node() -> Iterator[RabbitNode]:
    port = free_port()
    dist = free_port()
    own = RabbitNode(f"distchat-longday-{port}", port, dist, ADVANCED_CONFIG)
    try:
        yield own
    finally:
        own.close()  # by its PID


@pytest.fixture
def day(config: Config, node: RabbitNode, make_client: Any) -> Any:
    """``day(name)``: a client with windows, pointed at the module's node."""
    on_node = dataclasses.replace(config, amqp_url=node.url)

    def make(name: str) -> TestClient:
        return make_client(name, config=on_node)

    return make


# -- what the windows show -------------------------------------------------------


def join(root: Any, client: TestClient, group: str, kind: str) -> ChatWindow:
    client.groups.join(group, "connect", kind)
    return tk_wait(root, lambda: client.client.windows.window(chat_key(group)), 15, group)


def open_insults(root: Any, client: TestClient) -> ChatWindow:
    client.insults.open()
    return tk_wait(root, lambda: client.client.windows.window(INSULTS), 15, "insult window")


def send(window: ChatWindow, text: str) -> None:
    window.text_var.set(text)
    window.send()


def texts(window: ChatWindow, side: str | None = None) -> list[str]:
    sides = ("own", "peer") if side is None else (side,)
    return [e.text for e in window.log.entries if e.side in sides]


def unsettled(window: ChatWindow) -> list[str]:
    """Own messages still at "Sending…" or marked not delivered."""
    return [e.text for e in window.log.entries if e.side == "own" and e.status != "sent"]


def notices(window: ChatWindow) -> list[str]:
    return [e.text for e in window.log.entries if e.side == "notice"]


def lost_then_back(window: ChatWindow) -> bool:
    said = [n for n in notices(window) if LOST_WORDS in n or n.startswith("Connected")]
    return len(said) >= 2 and LOST_WORDS in said[-2] and BACK_WORDS in said[-1]


def exchange_both_ways(
    root: Any, a: ChatWindow, b: ChatWindow, words: str, timeout: float = 15
) -> None:
    """One message each way; both reach both windows and are marked sent."""
    send(a, f"{words} from a")
    send(b, f"{words} from b")
    for window in (a, b):
        tk_wait(
            root,
            lambda w=window: {f"{words} from a", f"{words} from b"} <= set(texts(w)),
            timeout,
            f"{words!r} both ways",
        )
        tk_wait(root, lambda w=window: not unsettled(w), timeout, f"{words!r} marked sent")


def insult_reaches_one(root: Any, sender: ChatWindow, others: list[ChatWindow], text: str) -> None:
    send(sender, text)
    tk_wait(root, lambda: any(text in texts(w, "peer") for w in others), 15, f"insult {text!r}")
    tk_wait(root, lambda: not unsettled(sender), 15, "the insult marked sent")
    assert sum(text in texts(w, "peer") for w in [sender, *others]) == 1


def everyone_discovered(asker: TestClient, clients: list[TestClient]) -> None:
    result = asker.discovery.events.ask()
    assert {a.answer.client.id for a in result.answers} == {c.me.id for c in clients}


# -- the drills ------------------------------------------------------------------------


def test_idling_past_the_consumer_timeout_twice_leaves_every_feature_working(day, tk_root):
    alice, bob = day("alice"), day("bob")
    drops: list[str] = []
    for client in (alice, bob):
        client.broker.add_listener(lambda: drops.append("lost"), lambda: drops.append("back"))
    diary_a = join(tk_root, alice, "diary", "persistent")
    diary_b = join(tk_root, bob, "diary", "persistent")
    lobby_a = join(tk_root, alice, "lobby", "transient")
    lobby_b = join(tk_root, bob, "lobby", "transient")
    insults_a, insults_b = open_insults(tk_root, alice), open_insults(tk_root, bob)
    # Some traffic on every consumer before the idle spell: whatever a
    # consumer leaves unacknowledged now costs its channel while it idles.
    exchange_both_ways(tk_root, diary_a, diary_b, "morning")
    exchange_both_ways(tk_root, lobby_a, lobby_b, "hello")
    insult_reaches_one(tk_root, insults_a, [insults_b], "your kettle is cold")
    everyone_discovered(alice, [alice, bob])

    # The point is time passing: two consumer timeouts, and the tick that checks them.
    time.sleep(2 * CONSUMER_TIMEOUT + 2)
    tk_root.update()

    # Nothing sat unacknowledged on a shared channel: no connection or channel
    # was closed under anyone, and no window said so.
    assert drops == []
    for window in (lobby_a, lobby_b, insults_a, insults_b):
        assert not [n for n in notices(window) if LOST_WORDS in n], notices(window)

    exchange_both_ways(tk_root, lobby_a, lobby_b, "still here")
    insult_reaches_one(tk_root, insults_b, [insults_a], "your hamster is idle")
    carol = day("carol")
    everyone_discovered(bob, [alice, bob, carol])

    exchange_both_ways(tk_root, diary_a, diary_b, "afternoon", 8)
    diary_c = join(tk_root, carol, "diary", "persistent")
    history = ["morning from a", "morning from b", "afternoon from a", "afternoon from b"]
    tk_wait(tk_root, lambda: sorted(texts(diary_c)) == sorted(history), 15, "the history")
    assert texts(diary_c) == texts(diary_a)  # once each, in the group's order


def test_connections_and_channels_the_broker_closes_are_said_and_recovered(
    day, tk_root, node: RabbitNode
):
    alice, bob = day("alice"), day("bob")
    diary_a = join(tk_root, alice, "ledger", "persistent")
    diary_b = join(tk_root, bob, "ledger", "persistent")
    lobby_a = join(tk_root, alice, "hall", "transient")
    lobby_b = join(tk_root, bob, "hall", "transient")
    insults_a, insults_b = open_insults(tk_root, alice), open_insults(tk_root, bob)
    exchange_both_ways(tk_root, lobby_a, lobby_b, "before")
    windows = [diary_a, diary_b, lobby_a, lobby_b, insults_a, insults_b]

    # The management side closes every connection.
    node.ctl("close_all_connections", "drill: closed by the operator")
    for window in windows:
        tk_wait(tk_root, lambda w=window: lost_then_back(w), 20, "lost then back")
    exchange_both_ways(tk_root, lobby_a, lobby_b, "after the close")
    exchange_both_ways(tk_root, diary_a, diary_b, "after the close")
    insult_reaches_one(tk_root, insults_a, [insults_b], "your operator smells")
    everyone_discovered(alice, [alice, bob])

    # The broker closes alice's shared channel: a delivery on it was left
    # unacknowledged past consumer_timeout (406 PRECONDITION_FAILED).
    queue = f"{alice.client.config.namespace}.forgotten"

    def forget(channel: Any) -> None:
        channel.queue_declare(queue, exclusive=True)
        channel.basic_consume(queue, lambda *_: None)  # never acknowledges
        channel.basic_publish("", queue, b"left lying about")

    before = {id(w): len(notices(w)) for w in windows}
    alice.broker.call(forget)
    mine = [diary_a, lobby_a, insults_a]
    for window in mine:
        tk_wait(
            tk_root,
            lambda w=window: len(notices(w)) > before[id(w)] and lost_then_back(w),
            3 * CONSUMER_TIMEOUT,
            "alice's lost then back",
        )
    for window in (diary_b, lobby_b, insults_b):  # bob's link was never touched
        assert len(notices(window)) == before[id(window)]
    exchange_both_ways(tk_root, lobby_a, lobby_b, "after the channel")
    insult_reaches_one(tk_root, insults_b, [insults_a], "your channel was rude")
    everyone_discovered(bob, [alice, bob])
    # The stream channels have idled past the timeout meanwhile.
    exchange_both_ways(tk_root, diary_a, diary_b, "after the channel", 8)


def test_a_frozen_node_fails_the_send_within_the_confirm_deadline_and_recovers(
    day, tk_root, node: RabbitNode
):
    alice, bob = day("alice"), day("bob")
    hall_a = join(tk_root, alice, "porch", "transient")
    hall_b = join(tk_root, bob, "porch", "transient")
    exchange_both_ways(tk_root, hall_a, hall_b, "warm")
    pid = node._beam_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        send(hall_a, "into the ice")
        # Shown once the broker routes it back, or marked not delivered.
        tk_wait(
            tk_root,
            lambda: any(e.status == "failed" for e in hall_a.log.entries),
            CONFIRM_DEADLINE + 3,
            "the send marked not delivered",
        )
        waited = time.monotonic() - started
        assert unsettled(hall_a) == ["into the ice"], unsettled(hall_a)
        assert "into the ice" not in texts(hall_b)
        assert CONFIRM_DEADLINE - 1 < waited < CONFIRM_DEADLINE + 3, waited
        tk_wait(
            tk_root,
            lambda: any(LOST_WORDS in n for n in notices(hall_a)),
            5,
            "alice told",
        )
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(lambda: alice.broker.connected and bob.broker.connected, 30, "both back")
    tk_wait(tk_root, lambda: lost_then_back(hall_a), 15, "alice's window says back")
    # What was not delivered stays marked so; what is sent now arrives.
    send(hall_a, "thawed")
    tk_wait(tk_root, lambda: "thawed" in texts(hall_b), 15, "bob gets the next one")
    tk_wait(tk_root, lambda: unsettled(hall_a) == ["into the ice"], 15, "the new one marked sent")

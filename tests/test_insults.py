"""The insult channel against the real RabbitMQ: each insult to exactly one listener, evenly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator

import pika
import pytest

from chat.insults import KEY, InsultFeature
from chat.insults.channel import InsultChannel
from chat.transport.broker import Broker
from chat.transport.topology import Names
from chat.transport.wire import ChatMessage
from chat.trust.identity import Identity
from chat.trust.verifier import Verdict
from tests.conftest import AMQP_URL
from tests.support import ROOT, tk_wait, wait_for


class Listener:
    """One client on the channel in this process, with its own broker connection."""

    def __init__(self, namespace: str, client_id: str) -> None:
        self.id = client_id
        self.broker = Broker(AMQP_URL, name=f"insult tests {client_id}")
        self.broker.start()
        self.channel = InsultChannel(
            self.broker, Names(namespace), client_id, client_id, identity=Identity.generate()
        )
        self.received: list[ChatMessage] = []
        self._lock = threading.Lock()

    def deliver(self, message: ChatMessage, verdict: object = None) -> None:
        with self._lock:
            self.received.append(message)

    def connect(self) -> Listener:
        self.channel.connect(self.deliver)
        return self

    def texts(self) -> list[str]:
        with self._lock:
            return [m.text for m in self.received]

    def close(self) -> None:
        self.channel.close()
        self.broker.close()


@pytest.fixture
def listeners(namespace: str) -> Iterator[Callable[[str], Listener]]:
    made: list[Listener] = []

    def make(client_id: str) -> Listener:
        listener = Listener(namespace, client_id)
        made.append(listener)
        return listener

    yield make
    for listener in made:
        listener.close()


def queue_state(broker: Broker, namespace: str) -> tuple[int, int]:
    """(messages ready, consumers) of the insult queue; (0, 0) while it does not exist."""
    queue = Names(namespace).insult_queue
    try:
        ok = broker.call(lambda ch: ch.queue_declare(queue, passive=True))
    except pika.exceptions.ChannelClosedByBroker:  # 404; the broker reopens its channel
        return 0, 0
    return ok.method.message_count, ok.method.consumer_count


def send_all(sender: InsultChannel, texts: list[str]) -> list[int]:
    """Send every text (confirms awaited together); the listener counts the sender saw."""
    futures = [sender.send(sender.message(text)) for text in texts]
    return [f.result(30) for f in futures]


def test_five_listeners_each_get_a_fair_share_and_every_insult_exactly_once(
    listeners, namespace, broker
):
    five = [listeners(f"c{n}").connect() for n in range(5)]
    sender = InsultChannel(broker, Names(namespace), "s0", "sender")
    texts = [f"insult {n}" for n in range(1000)]

    send_all(sender, texts)

    def everything_arrived() -> bool:
        return sum(len(listener.received) for listener in five) >= 1000

    wait_for(everything_arrived, timeout=30, what="1,000 insults")
    counts = Counter(text for listener in five for text in listener.texts())
    assert set(counts) == set(texts)
    assert max(counts.values()) == 1  # nobody got an insult someone else got too
    shares = [len(listener.received) for listener in five]
    assert all(195 <= share <= 205 for share in shares), shares
    assert queue_state(broker, namespace) == (0, 5)


@pytest.mark.process
def test_a_listener_killed_holding_an_insult_loses_nothing(listeners, namespace, broker):
    survivors = [listeners(f"c{n}").connect() for n in range(4)]
    victim = subprocess.Popen(
        [sys.executable, "-m", "tests.insult_listener", AMQP_URL, namespace, "victim", "20"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert victim.stdout is not None
        assert victim.stdout.readline().strip() == "ready"
        sender = InsultChannel(broker, Names(namespace), "s0", "sender")
        sent = {}
        for n in range(1000):
            message = sender.message(f"insult {n}")
            sent[message.id] = message.text
            sender.send(message)
        victim_got: set[str] = set()
        held = None
        while held is None:
            word, msg_id = victim.stdout.readline().split()
            if word == "got":
                victim_got.add(msg_id)
            else:
                held = msg_id
        os.kill(victim.pid, signal.SIGKILL)
    finally:
        victim.kill()
        victim.wait()

    def survivors_ids() -> set[str]:
        return {m.id for listener in survivors for m in list(listener.received)}

    wait_for(
        lambda: survivors_ids() | victim_got == set(sent),
        timeout=30,
        what="every insult at a survivor or taken by the victim before it died",
    )
    assert len(victim_got) == 20
    assert held in survivors_ids()  # the one it died holding went to someone else
    assert sum(len(listener.received) for listener in survivors) == 1000 - 20


def test_insults_sent_while_no_one_listens_wait_and_the_sender_is_told(
    listeners, namespace, broker
):
    sender = InsultChannel(broker, Names(namespace), "s0", "sender")
    told = send_all(sender, ["first", "second", "third"])
    assert told == [0, 0, 0]  # the sender hears that no one is listening
    assert queue_state(broker, namespace) == (3, 0)

    late = listeners("late").connect()

    wait_for(lambda: len(late.received) == 3, what="the waiting insults")
    assert late.texts() == ["first", "second", "third"]
    assert [m.sender_name for m in late.received] == ["sender"] * 3
    assert send_all(sender, ["fourth"]) == [1]


def test_garbage_is_dropped_and_the_channel_keeps_going(listeners, namespace, broker):
    listener = listeners("c0").connect()
    queue = Names(namespace).insult_queue
    group_text = ChatMessage("s0", "sender", "lobby", "not an insult", kind="text")
    bodies = [
        b"\xff\xfe not utf-8",
        b"not json at all",
        b"[1, 2, 3]",
        json.dumps({"v": 99, "text": "from the future"}).encode(),
        json.dumps({"v": 1, "id": "x", "text": "fields missing"}).encode(),
        group_text.encode(),
        b"{" * 200_000,
    ]

    def publish_raw(ch) -> None:
        for body in bodies:
            ch.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=2))

    broker.call(publish_raw)
    sender = InsultChannel(broker, Names(namespace), "s0", "sender")
    send_all(sender, ["still here"])

    wait_for(lambda: listener.texts() == ["still here"], what="the good insult after garbage")
    wait_for(lambda: queue_state(broker, namespace) == (0, 1), what="garbage acked, not requeued")
    send_all(sender, ["and again"])
    wait_for(lambda: listener.texts() == ["still here", "and again"], what="the next insult")


def test_a_listener_whose_queue_is_deleted_listens_again(listeners, namespace, broker):
    listener = listeners("c0").connect()
    queue = Names(namespace).insult_queue
    broker.call(lambda ch: ch.queue_delete(queue))
    wait_for(lambda: queue_state(broker, namespace)[1] == 1, what="the consumer back")
    sender = InsultChannel(broker, Names(namespace), "s0", "sender")
    assert send_all(sender, ["after the queue was deleted"]) == [1]
    wait_for(lambda: listener.texts() == ["after the queue was deleted"], what="the insult")


class CountingChannel(InsultChannel):
    """Counts every delivery the broker makes to it, including those it passes on."""

    deliveries: Counter[str]

    def _on_message(self, consumer, channel, method, body) -> None:  # type: ignore[override]
        text = json.loads(body)["text"]
        self.deliveries = getattr(self, "deliveries", Counter())
        self.deliveries[text] += 1
        super()._on_message(consumer, channel, method, body)


def test_own_insults_go_to_someone_else_and_never_bounce_back_and_forth(
    listeners, namespace, broker
):
    alice = listeners("alice")
    alice.channel = CountingChannel(alice.broker, Names(namespace), "alice", "alice")
    alice.connect()
    bob = listeners("bob").connect()

    for n in range(20):
        send_all(alice.channel, [f"to someone else {n}"])
        wait_for(lambda n=n: len(bob.received) == n + 1, what=f"insult {n} at bob")
    assert alice.texts() == []
    assert bob.texts() == [f"to someone else {n}" for n in range(20)]

    # Bob is busy with an insult and cannot take another: alice's own insult is
    # passed on once, comes straight back, and she keeps it (two deliveries, no loop).
    busy, release = threading.Event(), threading.Event()

    def slow_deliver(message: ChatMessage, verdict: object = None) -> None:
        busy.set()
        release.wait(10)
        bob.deliver(message)

    bob.channel.disconnect()
    alice.channel.disconnect()
    wait_for(lambda: queue_state(broker, namespace)[1] == 0, what="both gone")
    bob.channel.connect(slow_deliver)
    carol = InsultChannel(broker, Names(namespace), "carol", "carol")
    send_all(carol, ["keeps bob busy"])
    assert busy.wait(10)
    alice.connect()
    send_all(alice.channel, ["while bob is busy"])
    wait_for(lambda: "while bob is busy" in alice.texts(), what="alice keeping her own insult")
    release.set()
    assert alice.channel.deliveries["while bob is busy"] == 2

    # Alone, she gets her own insult at once: told that no one else listens.
    bob.channel.disconnect()
    wait_for(lambda: queue_state(broker, namespace)[1] == 1, what="bob gone")
    assert send_all(alice.channel, ["alone"]) == [0]
    wait_for(lambda: "alone" in alice.texts(), what="alice's insult back to her")
    assert alice.channel.deliveries["alone"] == 1
    wait_for(lambda: "keeps bob busy" in bob.texts(), what="bob done with his")


def test_the_window_shows_received_insults_and_is_the_connection(
    namespace, make_client, tk_root, listeners, broker
):
    client = make_client("alice", keys={"insults"})
    feature: InsultFeature = client.insults
    bob = listeners("bob")
    try:
        feature.run_menu()
        window = tk_wait(tk_root, lambda: client.client.windows.window(KEY), what="the window")
        assert window.top.title() == "Insult channel"
        assert "open in its own window" in client.term.out.getvalue()

        bob.channel.send(bob.channel.message("Your mother was a hamster")).result(10)
        tk_wait(
            tk_root,
            lambda: ("peer", "Your mother was a hamster") in window.shown(),
            what="the insult in the window",
        )
        assert "bob · " in window.history.get("1.0", "end")

        # Sent from the window, it reaches bob and shows on the right.
        bob.connect()
        window.text_var.set("and your father smelt of elderberries")
        window.send()
        wait_for(lambda: bob.texts() == ["and your father smelt of elderberries"], what="bob")
        tk_wait(tk_root, lambda: ("own", "and your father smelt of elderberries") in window.shown())

        # Refused before anything is sent.
        window.text_var.set("   ")
        window.send()
        assert window.status.cget("text") == "Nothing to send: the insult is empty."
        window.text_var.set("x" * 5000)
        window.send()
        assert "too long" in window.status.cget("text")
        assert window.text_var.get() == "x" * 5000
        assert bob.texts() == ["and your father smelt of elderberries"]

        # Alone: told so, and the insult comes back on the left.
        bob.channel.disconnect()
        wait_for(lambda: queue_state(broker, namespace)[1] == 1, what="bob gone")
        window.text_var.set("I fart in your general direction")
        window.send()
        tk_wait(
            tk_root,
            lambda: "No one else is listening" in window.status.cget("text"),
            what="the sender told",
        )
        tk_wait(tk_root, lambda: ("peer", "I fart in your general direction") in window.shown())

        # Opening again brings the same window to the front.
        feature.run_menu()
        assert "already open" in client.term.out.getvalue()
        tk_root.update()
        assert client.client.windows.window(KEY) is window

        # Closing the window stops listening: an insult now waits in the queue.
        window.close()
        wait_for(lambda: queue_state(broker, namespace)[1] == 0, what="alice gone")
        bob.channel.send(bob.channel.message("Go and boil your bottom")).result(10)
        assert queue_state(broker, namespace) == (1, 0)

        feature.run_menu()
        window = tk_wait(
            tk_root, lambda: client.client.windows.window(KEY), what="the window again"
        )
        tk_wait(tk_root, lambda: ("peer", "Go and boil your bottom") in window.shown())
        assert ("peer", "Your mother was a hamster") in window.shown()  # kept from before

        # The broker unreachable: the insult is marked, and the user told.
        client.broker.close()
        window.text_var.set("Now go away or I shall taunt you a second time")
        window.send()
        tk_wait(tk_root, lambda: "not delivered" in window.history.get("1.0", "end"))
        assert "was not sent" in window.status.cget("text")
    finally:
        client.close()
        tk_root.update()


def test_a_real_client_opens_the_channel_from_the_menu(spawn, namespace, broker):
    carol = spawn("carol")
    carol.choose("Insult channel")
    carol.expect("open in its own window")
    wait_for(lambda: queue_state(broker, namespace)[1] == 1, what="carol listening")

    def window_titles() -> str:
        return subprocess.run(
            ["xwininfo", "-root", "-tree"], capture_output=True, text=True, check=False
        ).stdout

    wait_for(lambda: '"Insult channel"' in window_titles(), what="the window on the display")
    sender = InsultChannel(broker, Names(namespace), "s0", "sender")
    send_all(sender, [f"insult {n}" for n in range(10)])
    wait_for(lambda: queue_state(broker, namespace) == (0, 1), what="carol taking them")
    carol.choose("Insult channel")
    carol.expect("already open")
    carol.choose("Exit")
    assert carol.exit_status() == 0
    wait_for(lambda: queue_state(broker, namespace)[1] == 0, what="carol gone")


class _StalledVerifier:
    """A verifier whose check waits (as one waiting on a slow Redis would) until released."""

    def __init__(self) -> None:
        self.waiting = threading.Event()
        self.release = threading.Event()

    def check(self, fields: object, sender_id: str, sender_name: str) -> Verdict:
        self.waiting.set()
        self.release.wait(20)
        return Verdict(None)


def test_a_stalled_signature_check_does_not_hold_up_the_clients_other_broker_work(
    listeners, namespace, broker
):
    listener = listeners("c0")
    verifier = _StalledVerifier()
    listener.channel.verifier = verifier  # type: ignore[assignment]
    listener.connect()
    sender = InsultChannel(broker, Names(namespace), "s0", "sender")
    send_all(sender, ["checked slowly"])
    assert verifier.waiting.wait(10), "the check never started"
    try:
        # The same client (same broker connection) still sends, and its send is
        # confirmed, while the check waits: the broker thread is not the one waiting.
        own = listener.channel.send(listener.channel.message("sent meanwhile"), False)
        assert own.result(5) is None
        assert listener.texts() == []
    finally:
        verifier.release.set()
    wait_for(lambda: len(listener.texts()) == 2, what="both insults after their checks")
    assert listener.texts() == ["checked slowly", "sent meanwhile"]
    wait_for(lambda: queue_state(broker, namespace) == (0, 1), what="an empty queue")

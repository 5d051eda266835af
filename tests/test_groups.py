"""Group chats against the real RabbitMQ and Redis, with real windows on the display.

Each member is an in-process client with its own broker connection and UI
queue, pumped by the test's Tk root; what is asserted is what its window shows.
"""

from __future__ import annotations

import io
import subprocess
import threading
from collections.abc import Callable

import pika
import pika.exceptions
import pytest

from chat.errors import UserError
from chat.groups.manager import chat_key
from chat.groups.model import BACK_TRANSIENT, NOT_CONNECTED, SEPARATOR, check_group_name
from chat.transport.topology import Names
from chat.transport.wire import ChatMessage
from chat.trust.identity import Identity
from chat.windows.binding import BACK, LOST
from chat.windows.chat_window import ChatWindow
from nameserver.keys import Keys
from nameserver.members import GroupMembers
from tests.conftest import AMQP_URL
from tests.support import TestClient, tk_wait, wait_for


class Member(TestClient):
    """The test client with group chats only."""

    @property
    def id(self) -> str:
        return self.me.id

    def join(self, root, group: str, mode: str = "connect", kind: str = "transient"):
        """Join and wait for the window; returns (session, window)."""
        session = self.groups.join(group, mode, kind)  # type: ignore[arg-type]
        window = tk_wait(root, lambda: self.window(group), what=f"{group} window")
        return session, window

    def window(self, group: str) -> ChatWindow | None:
        return self.client.windows.window(chat_key(group))


@pytest.fixture
def members(make_client, redis_conn) -> Callable[[str], Member]:
    """The shared fixture's clients, with group chats only."""
    return lambda name: make_client(name, cls=Member, keys={"groups"})


def send(root, window: ChatWindow, text: str) -> None:
    """Type ``text`` and press Send, as a user does."""
    window.text_var.set(text)
    window.send()


def messages(window: ChatWindow) -> list[tuple[str, str]]:
    return [(side, text) for side, text in window.shown() if side in ("own", "peer")]


def texts(window: ChatWindow) -> list[str]:
    return [text for _side, text in messages(window)]


def scroll_to_first(root, window: ChatWindow, first: str, timeout: float = 30) -> None:
    """Scroll to the top again and again, as a reader does, until ``first`` is shown."""

    def scroll_up() -> None:
        window.history.yview_moveto(0)
        root.update()

    wait_for(lambda: first in texts(window), timeout, f"{first!r} after scrolling", scroll_up)


def separator_at(window: ChatWindow) -> int | None:
    sides = [side for side, _text in window.shown()]
    return sides.index("separator") if "separator" in sides else None


def queue_exists(name: str) -> bool:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        connection.channel().queue_declare(name, passive=True)
        return True
    except pika.exceptions.ChannelClosedByBroker as exc:
        assert exc.reply_code in (404, 405)  # 405: exists, exclusive to its owner
        return exc.reply_code == 405
    finally:
        connection.close()


def raw_publish(exchange: str, routing_key: str, bodies: list[bytes]) -> None:
    """Publish as some other AMQP client would, with confirms."""
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for body in bodies:
            channel.basic_publish(exchange, routing_key, body)
    finally:
        connection.close()


# -- names -----------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["", "   ", "a b", "x" * 65, "caf\u00e9", "a/b", "#", "*"])
def test_bad_group_names_get_a_sentence(bad):
    with pytest.raises(ValueError) as caught:
        check_group_name(bad)
    assert caught.value.args[0].endswith(".")


def test_good_group_names_are_kept():
    assert check_group_name(" team-blue_2.0 ") == "team-blue_2.0"
    assert check_group_name("x" * 64) == "x" * 64


def test_a_member_that_stops_refreshing_vanishes(redis_conn, namespace):
    keys = Keys(namespace)
    GroupMembers(redis_conn, keys, ttl=15).refresh("alive123", ["club", "chess"])
    GroupMembers(redis_conn, keys, ttl=-1).refresh("dead4567", ["club"])  # expired already
    members = GroupMembers(redis_conn, keys)
    assert members.live("club") == ["alive123"]
    assert members.live("chess") == ["alive123"]
    members.leave("alive123", "chess")
    assert members.live("chess") == []


# -- transient groups --------------------------------------------------------------


def test_three_members_see_the_same_messages_in_the_same_order(members, tk_root):
    alice, bob, carol = members("alice"), members("bob"), members("carol")
    _, wa = alice.join(tk_root, "room")
    _, wb = bob.join(tk_root, "room")
    _, wc = carol.join(tk_root, "room", mode="subscribe")
    assert wa.top.title() == "Group room · connected · transient"
    assert wc.top.title() == "Group room · subscribed · transient"
    tk_wait(tk_root, lambda: ("notice", "carol joined") in wa.shown(), what="carol's join")
    assert ("notice", "bob joined") in wa.shown()

    # A conversation: each writes after seeing the previous message.
    for n in range(6):
        writer = wa if n % 2 == 0 else wb
        send(tk_root, writer, f"turn {n}")
        for window in (wa, wb, wc):
            tk_wait(tk_root, lambda w=window, n=n: f"turn {n}" in texts(w), what=f"turn {n}")
    turns = [f"turn {n}" for n in range(6)]
    assert texts(wa) == texts(wb) == texts(wc) == turns

    # Both type at the same time: nothing is lost, and each writer's messages keep
    # their order everywhere (across writers RabbitMQ gives no global order, see
    # docs/protocol.md).
    for n in range(10):
        send(tk_root, wa, f"a{n}")
        send(tk_root, wb, f"b{n}")
    for window in (wa, wb, wc):
        tk_wait(tk_root, lambda w=window: len(messages(w)) == 26, what="26 messages")
        burst = texts(window)[6:]
        assert [t for t in burst if t.startswith("a")] == [f"a{n}" for n in range(10)]
        assert [t for t in burst if t.startswith("b")] == [f"b{n}" for n in range(10)]
    # Own on the right, the others' on the left with their name.
    assert {side for side, text in messages(wa) if text.startswith("a")} == {"own"}
    assert {side for side, text in messages(wa) if text.startswith("b")} == {"peer"}
    assert "bob · " in wa.history.get("1.0", "end")
    tk_wait(tk_root, lambda: "…" not in wa.history.get("1.0", "end"), what="all confirmed")

    # The subscriber cannot send: input disabled, and it says so.
    assert str(wc.input.cget("state")) == "disabled"
    assert "read only" in wc.status.cget("text")
    send(tk_root, wc, "sneaky")
    assert carol.groups.membership("room").conversation.send("sneaky") is not None

    # A late joiner sees nothing from before.
    dave = members("dave")
    _, wd = dave.join(tk_root, "room")
    send(tk_root, wa, "after dave")
    tk_wait(tk_root, lambda: texts(wd) == ["after dave"], what="dave sees the new message")
    tk_wait(tk_root, lambda: texts(wc)[-1:] == ["after dave"], what="carol too")
    assert "sneaky" not in texts(wd) + texts(wa)


def test_several_groups_at_once_never_mix(members, tk_root):
    alice, bob = members("alice"), members("bob")
    groups = {"team": "transient", "team.blue": "persistent", "team-blue": "transient"}
    mine = {name: alice.join(tk_root, name, kind=kind)[1] for name, kind in groups.items()}
    theirs = {name: bob.join(tk_root, name, kind=kind)[1] for name, kind in groups.items()}
    assert alice.groups.joined() == sorted(groups)
    for name, window in mine.items():
        send(tk_root, window, f"only for {name}")
    for name, window in theirs.items():
        tk_wait(tk_root, lambda w=window, n=name: texts(w) == [f"only for {n}"], what=name)
    for name, window in mine.items():
        tk_wait(tk_root, lambda w=window, n=name: texts(w) == [f"only for {n}"], what=name)


def test_leaving_leaves_no_queue_and_the_others_see_it(members, tk_root, namespace):
    alice, bob = members("alice"), members("bob")
    sa, wa = alice.join(tk_root, "hall")
    sb, wb = bob.join(tk_root, "hall", mode="subscribe")
    queues = [sa.queue, sb.queue]
    assert all(q.startswith(namespace) for q in queues)
    assert all(queue_exists(q) for q in queues)
    assert alice.groups.joined() == ["hall"]
    in_hall = alice.groups.members.live
    assert sorted(in_hall("hall")) == sorted([alice.id, bob.id])

    wb.close()  # bob closes his window
    tk_wait(tk_root, lambda: ("notice", "bob left") in wa.shown(), what="bob left notice")
    assert bob.groups.joined() == []
    tk_wait(tk_root, lambda: in_hall("hall") == [alice.id], what="bob out of the name server")
    tk_wait(tk_root, lambda: not queue_exists(sb.queue), what="bob's queue gone")

    alice.close()  # alice quits the client (its windows close with it)
    assert alice.groups.joined() == []
    assert in_hall("hall") == []
    assert wa.closed
    assert not queue_exists(sa.queue)


def test_same_name_is_not_mistaken_for_me_and_own_messages_show_once(members, tk_root):
    one, two = members("sam"), members("sam")
    _, w1 = one.join(tk_root, "twins")
    _, w2 = two.join(tk_root, "twins")
    send(tk_root, w1, "from the first sam")
    send(tk_root, w2, "from the second sam")
    for window in (w1, w2):
        tk_wait(tk_root, lambda w=window: len(messages(w)) == 2, what="both messages")
    assert sorted(messages(w1)) == [("own", "from the first sam"), ("peer", "from the second sam")]
    assert sorted(messages(w2)) == [("own", "from the second sam"), ("peer", "from the first sam")]
    tk_wait(tk_root, lambda: "…" not in w1.history.get("1.0", "end"), what="confirmed")
    assert messages(w1).count(("own", "from the first sam")) == 1


def test_too_long_message_stays_in_the_box_and_nothing_is_sent(members, tk_root, config):
    alice, bob = members("alice"), members("bob")
    _, wa = alice.join(tk_root, "long")
    _, wb = bob.join(tk_root, "long")
    text = "x" * (config.max_message_bytes + 1)
    send(tk_root, wa, text)
    assert wa.text_var.get() == text
    assert "too long" in wa.status.cget("text")
    send(tk_root, wa, "short one")
    tk_wait(tk_root, lambda: texts(wb) == ["short one"], what="the short one")
    tk_wait(tk_root, lambda: texts(wa) == ["short one"], what="the sender's own copy")


def test_garbage_on_the_exchange_is_dropped_and_the_chat_goes_on(members, tk_root, namespace):
    alice, bob = members("alice"), members("bob")
    _, wa = alice.join(tk_root, "noisy")
    _, wb = bob.join(tk_root, "noisy")
    foreign = ChatMessage("x", "mallory", "other-group", "wrong chat").encode()
    raw_publish(
        Names(namespace).groups_exchange,
        "noisy",
        [b"\xff\xfe not json", b"{}", b'{"v": 2}', b"[1, 2]", foreign],
    )
    send(tk_root, wa, "still here")
    tk_wait(tk_root, lambda: texts(wb) == ["still here"], what="the chat goes on")
    assert texts(wa) == ["still here"]


# -- persistent groups --------------------------------------------------------------


def test_history_then_separator_then_live_without_duplicates(members, tk_root, namespace):
    alice = members("alice")
    _, wa = alice.join(tk_root, "log", kind="persistent")
    assert wa.top.title() == "Group log · connected · persistent"
    for n in range(200):
        send(tk_root, wa, f"m{n}")
    tk_wait(tk_root, lambda: len(messages(wa)) == 200, what="alice's 200", timeout=15)
    raw_publish(Names(namespace).groups_exchange, "log", [b"garbage in the history"])
    wa.close()  # alice writes and leaves; bob comes later

    bob = members("bob")
    _, wb = bob.join(tk_root, "log", kind="persistent")
    tk_wait(tk_root, lambda: separator_at(wb) is not None, what="the separator", timeout=15)
    scroll_to_first(tk_root, wb, "m0")
    shown = wb.shown()
    cut = separator_at(wb)
    assert SEPARATOR in shown[cut][1]
    assert [t for s, t in shown[:cut] if s == "peer"] == [f"m{n}" for n in range(200)]
    # No old join/leave notices; the first meeting with alice (met in the history,
    # so met now) is said once, below the separator.
    assert [s for s, _t in shown[:cut]] == ["peer"] * 200
    meetings = [t for s, t in shown if s == "notice" and t.startswith("first meeting with")]
    assert len(meetings) == 1 and meetings[0].startswith("first meeting with alice (key ")
    assert shown.index(("notice", meetings[0])) > cut

    carol = members("carol")
    _, wc = carol.join(tk_root, "log", kind="persistent")
    tk_wait(tk_root, lambda: ("notice", "carol joined") in wb.shown(), what="carol joined")
    send(tk_root, wc, "live one")
    tk_wait(tk_root, lambda: texts(wb)[-1:] == ["live one"], what="live message")
    tk_wait(tk_root, lambda: texts(wc)[-1:] == ["live one"], what="own live message")
    assert texts(wb) == [f"m{n}" for n in range(200)] + ["live one"]
    scroll_to_first(tk_root, wc, "m0")
    assert texts(wc) == texts(wb)
    after = wb.shown()[cut + 1 :]
    assert ("peer", "live one") in after


def test_everyone_first_met_in_the_history_is_met_in_one_line(members, tk_root):
    writers = {name: members(name) for name in ("alice", "bob", "dana")}
    for name, member in writers.items():
        _, window = member.join(tk_root, "club", kind="persistent")
        send(tk_root, window, f"hello from {name}")
        tk_wait(tk_root, lambda w=window, n=name: f"hello from {n}" in texts(w), what=name)
        window.close()

    _, we = members("erin").join(tk_root, "club", kind="persistent")
    tk_wait(tk_root, lambda: separator_at(we) is not None, what="the separator", timeout=15)
    meetings = [t for s, t in we.shown() if s == "notice" and t.startswith("first meeting with")]
    assert len(meetings) == 1, meetings
    for name, member in writers.items():
        assert f"{name} (key {member.identity.fingerprint})" in meetings[0]


def test_a_message_nobody_can_receive_is_marked_not_delivered(members, tk_root, namespace):
    alice = members("alice")
    session, wa = alice.join(tk_root, "cut", kind="persistent")
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:  # someone cuts the group's log off the exchange
        names = Names(namespace)
        connection.channel().queue_unbind(session.queue, names.groups_exchange, "cut")
    finally:
        connection.close()
    send(tk_root, wa, "into the void")
    tk_wait(tk_root, lambda: "not delivered" in wa.history.get("1.0", "end"), what="the mark")
    assert messages(wa) == [("own", "into the void")]
    assert wa.text_var.get() == ""  # taken, and shown as lost rather than dropped


def test_leaving_in_the_middle_of_a_long_history_keeps_the_connection(members, tk_root, namespace):
    names = Names(namespace)
    setup = members("setup")
    setup.join(tk_root, "big", kind="persistent")
    setup.close()
    writer = Identity.generate()
    history = [ChatMessage("w", "writer", "big", f"old {n}").encode(writer) for n in range(3000)]
    raw_publish(names.groups_exchange, "big", history)

    bob = members("bob")
    _, side = bob.join(tk_root, "side")
    drops: list[str] = []
    bob.client.broker.add_listener(lambda: drops.append("lost"))
    _, big = bob.join(tk_root, "big", kind="persistent")
    tk_wait(tk_root, lambda: len(messages(big)) > 0, what="the history to start")
    big.history.yview_moveto(0)
    tk_root.update()
    big.close()  # while an older page of the history is still arriving

    alice = members("alice")
    _, wa = alice.join(tk_root, "side")
    send(tk_root, wa, "still connected?")
    tk_wait(tk_root, lambda: texts(side) == ["still connected?"], what="bob's other group")
    assert drops == []
    assert ("notice", LOST) not in side.shown()
    assert bob.client.broker.connected


# -- the menu ---------------------------------------------------------------------


def run_menu(member: Member, answers: list[str], root) -> threading.Thread:
    member.client.term.inp = io.StringIO("".join(a + "\n" for a in answers))
    errors: list[BaseException] = []

    def menu() -> None:
        try:
            member.groups.run_menu()
        except UserError as exc:
            member.client.term.say(str(exc))
        except BaseException as exc:  # surfaced by the test below
            errors.append(exc)

    thread = threading.Thread(target=menu)
    thread.errors = errors  # type: ignore[attr-defined]
    thread.start()
    return thread


def test_menu_flow_creates_once_then_joins_as_it_is(members, tk_root, registry):
    alice, bob = members("alice"), members("bob")
    flow = run_menu(alice, ["bad name!", "club", "x", "c", "maybe", "p"], tk_root)
    tk_wait(tk_root, lambda: not flow.is_alive(), what="alice's menu flow", timeout=10)
    said = alice.out.getvalue()
    assert "cannot contain ' '" in said
    assert "not one of the choices" in said
    assert "Created the persistent group club." in said
    record = registry.get_group("club")
    assert (record.kind, record.creator_id) == ("persistent", alice.id)
    window = tk_wait(tk_root, lambda: alice.window("club"), what="alice's window")
    assert window.top.title() == "Group club · connected · persistent"

    flow = run_menu(bob, ["club", "s"], tk_root)
    tk_wait(tk_root, lambda: not flow.is_alive(), what="bob's menu flow", timeout=10)
    assert "club is a persistent group; joining it as it is." in bob.out.getvalue()
    window = tk_wait(tk_root, lambda: bob.window("club"), what="bob's window")
    assert window.top.title() == "Group club · subscribed · persistent"

    flow = run_menu(bob, ["club"], tk_root)
    tk_wait(tk_root, lambda: not flow.is_alive(), what="bob again", timeout=10)
    assert "club is open already" in bob.out.getvalue()
    assert bob.groups.joined() == ["club"]
    assert not flow.errors  # type: ignore[attr-defined]


def test_real_client_joins_from_the_menu_and_leaves_at_exit(spawn, registry, namespace):
    alice = spawn("alice")
    alice.choose("Group chat")
    alice.expect("Group name")
    alice.child.sendline("lobby")
    alice.expect(r"\[c/s\]")
    alice.child.sendline("c")
    alice.expect(r"\[t/p\]")
    alice.child.sendline("t")
    alice.expect("Opened group lobby \\(connected, transient\\) in a new window.")
    alice.expect("Choose")
    assert registry.get_group("lobby").kind == "transient"
    queue = Names(namespace).group_member_queue("lobby", alice.id)
    assert queue_exists(queue)
    alice.choose("Exit")
    alice.expect(r"Leave 1 open chat\? \[y/N\]")
    alice.child.sendline("y")
    assert alice.exit_status() == 0
    assert not queue_exists(queue)


def test_reconnect_survives_a_setup_the_broker_refuses_for_a_while(members, tk_root, namespace):
    """A declaration refused right after reconnecting is retried, not fatal."""
    alice = members("alice")
    _, wa = alice.join(tk_root, "x")
    exchange = Names(namespace).groups_exchange
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        # Someone re-creates the groups exchange with another type: alice's
        # declaration of it will be refused (406) when she reconnects.
        channel = connection.channel()
        channel.exchange_delete(exchange)
        channel.exchange_declare(exchange, "fanout", durable=True)
        alice.client.broker.submit(lambda ch: ch.connection.close())  # alice's link drops
        tk_wait(tk_root, lambda: ("notice", LOST) in wa.shown(), what="alice lost")
        channel.exchange_delete(exchange)  # put right: the next try declares it again
    finally:
        connection.close()
    tk_wait(tk_root, lambda: ("notice", BACK_TRANSIENT) in wa.shown(), 30, "alice back")
    send(tk_root, wa, "anyone?")
    tk_wait(tk_root, lambda: texts(wa) == ["anyone?"], what="her queue is bound again")


def test_a_channel_error_with_a_refused_setup_does_not_leave_a_stale_connection(
    members, tk_root, namespace
):
    alice = members("alice")
    _, wa = alice.join(tk_root, "y")
    exchange = Names(namespace).groups_exchange
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        channel.exchange_delete(exchange)
        channel.exchange_declare(exchange, "fanout", durable=True)
        # Some feature's mistake closes the shared channel; re-running the
        # setups on a new channel is refused, so the client must reconnect,
        # and its old connection must go (it holds alice's exclusive queue).
        alice.client.broker.submit(lambda ch: ch.queue_declare("no-such-queue", passive=True))
        tk_wait(tk_root, lambda: ("notice", LOST) in wa.shown(), what="alice lost")
        channel.exchange_delete(exchange)
    finally:
        connection.close()
    tk_wait(tk_root, lambda: ("notice", BACK_TRANSIENT) in wa.shown(), 30, "alice back")
    send(tk_root, wa, "anyone?")
    tk_wait(tk_root, lambda: texts(wa) == ["anyone?"], what="her queue is bound again")


# -- the broker goes away ------------------------------------------------------------


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, timeout=120, capture_output=True)


def test_broker_restart_keeps_history_and_members_carry_on(members, tk_root):
    """Stops the whole broker for a few seconds: other test runs see it too."""
    alice, bob = members("alice"), members("bob")
    _, wa = alice.join(tk_root, "vault", kind="persistent")
    _, wb = bob.join(tk_root, "vault", mode="subscribe", kind="persistent")
    _, ta = alice.join(tk_root, "chatter")
    _, tb = bob.join(tk_root, "chatter")
    before = [f"kept {n}" for n in range(20)]
    for text in before:
        send(tk_root, wa, text)
    tk_wait(tk_root, lambda: texts(wb) == before, what="history before the restart")
    tk_wait(tk_root, lambda: "…" not in wa.history.get("1.0", "end"), what="all confirmed")

    try:
        rabbitmqctl("stop_app")
        for window in (wa, wb, ta, tb):
            tk_wait(tk_root, lambda w=window: ("notice", LOST) in w.shown(), what="lost notice")
        send(tk_root, wa, "typed while down")
        assert wa.text_var.get() == "typed while down"  # kept, not silently dropped
        assert wa.status.cget("text") == NOT_CONNECTED
    finally:  # whatever happened, the broker is back before the test ends
        rabbitmqctl("start_app")  # a no-op when it is running
        rabbitmqctl("await_startup")

    def last_word(window: ChatWindow) -> str:
        said = [t for s, t in window.shown() if s == "notice" and t in (LOST, BACK, BACK_TRANSIENT)]
        return said[-1] if said else ""

    for window, back in ((wa, BACK), (wb, BACK), (ta, BACK_TRANSIENT), (tb, BACK_TRANSIENT)):
        tk_wait(tk_root, lambda w=window, b=back: last_word(w) == b, 30, "back notice")
    wa.send()  # the kept text, sent now
    send(tk_root, ta, "transient still works")
    after = [*before, "typed while down"]
    tk_wait(tk_root, lambda: texts(wb) == after, what="the persistent group carries on")
    tk_wait(tk_root, lambda: texts(wa) == after, what="the sender's own window too")
    tk_wait(tk_root, lambda: texts(tb) == ["transient still works"], what="transient too")

    carol = members("carol")
    _, wc = carol.join(tk_root, "vault", kind="persistent")
    tk_wait(tk_root, lambda: separator_at(wc) is not None, what="carol's separator")
    assert texts(wc) == after  # the whole history survived the restart
    assert texts(wa) == texts(wb) == after  # and nobody shows anything twice

"""Private chats between real clients: gRPC servers on port 0, real Tk windows, real Redis."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator

import grpc
import pytest

from chat.errors import UserError
from chat.private import PrivateChats, refusal
from chat.private.auth import pinned_channel
from chat.proto import private_chat_pb2 as pb
from chat.proto import private_chat_pb2_grpc as pb_grpc
from chat.transport.rpc import create_server
from chat.trust.tls import generate
from nameserver.registry import ClientRecord
from tests.rawcaller import RawCall, signed_record
from tests.support import TestClient, come_back, tk_wait, wait_for


class InProcess(TestClient):
    """The test client with private chats only, and the Private chat menu item at hand."""

    @property
    def chats(self) -> PrivateChats:
        return self.private

    def menu(self, *answers: str) -> str:
        """Run the Private chat menu item with typed answers; returns what it printed."""
        self.type(*answers)
        start = self.out.tell()
        try:
            self.chats.run_menu()
        except UserError as exc:
            self.term.say(str(exc))
        return self.out.getvalue()[start:]


@pytest.fixture
def make_client(make_client) -> Callable[..., InProcess]:
    """The shared fixture's clients, with private chats only and windows that close fast."""

    def make(name: str, **settings: object) -> InProcess:
        own = {"close_delay": 0.3, **settings}
        return make_client(name, cls=InProcess, settings=own, keys={"private"})

    return make


def windows(tk_root, client: InProcess) -> dict[str, object]:
    """Title -> window of every chat window ``client`` shows."""
    tk_root.update()
    return {window.chat.title: window for window in client.client.windows.open_windows()}


def private_windows(client: InProcess) -> list:
    """Every open private chat window of ``client`` (UI thread)."""
    return [
        window
        for window in client.client.windows.open_windows()
        if window.chat.key.startswith("private:")
    ]


def window_of(tk_root, client: InProcess, peer: InProcess, timeout: float = 5.0):
    title = f"Chat with {peer.me.name} ({peer.me.id})"
    return tk_wait(
        tk_root,
        lambda: windows(tk_root, client).get(title),
        timeout,
        f"{client.me.name}'s window {title!r}",
    )


def process_state(pid: int) -> str:
    """The state letter of a process (R, S, T for stopped, ...), from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


def said(window) -> list[tuple[str, str]]:
    """The messages in a window, without its notices and separators."""
    return [(side, text) for side, text in window.shown() if side in ("own", "peer")]


def type_and_send(window, text: str) -> None:
    window.text_var.set(text)
    window.send()


def open_from_process(tk_root, alice: InProcess, caller) -> object:
    """``caller`` (a client process) opens a chat with ``alice`` from its menu;
    returns the window that pops up in alice's client."""
    caller.choose("1")
    caller.expect("Chat with whom")
    caller.child.sendline(alice.me.id)
    caller.expect("is in its own window")
    return tk_wait(
        tk_root,
        lambda: windows(tk_root, alice).get(f"Chat with {caller.name} ({caller.id})"),
        what="the window that popped up in alice's client",
    )


def open_to_process(tk_root, alice: InProcess, registry, callee) -> object:
    """``alice`` opens a chat with ``callee`` (a client process); returns her window."""
    alice.chats.open_with(registry.get(callee.id))
    callee.expect(f"{alice.me.name} .* started a private chat with you")
    return tk_wait(
        tk_root,
        lambda: windows(tk_root, alice).get(f"Chat with {callee.name} ({callee.id})"),
        what="alice's window",
    )


def wait_lost(tk_root, window, peer: str, timeout: float, what: str) -> None:
    notice = ("notice", f"connection to {peer} lost")
    tk_wait(tk_root, lambda: notice in window.shown(), timeout, what)


def test_both_windows_open_and_text_appears_left_and_right(make_client, tk_root):
    alice, bob = make_client("alice"), make_client("bob")
    printed = alice.menu(bob.me.id)
    assert "in its own window" in printed
    mine = window_of(tk_root, alice, bob)
    theirs = window_of(tk_root, bob, alice)
    assert (
        "alice (" in bob.out.getvalue() and "started a private chat with you" in bob.out.getvalue()
    )

    type_and_send(mine, "hello bob")
    tk_wait(tk_root, lambda: ("peer", "hello bob") in theirs.shown(), what="bob sees the text")
    type_and_send(theirs, "hi alice")
    tk_wait(tk_root, lambda: ("peer", "hi alice") in mine.shown(), what="alice sees the reply")

    assert said(mine) == [("own", "hello bob"), ("peer", "hi alice")]
    assert any(t.startswith("first meeting with bob (key ") for _, t in mine.shown())
    assert any(t.startswith("first meeting with alice (key ") for _, t in theirs.shown())
    assert said(theirs) == [("peer", "hello bob"), ("own", "hi alice")]
    assert ("notice", "alice started a chat with you") in theirs.shown()
    assert mine.text_var.get() == ""
    tk_wait(
        tk_root,
        lambda: "…" not in mine.history.get("1.0", "end"),
        what="alice's message marked delivered",
    )
    assert alice.chats.active_peers() == [(bob.me.id, "bob")]
    assert bob.chats.active_peers() == [(alice.me.id, "alice")]


def test_thousand_quick_messages_arrive_complete_and_in_order(make_client, tk_root):
    alice, bob = make_client("alice"), make_client("bob")
    alice.chats.open_with(bob.me)
    mine = window_of(tk_root, alice, bob)
    theirs = window_of(tk_root, bob, alice)
    for n in range(1000):
        type_and_send(mine, f"message {n}")
    expected = [("peer", f"message {n}") for n in range(1000)]
    tk_wait(
        tk_root,
        lambda: len(said(theirs)) >= 1000,
        timeout=30,
        what="1,000 messages in bob's window",
    )
    assert said(theirs) == expected
    tk_wait(
        tk_root,
        lambda: all(e.status == "sent" for e in mine.log.entries),
        timeout=10,
        what="every message acknowledged",
    )
    assert [text for side, text in said(mine)] == [f"message {n}" for n in range(1000)]


def test_asking_again_brings_the_open_window_to_the_front(make_client, tk_root):
    alice, bob = make_client("alice"), make_client("bob")
    alice.chats.open_with(bob.me)
    window_of(tk_root, alice, bob)
    alice.chats.open_with(bob.me)
    alice.menu("bob")
    tk_root.update()
    assert len(windows(tk_root, alice)) == 1
    assert len(windows(tk_root, bob)) == 1
    assert alice.chats.active_peers() == [(bob.me.id, "bob")]


def test_three_clients_chat_in_separate_windows(make_client, tk_root):
    alice, bob, carol = make_client("alice"), make_client("bob"), make_client("carol")
    alice.chats.open_with(bob.me)
    carol.chats.open_with(alice.me)
    to_bob, to_carol = window_of(tk_root, alice, bob), window_of(tk_root, alice, carol)
    bobs, carols = window_of(tk_root, bob, alice), window_of(tk_root, carol, alice)
    type_and_send(to_bob, "for bob only")
    type_and_send(to_carol, "for carol only")
    tk_wait(tk_root, lambda: ("peer", "for bob only") in bobs.shown(), what="bob's message")
    tk_wait(tk_root, lambda: ("peer", "for carol only") in carols.shown(), what="carol's message")
    assert ("peer", "for carol only") not in bobs.shown()
    assert ("peer", "for bob only") not in carols.shown()
    assert sorted(alice.chats.active_peers()) == sorted(
        [(bob.me.id, "bob"), (carol.me.id, "carol")]
    )


def test_closing_a_window_shows_the_notice_and_closes_the_other(make_client, tk_root):
    alice, bob = make_client("alice"), make_client("bob")
    alice.chats.open_with(bob.me)
    mine = window_of(tk_root, alice, bob)
    theirs = window_of(tk_root, bob, alice)
    mine.close()
    tk_wait(
        tk_root,
        lambda: ("notice", "alice left the chat") in theirs.shown(),
        what="the disconnect notice in bob's window",
    )
    assert str(theirs.input.cget("state")) == "disabled"
    come_back(tk_root, theirs)  # the countdown runs once the user is back
    tk_wait(tk_root, lambda: theirs.closed, what="bob's window closing by itself")
    assert bob.chats.active_peers() == []
    assert alice.chats.active_peers() == []
    # The chat can be opened again afterwards.
    bob.chats.open_with(alice.me)
    window_of(tk_root, alice, bob)


def test_exit_says_goodbye_on_every_chat(make_client, tk_root):
    alice, bob = make_client("alice"), make_client("bob")
    bob.chats.open_with(alice.me)
    theirs = window_of(tk_root, bob, alice)
    window_of(tk_root, alice, bob)
    alice.close()
    tk_wait(
        tk_root,
        lambda: ("notice", "alice left the chat") in theirs.shown(),
        what="the disconnect notice after alice exits",
    )
    come_back(tk_root, theirs)  # the countdown runs once the user is back
    tk_wait(tk_root, lambda: theirs.closed, what="bob's window closing by itself")


def test_too_long_message_stays_in_the_box_and_is_not_sent(make_client, tk_root):
    alice, bob = make_client("alice"), make_client("bob")
    alice.chats.open_with(bob.me)
    mine = window_of(tk_root, alice, bob)
    theirs = window_of(tk_root, bob, alice)
    long_text = "é" * 2049  # 4098 bytes of UTF-8
    type_and_send(mine, long_text)
    assert mine.text_var.get() == long_text
    assert "too long" in mine.status.cget("text")
    type_and_send(mine, "short")
    tk_wait(tk_root, lambda: ("peer", "short") in theirs.shown(), what="the short message")
    assert [text for _side, text in said(theirs)] == ["short"]
    assert ("notice", "alice started a chat with you") in theirs.shown()


def test_unknown_id_ambiguous_prefix_and_own_id_are_refused(make_client, registry, tk_root):
    alice = make_client("alice")
    printed = alice.menu("zzzzzzzz")
    assert "Nobody online has the ID or username 'zzzzzzzz'" in printed
    first = "q" if not alice.me.id.startswith("q") else "r"
    for suffix in ("2222222", "3333333"):
        record = ClientRecord(first + suffix, "quinn", "127.0.0.1", 1, time.time())
        assert registry._claim(record)
    printed = alice.menu(first, "")
    assert f"'{first}' matches 2 clients online" in printed
    assert f"{first}2222222" in printed and f"{first}3333333" in printed
    printed = alice.menu("quinn", "7", "")
    assert "Type a number from 1 to 2" in printed
    printed = alice.menu(alice.me.id)
    assert "You cannot chat with yourself." in printed
    printed = alice.menu("")
    assert printed.strip().endswith("(empty: back):")
    assert windows(tk_root, alice) == {}
    assert alice.chats.active_peers() == []


def test_stale_registration_gives_up_with_a_sentence(make_client, registry, tk_root):
    alice = make_client("alice")
    with socket.socket() as probe:  # a port nobody listens on any more
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ghost, _, _ = signed_record("gh2st222", "ghost", port)
    assert registry._claim(ghost)
    printed = alice.menu("ghost")
    assert f"Could not reach ghost at 127.0.0.1:{port} (they may have just left)." in printed
    assert windows(tk_root, alice) == {}


def test_invalid_first_frame_is_refused_and_the_server_keeps_serving(make_client, tk_root):
    alice, bob = make_client("alice"), make_client("bob")
    with pinned_channel(alice.me, []) as channel:
        stub = pb_grpc.PrivateChatStub(channel)
        bad_first = [pb.Frame(text=pb.Text(seq=1, id="x", text="no hello"))]
        with pytest.raises(grpc.RpcError) as caught:
            list(stub.Chat(iter(bad_first), timeout=5))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        nameless = [pb.Frame(hello=pb.Hello(version=1, peer=pb.Peer(id="", name="")))]
        with pytest.raises(grpc.RpcError) as caught:
            list(stub.Chat(iter(nameless), timeout=5))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert windows(tk_root, alice) == {}
    bob.chats.open_with(alice.me)
    theirs = window_of(tk_root, alice, bob)
    type_and_send(window_of(tk_root, bob, alice), "still here?")
    tk_wait(tk_root, lambda: ("peer", "still here?") in theirs.shown(), what="a normal chat")


def test_a_silent_caller_is_cut_off_and_others_still_get_through(make_client, tk_root):
    alice, bob = make_client("alice", connect_timeout=0.5), make_client("bob")
    hush = threading.Event()

    def nothing() -> Iterator[pb.Frame]:
        hush.wait(10)
        yield from ()

    with pinned_channel(alice.me, []) as channel:
        silent = pb_grpc.PrivateChatStub(channel).Chat(nothing())
        try:
            with pytest.raises(grpc.RpcError) as caught:
                next(silent)
            assert caught.value.code() == grpc.StatusCode.CANCELLED
        finally:
            hush.set()
    bob.chats.open_with(alice.me)
    window_of(tk_root, alice, bob)


class DropsAfterThree(pb_grpc.PrivateChatServicer):
    """A peer that takes the hello, reads texts without acknowledging, then breaks."""

    def __init__(self) -> None:
        self.got: list[str] = []
        self.broke = threading.Event()

    def Chat(self, request_iterator, context):  # the .proto's method name
        next(request_iterator)
        yield pb.Frame(hello=pb.Hello(version=1, peer=pb.Peer(id="dr2pp222", name="dropper")))
        for frame in request_iterator:
            texts = [frame.text] if frame.HasField("text") else list(frame.batch.texts)
            self.got += [text.text for text in texts]
            if len(self.got) >= 3:
                self.broke.set()
                context.abort(grpc.StatusCode.UNAVAILABLE, "connection reset")


def test_messages_on_a_breaking_stream_are_marked_not_delivered(make_client, tk_root):
    alice = make_client("alice")
    tls = generate()
    server, port = create_server("127.0.0.1:0", tls=tls)
    dropper = DropsAfterThree()
    pb_grpc.add_PrivateChatServicer_to_server(dropper, server)
    server.start()
    try:
        record, _, _ = signed_record("dr2pp222", "dropper", port, tls=tls)
        alice.chats.open_with(record)
        window = tk_wait(
            tk_root,
            lambda: windows(tk_root, alice).get("Chat with dropper (dr2pp222)"),
            what="the window",
        )
        for n in range(3):
            type_and_send(window, f"lost {n}")
        tk_wait(
            tk_root, lambda: ("notice", "connection to dropper lost") in window.shown(), what="end"
        )
        assert [e.status for e in window.log.entries if e.side == "own"] == ["failed"] * 3
        assert window.history.get("1.0", "end").count("not delivered") == 3
    finally:
        server.stop(None)


def test_killed_peer_process_is_noticed_within_five_seconds(make_client, spawn, registry, tk_root):
    alice = make_client("alice")
    bob = spawn("bob")
    mine = open_to_process(tk_root, alice, registry, bob)
    type_and_send(mine, "are you there?")
    tk_wait(tk_root, lambda: "…" not in mine.history.get("1.0", "end"), what="bob's ack")
    bob.kill()
    killed = time.monotonic()
    wait_lost(tk_root, mine, "bob", 5, "the disconnect notice within 5 s of SIGKILL")
    assert time.monotonic() - killed < 5
    assert str(mine.input.cget("state")) == "disabled"


def test_a_real_client_process_opens_a_chat_from_its_menu(make_client, spawn, tk_root):
    alice = make_client("alice")
    bob = spawn("bob")
    theirs = open_from_process(tk_root, alice, bob)
    assert ("notice", "bob started a chat with you") in theirs.shown()
    type_and_send(theirs, "bye now")
    tk_wait(tk_root, lambda: "…" not in theirs.history.get("1.0", "end"), what="bob's ack")
    # Exit with a chat open asks first; Enter keeps the client and its chat.
    bob.choose("Exit")
    bob.expect(r"Leave 1 open chat\? \[y/N\] ")
    bob.choose("")
    bob.expect("Choose 1-5: ")
    assert alice.chats.active_peers() == [(bob.id, "bob")]
    assert ("notice", "bob left the chat") not in theirs.shown()
    bob.choose("Exit")
    bob.expect(r"Leave 1 open chat\? \[y/N\] ")
    bob.choose("y")
    assert bob.exit_status() == 0
    tk_wait(
        tk_root,
        lambda: ("notice", "bob left the chat") in theirs.shown(),
        what="the goodbye of a client that exits",
    )


@pytest.mark.parametrize("how", ["goodbye", "lost"])
def test_the_terminal_says_once_that_the_peer_left_or_was_lost(how, make_client, spawn, tk_root):
    alice = make_client("alice")
    bob = spawn("bob")
    theirs = open_from_process(tk_root, alice, bob)
    conversation = alice.chats._chats[bob.id]
    if how == "goodbye":
        alice.chats.close_all()
        said = "alice left the chat"
    else:  # the stream ends without a goodbye, as when alice's client dies
        conversation.session.cancel()
        said = "connection to alice lost"
    bob.expect(said)
    # Said once: the menu goes on, and the line does not come again.
    bob.choose("")
    bob.choose("Exit")  # no chat open any more: no question
    assert bob.exit_status() == 0
    assert said not in bob.child.before
    assert theirs is not None


def test_killed_caller_process_is_noticed_by_the_callee(make_client, spawn, tk_root):
    alice = make_client("alice")
    bob = spawn("bob")
    theirs = open_from_process(tk_root, alice, bob)
    bob.kill()
    wait_lost(tk_root, theirs, "bob", 5, "the disconnect notice within 5 s of SIGKILL")
    come_back(tk_root, theirs)  # the countdown runs once the user is back
    tk_wait(tk_root, lambda: theirs.closed, what="alice's window closing by itself")
    assert alice.chats.active_peers() == []


def test_frozen_peer_is_noticed_by_keepalive(make_client, spawn, registry, tk_root):
    """A peer that stops answering without closing its connection (as after a network cut)."""
    alice = make_client("alice")
    bob = spawn("bob")
    mine = open_to_process(tk_root, alice, registry, bob)
    os.kill(bob.child.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: process_state(bob.child.pid) == "T", what="bob's process to stop")
        type_and_send(mine, "into the void")
        wait_lost(tk_root, mine, "bob", 5, "the disconnect notice within 5 s of the peer freezing")
        assert [e.status for e in mine.log.entries if e.side == "own"] == ["failed"]
    finally:
        os.kill(bob.child.pid, signal.SIGCONT)


def _call_at_once(
    start: threading.Barrier, errors: list[BaseException], caller: InProcess, callee: InProcess
) -> None:
    start.wait(5)
    try:
        caller.chats.open_with(callee.me)
    except BaseException as exc:  # surfaced by the test
        errors.append(exc)


def test_calls_that_cross_give_one_chat_with_a_window_on_each_side(make_client, tk_root):
    alice, bob = make_client("alice"), make_client("bob")
    for attempt in range(20):
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        calls = [
            threading.Thread(target=_call_at_once, args=(start, errors, alice, bob)),
            threading.Thread(target=_call_at_once, args=(start, errors, bob, alice)),
        ]
        for thread in calls:
            thread.start()
        for thread in calls:
            thread.join(15)
        assert errors == [], f"attempt {attempt}: {errors}"
        window_a = window_of(tk_root, alice, bob)
        window_b = window_of(tk_root, bob, alice)
        assert len(windows(tk_root, alice)) == 1 and len(windows(tk_root, bob)) == 1
        assert alice.chats.active_peers() == [(bob.me.id, "bob")]
        assert bob.chats.active_peers() == [(alice.me.id, "alice")]

        # Both windows are the two ends of one stream.
        type_and_send(window_a, f"hello {attempt}")
        tk_wait(tk_root, lambda: ("peer", f"hello {attempt}") in window_b.shown())  # noqa: B023

        window_a.close()
        tk_wait(
            tk_root,
            lambda: not alice.chats.active_peers() and not bob.chats.active_peers(),
            what="the chat over on both sides",
        )
        come_back(tk_root, window_b)  # the countdown runs once the user is back
        tk_wait(tk_root, lambda: window_b.closed, what="bob's window closing")  # noqa: B023


@pytest.mark.parametrize("frozen_side", ["callee", "caller"])
def test_idle_frozen_peer_is_noticed_within_five_seconds(
    make_client, spawn, registry, tk_root, frozen_side
):
    """SIGSTOP the other client while nobody types: its TCP stays open, yet it is noticed."""
    alice = make_client("alice")
    bob = spawn("bob")
    if frozen_side == "callee":
        mine = open_to_process(tk_root, alice, registry, bob)
    else:
        mine = open_from_process(tk_root, alice, bob)
    os.kill(bob.child.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: process_state(bob.child.pid) == "T", what="bob's process to stop")
        stopped = time.monotonic()
        wait_lost(tk_root, mine, "bob", 10, "the disconnect notice after the peer froze")
        assert time.monotonic() - stopped < 5
    finally:
        os.kill(bob.child.pid, signal.SIGCONT)


def _hostile_call(alice: InProcess, registry, frames: list[pb.Frame]) -> RawCall:
    """A raw caller, registered as mallory, that proves who it is, then sends ``frames``.

    Our half stays open: only the receiver may end this call.
    """
    mallory, identity, _ = signed_record("ma11ory2", "mallory", 9)
    assert registry._claim(mallory)
    channel = pinned_channel(alice.me, [("grpc.max_send_message_length", 64 * 1024 * 1024)])
    call = RawCall(alice.me, channel=channel)
    call.handshake(identity, mallory)
    call.send(*frames)
    return call


def _refused(alice: InProcess, registry, caller_id: str) -> grpc.RpcError:
    """A raw caller proves it is ``caller_id``; returns how the callee refused it."""
    record, identity, _ = signed_record(caller_id, "mallory", 9)
    assert registry._claim(record)
    call = RawCall(alice.me)
    try:
        with pytest.raises(grpc.RpcError) as refused:
            call.handshake(identity, record)
    finally:
        call.close()
    return refused.value


def test_a_crossing_call_is_refused_with_a_code_a_program_can_read(make_client, registry):
    """The loser of a crossing learns it from trailing metadata, not from English text."""
    alice = make_client("alice")
    higher = "zzzzzzzz"  # above any drawn ID, so alice's own call is the one that goes on
    alice.chats._dials.begin(higher)  # alice is calling this peer right now
    error = _refused(alice, registry, higher)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert refusal.code_of(error) == refusal.CROSSING
    assert (refusal.KEY, "crossing") in error.trailing_metadata()
    assert alice.chats.active_peers() == []


def test_a_second_chat_from_the_same_caller_is_refused_as_already_open(make_client, registry):
    alice = make_client("alice")
    record, identity, _ = signed_record("ma11ory2", "mallory", 9)
    assert registry._claim(record)
    first = RawCall(alice.me)
    try:
        assert first.handshake(identity, record).WhichOneof("body") == "hello"
        wait_for(lambda: alice.chats.active_peers() == [("ma11ory2", "mallory")])
        second = RawCall(alice.me)
        try:
            with pytest.raises(grpc.RpcError) as refused:
                second.handshake(identity, record)
        finally:
            second.close()
    finally:
        first.close()
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert refusal.code_of(refused.value) == refusal.ALREADY_OPEN


@pytest.mark.parametrize(
    ("frames", "sentence"),
    [
        (
            [pb.Frame(text=pb.Text(seq=1, id="big", text="x" * 1_000_000, sent_ms=1))],
            "mallory sent a message of 1000000 bytes (at most 4096).",
        ),
        (
            [
                pb.Frame(
                    batch=pb.Batch(
                        texts=[pb.Text(seq=n, id=str(n), text="x") for n in range(1, 20_001)]
                    )
                )
            ],
            "mallory sent 20000 messages in one batch (at most 256).",
        ),
    ],
    ids=["1MB-text", "20000-batch"],
)
def test_over_limit_frames_are_refused_on_receive_and_the_stream_closed(
    make_client, registry, tk_root, frames, sentence
):
    alice = make_client("alice", close_delay=60)
    raw = _hostile_call(alice, registry, frames)
    call = raw.call
    ended = threading.Event()

    def drain() -> None:
        try:
            for _ in call:
                pass
        except grpc.RpcError:
            pass
        ended.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        window = tk_wait(
            tk_root,
            lambda: [w for w in private_windows(alice) if "mallory" in w.top.title()],
            what="the window for mallory",
        )[0]
        tk_wait(
            tk_root,
            lambda: ("notice", f"The chat was closed: {sentence}") in window.shown(),
            what="the notice that the chat was closed",
        )
        assert ended.wait(10), "the stream stayed open"
        assert not [text for side, text in window.shown() if side == "peer"]
    finally:
        raw.close()


def test_hundred_silent_callers_do_not_stop_a_real_chat(make_client, tk_root):
    alice, bob = make_client("alice"), make_client("bob")
    stop = threading.Event()
    cut = [0]

    def silent_caller(channel: grpc.Channel) -> None:
        stub = pb_grpc.PrivateChatStub(channel)
        while not stop.is_set():  # a cut-off caller comes straight back
            call = stub.Chat(iter(stop.wait, True), timeout=30)
            try:
                for _ in call:
                    pass
            except grpc.RpcError:
                cut[0] += 1

    channels = [pinned_channel(alice.me, []) for _ in range(10)]
    callers = [
        threading.Thread(target=silent_caller, args=(channels[n % 10],), daemon=True)
        for n in range(100)
    ]
    for caller in callers:
        caller.start()
    try:
        wait_for(lambda: cut[0] >= 100, timeout=20, what="silent callers cut off and back")
        started = time.monotonic()
        bob.chats.open_with(alice.me)
        took = time.monotonic() - started
        theirs = window_of(tk_root, alice, bob)
        type_and_send(window_of(tk_root, bob, alice), "through the crowd")
        tk_wait(tk_root, lambda: ("peer", "through the crowd") in theirs.shown(), what="text")
        assert took < 10, f"opening took {took:.1f} s"  # the benchmark measures it
    finally:
        stop.set()
        for channel in channels:
            channel.close()

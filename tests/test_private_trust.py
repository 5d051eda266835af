"""Who is on the other end of a private chat: real clients, real TLS, real Redis.

A caller must prove the ID it claims with that ID's key; a record rewritten
in the name server is refused by a caller that knows the peer's key and taken
back by its owner; plain text and replayed handshakes get nowhere; kept
history comes back after a restart; a flood of hellos leaves a client usable.
"""

from __future__ import annotations

import os
import threading
import time

import grpc
import pytest

import tests.test_private as private_tests
from chat.heartbeat import Heartbeat
from chat.proto import private_chat_pb2 as pb
from chat.proto import private_chat_pb2_grpc as pb_grpc
from chat.trust.identity import Identity
from nameserver.registry import ClientRecord
from tests.rawcaller import RawCall, signed_record
from tests.support import tk_wait, wait_for

make_client = private_tests.make_client
windows, window_of = private_tests.windows, private_tests.window_of
said, type_and_send = private_tests.said, private_tests.type_and_send


def _refused(call: RawCall) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        for _ in call.call:
            pass
    return caught.value.code()


def test_a_hello_claiming_another_clients_id_is_refused_and_opens_no_window(make_client, tk_root):
    alice, bob = make_client("alice"), make_client("bob")
    call = RawCall(alice.me)
    try:
        challenge = call.hello(bob.me)  # "I am bob", without bob's key
        assert challenge.WhichOneof("body") == "challenge"
        call.send(call.proof(Identity.generate(), bob.me, challenge))
        assert _refused(call) == grpc.StatusCode.UNAUTHENTICATED
    finally:
        call.close()
    assert windows(tk_root, alice) == {}
    assert alice.chats.active_peers() == []
    assert "started a private chat" not in alice.output()
    # bob himself still gets through.
    bob.chats.open_with(alice.me)
    window_of(tk_root, alice, bob)


def test_a_replayed_handshake_is_refused(make_client, tk_root):
    alice, bob = make_client("alice"), make_client("bob")
    honest = RawCall(alice.me)
    try:
        challenge = honest.hello(bob.me)
        recorded = honest.proof(bob.identity, bob.me, challenge)
        honest.send(recorded)
        assert next(honest.call).WhichOneof("body") == "hello"
    finally:
        honest.close()
    replay = RawCall(alice.me)
    try:
        assert replay.hello(bob.me) != challenge  # a fresh challenge each time
        replay.send(recorded)
        assert _refused(replay) == grpc.StatusCode.UNAUTHENTICATED
    finally:
        replay.close()
    tk_root.update()
    assert alice.output().count("started a private chat") == 1  # the honest one only


def test_a_plain_text_caller_is_refused(make_client, tk_root):
    alice, bob = make_client("alice"), make_client("bob")
    hello = pb.Frame(hello=pb.Hello(version=1, peer=pb.Peer(id=bob.me.id, name="bob")))
    with grpc.insecure_channel(alice.me.address) as channel, pytest.raises(grpc.RpcError) as caught:
        list(pb_grpc.PrivateChatStub(channel).Chat(iter([hello]), timeout=10))
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert windows(tk_root, alice) == {}
    assert "started a private chat" not in alice.output()


def test_a_record_pointing_a_known_peer_elsewhere_is_refused_and_taken_back(
    make_client, registry, tk_root
):
    alice, bob, mallory = make_client("alice"), make_client("bob"), make_client("mallory")
    bob.chats.open_with(alice.me)  # they have met: alice knows bob's key
    window_of(tk_root, alice, bob)
    alice.chats.close_all(timeout=2)
    key = registry.keys.client(bob.me.id)

    # bob's ID now points at mallory's server, with mallory's key.
    forged = ClientRecord(**{**mallory.me.__dict__, "id": bob.me.id, "name": "bob"})
    registry.redis.set(key, forged.to_json(), ex=60)
    printed = " ".join(alice.menu(bob.me.id, "").split())  # and no 'trust' when asked
    assert "bob's key has changed since" in printed
    assert "this may not be the bob you talked to; not connecting" in printed
    assert "answer 'trust'" in printed

    # bob's key kept, but mallory's server and certificate: the key never signed it.
    forged = ClientRecord(**{**forged.__dict__, "key": bob.me.key})
    registry.redis.set(key, forged.to_json(), ex=60)
    printed = " ".join(alice.menu(bob.me.id).split())
    assert "offers no certificate signed by their key" in printed
    assert "not connecting" in printed
    tk_root.update()
    assert [t for t in windows(tk_root, mallory)] == []
    assert "started a private chat" not in mallory.output()

    # bob's heartbeat notices, says so, and puts his own record back.
    told: list[str] = []
    Heartbeat(registry, bob.me, 60, on_trouble=told.append).beat()
    assert len(told) == 1 and "Your record in the name server" in told[0]
    assert "was replaced" in told[0] and "posing as you" in told[0]
    assert registry.get(bob.me.id) == bob.me
    alice.chats.open_with(registry.get(bob.me.id))
    window_of(tk_root, bob, alice)


def test_private_history_is_back_after_both_clients_restart(make_client, tk_root):
    alice, bob = make_client("alice"), make_client("bob")
    alice.chats.open_with(bob.me)
    mine, theirs = window_of(tk_root, alice, bob), window_of(tk_root, bob, alice)
    type_and_send(mine, "remember the blue door")
    tk_wait(tk_root, lambda: ("peer", "remember the blue door") in theirs.shown(), what="text")
    type_and_send(theirs, "I will")
    tk_wait(tk_root, lambda: ("peer", "I will") in mine.shown(), what="the reply")
    tk_wait(
        tk_root,
        lambda: all(e.status == "sent" for e in mine.log.entries + theirs.log.entries),
        what="both messages acknowledged",
    )
    alice.close()
    bob.close()

    alice, bob = make_client("alice"), make_client("bob")  # same state directory
    bob.chats.open_with(alice.me)
    mine, theirs = window_of(tk_root, alice, bob), window_of(tk_root, bob, alice)
    type_and_send(theirs, "back again")
    tk_wait(tk_root, lambda: ("peer", "back again") in mine.shown(), what="the new text")
    earlier = [("own", "remember the blue door"), ("peer", "I will")]
    assert said(mine) == [*earlier, ("peer", "back again")]
    assert said(theirs)[:2] == [("peer", "remember the blue door"), ("own", "I will")]
    assert any("2 earlier messages, kept on this computer" in t for _, t in mine.shown())
    shown = mine.shown()
    assert shown.index(("own", "remember the blue door")) < shown.index(("peer", "back again"))
    assert not any("first meeting" in text for _, text in shown)

    # Closed and started again in this run: the log is reused, nothing is shown twice.
    theirs.close()
    tk_wait(tk_root, lambda: ("notice", "bob left the chat") in mine.shown(), what="bob left")
    tk_wait(tk_root, lambda: not bob.chats.active_peers(), what="bob's chat over")
    bob.chats.open_with(alice.me)
    mine, theirs = window_of(tk_root, alice, bob), window_of(tk_root, bob, alice)
    type_and_send(theirs, "once more")
    tk_wait(tk_root, lambda: ("peer", "once more") in mine.shown(), what="the third text")
    assert said(theirs) == [
        ("peer", "remember the blue door"),
        ("own", "I will"),
        ("own", "back again"),
        ("own", "once more"),
    ]
    assert sum("earlier messages, kept" in text for _, text in theirs.shown()) == 1


def _rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_three_hundred_concurrent_hellos_leave_the_client_responsive(
    make_client, registry, tk_root
):
    alice, bob = make_client("alice"), make_client("bob")
    channels = [RawCall(alice.me).channel for _ in range(10)]
    before = _rss_mb()
    outcomes: list[object] = []
    lock = threading.Lock()

    def flood(n: int) -> None:
        claimed, _, _ = signed_record(f"fl{n:06d}", f"flood{n}", 9)
        call = RawCall(alice.me, timeout=60, channel=channels[n % 10])
        try:
            call.hello(claimed)  # then silence: never a proof
            for _ in call.call:
                pass
            outcome: object = "ended"
        except (grpc.RpcError, StopIteration) as exc:
            outcome = exc.code() if isinstance(exc, grpc.RpcError) else "ended"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=flood, args=(n,), daemon=True) for n in range(300)]
    for thread in threads:
        thread.start()
    try:
        # While the flood is on, a real chat opens and works.
        started = time.monotonic()
        bob.chats.open_with(alice.me)
        theirs = window_of(tk_root, alice, bob, timeout=30)
        type_and_send(window_of(tk_root, bob, alice, timeout=30), "through the flood")
        tk_wait(tk_root, lambda: ("peer", "through the flood") in theirs.shown(), 30, "the text")
        assert time.monotonic() - started < 30
        wait_for(lambda: len(outcomes) == 300, timeout=60, what="every flooding call ended")
    finally:
        for channel in channels:
            channel.close()
    assert all(o != grpc.StatusCode.OK for o in outcomes)
    assert list(windows(tk_root, alice)) == [f"Chat with bob ({bob.me.id})"]
    assert _rss_mb() - before < 200, "memory grew with the flood"


def test_a_caller_whose_key_changed_gets_in_with_a_warning_in_the_window(make_client, tk_root):
    alice, bob = make_client("alice"), make_client("bob")
    alice.known_peers.accept("bob", Identity.generate().public_key_b64)  # an older bob
    bob.chats.open_with(alice.me)
    theirs = window_of(tk_root, alice, bob)
    notices = [text for side, text in theirs.shown() if side == "notice"]
    assert any(
        "bob's key has changed since" in text and "may not be the bob you talked to" in text
        for text in notices
    ), notices


def test_with_private_history_off_nothing_is_kept(make_client, config, tk_root):
    alice = make_client("alice", private_history=False)
    bob = make_client("bob", private_history=False)
    alice.chats.open_with(bob.me)
    mine, theirs = window_of(tk_root, alice, bob), window_of(tk_root, bob, alice)
    type_and_send(mine, "forget this")
    tk_wait(tk_root, lambda: ("peer", "forget this") in theirs.shown(), what="the text")
    alice.close()
    bob.close()
    alice = make_client("alice", private_history=False)
    bob = make_client("bob", private_history=False)
    alice.chats.open_with(bob.me)
    mine = window_of(tk_root, alice, bob)
    assert said(mine) == []
    assert not (config.state_path / "history").exists()


def test_answering_trust_accepts_a_new_key_and_connects(make_client, tmp_path, tk_root):
    alice, bob = make_client("alice"), make_client("bob")
    alice.known_peers.check("bob", bob.me.key)  # they met before
    new_bob = make_client("bob", state_dir=str(tmp_path / "new computer"))
    assert new_bob.me.key != bob.me.key
    printed = " ".join(alice.menu(new_bob.me.id, "").split())
    assert "bob's key has changed since" in printed
    assert windows(tk_root, alice) == {}
    printed = " ".join(alice.menu(new_bob.me.id, "trust").split())
    assert "is in its own window" in printed
    window_of(tk_root, new_bob, alice)
    assert alice.known_peers.known_key("bob") == new_bob.me.key

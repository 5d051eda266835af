"""Fuzzing the private-chat side: generated frames into sessions, and over real gRPC streams.

Most frames go straight into :meth:`Session.read` (the reader thread's loop);
a few hundred go over real streams into a client's server. Afterwards the
client still opens a chat and shows its text, and no window title or text
holds a control character.
"""

from __future__ import annotations

import grpc
from hypothesis import given, settings
from hypothesis import strategies as st

import tests.test_private as private_tests
from chat.history import ChatLog
from chat.private.auth import Prover
from chat.private.session import Session, hello_frame
from chat.proto import private_chat_pb2 as pb
from tests.fuzzbodies import FUZZ, NASTY_TEXTS
from tests.rawcaller import RawCall, signed_record
from tests.support import tk_wait

make_client = private_tests.make_client

u64 = st.integers(min_value=0, max_value=2**64 - 1)
i64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
# Protobuf strings are valid UTF-8: no lone surrogates.
texts = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=200),
    st.sampled_from([t for t in NASTY_TEXTS if t != "\ud800"]),
    st.integers(4000, 20_000).map(lambda n: "\x1b" + "é" * n),
)
peers = st.builds(pb.Peer, id=texts, name=texts, host=texts, port=st.integers(0, 2**32 - 1))
text_msgs = st.builds(pb.Text, seq=u64, id=texts, text=texts, sent_ms=i64)
frames = st.one_of(
    st.builds(lambda t: pb.Frame(text=t), text_msgs),
    st.builds(lambda ts: pb.Frame(batch=pb.Batch(texts=ts)), st.lists(text_msgs, max_size=300)),
    st.builds(lambda s: pb.Frame(ack=pb.Ack(seq=s)), u64),
    st.builds(lambda r: pb.Frame(goodbye=pb.Goodbye(reason=r)), texts),
    st.builds(
        lambda v, p: pb.Frame(hello=pb.Hello(version=v, peer=p)),
        st.integers(0, 2**32 - 1),
        peers,
    ),
    st.builds(lambda n: pb.Frame(challenge=pb.Challenge(nonce=n)), st.binary(max_size=40)),
    st.builds(lambda n: pb.Frame(proof=pb.Proof(signature=n)), st.binary(max_size=80)),
    st.just(pb.Frame()),
)
# The caller's side answers challenges as a real caller does.
_ME, _ME_KEY, _ = signed_record("me", "me", 9)
_CALLEE, _, _CALLEE_TLS = signed_record("callee", "callee", 9)
PROVER = Prover(_ME_KEY, _ME, _CALLEE, _CALLEE_TLS.fingerprint).answer
# Mostly frames that pass the limits, so the conversation logic sees them too.
small_frames = st.builds(
    lambda seq, text, ms: pb.Frame(text=pb.Text(seq=seq, id="x", text=text, sent_ms=ms)),
    st.integers(1, 50),
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=50),
    i64,
)


class Recorder:
    """A session listener that draws into a ChatLog, as a conversation does."""

    def __init__(self) -> None:
        self.log = ChatLog("me")
        self.ended: list[str] = []

    def on_text(self, text: pb.Text) -> None:
        ts = text.sent_ms / 1000 if text.sent_ms > 0 else None
        entry = self.log.message("peer", "peer", text.text, text.id, ts)
        if entry is not None:
            assert entry.clock
            assert "\x1b" not in entry.text

    def on_acked(self, ids: list[str]) -> None:
        pass

    def on_ended(self, how: str, failed: list[str]) -> None:
        self.ended.append(how)


@settings(FUZZ, max_examples=250)
@given(st.lists(frames | small_frames, max_size=12), st.booleans(), texts)
def test_sessions_take_any_frames_and_always_end_cleanly(incoming, expect_hello, own):
    recorder = Recorder()
    session = Session(
        recorder,
        hello_frame(pb.Peer(id="me", name=own)),
        expect_hello=expect_hello,
        prover=PROVER if expect_hello else None,
    )
    session.send("a message of ours")
    session.read(iter(incoming))  # returns, whatever came; never raises
    assert recorder.ended == [recorder.ended[0]] and session.done.is_set()


def assert_safe(window) -> None:
    """The window's title and text hold no control character, and it still draws."""
    title = window.top.title()
    assert "\x1b" not in title and "\u202e" not in title and len(title) <= 80
    window.shown()
    shown = window.history.get("1.0", "end")
    assert "\x1b" not in shown and "\u202e" not in shown


def test_a_client_takes_hostile_streams_and_still_chats(make_client, registry, tk_root):
    alice, bob = make_client("alice"), make_client("bob")
    streams = [0]

    @settings(FUZZ, max_examples=25)
    @given(peers, st.lists(frames | small_frames, min_size=8, max_size=8))
    def stream(peer: pb.Peer, sent: list[pb.Frame]) -> None:
        # Half the streams come from a registered caller that proves who it is,
        # so the hostile frames reach the session; the others never get past
        # the handshake.
        streams[0] += 1
        call = RawCall(alice.me, timeout=10)
        try:
            if streams[0] % 2:
                name = peer.name[:64] or "fuzz"
                record, identity, _ = signed_record(f"fz{streams[0]:06d}", name, 9)
                assert registry._claim(record)
                call.handshake(identity, record)
            else:
                call.send(pb.Frame(hello=pb.Hello(version=1, peer=peer)))
            call.send(*sent)
            call.end()
            for _ in call.call:
                pass
        except grpc.RpcError:
            pass
        finally:
            call.close()
        tk_root.update()
        for window in private_tests.private_windows(alice):  # every window still draws
            assert_safe(window)

    stream()
    assert streams[0] == 25
    bob.chats.open_with(alice.me)
    theirs = private_tests.window_of(tk_root, alice, bob, timeout=15)
    private_tests.type_and_send(private_tests.window_of(tk_root, bob, alice), "still chatting")
    tk_wait(tk_root, lambda: ("peer", "still chatting") in theirs.shown(), what="the text")
    for window in private_tests.private_windows(alice):
        assert_safe(window)

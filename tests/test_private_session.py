"""The private chat session rules, without a display or a network: frames in, frames out."""

from __future__ import annotations

from chat.private.session import Session, check_hello, hello_frame
from chat.proto import private_chat_pb2 as pb


class Recorder:
    """Session events that remember what they were told."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.acked: list[str] = []
        self.ended: list[tuple[str, list[str]]] = []

    def on_text(self, text: pb.Text) -> None:
        self.texts.append(text.text)

    def on_acked(self, ids: list[str]) -> None:
        self.acked += ids

    def on_ended(self, how: str, failed: list[str]) -> None:
        self.ended.append((how, failed))


ME = pb.Peer(id="m2m2m2m2", name="me", host="127.0.0.1", port=1)


def text(seq: int, body: str) -> pb.Frame:
    return pb.Frame(text=pb.Text(seq=seq, id=f"id{seq}", text=body))


def sent_frames(session: Session) -> list[pb.Frame]:
    """What the session would put on the stream, up to its end."""
    return list(session.frames())


def test_waiting_texts_leave_as_one_batch_after_the_hello():
    session = Session(Recorder(), hello_frame(ME))
    ids = [session.send(f"m{n}") for n in range(5)]
    session.close()
    frames = sent_frames(session)
    assert [f.WhichOneof("body") for f in frames] == ["hello", "batch", "goodbye"]
    batch = frames[1].batch.texts
    assert [t.text for t in batch] == [f"m{n}" for n in range(5)]
    assert [t.seq for t in batch] == [1, 2, 3, 4, 5]
    assert [t.id for t in batch] == ids
    assert session.send("too late") is None


def test_received_texts_in_order_repeats_dropped_and_one_ack_for_many():
    listener = Recorder()
    session = Session(listener, hello_frame(ME))
    batch = pb.Frame(batch=pb.Batch(texts=[text(2, "b").text, text(3, "c").text]))
    session.read(iter([text(1, "a"), batch, text(3, "c again"), text(4, "d")]))
    assert listener.texts == ["a", "b", "c", "d"]
    frames = sent_frames(session)
    acks = [f.ack.seq for f in frames if f.HasField("ack")]
    assert acks[-1] == 4
    assert len(acks) <= 4


def test_unacknowledged_messages_fail_when_the_stream_breaks():
    listener = Recorder()
    session = Session(listener, hello_frame(ME))
    first, second, third = (session.send(t) for t in ("one", "two", "three"))
    session.read(iter([pb.Frame(ack=pb.Ack(seq=1))]))  # then the stream just ends
    assert listener.acked == [first]
    assert listener.ended == [("lost", [second, third])]
    assert not session.live


def test_goodbye_ends_the_session_and_later_texts_are_not_taken():
    listener = Recorder()
    session = Session(listener, hello_frame(ME))
    mine = session.send("unanswered")
    goodbye = pb.Frame(goodbye=pb.Goodbye(reason="closed"))
    session.read(iter([text(1, "bye"), goodbye, text(2, "after goodbye")]))
    assert listener.texts == ["bye"]
    assert listener.ended == [("goodbye", [mine])]
    assert [f.WhichOneof("body") for f in sent_frames(session)] == ["hello", "text", "ack"]


def test_caller_waits_for_a_valid_hello_first():
    listener = Recorder()
    session = Session(listener, hello_frame(ME), expect_hello=True)
    session.read(iter([text(1, "no hello")]))
    assert session.peer_hello is None
    assert "bad hello" in (session.error or "")
    assert listener.texts == []
    assert session.hello_received.is_set()  # the caller stops waiting


def test_hello_checks():
    peer = pb.Peer(id="p2p2p2p2", name="peer")
    assert check_hello(hello_frame(peer)) is None
    assert check_hello(None) is not None
    assert check_hello(text(1, "x")) == "the first frame must be a Hello"
    assert "version" in check_hello(pb.Frame(hello=pb.Hello(version=2, peer=peer)))
    assert "peer.id" in check_hello(hello_frame(pb.Peer(name="nameless id")))

"""One private chat over one gRPC stream: the conversation rules, with no tkinter.

A :class:`Session` is the same on both ends of the stream. Frames to send go
into an outbox that the stream consumes through :meth:`Session.frames` (the
caller's request iterator, or the callee's response generator); frames that
arrive are handed to :meth:`Session.read`, which runs on a thread of its own.

Rules (docs/protocol.md, "Private chats"):

- Each side's Text frames carry ``seq`` 1, 2, 3, ... The receiver answers with
  a cumulative Ack (the highest ``seq`` it has taken); acks are coalesced, so
  a burst costs far fewer acks than texts.
- Texts that are waiting together go out as one Batch frame (a burst of 1,000
  messages needs only a handful of frames); a lone text goes as a Text frame.
- An own message counts as delivered once acked. When the stream ends, every
  own message not acked yet is reported as failed: nothing is dropped silently.
- Goodbye says the sender is leaving; a stream that ends without one means the
  peer died (or the network broke).
- A side with nothing to send sends an Ack (of what it has taken so far) every
  ``heartbeat`` seconds; a peer not heard from for three of those is frozen or
  cut off, and the stream is cancelled: transport keepalive alone cannot end a
  call whose peer's kernel still answers on TCP.
- What arrives is checked against the limits (``max_text_bytes`` per Text,
  :data:`BATCH_TEXTS` per Batch); a peer that breaks them has its stream closed.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Literal, Protocol

import grpc

from chat.private.refusal import code_of as refusal_code
from chat.proto import private_chat_pb2 as pb
from chat.transport.boundary import guarded
from chat.transport.rpc import BATCH_TEXTS
from chat.transport.wire import new_message_id

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1

#: How a session ended: we closed it, the peer said goodbye, or the stream broke.
Ending = Literal["local", "goodbye", "lost"]

_ACK = object()  # outbox marker: send an Ack for the latest received seq
#: About the most characters put into one Batch frame (at most BATCH_TEXTS texts).
BATCH_CHARS = 256 * 1024
#: Longest peer.id, peer.name and peer.host a Hello may carry.
MAX_ID, MAX_NAME, MAX_HOST = 64, 64, 255
#: A peer silent for this many heartbeats is taken for frozen or gone.
SILENT_BEATS = 3
_END = object()  # outbox marker: end our half of the stream


class Listener(Protocol):
    """What a session reports; called on the session's reader thread."""

    def on_text(self, text: pb.Text) -> None: ...

    def on_acked(self, ids: list[str]) -> None: ...

    def on_ended(self, how: Ending, failed: list[str]) -> None: ...


def hello_frame(peer: pb.Peer) -> pb.Frame:
    return pb.Frame(hello=pb.Hello(version=PROTOCOL_VERSION, peer=peer))


def check_hello(frame: pb.Frame | None) -> str | None:
    """Why ``frame`` is not an acceptable first frame, or None when it is."""
    if frame is None:
        return "the stream ended before a Hello"
    if frame.WhichOneof("body") != "hello":
        return "the first frame must be a Hello"
    hello = frame.hello
    if hello.version != PROTOCOL_VERSION:
        return f"protocol version {hello.version} is not supported (this client speaks 1)"
    if not hello.peer.id or not hello.peer.name:
        return "the Hello must name the sender (peer.id and peer.name)"
    peer = hello.peer
    if len(peer.id) > MAX_ID or len(peer.name) > MAX_NAME or len(peer.host) > MAX_HOST:
        return (
            f"peer.id, peer.name and peer.host may have at most {MAX_ID}, {MAX_NAME} "
            f"and {MAX_HOST} characters"
        )
    return None


class Session:
    """The state of one chat stream, shared by the reader, the writer and the sender.

    Args:
        listener: told about texts, acks and the end (on the reader thread).
        hello: our Hello, sent first.
        expect_hello: True on the caller's side, where the first frame that
            arrives must be the callee's Hello (after its Challenge, when
            ``prover`` is given); the callee checks the caller's Hello and
            Proof before it creates the session.
        prover: on the caller's side, makes the Proof frame that answers the
            callee's Challenge (``chat/private/auth.py``).
    """

    def __init__(
        self,
        listener: Listener,
        hello: pb.Frame,
        expect_hello: bool = False,
        max_text_bytes: int = 4096,
        heartbeat: float = 1.0,
        prover: Callable[[pb.Challenge], pb.Frame] | None = None,
    ) -> None:
        self.listener = listener
        #: Answers the callee's Challenge (caller side); used once.
        self.prover = prover
        self.max_text_bytes = max_text_bytes
        self.heartbeat = heartbeat
        #: Ends the call at once (set by whoever opened or accepted the stream).
        self.cancel: Callable[[], None] | None = None
        #: Why the stream was closed on the peer, when it broke a limit (a sentence).
        self.violation: str | None = None
        self._last_heard = time.monotonic()
        self.peer_hello: pb.Hello | None = None
        self._expect_hello = expect_hello
        self._outbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._outbox.put(hello)
        self._lock = threading.Lock()
        self._next_seq = 1
        self._unacked: dict[int, str] = {}  # seq -> message ID, in send order
        self._received_seq = 0
        self._ack_queued = False
        self._closing = False
        self._goodbye_seen = False
        self._ended = False
        self.error: str | None = None  # why the stream broke, when it did
        self.refusal: str | None = None  # the callee's refusal code, when it refused
        self.hello_received = threading.Event()
        self.done = threading.Event()

    @property
    def live(self) -> bool:
        """True until we close it or the stream ends."""
        return not (self._closing or self._ended)

    # -- sending (any thread) ------------------------------------------------

    def send(self, text: str) -> str | None:
        """Queue a Text; returns its message ID, or None when the chat is over."""
        with self._lock:
            if self._closing or self._ended:
                return None
            seq = self._next_seq
            self._next_seq += 1
            msg_id = new_message_id()
            self._unacked[seq] = msg_id
            sent_ms = time.time_ns() // 10**6
            self._outbox.put(pb.Text(seq=seq, id=msg_id, text=text, sent_ms=sent_ms))
        return msg_id

    def close(self, reason: str = "closed") -> None:
        """Say goodbye and end our half of the stream (idempotent)."""
        with self._lock:
            if self._closing or self._ended:
                return
            self._closing = True
            self._outbox.put(pb.Frame(goodbye=pb.Goodbye(reason=reason)))
            self._outbox.put(_END)

    # -- the stream ----------------------------------------------------------

    def frames(self) -> Iterator[pb.Frame]:
        """The frames to send, in order, until the session ends."""
        held: object = None
        while True:
            item, held = (held, None) if held is not None else (self._next_item(), None)
            if item is _END:
                return
            if item is None and self._expect_hello and self.peer_hello is None:
                continue  # no heartbeat inside the handshake: the callee awaits a Proof
            if item is None:  # nothing to send for a heartbeat
                if time.monotonic() - self._last_heard > SILENT_BEATS * self.heartbeat:
                    self._peer_silent()
                    return
                with self._lock:
                    seq = self._received_seq
                yield pb.Frame(ack=pb.Ack(seq=seq))
                continue
            if item is _ACK:
                with self._lock:
                    self._ack_queued = False
                    seq = self._received_seq
                yield pb.Frame(ack=pb.Ack(seq=seq))
            elif isinstance(item, pb.Text):
                texts = [item]
                chars = len(item.text)
                while len(texts) < BATCH_TEXTS and chars < BATCH_CHARS:
                    try:
                        more = self._outbox.get_nowait()
                    except queue.Empty:
                        break
                    if not isinstance(more, pb.Text):
                        held = more
                        break
                    texts.append(more)
                    chars += len(more.text)
                if len(texts) == 1:
                    yield pb.Frame(text=item)
                else:
                    yield pb.Frame(batch=pb.Batch(texts=texts))
            else:
                yield item  # type: ignore[misc]

    def _next_item(self) -> object:
        """The next thing in the outbox, or None when a heartbeat passed without one."""
        try:
            return self._outbox.get(timeout=self.heartbeat)
        except queue.Empty:
            return None

    def _peer_silent(self) -> None:
        silent = time.monotonic() - self._last_heard
        log.warning("the peer has sent nothing for %.1f s; ending the chat", silent)
        self.error = f"nothing heard for {silent:.0f} s"
        self._cancel()

    def _cancel(self) -> None:
        if self.cancel is not None:
            guarded("cancelling a chat stream", self.cancel)

    def read(self, incoming: Iterable[pb.Frame]) -> None:
        """Handle every frame that arrives until the stream ends (blocking).

        One frame whose handling fails is logged and dropped; a frame that
        breaks the limits ends the stream.
        """
        try:
            for frame in incoming:
                self._last_heard = time.monotonic()
                problem = self._check(frame)
                if problem is not None:
                    self.violation = self.error = problem
                    log.warning("closing a chat stream: the peer %s", problem)
                    self._cancel()
                    break
                if guarded("chat frame", self._handle, frame, body=frame) is False:
                    break
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            details = exc.details() if hasattr(exc, "details") else str(exc)
            self.error = details or str(code)
            self.refusal = refusal_code(exc)
            log.info("chat stream broke: %s %s", code, details)
        except Exception:
            self.error = "internal error"
            log.exception("reading the chat stream failed")
        finally:
            self.stream_done()

    def _check(self, frame: pb.Frame) -> str | None:
        """How ``frame`` breaks the limits (a sentence about the peer), or None."""
        kind = frame.WhichOneof("body")
        if kind == "batch":
            texts = frame.batch.texts
            if len(texts) > BATCH_TEXTS:
                return f"sent {len(texts)} messages in one batch (at most {BATCH_TEXTS})"
        elif kind == "text":
            texts = [frame.text]
        else:
            return None
        for text in texts:
            size = len(text.text.encode("utf-8"))
            if size > self.max_text_bytes:
                return f"sent a message of {size} bytes (at most {self.max_text_bytes})"
        return None

    def _handle(self, frame: pb.Frame) -> bool:
        kind = frame.WhichOneof("body")
        if self._expect_hello and self.peer_hello is None:
            if kind == "challenge" and self.prover is not None:
                prover, self.prover = self.prover, None  # one answer per stream
                try:
                    self._outbox.put(prover(frame.challenge))
                except ValueError as exc:
                    self.error = f"the peer sent a bad challenge: {exc}"
                    log.warning("%s", self.error)
                    return False
                return True
            problem = check_hello(frame)
            if problem is not None:
                self.error = f"the peer answered with a bad hello: {problem}"
                log.warning("%s", self.error)
                return False
            self.peer_hello = frame.hello
            self.hello_received.set()
            return True
        if kind == "text":
            self._on_text(frame.text)
        elif kind == "batch":
            for text in frame.batch.texts:
                self._on_text(text)
        elif kind == "ack":
            self._on_ack(frame.ack.seq)
        elif kind == "goodbye":
            log.info("peer said goodbye (%s)", frame.goodbye.reason[:100])
            with self._lock:
                self._goodbye_seen = True
                # Our side ends too: the peer reads no more.
                self._closing = True
                self._outbox.put(_END)
        elif kind == "hello":
            log.warning("ignoring a second hello on a chat stream")
        else:
            log.warning("ignoring an empty or unknown frame")
        return True

    def _on_text(self, text: pb.Text) -> None:
        with self._lock:
            if self._closing or self._goodbye_seen:
                return  # not shown, so not acked: the sender marks it not delivered
            if text.seq <= self._received_seq:
                log.info("dropping repeated text seq %d", text.seq)
                return
            if text.seq != self._received_seq + 1:
                log.warning("text seq %d after %d: some were skipped", text.seq, self._received_seq)
        self.listener.on_text(text)
        with self._lock:
            self._received_seq = text.seq
            if not self._ack_queued and not self._closing:
                self._ack_queued = True
                self._outbox.put(_ACK)

    def _on_ack(self, seq: int) -> None:
        with self._lock:
            acked = [s for s in self._unacked if s <= seq]
            ids = [self._unacked.pop(s) for s in acked]
        if ids:
            self.listener.on_acked(ids)

    def stream_done(self) -> None:
        """The stream is over (also the callee's ``context.add_callback``); idempotent."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
            how: Ending = (
                "goodbye" if self._goodbye_seen else ("local" if self._closing else "lost")
            )
            failed = list(self._unacked.values())
            self._unacked.clear()
            self._outbox.put(_END)
        self.hello_received.set()  # wake a caller still waiting for the hello
        try:
            self.listener.on_ended(how, failed)
        finally:
            self.done.set()

"""The ``PrivateChat`` gRPC service every client hosts (the callee's side of a chat)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

import grpc

from chat import textsafe
from chat.private.auth import Gate
from chat.private.refusal import BUSY, UNAVAILABLE, Refusal
from chat.private.refusal import KEY as REFUSAL_KEY
from chat.private.session import check_hello
from chat.proto import private_chat_pb2 as pb
from chat.proto import private_chat_pb2_grpc as pb_grpc
from chat.transport.admission import Admission, remote_address
from chat.transport.boundary import guarded
from chat.trust.handshake import HandshakeRefused
from nameserver.registry import ClientRecord

if TYPE_CHECKING:
    from chat.private.manager import PrivateChats

log = logging.getLogger(__name__)


class PrivateChat(pb_grpc.PrivateChatServicer):
    """Accepts chats that other clients open with this one, once they proved who they are.

    Every call is counted by an :class:`~chat.transport.admission.Admission` before
    anything blocks on it: a caller that has not finished the handshake
    within a second is cut off, and the waiting and chatting streams per
    address and in all are capped (see that module for why this keeps the server available).
    """

    def __init__(
        self, chats: PrivateChats, admission: Admission | None = None, gate: Gate | None = None
    ) -> None:
        self.chats = chats
        self.admission = admission or Admission()
        self.gate = gate or Gate(chats.client.registry, chats.me)

    def Chat(  # the .proto's method name
        self, request_iterator: Iterator[pb.Frame], context: grpc.ServicerContext
    ) -> Iterator[pb.Frame]:
        address = remote_address(context.peer())
        token = self.admission.waiting(address, context.cancel)
        # The whole handshake (Hello, Challenge, Proof, the check) must be over
        # before the hello deadline; until then the stream counts as waiting.
        try:
            record = yield from self._handshake(request_iterator, context)
        finally:
            in_time = self.admission.said_hello(token)
        if record is None or not in_time:
            return  # the caller left, or was cut off meanwhile (the call is cancelled)
        refusal = self.admission.open_chat(address)
        if refusal is not None:
            log.warning("refused a chat from %s: %s", context.peer(), refusal)
            context.set_trailing_metadata(((REFUSAL_KEY, BUSY),))
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, refusal)
        try:
            yield from self._chat(record, request_iterator, context)
        finally:
            self.admission.close_chat(address)

    def _handshake(
        self, request_iterator: Iterator[pb.Frame], context: grpc.ServicerContext
    ) -> Generator[pb.Frame, None, ClientRecord | None]:
        """Hello, Challenge, Proof: the caller's record once it proved its claim, else None.

        A claim that fails is refused with UNAUTHENTICATED and only logged: the
        user sees nothing of it.
        """
        try:
            first = next(request_iterator, None)
        except grpc.RpcError:
            log.info("a caller left or stayed silent before saying hello (%s)", context.peer())
            return None
        problem = check_hello(first)
        if problem is not None:
            log.warning("refused a chat stream from %s: %s", context.peer(), problem)
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        assert first is not None
        nonce, challenge = self.gate.challenge()
        yield challenge
        try:
            answer = next(request_iterator, None)
        except grpc.RpcError:
            self.gate.book.redeem(nonce)
            log.info("a caller left or stayed silent before its proof (%s)", context.peer())
            return None
        try:
            return self.gate.check(first.hello, nonce, answer)
        except HandshakeRefused as exc:
            log.warning(
                "refused a chat from %s claiming to be %r: %s",
                context.peer(),
                textsafe.for_terminal(first.hello.peer.id, 64),
                exc,
            )
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "the caller did not prove who it is")
        return None  # not reached: abort raises

    def _chat(
        self,
        record: ClientRecord,
        request_iterator: Iterator[pb.Frame],
        context: grpc.ServicerContext,
    ) -> Iterator[pb.Frame]:
        accepted = guarded("accepting a chat", self.chats.accept_record, record)
        session, refusal = accepted or (None, None)
        if session is None:
            refusal = refusal or Refusal(UNAVAILABLE, "the chat could not be opened here")
            log.info("refused a chat from %s: %s", record.id, refusal.sentence)
            context.set_trailing_metadata(((REFUSAL_KEY, refusal.code),))
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, refusal.sentence)
        assert session is not None
        session.cancel = context.cancel
        # A caller that vanishes ends the RPC; this wakes the response generator.
        if not context.add_callback(session.stream_done):
            session.stream_done()
            return
        threading.Thread(
            target=session.read,
            args=(request_iterator,),
            name=f"chat-in-{record.id[:16]}",
            daemon=True,
        ).start()
        yield from session.frames()

"""The ``PrivateChat`` gRPC service every client hosts (the callee's side of a chat)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import grpc

from chat.admission import Admission, remote_address
from chat.boundary import guarded
from chat.private.session import check_hello
from chat.proto import private_chat_pb2 as pb
from chat.proto import private_chat_pb2_grpc as pb_grpc

if TYPE_CHECKING:
    from chat.private.manager import PrivateChats

log = logging.getLogger(__name__)


class PrivateChat(pb_grpc.PrivateChatServicer):
    """Accepts chats that other clients open with this one.

    Every call is counted by an :class:`~chat.admission.Admission` before
    anything blocks on it: a caller that does not say hello within a second
    is cut off, and the waiting and chatting streams per address and in all
    are capped (see that module for why this keeps the server available).
    """

    def __init__(self, chats: PrivateChats, admission: Admission | None = None) -> None:
        self.chats = chats
        self.admission = admission or Admission()

    def Chat(  # the .proto's method name
        self, request_iterator: Iterator[pb.Frame], context: grpc.ServicerContext
    ) -> Iterator[pb.Frame]:
        address = remote_address(context.peer())
        token = self.admission.waiting(address, context.cancel)
        try:
            first = next(request_iterator, None)
        except grpc.RpcError:
            log.info("a caller left or stayed silent before saying hello (%s)", context.peer())
            return
        finally:
            in_time = self.admission.said_hello(token)
        if not in_time:
            return  # cut off meanwhile; the call is cancelled
        problem = check_hello(first)
        if problem is not None:
            log.warning("refused a chat stream from %s: %s", context.peer(), problem)
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        assert first is not None
        refusal = self.admission.open_chat(address)
        if refusal is not None:
            log.warning("refused a chat from %s: %s", context.peer(), refusal)
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, refusal)
        try:
            yield from self._chat(first, request_iterator, context)
        finally:
            self.admission.close_chat(address)

    def _chat(
        self, first: pb.Frame, request_iterator: Iterator[pb.Frame], context: grpc.ServicerContext
    ) -> Iterator[pb.Frame]:
        accepted = guarded("accepting a chat", self.chats.accept, first.hello.peer, body=first)
        session, refusal = accepted or (None, "the chat could not be opened here")
        if session is None:
            log.info("refused a chat from %s: %s", first.hello.peer.id, refusal)
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, refusal or "refused")
        assert session is not None
        session.cancel = context.cancel
        # A caller that vanishes ends the RPC; this wakes the response generator.
        if not context.add_callback(session.stream_done):
            session.stream_done()
            return
        threading.Thread(
            target=session.read,
            args=(request_iterator,),
            name=f"chat-in-{first.hello.peer.id[:16]}",
            daemon=True,
        ).start()
        yield from session.frames()

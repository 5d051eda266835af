"""The ``PrivateChat`` gRPC service every client hosts (the callee's side of a chat)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import grpc

from chat.private.session import check_hello
from chat.proto import private_chat_pb2 as pb
from chat.proto import private_chat_pb2_grpc as pb_grpc

if TYPE_CHECKING:
    from chat.private.manager import PrivateChats

log = logging.getLogger(__name__)


class PrivateChat(pb_grpc.PrivateChatServicer):
    """Accepts chats that other clients open with this one."""

    def __init__(self, chats: PrivateChats) -> None:
        self.chats = chats

    def Chat(  # the .proto's method name
        self, request_iterator: Iterator[pb.Frame], context: grpc.ServicerContext
    ) -> Iterator[pb.Frame]:
        # A caller that connects and says nothing must not hold a thread for good.
        patience = threading.Timer(2 * self.chats.config.connect_timeout, context.cancel)
        patience.daemon = True
        patience.start()
        try:
            first = next(request_iterator, None)
        except grpc.RpcError:
            log.info("a caller left or stayed silent before saying hello (%s)", context.peer())
            return
        finally:
            patience.cancel()
        problem = check_hello(first)
        if problem is not None:
            log.warning("refused a chat stream from %s: %s", context.peer(), problem)
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        assert first is not None
        session, refusal = self.chats.accept(first.hello.peer)
        if session is None:
            log.info("refused a chat from %s: %s", first.hello.peer.id, refusal)
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, refusal or "refused")
        assert session is not None
        # A caller that vanishes ends the RPC; this wakes the response generator.
        if not context.add_callback(session.stream_done):
            session.stream_done()
            return
        threading.Thread(
            target=session.read,
            args=(request_iterator,),
            name=f"chat-in-{first.hello.peer.id}",
            daemon=True,
        ).start()
        yield from session.frames()

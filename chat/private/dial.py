"""Calling a peer, and calls that cross (menu thread and gRPC threads).

:func:`dial` opens the caller's side of one chat: the pinned TLS channel, the
stream, the handshake, and the checks that the callee is who the name server
says. :class:`Dials` keeps the calls under way, so that when two clients call
each other at the same moment the call from the lower client ID goes on and
the other is refused with the code ``crossing`` (:mod:`chat.private.refusal`);
the side whose call lost adopts the incoming one, so both end up in the one
chat (docs/protocol.md, "Calls that cross").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import grpc

from chat.errors import UserError
from chat.private import auth
from chat.private.conversation import Conversation
from chat.private.refusal import CROSSING, Refusal
from chat.private.session import Session
from chat.proto import private_chat_pb2_grpc as pb_grpc
from chat.transport.rpc import keepalive_options, message_options

if TYPE_CHECKING:
    from chat.config import Config
    from chat.trust.identity import Identity
    from chat.trust.known_peers import KnownPeers
    from nameserver.registry import ClientRecord

log = logging.getLogger(__name__)

#: Why a call is refused when it crosses a call of ours that goes on instead.
CROSSING_SENTENCE = "both sides called at once; the call from the lower client ID goes on"


class Dial:
    """A call of ours under way; an incoming call from the same peer may take its place."""

    def __init__(self) -> None:
        self.adopted = threading.Event()
        self.conversation: Conversation | None = None


class Dials:
    """The calls of ours under way, by peer ID. The caller holds the feature's lock."""

    def __init__(self, my_id: str) -> None:
        self.my_id = my_id
        self._under_way: dict[str, Dial] = {}

    def begin(self, peer_id: str) -> Dial:
        dial = self._under_way[peer_id] = Dial()
        return dial

    def end(self, peer_id: str) -> None:
        self._under_way.pop(peer_id, None)

    def crossing(self, peer_id: str) -> tuple[Dial | None, Refusal | None]:
        """For an incoming call from ``peer_id``: our call it replaces, or why it is refused."""
        dial = self._under_way.get(peer_id)
        if dial is not None and self.my_id < peer_id:
            return None, Refusal(CROSSING, CROSSING_SENTENCE)  # our call to them goes on
        return dial, None


def crossed(conversation: Conversation) -> bool:
    """True when our call was refused because the peer's call to us goes on instead."""
    return conversation.session is not None and conversation.session.refusal == CROSSING


def dial(
    conversation: Conversation,
    record: ClientRecord,
    config: Config,
    session: Callable[[Conversation], Session],
    identity: Identity | None,
    known_peers: KnownPeers | None,
    keep: Callable[[], None] = lambda: None,
) -> str | None:
    """Open our side of a chat with ``record`` (menu thread).

    ``keep`` runs once the callee's key is checked, before the call (the
    earlier messages go into the log first, above anything new).

    Returns:
        A notice about the callee's key (a first meeting) for the chat's log, or None.

    Raises:
        UserError: the peer could not be reached or did not take the chat.
    """
    address = record.address
    unreachable = f"Could not reach {record.name} at {address} (they may have just left)."
    timeout = config.connect_timeout
    cert_fp, note = auth.check_callee(known_peers, record)
    keep()
    channel = auth.pinned_channel(
        record,
        keepalive_options(config.keepalive_seconds) + message_options(config.max_message_bytes),
    )
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        channel.close()
        log.info("no answer from %s at %s within %.1f s", record.id, address, timeout)
        raise UserError(unreachable) from None
    chat = session(conversation)
    chat.prover = auth.Prover(identity, conversation.chats.me, record, cert_fp).answer
    conversation.session = chat
    conversation.grpc_channel = channel
    started = time.monotonic()
    call = pb_grpc.PrivateChatStub(channel).Chat(chat.frames())
    chat.cancel = call.cancel
    threading.Thread(
        target=chat.read, args=(call,), name=f"chat-out-{record.id}", daemon=True
    ).start()
    if not chat.hello_received.wait(timeout) or chat.peer_hello is None:
        call.cancel()
        if chat.error is None:
            raise UserError(unreachable)
        raise UserError(f"{record.name} did not take the chat ({chat.error}).")
    if chat.peer_hello.peer.id != record.id:
        # Another client now listens where the registration points.
        log.info("%s answered at %s instead of %s", chat.peer_hello.peer.id, address, record.id)
        chat.close("wrong peer")
        call.cancel()
        raise UserError(unreachable)
    log.info(
        "chat with %s (%s) at %s open in %.1f ms",
        record.name,
        record.id,
        address,
        (time.monotonic() - started) * 1000,
    )
    return note

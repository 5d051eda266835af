"""Why a callee refused a private chat, in words for people and a code for programs.

A refusal after the handshake ends the call with ``FAILED_PRECONDITION`` (or
``RESOURCE_EXHAUSTED`` for :data:`BUSY`); the status details carry a sentence,
and the trailing metadata key :data:`KEY` carries one of the codes below, so
a client in any language can act on it without parsing English
(docs/protocol.md, "Refusals after the Proof").
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

#: The trailing-metadata key of a refusal's code (gRPC keys are lowercase ASCII).
KEY = "distchat-refusal"
#: The calls crossed and the caller's ID is the higher one: its call gives way.
CROSSING = "crossing"
#: The hello carries the callee's own client ID.
SELF = "self"
#: The callee already has a chat open with this caller.
ALREADY_OPEN = "already-open"
#: The callee's limits on open chats are reached (``RESOURCE_EXHAUSTED``).
BUSY = "busy"
#: The callee could not open the chat (an error on its side).
UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Refusal:
    """A refused chat: ``code`` for programs, ``sentence`` for the log and people."""

    code: str
    sentence: str

    def __str__(self) -> str:
        return self.sentence


def code_of(error: grpc.RpcError) -> str | None:
    """The refusal code a callee attached to ``error``, if any."""
    metadata = getattr(error, "trailing_metadata", None)
    for key, value in (metadata() if callable(metadata) else None) or ():
        if key == KEY:
            return value if isinstance(value, str) else None
    return None

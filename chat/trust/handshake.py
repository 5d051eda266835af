"""Authentication of a private-chat caller, as pure functions and one small book.

Over a TLS connection pinned to the callee's certificate (``chat/trust/tls.py``)
the callee knows its client ID and its certificate, and finds the caller's
certificate and key in the caller's name-server record
(``chat/private/auth.py``). The caller claims a client ID. To prove it, the caller signs a
:func:`statement` that binds

- the context :data:`CONTEXT` (so the signature means nothing elsewhere),
- the caller's and the callee's client IDs,
- a fresh random challenge from the callee (:meth:`ChallengeBook.issue`),
- the callee's and the caller's certificate fingerprints: the callee's ends
  the TLS session only its holder can end, so a proof cannot be relayed.

The callee rebuilds the statement from its own view, never from what the
caller says it signed, and checks the signature against the caller's public
key from the name server (:func:`check_proof`). Each challenge is good once
and for :data:`CHALLENGE_LIFETIME` seconds, so a recorded handshake replayed
later fails. docs/protocol.md ("Trust") gives the byte layout.
"""

from __future__ import annotations

import logging
import os
import re
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from chat.trust.identity import Identity, verify

log = logging.getLogger(__name__)

#: First bytes of every signed statement.
CONTEXT = b"distchat private chat v1"
CHALLENGE_BYTES = 32
#: Seconds a challenge can be answered after it was issued.
CHALLENGE_LIFETIME = 10.0
#: Most challenges waiting for an answer; beyond it the oldest are forgotten.
MAX_OUTSTANDING = 4096
MAX_ID_CHARS = 64
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


class HandshakeRefused(Exception):
    """The caller did not prove its claim; the message says why (for the log)."""


def _field(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _check_id(name: str, value: object) -> bytes:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_CHARS:
        raise ValueError(f"{name} must be 1 to {MAX_ID_CHARS} characters")
    return value.encode("utf-8")


def _check_fingerprint(name: str, value: object) -> bytes:
    if not isinstance(value, str) or not _FINGERPRINT.fullmatch(value):
        raise ValueError(f"{name} must be 64 lowercase hex digits")
    return value.encode("ascii")


def statement(
    caller_id: str,
    callee_id: str,
    challenge: bytes,
    callee_cert_fingerprint: str,
    caller_cert_fingerprint: str,
) -> bytes:
    """The bytes the caller signs.

    :data:`CONTEXT`, then each of the five values as a 4-byte big-endian
    length followed by its bytes: the caller ID and callee ID (UTF-8), the
    32-byte challenge, and the two certificate fingerprints (64 lowercase hex
    digits each, ASCII), callee's first.

    Raises:
        ValueError: a value of the wrong type, length or form.
    """
    if not isinstance(challenge, bytes) or len(challenge) != CHALLENGE_BYTES:
        raise ValueError(f"challenge must be {CHALLENGE_BYTES} bytes")
    parts = [
        _check_id("caller_id", caller_id),
        _check_id("callee_id", callee_id),
        challenge,
        _check_fingerprint("callee_cert_fingerprint", callee_cert_fingerprint),
        _check_fingerprint("caller_cert_fingerprint", caller_cert_fingerprint),
    ]
    return CONTEXT + b"".join(_field(part) for part in parts)


def sign_proof(
    identity: Identity,
    caller_id: str,
    callee_id: str,
    challenge: bytes,
    callee_cert_fingerprint: str,
    caller_cert_fingerprint: str,
) -> bytes:
    """The caller's 64-byte answer to ``challenge``: its signature of the statement."""
    return identity.sign(
        statement(caller_id, callee_id, challenge, callee_cert_fingerprint, caller_cert_fingerprint)
    )


class ChallengeBook:
    """The callee's outstanding challenges: each good once, for a short time.

    Thread-safe (every incoming stream runs on a gRPC thread). Memory is
    bounded: expired challenges are dropped on every call, and at most
    :data:`MAX_OUTSTANDING` are kept (a caller flooding hellos only pushes
    out its own oldest challenges).

    Args:
        lifetime: seconds a challenge can be answered.
        clock: a monotonic clock in seconds (tests pass their own).
        limit: most challenges kept waiting.
    """

    def __init__(
        self,
        lifetime: float = CHALLENGE_LIFETIME,
        clock: Callable[[], float] = time.monotonic,
        limit: int = MAX_OUTSTANDING,
    ) -> None:
        self._lifetime = lifetime
        self._clock = clock
        self._limit = limit
        self._lock = threading.Lock()
        self._issued: OrderedDict[bytes, float] = OrderedDict()  # challenge -> issued at

    def _prune(self, now: float) -> None:
        # Issue times only grow, so the expired ones are at the front.
        while self._issued:
            first, issued = next(iter(self._issued.items()))
            if now - issued <= self._lifetime and len(self._issued) <= self._limit:
                break
            del self._issued[first]

    def issue(self) -> bytes:
        """A fresh random challenge of :data:`CHALLENGE_BYTES` bytes."""
        challenge = os.urandom(CHALLENGE_BYTES)
        with self._lock:
            now = self._clock()
            self._issued[challenge] = now
            self._prune(now)
        return challenge

    def redeem(self, challenge: object) -> bool:
        """Use up ``challenge``: True once if it was issued here and has not expired."""
        if not isinstance(challenge, bytes):
            return False
        with self._lock:
            now = self._clock()
            issued = self._issued.pop(challenge, None)
            self._prune(now)
        return issued is not None and now - issued <= self._lifetime

    def __len__(self) -> int:
        with self._lock:
            return len(self._issued)


def check_proof(
    book: ChallengeBook,
    *,
    caller_id: str,
    callee_id: str,
    challenge: bytes,
    callee_cert_fingerprint: str,
    caller_cert_fingerprint: str | None,
    caller_public_key_b64: str | None,
    signature: object,
) -> None:
    """Check a caller's proof; return if it holds, else raise :class:`HandshakeRefused`.

    Every value except ``signature`` comes from the callee's own view: the
    caller ID the hello claimed, the callee's own ID and certificate, the
    challenge it issued on this stream, the certificate the caller presented
    (:func:`chat.trust.tls.peer_fingerprint`), and the caller's public key from the
    name server. The challenge is used up whatever the outcome. Never raises
    anything else, whatever the caller sent.
    """
    if not book.redeem(challenge):
        raise HandshakeRefused("the challenge was not issued here, was used already or expired")
    if caller_cert_fingerprint is None:
        raise HandshakeRefused("the caller presented no certificate")
    if caller_public_key_b64 is None:
        raise HandshakeRefused(f"no public key is known for {caller_id!r}")
    try:
        data = statement(
            caller_id, callee_id, challenge, callee_cert_fingerprint, caller_cert_fingerprint
        )
    except ValueError as exc:
        raise HandshakeRefused(f"the claim cannot be checked: {exc}") from None
    if not verify(caller_public_key_b64, signature, data):
        raise HandshakeRefused(f"the signature does not prove the key of {caller_id!r}")

"""Signatures on message bodies sent over RabbitMQ.

A signed body carries two more fields: ``key`` (the sender's public key,
base64 of 32 bytes) and ``sig`` (base64 of the 64-byte Ed25519 signature).
The signature covers :data:`CONTEXT` followed by the :func:`canonical`
encoding of every field of the body except ``sig``, so it covers ``key``,
and the content together with its context: chat or group name, kind,
timestamp, message ID, sender ID and name.

:func:`verify` says only that the body was signed by the key it carries.
Whether that key is the right one for the sender is the receiver's question
(the name server, then ``chat/trust/known_peers.py``).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chat.trust.identity import SIGNATURE_BYTES, Identity, decode_public_key
from chat.trust.identity import verify as verify_signature

log = logging.getLogger(__name__)

#: Prefix of every signed encoding, so a body signature means nothing elsewhere.
CONTEXT = b"distchat message v1\n"
SIG_FIELD = "sig"
KEY_FIELD = "key"
#: Length of a base64 signature (64 bytes, padded).
SIG_B64_CHARS = 88


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: :data:`CONTEXT`, then compact, sorted JSON.

    JSON of every field except ``sig``: keys sorted by code point, no spaces
    (``","`` and ``":"`` separators), non-ASCII characters as UTF-8 (not
    ``\\u`` escapes), numbers as Python's ``json`` writes them (integers in
    decimal; floats as the shortest decimal that reads back the same, with
    ``.0`` when integral; no NaN or infinities).

    Raises:
        ValueError: a value that JSON cannot hold (NaN, a lone surrogate ...).
        TypeError: a value that is not a JSON type.
    """
    content = {key: value for key, value in fields.items() if key != SIG_FIELD}
    text = json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    try:
        return CONTEXT + text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"a string cannot be encoded: {exc.reason}") from None


def sign(identity: Identity, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``fields`` with ``key`` and ``sig`` set by ``identity``.

    An existing ``key`` or ``sig`` is replaced.
    """
    signed = {key: value for key, value in fields.items() if key != SIG_FIELD}
    signed[KEY_FIELD] = identity.public_key_b64
    signature = identity.sign(canonical(signed))
    signed[SIG_FIELD] = base64.b64encode(signature).decode("ascii")
    return signed


@dataclass(frozen=True)
class SignatureCheck:
    """What :func:`verify` found.

    Attributes:
        key: the public key that signed the body (base64), or None.
        reason: why the check failed (for the log), or None when it held.
    """

    key: str | None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.key is not None


def _failed(reason: str) -> SignatureCheck:
    return SignatureCheck(None, reason)


def verify(fields: object) -> SignatureCheck:
    """Check a body's signature against the key it carries.

    Never raises, whatever ``fields`` holds.
    """
    if not isinstance(fields, Mapping):
        return _failed("the body is not an object")
    key, sig = fields.get(KEY_FIELD), fields.get(SIG_FIELD)
    if key is None or sig is None:
        return _failed("the body is not signed")
    if decode_public_key(key) is None:
        return _failed("the key is not base64 of 32 bytes")
    if not isinstance(sig, str) or len(sig) != SIG_B64_CHARS:
        return _failed("the signature is not base64 of 64 bytes")
    try:
        signature = base64.b64decode(sig, validate=True)
    except (binascii.Error, ValueError):
        return _failed("the signature is not base64 of 64 bytes")
    if len(signature) != SIGNATURE_BYTES:
        return _failed("the signature is not base64 of 64 bytes")
    try:
        data = canonical(fields)
    except (TypeError, ValueError, RecursionError) as exc:
        return _failed(f"the body has no canonical form: {exc}")
    if not verify_signature(key, signature, data):
        return _failed("the signature does not match the body")
    return SignatureCheck(key)

"""Who is on the other end of a private chat: both sides of the handshake.

The chat server speaks server-only TLS with a certificate made for this run
(``chat/trust/tls.py``); the owner's Ed25519 key vouches for it in the name-server
record (:func:`vouch`), so a record rewritten to point at another server
cannot carry a certificate its owner's key signed unless the owner's key
signed it. The caller:

1. checks the callee's record before dialling (:func:`check_callee`): the key
   against its known peers (a changed key is refused), the certificate against
   the key's signature; then pins that certificate;
2. answers the callee's challenge with a signature over
   :func:`chat.trust.handshake.statement` (:class:`Prover`).

The callee (:class:`Gate`, on the gRPC thread of the stream) issues a fresh
challenge, looks the claimed caller ID up in the name server, and checks the
proof against the key in that record. docs/protocol.md ("Trust") gives the
exchange frame by frame.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any

import grpc
import redis

from chat import textsafe
from chat.errors import UserError
from chat.proto import private_chat_pb2 as pb
from chat.trust.handshake import ChallengeBook, HandshakeRefused, check_proof, sign_proof
from chat.trust.identity import Identity, verify
from chat.trust.known_peers import KnownPeers, PeerCheck, Trust
from chat.trust.tls import cert_fingerprint, channel_credentials
from nameserver.registry import ClientRecord, Registry

log = logging.getLogger(__name__)

#: First bytes of the statement an owner's key signs to vouch for its certificate.
CERT_CONTEXT = b"distchat chat certificate v1"
SIGNATURE_BYTES = 64


def _cert_statement(cert_fp: str) -> bytes:
    return CERT_CONTEXT + cert_fp.encode("ascii")


def vouch(identity: Identity, cert_fp: str) -> str:
    """The record's ``cert_sig``: ``identity``'s signature of the certificate fingerprint."""
    return base64.b64encode(identity.sign(_cert_statement(cert_fp))).decode("ascii")


def vouched_fingerprint(record: ClientRecord) -> str | None:
    """The fingerprint of ``record.cert`` when ``record.key`` vouches for it, else None."""
    cert_fp = cert_fingerprint(record.cert) if record.cert else None
    if cert_fp is None or not record.cert_sig:
        return None
    try:
        signature = base64.b64decode(record.cert_sig, validate=True)
    except (binascii.Error, ValueError):
        return None
    return cert_fp if verify(record.key, signature, _cert_statement(cert_fp)) else None


class KeyChanged(UserError):
    """The callee's record carries another key than the one known for its username."""

    def __init__(self, record: ClientRecord, check: PeerCheck) -> None:
        name = textsafe.name(record.name)
        sentence = check.sentence() or f"{name}'s key has changed"
        super().__init__(
            f"{textsafe.for_terminal(sentence)}; not connecting. If you know {name} has a new key "
            "(a new computer, a lost key file), open the chat from the Private chat menu "
            "and answer 'trust' when asked."
        )
        self.record = record
        self.check = check


def check_callee(known_peers: KnownPeers | None, record: ClientRecord) -> tuple[str, str | None]:
    """Whether to dial ``record`` (menu thread): its pinned fingerprint and a note.

    Returns:
        The certificate fingerprint to expect, and the note for the window
        (a first meeting), or None.

    Raises:
        KeyChanged: the key is not the one known for that username.
        UserError: the record offers no certificate its key vouches for.
    """
    name = textsafe.name(record.name)
    cert_fp = vouched_fingerprint(record)
    if cert_fp is None:
        log.warning("record of %s carries no certificate its key vouches for", record.id)
        raise UserError(
            f"{name}'s record offers no certificate signed by their key, so the chat could "
            "not be encrypted and authenticated; not connecting (an older client, or a "
            "tampered record)."
        )
    if known_peers is None:
        return cert_fp, None
    try:
        check = known_peers.check(record.name, record.key)
    except ValueError as exc:
        raise UserError(f"{name}'s record is malformed ({exc}); not connecting.") from None
    if check.trust is Trust.CHANGED:
        raise KeyChanged(record, check)
    note = check.sentence()
    return cert_fp, note


def pinned_channel(record: ClientRecord, options: list[tuple[str, Any]]) -> grpc.Channel:
    """A TLS channel to ``record``'s chat server that accepts only ``record.cert``."""
    credentials, tls_options = channel_credentials(record.cert.encode("ascii", "replace"))
    return grpc.secure_channel(record.address, credentials, options=options + tls_options)


def caller_note(known_peers: KnownPeers | None, record: ClientRecord) -> str | None:
    """What the callee's window says about a caller that proved ``record`` (gRPC thread).

    A first meeting is noted; a key other than the one known for that
    username is a warning (the chat opens: the caller did prove this key).
    """
    if known_peers is None:
        return None
    try:
        check = known_peers.check(record.name, record.key)
    except ValueError as exc:
        log.warning("cannot check the key of %s: %s", record.id, exc)
        return None
    sentence = check.sentence()
    if sentence is None:
        return None
    if check.trust is Trust.CHANGED:
        sentence += "; be careful what you tell them"
    return sentence  # the chat log makes it safe for the window


class Prover:
    """The caller's side of the handshake for one call.

    Args:
        identity: the caller's key pair.
        me: the caller's own record (its ID and certificate go into the statement).
        callee: the callee's record.
        callee_cert_fp: the fingerprint the TLS channel is pinned to.
    """

    def __init__(
        self, identity: Identity, me: ClientRecord, callee: ClientRecord, callee_cert_fp: str
    ) -> None:
        self.identity = identity
        self.me = me
        self.callee = callee
        self.callee_cert_fp = callee_cert_fp
        self.own_cert_fp = cert_fingerprint(me.cert) or ""

    def answer(self, challenge: pb.Challenge) -> pb.Frame:
        """The Proof frame for ``challenge``.

        Raises:
            ValueError: the challenge is malformed.
        """
        signature = sign_proof(
            self.identity,
            self.me.id,
            self.callee.id,
            challenge.nonce,
            self.callee_cert_fp,
            self.own_cert_fp,
        )
        return pb.Frame(proof=pb.Proof(signature=signature))


class Gate:
    """The callee's side: challenges callers and checks their proofs (thread-safe).

    Args:
        registry: the name server, to look the caller's record up.
        me: the callee's own record (its ID and certificate).
        book: the outstanding challenges.
    """

    def __init__(
        self, registry: Registry, me: ClientRecord, book: ChallengeBook | None = None
    ) -> None:
        self.registry = registry
        self.me = me
        self.own_cert_fp = cert_fingerprint(me.cert) or ""
        self.book = book or ChallengeBook()

    def challenge(self) -> tuple[bytes, pb.Frame]:
        """A fresh challenge and the frame that carries it."""
        nonce = self.book.issue()
        return nonce, pb.Frame(challenge=pb.Challenge(nonce=nonce))

    def check(self, hello: pb.Hello, nonce: bytes, answer: pb.Frame | None) -> ClientRecord:
        """The caller's record when ``answer`` proves the hello's claim.

        Raises:
            HandshakeRefused: it does not; the message says why (for the log).
        """
        if answer is None or answer.WhichOneof("body") != "proof":
            self.book.redeem(nonce)
            raise HandshakeRefused("the answer to the challenge must be a Proof")
        caller_id = hello.peer.id
        try:
            record = self.registry.get(caller_id)
        except redis.RedisError as exc:
            self.book.redeem(nonce)
            raise HandshakeRefused(f"the name server did not answer ({exc})") from None
        if record is None:
            self.book.redeem(nonce)
            raise HandshakeRefused(f"no client {caller_id!r} is registered")
        check_proof(
            self.book,
            caller_id=caller_id,
            callee_id=self.me.id,
            challenge=nonce,
            callee_cert_fingerprint=self.own_cert_fp,
            caller_cert_fingerprint=cert_fingerprint(record.cert) if record.cert else None,
            caller_public_key_b64=record.key or None,
            signature=answer.proof.signature,
        )
        return record

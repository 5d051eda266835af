"""The private-chat handshake: a good proof passes, every altered or replayed one fails."""

from __future__ import annotations

import hashlib
import threading

import pytest

from chat.trust.handshake import (
    CHALLENGE_BYTES,
    CONTEXT,
    ChallengeBook,
    HandshakeRefused,
    check_proof,
    sign_proof,
    statement,
)
from chat.trust.identity import Identity

ALICE_ID, BOB_ID = "k7m2x9qa", "p3hr8s2d"
BOB_CERT = hashlib.sha256(b"bob's certificate").hexdigest()
ALICE_CERT = hashlib.sha256(b"alice's certificate").hexdigest()
MALLORY_CERT = hashlib.sha256(b"mallory's certificate").hexdigest()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def alice() -> Identity:
    return Identity.generate()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def book(clock) -> ChallengeBook:
    return ChallengeBook(lifetime=5.0, clock=clock)


def _prove(alice: Identity, challenge: bytes, **changes: str) -> bytes:
    """Alice's answer, signed over her view with ``changes`` applied."""
    view = {
        "caller_id": ALICE_ID,
        "callee_id": BOB_ID,
        "callee_cert_fingerprint": BOB_CERT,
        "caller_cert_fingerprint": ALICE_CERT,
    } | changes
    return sign_proof(alice, challenge=challenge, **view)


def _check(book: ChallengeBook, challenge: bytes, signature: object, key: str | None, **view):
    """Bob's check, from Bob's own view (with ``view`` overriding parts of it)."""
    args = {
        "caller_id": ALICE_ID,
        "callee_id": BOB_ID,
        "callee_cert_fingerprint": BOB_CERT,
        "caller_cert_fingerprint": ALICE_CERT,
        "caller_public_key_b64": key,
    } | view
    check_proof(book, challenge=challenge, signature=signature, **args)


def test_a_good_proof_passes(book, alice):
    challenge = book.issue()
    assert len(challenge) == CHALLENGE_BYTES
    _check(book, challenge, _prove(alice, challenge), alice.public_key_b64)


def test_statement_layout_is_the_documented_one():
    challenge = bytes(range(32))
    data = statement(ALICE_ID, BOB_ID, challenge, BOB_CERT, ALICE_CERT)
    expected = CONTEXT
    for part in [ALICE_ID.encode(), BOB_ID.encode(), challenge, BOB_CERT.encode()]:
        expected += len(part).to_bytes(4, "big") + part
    expected += (64).to_bytes(4, "big") + ALICE_CERT.encode()
    assert data == expected
    assert data.startswith(b"distchat private chat v1\x00\x00\x00\x08k7m2x9qa")


def test_a_proof_from_another_key_fails(book, alice):
    mallory = Identity.generate()
    challenge = book.issue()
    with pytest.raises(HandshakeRefused, match="signature"):
        _check(book, challenge, _prove(mallory, challenge), alice.public_key_b64)


@pytest.mark.parametrize(
    "changes",
    [
        {"caller_id": "zzzzzzzz"},  # signed as someone else
        {"callee_id": "zzzzzzzz"},  # meant for another callee
        {"callee_cert_fingerprint": MALLORY_CERT},  # made for a session with a relay
        {"caller_cert_fingerprint": MALLORY_CERT},  # relayed from another caller session
    ],
    ids=["caller-id", "callee-id", "callee-cert", "caller-cert"],
)
def test_a_proof_over_another_view_fails(book, alice, changes):
    challenge = book.issue()
    with pytest.raises(HandshakeRefused, match="signature"):
        _check(book, challenge, _prove(alice, challenge, **changes), alice.public_key_b64)


def test_a_claim_of_another_id_with_the_own_key_fails(book, alice):
    """Alice signs honestly, but claims bob's neighbour's ID: the key of that ID is not hers."""
    carol = Identity.generate()
    challenge = book.issue()
    signature = _prove(alice, challenge, caller_id="c4r0lxxx")
    with pytest.raises(HandshakeRefused):
        _check(book, challenge, signature, carol.public_key_b64, caller_id="c4r0lxxx")


def test_a_replayed_handshake_fails(book, alice):
    challenge = book.issue()
    signature = _prove(alice, challenge)
    _check(book, challenge, signature, alice.public_key_b64)
    with pytest.raises(HandshakeRefused, match="used already"):
        _check(book, challenge, signature, alice.public_key_b64)


def test_a_recorded_handshake_fails_against_a_fresh_challenge(book, alice):
    old = book.issue()
    signature = _prove(alice, old)
    _check(book, old, signature, alice.public_key_b64)
    fresh = book.issue()
    with pytest.raises(HandshakeRefused, match="signature"):
        _check(book, fresh, signature, alice.public_key_b64)


def test_an_expired_challenge_fails(book, alice, clock):
    challenge = book.issue()
    signature = _prove(alice, challenge)
    clock.now += 5.5
    with pytest.raises(HandshakeRefused, match="expired"):
        _check(book, challenge, signature, alice.public_key_b64)


def test_a_challenge_not_issued_here_fails(book, alice):
    challenge = bytes(32)
    with pytest.raises(HandshakeRefused, match="not issued"):
        _check(book, challenge, _prove(alice, challenge), alice.public_key_b64)


def test_a_failed_attempt_uses_the_challenge_up(book, alice):
    challenge = book.issue()
    with pytest.raises(HandshakeRefused):
        _check(book, challenge, b"\x00" * 64, alice.public_key_b64)
    with pytest.raises(HandshakeRefused, match="used already"):
        _check(book, challenge, _prove(alice, challenge), alice.public_key_b64)


def test_missing_certificate_or_key_fails(book, alice):
    challenge = book.issue()
    with pytest.raises(HandshakeRefused, match="no certificate"):
        _check(
            book,
            challenge,
            _prove(alice, challenge),
            alice.public_key_b64,
            caller_cert_fingerprint=None,
        )
    challenge = book.issue()
    with pytest.raises(HandshakeRefused, match="no public key"):
        _check(book, challenge, _prove(alice, challenge), None)


@pytest.mark.parametrize(
    "hostile",
    [
        {"signature": None},
        {"signature": "x" * 64},
        {"signature": b""},
        {"caller_id": ""},
        {"caller_id": "x" * 1000},
        {"caller_id": 5},
        {"caller_public_key_b64": "garbage"},
        {"caller_public_key_b64": 7},
        {"challenge": "not bytes"},
        {"challenge": b"short"},
    ],
)
def test_hostile_values_are_refused_never_crash(book, alice, hostile):
    challenge = book.issue()
    args = {
        "caller_id": ALICE_ID,
        "callee_id": BOB_ID,
        "challenge": challenge,
        "callee_cert_fingerprint": BOB_CERT,
        "caller_cert_fingerprint": ALICE_CERT,
        "caller_public_key_b64": alice.public_key_b64,
        "signature": _prove(alice, challenge),
    } | hostile
    with pytest.raises(HandshakeRefused):
        check_proof(book, **args)


def test_outstanding_challenges_stay_bounded(clock):
    book = ChallengeBook(lifetime=5.0, clock=clock, limit=100)
    first = book.issue()
    for _ in range(500):
        book.issue()
    assert len(book) == 100
    assert not book.redeem(first)  # pushed out by the flood
    clock.now += 6
    book.issue()
    assert len(book) == 1  # the expired ones are gone


def test_each_challenge_is_redeemed_once_across_threads(book):
    challenge = book.issue()
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def redeem() -> None:
        barrier.wait()
        wins.append(book.redeem(challenge))

    threads = [threading.Thread(target=redeem) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]

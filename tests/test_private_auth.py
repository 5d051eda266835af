"""The handshake's two sides without a network: vouched certificates, the caller's
checks before dialling, and the callee's gate against a real name server."""

from __future__ import annotations

import dataclasses

import pytest

from chat.errors import UserError
from chat.private.auth import Gate, KeyChanged, Prover, check_callee, vouched_fingerprint
from chat.proto import private_chat_pb2 as pb
from chat.trust.handshake import HandshakeRefused
from chat.trust.identity import Identity
from chat.trust.known_peers import KnownPeers
from tests.rawcaller import signed_record


def test_a_record_vouches_only_for_its_own_certificate():
    record, _, tls = signed_record("k7m2x9qa", "bob", 9)
    assert vouched_fingerprint(record) == tls.fingerprint
    other, _, _ = signed_record("k7m2x9qa", "bob", 9)
    for forged in (
        dataclasses.replace(record, cert=other.cert),  # another certificate
        dataclasses.replace(record, key=other.key),  # another key
        dataclasses.replace(record, cert_sig=""),
        dataclasses.replace(record, cert_sig="not base64!"),
        dataclasses.replace(record, cert="-----BEGIN CERTIFICATE-----\ngarbage"),
    ):
        assert vouched_fingerprint(forged) is None


def test_the_caller_refuses_a_changed_key_and_an_unvouched_certificate(tmp_path):
    peers = KnownPeers(tmp_path / "known.db")
    bob, _, tls = signed_record("k7m2x9qa", "bob", 9)
    assert check_callee(peers, bob)[0] == tls.fingerprint  # first meeting: noted
    assert check_callee(peers, bob) == (tls.fingerprint, None)  # known
    impostor, _, _ = signed_record("k7m2x9qa", "bob", 9)
    with pytest.raises(KeyChanged, match="bob's key has changed since"):
        check_callee(peers, impostor)
    with pytest.raises(UserError, match="no certificate signed by their key"):
        check_callee(peers, dataclasses.replace(bob, cert_sig=impostor.cert_sig))


def test_the_gate_takes_a_true_proof_once_and_nothing_else(registry):
    alice, alice_key, _ = signed_record("a1ice222", "alice", 9)
    bob, _, _ = signed_record("b0b22222", "bob", 9)
    assert registry._claim(alice)
    gate = Gate(registry, bob)
    hello = pb.Hello(version=1, peer=pb.Peer(id=alice.id, name="alice"))
    prover = Prover(alice_key, alice, bob, gate.own_cert_fp)

    nonce, challenge = gate.challenge()
    proof = prover.answer(challenge.challenge)
    assert gate.check(hello, nonce, proof) == alice
    with pytest.raises(HandshakeRefused, match="used already"):
        gate.check(hello, nonce, proof)  # replayed

    nonce, challenge = gate.challenge()
    forged = Prover(Identity.generate(), alice, bob, gate.own_cert_fp).answer(challenge.challenge)
    with pytest.raises(HandshakeRefused, match="does not prove"):
        gate.check(hello, nonce, forged)

    nonce, _ = gate.challenge()
    with pytest.raises(HandshakeRefused, match="must be a Proof"):
        gate.check(hello, nonce, pb.Frame(ack=pb.Ack(seq=1)))

    nonce, challenge = gate.challenge()
    stranger = pb.Hello(version=1, peer=pb.Peer(id="n0b0dy22", name="alice"))
    with pytest.raises(HandshakeRefused, match="no client"):
        gate.check(stranger, nonce, prover.answer(challenge.challenge))

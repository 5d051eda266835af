"""The verifier: signature, then the key against the name server, then known peers."""

from __future__ import annotations

import json

import pytest

from chat.transport.wire import ChatMessage
from chat.trust.identity import Identity
from chat.trust.known_peers import KnownPeers
from chat.trust.verifier import RECORD_TTL, Verifier


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingRegistry:
    """The real registry, with its reads counted."""

    def __init__(self, registry) -> None:
        self.registry = registry
        self.reads = 0

    def get(self, client_id: str):
        self.reads += 1
        return self.registry.get(client_id)


@pytest.fixture
def peers(tmp_path):
    store = KnownPeers(tmp_path / "known.db")
    yield store
    store.close()


def fields(identity: Identity | None, sender_id: str, name: str, text: str = "hi") -> dict:
    return json.loads(ChatMessage(sender_id, name, "lobby", text).encode(identity))


def test_a_burst_costs_one_name_server_read_per_sender(registry, peers):
    bob = Identity.generate()
    record = registry.claim("bob", "127.0.0.1", 4000, key=bob.public_key_b64)
    counting, clock = CountingRegistry(registry), Clock()
    verifier = Verifier(counting.get, peers, clock=clock)
    for n in range(200):
        assert verifier.check(fields(bob, record.id, "bob", f"m{n}"), record.id, "bob").ok
    assert counting.reads == 1
    clock.now += RECORD_TTL + 0.1
    assert verifier.check(fields(bob, record.id, "bob"), record.id, "bob").ok
    assert counting.reads == 2


def test_forged_unsigned_and_misnamed_bodies_fail(registry, peers):
    bob, mallory = Identity.generate(), Identity.generate()
    record = registry.claim("bob", "127.0.0.1", 4000, key=bob.public_key_b64)
    verifier = Verifier(registry.get, peers)
    forged = verifier.check(fields(mallory, record.id, "bob"), record.id, "bob")
    assert not forged.ok and forged.reason.startswith("forged")
    unsigned = verifier.check(fields(None, record.id, "bob"), record.id, "bob")
    assert not unsigned.ok and "not signed" in unsigned.reason
    misnamed = verifier.check(fields(bob, record.id, "eve"), record.id, "eve")
    assert not misnamed.ok and "name" in misnamed.reason
    assert len(peers) == 0  # nothing forged was remembered


def test_first_meeting_once_then_a_changed_key_warns(registry, peers):
    old, new = Identity.generate(), Identity.generate()
    told: list[str] = []
    verifier = Verifier(registry.get, peers, on_changed=told.append)
    first = verifier.check(fields(old, "gone0001", "carol"), "gone0001", "carol")
    assert first.ok and first.first_meeting.startswith("first meeting with carol (key ")
    again = verifier.check(fields(old, "gone0001", "carol"), "gone0001", "carol")
    assert again.ok and not again.first_meeting and not again.warning
    # Registered now with another key: not forged (the record says so), but not the carol known.
    record = registry.claim("carol", "127.0.0.1", 4001, key=new.public_key_b64)
    for n in range(3):
        changed = verifier.check(fields(new, record.id, "carol", f"m{n}"), record.id, "carol")
        assert changed.ok
        assert changed.warning.startswith("carol's key has changed since ")
    assert told == [changed.warning]  # the terminal, once


def test_own_bodies_need_no_known_peer(registry, peers):
    me = Identity.generate()
    record = registry.claim("me", "127.0.0.1", 4002, key=me.public_key_b64)
    verifier = Verifier(registry.get, peers, record.id, me.public_key_b64)
    verdict = verifier.check(fields(me, record.id, "me"), record.id, "me")
    assert verdict.ok and not verdict.first_meeting
    assert len(peers) == 0


def test_a_name_server_that_cannot_be_read_leaves_known_peers_to_judge(peers):
    def down(_client_id: str):
        raise ConnectionError("Redis is down")

    bob = Identity.generate()
    verifier = Verifier(down, peers)
    verdict = verifier.check(fields(bob, "b0b23456", "bob"), "b0b23456", "bob")
    assert verdict.ok and verdict.first_meeting
    assert not verifier.check("not even an object", "x", "y").ok

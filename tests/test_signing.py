"""Signed message bodies: what a forger or a careless relay changes is caught."""

from __future__ import annotations

import base64
import json

import pytest

from chat.transport.wire import ChatMessage
from chat.trust import signing
from chat.trust.identity import Identity


@pytest.fixture
def alice() -> Identity:
    return Identity.generate()


def _body(**changes: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "v": 1,
        "id": "6f1c2b3a4d5e6f708192a3b4c5d6e7f8",
        "sender_id": "k7m2x9qa",
        "sender_name": "alice",
        "chat": "lobby",
        "text": "hi all ✓",
        "kind": "text",
        "ts": 1795660800.512,
    }
    fields.update(changes)
    return fields


def _over_the_wire(fields: dict[str, object]) -> dict[str, object]:
    """What a receiver parses: the JSON a sender publishes, read back."""
    return json.loads(json.dumps(fields, ensure_ascii=False).encode("utf-8"))


def test_a_signed_body_verifies_to_its_key(alice):
    signed = signing.sign(alice, _body())
    assert signed["key"] == alice.public_key_b64
    assert len(base64.b64decode(signed["sig"])) == 64
    check = signing.verify(_over_the_wire(signed))
    assert check.ok and check.key == alice.public_key_b64 and check.reason is None


def test_a_real_chat_message_body_round_trips(alice):
    message = ChatMessage(sender_id="k7m2x9qa", sender_name="alice", chat="lobby", text="hello")
    fields = json.loads(message.encode())
    body = json.dumps(signing.sign(alice, fields)).encode()
    assert signing.verify(json.loads(body)).key == alice.public_key_b64


@pytest.mark.parametrize(
    "change",
    [
        {"text": "hi all ✗"},
        {"chat": "other-group"},  # moved to another group
        {"ts": 1795660800.513},  # replayed at another time
        {"id": "00000000000000000000000000000000"},
        {"sender_id": "p3hr8s2d"},
        {"sender_name": "bob"},  # claimed by another name
        {"kind": "insult"},
        {"extra": "added"},  # a field added after signing
    ],
    ids=lambda change: next(iter(change)),
)
def test_any_changed_or_added_field_breaks_the_signature(alice, change):
    signed = signing.sign(alice, _body())
    signed.update(change)
    check = signing.verify(_over_the_wire(signed))
    assert not check.ok and check.key is None
    assert check.reason == "the signature does not match the body"


def test_a_removed_field_breaks_the_signature(alice):
    signed = signing.sign(alice, _body())
    del signed["text"]
    assert not signing.verify(signed).ok


def test_a_forger_cannot_swap_in_another_key(alice):
    mallory = Identity.generate()
    signed = signing.sign(alice, _body())
    signed["key"] = mallory.public_key_b64
    assert not signing.verify(signed).ok
    # A forger signing with their own key verifies only as their own key.
    forged = signing.sign(mallory, _body(sender_name="alice"))
    assert signing.verify(forged).key == mallory.public_key_b64 != alice.public_key_b64


def test_key_order_and_spacing_on_the_wire_do_not_matter(alice):
    signed = signing.sign(alice, _body())
    reordered = json.loads(json.dumps(dict(reversed(list(signed.items()))), indent=2))
    assert signing.verify(reordered).ok


def test_canonical_form_is_the_documented_one():
    data = signing.canonical({"b": 1, "a": "é", "sig": "ignored", "c": 2.0, "d": [True, None]})
    assert data == b'distchat message v1\n{"a":"\xc3\xa9","b":1,"c":2.0,"d":[true,null]}'


def test_signing_replaces_an_old_signature(alice):
    bob = Identity.generate()
    twice = signing.sign(alice, signing.sign(bob, _body()))
    assert signing.verify(twice).key == alice.public_key_b64


@pytest.mark.parametrize(
    ("hostile", "reason"),
    [
        (None, "not an object"),
        ([1, 2], "not an object"),
        ("text", "not an object"),
        ({}, "not signed"),
        ({"key": "x"}, "not signed"),
        ({"key": "x" * 44, "sig": "y" * 88}, "key is not base64"),
        ({"key": 5, "sig": "y"}, "key is not base64"),
        ({"key": "AAAA", "sig": "y"}, "key is not base64"),
    ],
)
def test_hostile_bodies_fail_with_a_reason_and_never_raise(hostile, reason):
    check = signing.verify(hostile)
    assert not check.ok and reason in check.reason


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"sig": 5}, "signature is not base64"),
        ({"sig": "!" * 88}, "signature is not base64"),
        ({"sig": "A" * 86 + "=="}, "signature does not match"),
        ({"sig": "QUFB" * 22}, "signature is not base64"),
        ({"ts": float("nan")}, "no canonical form"),
        ({"text": "\ud800"}, "no canonical form"),
        ({"text": object()}, "no canonical form"),
    ],
)
def test_signed_bodies_changed_in_hostile_ways_fail_with_a_reason(alice, change, reason):
    signed = signing.sign(alice, _body())
    signed.update(change)
    check = signing.verify(signed)
    assert not check.ok and reason in check.reason


def test_deeply_nested_bodies_fail_without_crashing(alice):
    signed = signing.sign(alice, _body())
    nested: object = []
    for _ in range(100_000):
        nested = [nested]
    signed["text"] = nested
    check = signing.verify(signed)
    assert not check.ok and "canonical" in check.reason

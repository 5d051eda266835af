"""Fuzzing the wire edge and the safe-printing functions, without any server.

Thousands of hostile bodies go through each decoder: every one either decodes
into values within the limits or raises BadMessage, and nothing else.
"""

from __future__ import annotations

import math
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from chat import textsafe
from chat.history import ChatLog
from chat.transport.wire import (
    MAX_BODY_BYTES,
    TS_MAX,
    TS_MIN,
    BadMessage,
    ChatMessage,
    DiscoveryAnswer,
    DiscoveryRequest,
    decode_object,
)
from chat.trust import signing
from chat.trust.verifier import Verifier
from tests.fuzzbodies import (
    FUZZ,
    FUZZ_SIGNER,
    answer_template,
    chat_template,
    hostile_bodies,
    request_template,
)

_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f]")


def _sane_time(ts: float) -> None:
    assert math.isfinite(ts) and TS_MIN <= ts < TS_MAX


@settings(FUZZ, max_examples=600)
@given(hostile_bodies(chat_template()))
def test_chat_message_bodies_decode_or_are_refused(body: bytes):
    try:
        msg = ChatMessage.decode(body)
    except BadMessage as exc:
        assert len(str(exc)) < 300  # logged in one short line
        return
    assert len(body) <= MAX_BODY_BYTES
    for value in (msg.id, msg.sender_id, msg.sender_name, msg.chat, msg.text, msg.kind):
        assert isinstance(value, str)
        value.encode("utf-8")
    assert msg.kind in ("text", "join", "leave", "insult")
    _sane_time(msg.ts)
    # What a window does with it must work too.
    log = ChatLog("me")
    log.message(msg.sender_id, msg.sender_name, msg.text, msg.id, msg.ts)
    assert log.entries[0].clock


@settings(FUZZ, max_examples=300)
@given(hostile_bodies(request_template()))
def test_discovery_request_bodies_decode_or_are_refused(body: bytes):
    try:
        request = DiscoveryRequest.decode(body)
    except BadMessage:
        return
    _sane_time(request.ts)


@settings(FUZZ, max_examples=300)
@given(hostile_bodies(answer_template()))
def test_discovery_answer_bodies_decode_or_are_refused(body: bytes):
    from chat.discovery.requester import Answered, EventResult
    from chat.discovery.source import EventSource
    from chat.discovery.view import listing

    try:
        answer = DiscoveryAnswer.decode(body)
    except BadMessage:
        return
    _sane_time(answer.ts)
    _sane_time(answer.client.started)
    assert 0 < answer.client.port < 65536
    text = listing(EventSource.sighting(EventResult(answers=[Answered(answer, 0.01)])), "me").text
    assert "\x1b" not in text and "\u202e" not in text


@settings(FUZZ, max_examples=500)
@given(st.text(max_size=2_000) | st.sampled_from(["\x1b[2J", "\x1b]0;x\x07", "a\u202eb"]))
def test_remote_strings_never_reach_a_terminal_or_title_as_controls(text: str):
    for shown, cap in (
        (textsafe.for_terminal(text), textsafe.TEXT_CHARS * 6),
        (textsafe.name(text), textsafe.NAME_CHARS * 6),
        (textsafe.for_title(text), textsafe.TITLE_CHARS),
    ):
        assert not _UNPRINTABLE.search(shown)
        assert len(shown) <= cap
        shown.encode("utf-8")
    window = textsafe.for_window(text)
    assert not _UNPRINTABLE.search(window.replace("\n", "").replace("\t", ""))


@settings(FUZZ, max_examples=400)
@given(
    hostile_bodies(chat_template(), FUZZ_SIGNER) | hostile_bodies(answer_template(), FUZZ_SIGNER)
)
def test_signature_checks_never_raise_and_pass_only_what_was_signed(body: bytes):
    checker = Verifier(lambda _id: None, None)
    try:
        fields = decode_object(body)
    except BadMessage:
        return
    verdict = checker.check(fields, "fuzz2345", "fuzzer")
    if verdict.ok:  # only an untouched signature by the fuzzing key holds
        assert verdict.key == FUZZ_SIGNER.public_key_b64
        assert signing.verify(fields).ok
    else:
        assert verdict.reason and len(verdict.reason) < 300

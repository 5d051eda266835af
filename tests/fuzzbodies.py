"""Hypothesis strategies for hostile message bodies, shared by the fuzz tests.

A body starts from a valid one of the kind under test and is then spoiled:
fields replaced by values of other types, NaN and infinities, huge numbers,
huge or control-laden strings, fields removed, unknown kinds. Given a
signer, about half of the spoiled bodies are then signed (as a hostile but
keyed sender would: the signature holds, so the body gets past the signature
check to the parser and the window), and a few of those have their key or
signature spoiled too. The encoded bytes may then be nested very deep, cut
short, corrupted with invalid UTF-8, or replaced by random bytes.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from chat.trust import signing
from chat.trust.identity import Identity

#: Settings of every fuzz test: reproducible in CI, no per-example deadline
#: (the machine is shared), and the same client across examples on purpose.
FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

NASTY_NUMBERS = [math.nan, math.inf, -math.inf, 1e20, -1e20, 1e308, 0, -1, 2**63, 10**40, True]
NASTY_TEXTS = [
    "\x1b[2J\x1b[31m",
    "\x1b]0;owned\x07",
    "\u202eevil\u202c",
    "\x00\x7f\x9b",
    "\ud800",
    "",
    " ",
]

json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(NASTY_NUMBERS),
    st.sampled_from(NASTY_TEXTS),
)
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
huge_texts = st.integers(min_value=1_000, max_value=300_000).map(lambda n: "\x1b" * 3 + "x" * n)
field_values = st.one_of(json_values, huge_texts, st.sampled_from(NASTY_NUMBERS))


def chat_template(chat: str = "fuzz", kind: str = "text") -> dict[str, Any]:
    return {
        "v": 1,
        "id": "f" * 32,
        "sender_id": "fuzz2345",
        "sender_name": "fuzzer",
        "chat": chat,
        "text": "hello",
        "kind": kind,
        "ts": time.time(),
    }


def request_template() -> dict[str, Any]:
    return {
        "v": 1,
        "kind": "discovery-request",
        "sender_id": "fuzz2345",
        "sender_name": "fuzzer",
        "ts": time.time(),
    }


def answer_template() -> dict[str, Any]:
    return {
        "v": 1,
        "kind": "discovery-answer",
        "client": {
            "id": "fuzz2345",
            "name": "fuzzer",
            "host": "127.0.0.1",
            "port": 4000,
            "started": time.time(),
        },
        "groups": ["lobby"],
        "private_chats": [{"id": "abcd2345", "name": "bob"}],
        "ts": time.time(),
    }


SPOILERS = ["as is", "as is", "as is", "deep", "deep field", "cut", "bytes", "raw"]
KINDS = ["text", "join", "leave", "insult", "discovery-request", "discovery-answer", "", "x" * 99]


#: The key a fuzzing sender signs with (not registered: known peers meet it once).
FUZZ_SIGNER = Identity.generate()


@st.composite
def hostile_bodies(
    draw: st.DrawFn, template: dict[str, Any], signer: Identity | None = None
) -> bytes:
    data = json.loads(json.dumps(template))
    keys = sorted(data)
    for key in draw(st.lists(st.sampled_from(keys), max_size=3, unique=True)):
        if draw(st.integers(0, 3)) == 0:
            del data[key]
        else:
            data[key] = draw(field_values)
    if isinstance(data.get("client"), dict) and data["client"] and draw(st.booleans()):
        inner = sorted(data["client"])
        data["client"][draw(st.sampled_from(inner))] = draw(field_values)
    if draw(st.integers(0, 4)) == 0:
        data["kind"] = draw(st.sampled_from(KINDS) | st.text(max_size=12))
    if signer is not None and draw(st.booleans()):
        with contextlib.suppress(TypeError, ValueError, RecursionError):  # NaN has no signature
            data = signing.sign(signer, data)
        if draw(st.integers(0, 5)) == 0:
            data[draw(st.sampled_from(["key", "sig"]))] = draw(field_values)
    body = json.dumps(data, allow_nan=True).encode()
    how = draw(
        st.sampled_from(["as is", "as is", "as is", "deep", "deep field", "cut", "bytes", "raw"])
    )
    if how == "deep":
        depth = draw(st.integers(min_value=9, max_value=60_000))
        body = b"[" * depth + body + b"]" * depth
    elif how == "deep field":
        depth = draw(st.integers(min_value=9, max_value=60_000))
        body = body[:-1] + b',"deep":' + b"[" * depth + b"]" * depth + b"}"
    elif how == "cut":
        body = body[: draw(st.integers(0, max(len(body) - 1, 0)))]
    elif how == "bytes":
        at = draw(st.integers(0, len(body)))
        body = body[:at] + draw(st.binary(min_size=1, max_size=6)) + body[at:]
    elif how == "raw":
        body = draw(st.binary(max_size=300))
    return body

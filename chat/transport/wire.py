"""Bodies of the messages this project sends over RabbitMQ, defined once.

Every body is a UTF-8 JSON object with ``"v": 1`` and ``content_type``
``application/json``; docs/protocol.md documents each field. A body that does
not parse or does not fit the schema raises :class:`BadMessage`; consumers log
and drop it and carry on. No pickle, no eval.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from itertools import accumulate
from typing import Any

import pika

from chat.trust import signing
from chat.trust.identity import Identity
from nameserver.fields import TIME_MAX, TIME_MIN, check_string, check_time
from nameserver.registry import ClientRecord

SCHEMA_VERSION = 1
CONTENT_TYPE = "application/json"
#: Refuse bodies larger than this outright, before parsing (any text limit is smaller).
MAX_BODY_BYTES = 256 * 1024

#: Longest text a chat message may carry (senders allow far less, max_message_bytes;
#: this only keeps a window from being handed megabytes).
MAX_TEXT_CHARS = 64 * 1024
#: Deepest nesting of arrays and objects a body may have (ours nest 3 deep).
MAX_DEPTH = 8
#: Timestamps outside [2000-01-01, 2100-01-01) are not from a working clock (one bound,
#: the name server's).
TS_MIN = TIME_MIN
TS_MAX = TIME_MAX

#: Kinds of chat message: a text someone wrote, or a membership notice.
KINDS = frozenset({"text", "join", "leave", "insult"})

# A JSON string (with its escapes), or an unterminated one up to the end: it
# always matches once started, so removing strings stays linear.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*(?:"|\\?\Z)', re.DOTALL)
# Every byte that is not a bracket, deleted before the depth is summed.
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


class BadMessage(ValueError):
    """A body that is not one of ours; the message says why."""


def new_message_id() -> str:
    return uuid.uuid4().hex


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))


def check_text(text: str, limit: int) -> str | None:
    """A sentence for the user when ``text`` cannot be sent, else None."""
    if not text.strip():
        return "Nothing to send: the message is empty."
    size = utf8_size(text)
    if size > limit:
        return f"The message is too long ({size} bytes; the limit is {limit}). Nothing was sent."
    return None


@dataclass(frozen=True)
class ChatMessage:
    """One message in a group chat or on the insult channel.

    Attributes:
        id: message ID, unique per sender (a UUID in hex).
        sender_id: the sender's client ID in the name server.
        sender_name: the sender's username.
        chat: the group name, or the insult channel's name.
        text: what was written (empty for join/leave notices).
        ts: sender's clock, Unix seconds.
        kind: ``text``, ``join``, ``leave`` or ``insult``.
    """

    sender_id: str
    sender_name: str
    chat: str
    text: str
    kind: str = "text"
    id: str = field(default_factory=new_message_id)
    ts: float = field(default_factory=time.time)

    def encode(self, identity: Identity | None = None) -> bytes:
        """The body; signed by ``identity`` (``key`` and ``sig`` added) when given."""
        data: dict[str, Any] = {"v": SCHEMA_VERSION, **asdict(self)}
        return _dump(data, identity)

    def properties(self, persistent: bool = True) -> pika.BasicProperties:
        return pika.BasicProperties(
            content_type=CONTENT_TYPE,
            message_id=self.id,
            timestamp=int(self.ts),
            type=self.kind,
            delivery_mode=pika.DeliveryMode.Persistent
            if persistent
            else pika.DeliveryMode.Transient,
        )

    @classmethod
    def decode(cls, body: bytes) -> ChatMessage:
        return cls.from_fields(decode_object(body))

    @classmethod
    def from_fields(cls, data: dict[str, Any]) -> ChatMessage:
        """The message in a body's JSON object (from :func:`decode_object`)."""
        try:
            msg = cls(
                id=_text(data, "id", 64),
                sender_id=_text(data, "sender_id", 64),
                sender_name=_text(data, "sender_name", 64),
                chat=_text(data, "chat", 128),
                text=_text(data, "text", MAX_TEXT_CHARS, empty=True),
                kind=_text(data, "kind", 16),
                ts=_timestamp(data, "ts"),
            )
        except KeyError as exc:
            raise BadMessage(f"field {exc.args[0]!r} is missing") from None
        if msg.kind not in KINDS:
            raise BadMessage(f"unknown kind {msg.kind[:20]!r}")
        return msg


def _dump(data: dict[str, Any], identity: Identity | None) -> bytes:
    if identity is not None:
        data = signing.sign(identity, data)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode_object(body: bytes) -> dict[str, Any]:
    """The JSON object of a version-1 body, or :class:`BadMessage`.

    Limits come first, before the parser sees the body: its size, valid
    UTF-8, and its nesting depth (the parser recurses once per level, so a
    deep body would raise ``RecursionError``); then JSON without ``NaN`` or
    ``Infinity``.
    """
    if not isinstance(body, bytes | bytearray | memoryview):
        raise BadMessage(f"body is a {type(body).__name__}, not bytes")
    body = bytes(body)
    if len(body) > MAX_BODY_BYTES:
        raise BadMessage(f"body of {len(body)} bytes is too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadMessage(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    depth = nesting_depth(body)
    if depth > MAX_DEPTH:
        raise BadMessage(f"nested {depth} deep (at most {MAX_DEPTH})")
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise BadMessage(f"not JSON: {str(exc)[:100]}") from None
    if not isinstance(data, dict):
        raise BadMessage("not a JSON object")
    if data.get("v") != SCHEMA_VERSION or isinstance(data.get("v"), bool):
        raise BadMessage(f"unsupported schema version {str(data.get('v'))[:20]!r}")
    return data


def nesting_depth(body: bytes) -> int:
    """How deep arrays and objects nest in a JSON text, brackets in strings not counted.

    Linear and without recursion, so it is safe on any body; an unbalanced
    body gets some depth and is then refused by the parser.
    """
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKET)
    steps = (1 if b in (0x5B, 0x7B) else -1 for b in brackets)
    return max(accumulate(steps, initial=0))


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _text(data: dict[str, Any], key: str, limit: int, empty: bool = False) -> str:
    try:  # the name server's one rule for a string field
        return check_string(data[key], key, limit, empty)
    except ValueError as exc:
        raise BadMessage(str(exc)) from None


def _check_encodable(value: str, key: str) -> None:
    # JSON escapes can carry lone surrogates, which no UTF-8 writer (log
    # file, Tk, terminal) can take.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadMessage(f"field {key!r} holds a lone surrogate") from None


def _timestamp(data: dict[str, Any], key: str) -> float:
    """A Unix time in seconds from a working clock (years 2000 to 2099)."""
    try:
        return check_time(data[key], key)
    except ValueError as exc:
        raise BadMessage(str(exc)) from None


# -- discovery events ----------------------------------------------------------

#: ``kind`` of a discovery request and of its answer.
DISCOVERY_REQUEST = "discovery-request"
DISCOVERY_ANSWER = "discovery-answer"
#: Longest list of groups or private chats an answer may carry.
MAX_LISTED = 1000


@dataclass(frozen=True)
class DiscoveryRequest:
    """ "Who is there?", published on the discovery exchange.

    The AMQP properties carry the rest: ``reply_to`` (where answers go) and
    ``correlation_id`` (which every answer repeats).

    Attributes:
        sender_id: the requester's client ID.
        sender_name: the requester's username.
        ts: requester's clock, Unix seconds.
    """

    sender_id: str
    sender_name: str
    ts: float = field(default_factory=time.time)

    def encode(self) -> bytes:
        data = {"v": SCHEMA_VERSION, "kind": DISCOVERY_REQUEST, **asdict(self)}
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def properties(
        self, reply_to: str, correlation_id: str, expiration_ms: int | None = None
    ) -> pika.BasicProperties:
        return pika.BasicProperties(
            content_type=CONTENT_TYPE,
            type=DISCOVERY_REQUEST,
            reply_to=reply_to,
            correlation_id=correlation_id,
            timestamp=int(self.ts),
            expiration=str(expiration_ms) if expiration_ms is not None else None,
            delivery_mode=pika.DeliveryMode.Transient,
        )

    @classmethod
    def decode(cls, body: bytes) -> DiscoveryRequest:
        data = decode_object(body)
        _expect_kind(data, DISCOVERY_REQUEST)
        try:
            return cls(
                sender_id=_text(data, "sender_id", 64),
                sender_name=_text(data, "sender_name", 64),
                ts=_timestamp(data, "ts"),
            )
        except KeyError as exc:
            raise BadMessage(f"field {exc.args[0]!r} is missing") from None


@dataclass(frozen=True)
class DiscoveryAnswer:
    """One client's answer to a discovery request, sent straight to its ``reply_to``.

    Attributes:
        client: the answering client's record: ID, name, host and port of its
            private-chat server, start time.
        groups: names of the group chats it has open.
        private_chats: (client ID, username) of each peer it has a private chat with.
        ts: answerer's clock, Unix seconds.
    """

    client: ClientRecord
    groups: tuple[str, ...] = ()
    private_chats: tuple[tuple[str, str], ...] = ()
    ts: float = field(default_factory=time.time)

    def encode(self, identity: Identity | None = None) -> bytes:
        """The body; signed by ``identity`` (``key`` and ``sig`` added) when given."""
        data = {
            "v": SCHEMA_VERSION,
            "kind": DISCOVERY_ANSWER,
            "client": asdict(self.client),
            "groups": list(self.groups),
            "private_chats": [{"id": i, "name": n} for i, n in self.private_chats],
            "ts": self.ts,
        }
        return _dump(data, identity)

    def properties(self, correlation_id: str) -> pika.BasicProperties:
        return pika.BasicProperties(
            content_type=CONTENT_TYPE,
            type=DISCOVERY_ANSWER,
            correlation_id=correlation_id,
            timestamp=int(self.ts),
            delivery_mode=pika.DeliveryMode.Transient,
        )

    @classmethod
    def decode(cls, body: bytes) -> DiscoveryAnswer:
        return cls.from_fields(decode_object(body))

    @classmethod
    def from_fields(cls, data: dict[str, Any]) -> DiscoveryAnswer:
        """The answer in a body's JSON object (from :func:`decode_object`)."""
        _expect_kind(data, DISCOVERY_ANSWER)
        try:
            try:  # the name server's one rule for a client record
                record = ClientRecord.from_fields(data["client"])
            except ValueError as exc:
                raise BadMessage(f"field 'client': {exc}") from None
            groups = tuple(_text_item(g, "groups", 128) for g in _list(data, "groups"))
            chats = []
            for item in _list(data, "private_chats"):
                if not isinstance(item, dict):
                    raise BadMessage("items of 'private_chats' must be objects")
                chats.append((_text(item, "id", 64), _text(item, "name", 64)))
            return cls(
                client=record, groups=groups, private_chats=tuple(chats), ts=_timestamp(data, "ts")
            )
        except KeyError as exc:
            raise BadMessage(f"field {exc.args[0]!r} is missing") from None


def _expect_kind(data: dict[str, Any], kind: str) -> None:
    if data.get("kind") != kind:
        raise BadMessage(f"expected kind {kind!r}, not {str(data.get('kind'))[:20]!r}")


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data[key]
    if not isinstance(value, list):
        raise BadMessage(f"field {key!r} must be a list")
    if len(value) > MAX_LISTED:
        raise BadMessage(f"field {key!r} has more than {MAX_LISTED} items")
    return value


def _text_item(value: Any, key: str, limit: int) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise BadMessage(
            f"items of {key!r} must be non-empty strings of at most {limit} characters"
        )
    _check_encodable(value, key)
    return value

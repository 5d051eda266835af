"""Bodies of the messages this project sends over RabbitMQ, defined once.

Every body is a UTF-8 JSON object with ``"v": 1`` and ``content_type``
``application/json``; docs/protocol.md documents each field. A body that does
not parse or does not fit the schema raises :class:`BadMessage`; consumers log
and drop it and carry on. No pickle, no eval.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import pika

from nameserver.registry import ClientRecord

SCHEMA_VERSION = 1
CONTENT_TYPE = "application/json"
#: Refuse bodies larger than this outright, before parsing (any text limit is smaller).
MAX_BODY_BYTES = 256 * 1024

#: Kinds of chat message: a text someone wrote, or a membership notice.
KINDS = frozenset({"text", "join", "leave", "insult"})


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

    def encode(self) -> bytes:
        data: dict[str, Any] = {"v": SCHEMA_VERSION, **asdict(self)}
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

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
        data = decode_object(body)
        try:
            msg = cls(
                id=_text(data, "id", 64),
                sender_id=_text(data, "sender_id", 64),
                sender_name=_text(data, "sender_name", 64),
                chat=_text(data, "chat", 128),
                text=_text(data, "text", MAX_BODY_BYTES, empty=True),
                kind=_text(data, "kind", 16),
                ts=_number(data, "ts"),
            )
        except KeyError as exc:
            raise BadMessage(f"field {exc.args[0]!r} is missing") from None
        if msg.kind not in KINDS:
            raise BadMessage(f"unknown kind {msg.kind!r}")
        return msg


def decode_object(body: bytes) -> dict[str, Any]:
    """The JSON object of a version-1 body, or :class:`BadMessage`."""
    if len(body) > MAX_BODY_BYTES:
        raise BadMessage(f"body of {len(body)} bytes is too large")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadMessage(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadMessage("not a JSON object")
    if data.get("v") != SCHEMA_VERSION:
        raise BadMessage(f"unsupported schema version {data.get('v')!r}")
    return data


def _text(data: dict[str, Any], key: str, limit: int, empty: bool = False) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise BadMessage(f"field {key!r} must be a string")
    if not value and not empty:
        raise BadMessage(f"field {key!r} is empty")
    if len(value) > limit:
        raise BadMessage(f"field {key!r} is too long")
    return value


def _number(data: dict[str, Any], key: str) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadMessage(f"field {key!r} must be a number")
    return float(value)


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
                ts=_number(data, "ts"),
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

    def encode(self) -> bytes:
        data = {
            "v": SCHEMA_VERSION,
            "kind": DISCOVERY_ANSWER,
            "client": asdict(self.client),
            "groups": list(self.groups),
            "private_chats": [{"id": i, "name": n} for i, n in self.private_chats],
            "ts": self.ts,
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

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
        data = decode_object(body)
        _expect_kind(data, DISCOVERY_ANSWER)
        try:
            client = data["client"]
            if not isinstance(client, dict):
                raise BadMessage("field 'client' must be an object")
            port = client["port"]
            if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
                raise BadMessage("field 'client.port' must be a port from 1 to 65535")
            record = ClientRecord(
                id=_text(client, "id", 64),
                name=_text(client, "name", 64),
                host=_text(client, "host", 255),
                port=port,
                started=_number(client, "started"),
            )
            groups = tuple(_text_item(g, "groups", 128) for g in _list(data, "groups"))
            chats = []
            for item in _list(data, "private_chats"):
                if not isinstance(item, dict):
                    raise BadMessage("items of 'private_chats' must be objects")
                chats.append((_text(item, "id", 64), _text(item, "name", 64)))
            return cls(
                client=record, groups=groups, private_chats=tuple(chats), ts=_number(data, "ts")
            )
        except KeyError as exc:
            raise BadMessage(f"field {exc.args[0]!r} is missing") from None


def _expect_kind(data: dict[str, Any], kind: str) -> None:
    if data.get("kind") != kind:
        raise BadMessage(f"expected kind {kind!r}, not {data.get('kind')!r}")


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
    return value

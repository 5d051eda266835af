"""Register, refresh, look up and list clients and group chats in Redis.

A client claims its ID with one ``SET NX EX``: the claim and the record are the
same key, so two clients can never both win an ID, and a client that stops
refreshing its key disappears when the TTL runs out. Listing reads a sorted
set scored by expiry time (:class:`~nameserver.expiring.ExpiringSet`), never
``KEYS``. A transient group chat nobody is in is gone: listing it prunes it.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Literal

import redis

from nameserver.expiring import ExpiringSet
from nameserver.fields import string_field, time_field
from nameserver.keys import Keys, canonical_group

log = logging.getLogger(__name__)

#: Lower-case letters and digits without the look-alikes 0/o, 1/l/i.
ID_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
ID_LENGTH = 8
#: Longest public key (base64 of 32 bytes is 44) and certificate (PEM) a record may carry.
MAX_KEY_CHARS = 64
MAX_CERT_CHARS = 4096
#: The kinds of group chat.
GroupKind = Literal["persistent", "transient"]
GROUP_KINDS: tuple[GroupKind, ...] = ("persistent", "transient")


def new_client_id() -> str:
    """A random client ID: 8 characters, about 40 bits, easy to read and type."""
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


class ClientIdLost(RuntimeError):
    """Our ID expired from Redis and another client has claimed it since."""


@dataclass(frozen=True)
class ClientRecord:
    """What the name server knows of one live client."""

    id: str
    name: str
    host: str
    port: int
    started: float
    #: The client's Ed25519 public key (raw 32 bytes, base64); empty for an old client.
    key: str = ""
    #: The PEM certificate its private-chat server presents (TLS pinned to it); may be empty.
    cert: str = ""
    #: The owner's signature (base64) vouching for ``cert`` with ``key``; may be empty.
    cert_sig: str = ""

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_fields(cls, data: object) -> ClientRecord:
        """The record in a decoded JSON object: the one check of a client record.

        The name server's records and the records in discovery answers are
        checked by this same rule.

        Raises:
            ValueError: a field is missing, of the wrong type or out of range; says which.
        """
        if not isinstance(data, dict):
            raise ValueError("a client record must be an object")
        try:
            port = data["port"]
            if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
                raise ValueError("field 'port' must be a port from 1 to 65535")
            return cls(
                id=string_field(data, "id", 64),
                name=string_field(data, "name", 64),
                host=string_field(data, "host", 255),
                port=port,
                started=time_field(data, "started"),
                key=string_field(data, "key", MAX_KEY_CHARS, empty=True),
                cert=string_field(data, "cert", MAX_CERT_CHARS, empty=True),
                cert_sig=string_field(data, "cert_sig", MAX_KEY_CHARS * 2, empty=True),
            )
        except KeyError as exc:
            raise ValueError(f"field {exc.args[0]!r} is missing") from None

    @classmethod
    def from_json(cls, raw: bytes | str) -> ClientRecord | None:
        """The record stored in Redis, or None (logged) when it is malformed."""
        try:
            return cls.from_fields(json.loads(raw))
        except (ValueError, TypeError, OverflowError, RecursionError):
            log.warning("ignoring a malformed client record: %r", raw[:200])
            return None


def order(record: ClientRecord) -> tuple[float, str]:
    """The one order clients are listed in everywhere: online longest first, then by ID."""
    return (record.started, record.id)


def in_order(records: Iterable[ClientRecord]) -> list[ClientRecord]:
    """``records`` in the one listing order (:func:`order`)."""
    return sorted(records, key=order)


@dataclass(frozen=True)
class GroupRecord:
    """A group chat: its name, kind and who created it when."""

    name: str
    kind: GroupKind
    creator_id: str
    creator_name: str
    created: float

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: bytes | str) -> GroupRecord | None:
        try:
            data = json.loads(raw)
            kind = data["kind"]
            if kind not in GROUP_KINDS:
                raise ValueError(kind)
            return cls(
                name=string_field(data, "name", 128),
                kind=kind,
                creator_id=string_field(data, "creator_id", 64),
                creator_name=string_field(data, "creator_name", 64),
                created=time_field(data, "created"),
            )
        except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
            log.warning("ignoring a malformed group record: %r", raw[:200])
            return None


#: KEYS: client key, index. ARGV: record JSON, ttl, expiry score, client ID.
#: Returns 1 refreshed, 2 written again after it vanished, 0 the ID is someone else's now.
_HEARTBEAT = """
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
  return 1
end
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
  return 2
end
return 0
"""


class Registry:
    """The name server as seen by one client.

    Args:
        connection: a ``redis.Redis``; the caller owns it.
        keys: the key builder (namespace) to use.
        ttl: seconds a client record lives without a heartbeat.
    """

    def __init__(self, connection: redis.Redis, keys: Keys | None = None, ttl: int = 15) -> None:
        self.redis = connection
        self.keys = keys or Keys()
        self.ttl = ttl
        self._heartbeat = connection.register_script(_HEARTBEAT)
        #: The live clients: ID -> expiry (the heartbeat script writes it too).
        self.index = ExpiringSet(connection, self.keys.clients, ttl)

    # -- clients -----------------------------------------------------------

    def claim(
        self,
        name: str,
        host: str,
        port: int,
        started: float | None = None,
        attempts: int = 20,
        key: str = "",
        cert: str = "",
        cert_sig: str = "",
    ) -> ClientRecord:
        """Claim a fresh random ID and register this client under it.

        ``key`` is the client's public key, ``cert`` its chat server's
        certificate and ``cert_sig`` the key's signature vouching for it, all
        published in the record.
        """
        started = time.time() if started is None else started
        for _ in range(attempts):
            record = ClientRecord(new_client_id(), name, host, port, started, key, cert, cert_sig)
            if self._claim(record):
                log.info("registered as %s (%s) at %s", record.id, name, record.address)
                return record
            log.info("client ID %s is taken, drawing another", record.id)
        raise RuntimeError(f"no free client ID after {attempts} attempts")

    def _claim(self, record: ClientRecord) -> bool:
        if not self.redis.set(self.keys.client(record.id), record.to_json(), nx=True, ex=self.ttl):
            return False
        self.index.add([record.id])
        return True

    def heartbeat(self, record: ClientRecord) -> bool:
        """Refresh the registration; returns True when it had vanished and was restored.

        One atomic script: refresh when the key still holds our record, write
        it again when it has gone (Redis restarted or was flushed).

        Raises:
            ClientIdLost: the record had expired and another client holds the ID now.
        """
        outcome = self._heartbeat(
            keys=[self.keys.client(record.id), self.keys.clients],
            args=[record.to_json(), self.ttl, self.index.expiry(), record.id],
        )
        if outcome == 0:
            raise ClientIdLost(record.id)
        if outcome == 2:
            log.warning("registration of %s had vanished from Redis; registered again", record.id)
            return True
        return False

    def take_back(self, record: ClientRecord) -> ClientRecord | None:
        """Overwrite whatever holds ``record``'s ID with ``record``; returns what was there."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.getset(self.keys.client(record.id), record.to_json())
        pipe.expire(self.keys.client(record.id), self.ttl)
        self.index.add([record.id], pipe)
        previous = pipe.execute()[0]
        return ClientRecord.from_json(previous) if previous is not None else None

    def deregister(self, client_id: str) -> None:
        """Remove a client's record at once (on a clean exit)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(self.keys.client(client_id))
        self.index.remove(client_id, pipe)
        pipe.execute()

    def live_ids(self) -> list[str]:
        """IDs of the clients whose registration has not expired, pruning the rest."""
        return self.index.live()

    def get(self, client_id: str) -> ClientRecord | None:
        raw = self.redis.get(self.keys.client(client_id))
        return ClientRecord.from_json(raw) if raw is not None else None

    def list_clients(self) -> list[ClientRecord]:
        """Every live client, oldest first."""
        ids = self.live_ids()
        if not ids:
            return []
        raws = self.redis.mget([self.keys.client(i) for i in ids])
        records = [ClientRecord.from_json(raw) for raw in raws if raw is not None]
        return in_order(r for r in records if r is not None)

    def find(self, query: str) -> list[ClientRecord]:
        """Clients matching a full ID, a prefix of IDs, or a username (case-insensitive).

        An exact ID wins over everything else; otherwise every client whose ID
        starts with ``query`` or whose username equals it is returned.
        """
        query = query.strip()
        if not query:
            return []
        exact = self.get(query.lower())
        if exact is not None:
            return [exact]
        folded = query.casefold()
        return [
            r
            for r in self.list_clients()
            if r.id.startswith(query.lower()) or r.name.casefold() == folded
        ]

    # -- group chats -------------------------------------------------------

    def claim_group(self, record: GroupRecord) -> tuple[GroupRecord, bool]:
        """Create a group chat record unless one exists; returns (the record, created)."""
        key = self.keys.group(record.name)
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(key, record.to_json(), nx=True)
        pipe.sadd(self.keys.groups, canonical_group(record.name))
        pipe.get(key)
        created, _, raw = pipe.execute()
        existing = GroupRecord.from_json(raw) if raw is not None else None
        if created or existing is None:
            if existing is None and not created:
                self.redis.set(key, record.to_json())
            return record, True
        return existing, False

    def reassert_groups(self, records: list[GroupRecord]) -> int:
        """Write back each group record that has vanished (Redis flushed or restarted).

        ``SET NX``: a record that exists is never changed, so a group keeps its
        kind. Returns how many were written back. One round trip.
        """
        if not records:
            return 0
        pipe = self.redis.pipeline(transaction=False)
        for record in records:
            pipe.set(self.keys.group(record.name), record.to_json(), nx=True)
            pipe.sadd(self.keys.groups, canonical_group(record.name))
        written = pipe.execute()[::2]
        return sum(1 for ok in written if ok)

    def get_group(self, name: str) -> GroupRecord | None:
        raw = self.redis.get(self.keys.group(name))
        return GroupRecord.from_json(raw) if raw is not None else None

    def list_groups(self, grace: float | None = None) -> list[GroupRecord]:
        """Every group chat of this namespace, by name, but for transient groups nobody is in.

        A transient group whose members set is empty and which was created more
        than ``grace`` seconds ago (the membership TTL by default: its creator
        may still be joining) is deleted here, as its members expired.
        """
        names = sorted(
            n.decode() if isinstance(n, bytes) else n for n in self.redis.smembers(self.keys.groups)
        )
        if not names:
            return []
        raws = self.redis.mget([self.keys.group(n) for n in names])
        records = [GroupRecord.from_json(raw) for raw in raws if raw is not None]
        listed = [r for r in records if r is not None]
        old = time.time() - (self.ttl if grace is None else grace)
        empty = [
            r
            for r in listed
            if r.kind == "transient"
            and r.created < old
            and not ExpiringSet(self.redis, self.keys.group_members(r.name), self.ttl).count()
        ]
        if empty:
            self._prune_groups(empty)
        return [r for r in listed if r not in empty]

    def _prune_groups(self, records: list[GroupRecord]) -> None:
        """Delete records of transient groups nobody is in, unless one was re-created meanwhile."""
        for record in records:
            key = self.keys.group(record.name)
            with self.redis.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(key)
                    if pipe.get(key) != record.to_json().encode():
                        continue  # re-created meanwhile
                    pipe.multi()
                    pipe.delete(key)
                    pipe.srem(self.keys.groups, canonical_group(record.name))
                    pipe.execute()
                except redis.WatchError:
                    continue
            log.info("pruned the transient group %s: nobody is in it", record.name)

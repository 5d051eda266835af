"""Setting the two answers side by side: who is in one list and not the other."""

from __future__ import annotations

from dataclasses import dataclass, field

from chat.discovery.lookup import RedisResult
from chat.discovery.requester import EventResult
from nameserver.registry import ClientRecord


@dataclass(frozen=True)
class ClientSeen:
    """One client and which way found it."""

    record: ClientRecord
    in_redis: bool
    answered: bool


@dataclass(frozen=True)
class GroupSeen:
    """One group chat, whether Redis has it, and who has it open (from the answers)."""

    name: str
    in_redis: bool
    open_in: tuple[ClientRecord, ...] = ()


@dataclass
class Comparison:
    clients: list[ClientSeen] = field(default_factory=list)
    groups: list[GroupSeen] = field(default_factory=list)

    @property
    def clients_only_in_redis(self) -> list[ClientRecord]:
        return [c.record for c in self.clients if c.in_redis and not c.answered]

    @property
    def clients_only_answering(self) -> list[ClientRecord]:
        return [c.record for c in self.clients if c.answered and not c.in_redis]

    @property
    def groups_only_in_redis(self) -> list[str]:
        return [g.name for g in self.groups if g.in_redis and not g.open_in]

    @property
    def groups_only_answering(self) -> list[str]:
        return [g.name for g in self.groups if g.open_in and not g.in_redis]


def compare(shared: RedisResult, events: EventResult) -> Comparison:
    """Merge both results, clients in the order every view uses (online longest first)."""
    answered = {c.id: c for c in events.clients}
    in_redis = {c.id for c in shared.clients}
    clients = [ClientSeen(c, True, c.id in answered) for c in shared.clients]
    clients += [ClientSeen(c, False, True) for c in events.clients if c.id not in in_redis]
    clients.sort(key=lambda seen: (seen.record.started, seen.record.id))
    open_groups = events.groups()
    names = sorted({g.name for g in shared.groups} | set(open_groups))
    redis_groups = {g.name for g in shared.groups}
    groups = [GroupSeen(n, n in redis_groups, tuple(open_groups.get(n, ()))) for n in names]
    return Comparison(clients, groups)

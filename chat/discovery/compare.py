"""Setting any number of sightings side by side: who each source saw and who it missed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from chat.discovery.source import Sighting
from nameserver.registry import ClientRecord, order


@dataclass(frozen=True)
class ClientSeen:
    """One client and which sources saw it (one flag per sighting, in order)."""

    record: ClientRecord
    seen: tuple[bool, ...]


@dataclass(frozen=True)
class GroupSeenBy:
    """One group chat, which sources saw it, and who said they have it open."""

    name: str
    seen: tuple[bool, ...]
    open_in: tuple[ClientRecord, ...] = ()


@dataclass
class Comparison:
    clients: list[ClientSeen] = field(default_factory=list)
    groups: list[GroupSeenBy] = field(default_factory=list)

    def clients_only_in(self, index: int) -> list[ClientRecord]:
        """Clients that the ``index``-th source alone saw."""
        return [c.record for c in self.clients if _only(c.seen, index)]

    def clients_partly_seen(self) -> list[ClientSeen]:
        """Clients that more than one source saw, but not all of them."""
        return [c for c in self.clients if 1 < sum(c.seen) < len(c.seen)]

    def groups_only_in(self, index: int) -> list[str]:
        """Group chats that the ``index``-th source alone saw."""
        return [g.name for g in self.groups if _only(g.seen, index)]

    @property
    def same_clients(self) -> bool:
        return all(all(c.seen) for c in self.clients)


def _only(seen: tuple[bool, ...], index: int) -> bool:
    return len(seen) > 1 and seen[index] and sum(seen) == 1


def compare(sightings: Sequence[Sighting]) -> Comparison:
    """Merge the sightings, clients in the order every view uses (online longest first)."""
    records: dict[str, ClientRecord] = {}
    for sighting in sightings:
        for record in sighting.clients:
            records.setdefault(record.id, record)
    seen_ids = [{c.id for c in s.clients} for s in sightings]
    clients = [
        ClientSeen(r, tuple(r.id in ids for ids in seen_ids))
        for r in sorted(records.values(), key=order)
    ]
    open_in: dict[str, list[ClientRecord]] = {}
    for sighting in sightings:
        for group in sighting.groups:
            known = open_in.setdefault(group.name, [])
            known += [c for c in group.open_in if c not in known]
    group_names = [{g.name for g in s.groups} for s in sightings]
    groups = [
        GroupSeenBy(name, tuple(name in names for names in group_names), tuple(open_in[name]))
        for name in sorted(open_in)
    ]
    return Comparison(clients, groups)

"""Who is in which group chat right now, with liveness by expiry score.

One :class:`~nameserver.expiring.ExpiringSet` per group
(``Keys.group_members``): member client ID -> the time its membership
expires. A member refreshes its score as the client heartbeat does; a member
that dies stops refreshing and is pruned by the next reader.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis

from nameserver.expiring import ExpiringSet
from nameserver.keys import Keys


class GroupMembers:
    """Group memberships in one namespace.

    Args:
        connection: a ``redis.Redis``; the caller owns it.
        keys: the key builder (namespace).
        ttl: seconds a membership lives without a refresh.
    """

    def __init__(self, connection: redis.Redis, keys: Keys, ttl: int = 15) -> None:
        self.redis = connection
        self.keys = keys
        self.ttl = ttl

    def of(self, group: str) -> ExpiringSet:
        """The expiring set of ``group``'s members (any spelling of its name)."""
        return ExpiringSet(self.redis, self.keys.group_members(group), self.ttl)

    def refresh(self, client_id: str, groups: Iterable[str]) -> None:
        """Add or prolong ``client_id``'s membership of each group, in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for group in groups:
            self.of(group).add([client_id], pipe)
        pipe.execute()

    def leave(self, client_id: str, group: str) -> None:
        self.of(group).remove(client_id)

    def live(self, group: str) -> list[str]:
        """IDs of the group's live members, pruning the expired ones."""
        return self.of(group).live()

"""Who is in which group chat right now, with liveness by expiry score.

One sorted set per group (``Keys.group_members``): member client ID -> the
time (Unix seconds) its membership expires. A member refreshes its score as
the client heartbeat does; a member that dies stops refreshing and is pruned
by the next reader (``ZREMRANGEBYSCORE``), so nobody has to clean up after it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import redis

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

    def refresh(self, client_id: str, groups: Iterable[str]) -> None:
        """Add or prolong ``client_id``'s membership of each group, in one round trip."""
        expires = time.time() + self.ttl
        pipe = self.redis.pipeline(transaction=False)
        for group in groups:
            pipe.zadd(self.keys.group_members(group), {client_id: expires})
        pipe.execute()

    def leave(self, client_id: str, group: str) -> None:
        self.redis.zrem(self.keys.group_members(group), client_id)

    def live(self, group: str) -> list[str]:
        """IDs of the group's live members, pruning the expired ones."""
        key = self.keys.group_members(group)
        now = time.time()
        pipe = self.redis.pipeline(transaction=False)
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zrangebyscore(key, now, "+inf")
        _, ids = pipe.execute()
        return [i.decode() if isinstance(i, bytes) else i for i in ids]

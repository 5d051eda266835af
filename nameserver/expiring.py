"""A set whose members expire unless refreshed: one Redis sorted set scored by expiry.

The shape of rq's ``BaseRegistry``: each member's score is the time (Unix
seconds) it expires; a member is refreshed by writing a later score, and
every read first removes what has expired (``ZREMRANGEBYSCORE``), so nobody
has to clean up after a member that died. Used for the live clients of a
namespace and for the members of each group chat.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import redis


class ExpiringSet:
    """One expiring set at ``key``.

    Args:
        connection: a ``redis.Redis``; the caller owns it.
        key: the sorted set's key (built by :class:`nameserver.keys.Keys`).
        ttl: seconds a member lives without a refresh.
    """

    def __init__(self, connection: redis.Redis, key: str, ttl: float) -> None:
        self.redis = connection
        self.key = key
        self.ttl = ttl

    def expiry(self) -> float:
        """The score a member added now gets."""
        return time.time() + self.ttl

    def add(self, members: Iterable[str], pipe: Any = None) -> None:
        """Add or prolong ``members`` (queued on ``pipe`` when given, else at once)."""
        scores = dict.fromkeys(members, self.expiry())
        if scores:
            (pipe if pipe is not None else self.redis).zadd(self.key, scores)

    def remove(self, member: str, pipe: Any = None) -> None:
        (pipe if pipe is not None else self.redis).zrem(self.key, member)

    def live(self) -> list[str]:
        """The members that have not expired, pruning those that have; one round trip."""
        now = time.time()
        pipe = self.redis.pipeline(transaction=False)
        pipe.zremrangebyscore(self.key, "-inf", now)
        pipe.zrangebyscore(self.key, now, "+inf")
        _, found = pipe.execute()
        return [m.decode() if isinstance(m, bytes) else m for m in found]

    def count(self) -> int:
        """How many members have not expired, pruning those that have."""
        now = time.time()
        pipe = self.redis.pipeline(transaction=False)
        pipe.zremrangebyscore(self.key, "-inf", now)
        pipe.zcount(self.key, now, "+inf")
        return int(pipe.execute()[1])

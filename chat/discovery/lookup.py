"""Discovery the shared-memory way: read the live clients and group chats from Redis."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import redis

from nameserver.registry import ClientRecord, GroupRecord, Registry

log = logging.getLogger(__name__)


@dataclass
class RedisResult:
    """What the name server holds right now.

    Attributes:
        clients: live clients (registration not expired), oldest first.
        groups: every group chat of the namespace, by name.
        took: seconds the two reads took.
        error: a sentence for the user when Redis could not be read.
    """

    clients: list[ClientRecord] = field(default_factory=list)
    groups: list[GroupRecord] = field(default_factory=list)
    took: float = 0.0
    error: str | None = None


def look_up(registry: Registry) -> RedisResult:
    """Read the name server; never raises for Redis trouble (the result's ``error`` says it)."""
    started = time.perf_counter()
    try:
        clients = registry.list_clients()
        groups = registry.list_groups()
    except redis.RedisError as exc:
        log.warning("reading the name server failed: %r", exc)
        return RedisResult(
            took=time.perf_counter() - started,
            error=f"The name server (Redis) is not answering right now ({exc}).",
        )
    return RedisResult(clients, groups, time.perf_counter() - started)

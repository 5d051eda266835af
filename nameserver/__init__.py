"""The name server: client and group-chat records in Redis, with liveness by TTL."""

from nameserver.keys import Keys
from nameserver.registry import (
    ClientRecord,
    GroupRecord,
    Registry,
    new_client_id,
)

__all__ = ["ClientRecord", "GroupRecord", "Keys", "Registry", "new_client_id"]

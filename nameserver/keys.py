"""Every Redis key of the name server is built here, under one prefix.

Layout (``P`` is the namespace, ``chat`` by default):

- ``P:client:<id>``     JSON client record, expires unless a heartbeat refreshes it
- ``P:clients``         sorted set: client ID -> expiry time (Unix seconds)
- ``P:group:<name>``    JSON group-chat record, claimed once, no expiry
- ``P:groups``          set of group-chat names (canonical form)
- ``P:group:<name>:members``  sorted set: client ID -> expiry time of membership

Group names are case-insensitive: every key is built from the canonical form
(:func:`canonical_group`), while the record keeps the name as first created.
"""

from __future__ import annotations

from dataclasses import dataclass


def canonical_group(name: str) -> str:
    """The one spelling of a group name in keys and broker names: ``Book-Club`` -> ``book-club``.

    Group names are ASCII letters, digits, ``-``, ``_`` and ``.``, so lower case is enough.
    """
    return name.lower()


@dataclass(frozen=True)
class Keys:
    """Key builder for one namespace."""

    prefix: str = "chat"

    def client(self, client_id: str) -> str:
        return f"{self.prefix}:client:{client_id}"

    @property
    def clients(self) -> str:
        return f"{self.prefix}:clients"

    def group(self, name: str) -> str:
        return f"{self.prefix}:group:{canonical_group(name)}"

    @property
    def groups(self) -> str:
        return f"{self.prefix}:groups"

    def group_members(self, name: str) -> str:
        return f"{self.prefix}:group:{canonical_group(name)}:members"

    @property
    def pattern(self) -> str:
        """Glob matching every key of this namespace (for tests and cleanup only)."""
        return f"{self.prefix}:*"

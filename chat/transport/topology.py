"""Every RabbitMQ exchange and queue name, built in one place under the namespace.

Like the Redis keys (:mod:`nameserver.keys`), all names start with the
namespace (``chat`` by default), so clients in different namespaces never see
each other's traffic and a test's leftovers are easy to find.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Names:
    """Exchange and queue names of one namespace."""

    namespace: str = "chat"

    @property
    def groups_exchange(self) -> str:
        """Durable topic exchange of every group chat; the routing key is the group name."""
        return f"{self.namespace}.groups"

    def group_stream(self, group: str) -> str:
        """Stream queue holding a persistent group's history."""
        return f"{self.namespace}.group.{group}"

    def group_member_queue(self, group: str, client_id: str) -> str:
        """Exclusive, auto-delete queue of one client reading a transient group."""
        return f"{self.namespace}.member.{client_id}.{group}"

    @property
    def discovery_exchange(self) -> str:
        """Fanout exchange that every client listens on for discovery requests."""
        return f"{self.namespace}.discovery"

    @property
    def insult_queue(self) -> str:
        """Quorum work queue of the insult channel.

        Versioned: ``NS.insults`` was a classic queue, and a queue cannot change
        its type (declaring it as a quorum queue fails with 406).
        """
        return f"{self.namespace}.insults.v2"

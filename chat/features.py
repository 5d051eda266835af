"""What a feature of the client is, and what features may ask of each other.

No feature imports another. Each is one object behind :class:`Feature`; the
app builds the list (``chat.wiring``), starts them in order, builds the menu
from their labels and closes them in reverse order. A feature that needs
another receives it as one of the small typed interfaces below
(:class:`PrivateChatOpener`, :class:`GroupJoiner`), never by name.

This module imports nothing of the client, so anything may import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from nameserver.registry import ClientRecord


@dataclass
class Description:
    """What this client tells a discovery request: the chats it has open."""

    groups: list[str] = field(default_factory=list)
    #: (peer ID, peer name) of every open private chat.
    private_chats: list[tuple[str, str]] = field(default_factory=list)


class Feature(Protocol):
    """One feature of the client (private chats, groups, discovery, insults).

    Attributes:
        key: a short stable name, for logs.
        label: the menu entry, or None for a feature without one.
    """

    key: str
    label: str | None

    def start(self) -> None:
        """Attach to the running client (servicers, broker setups); before the menu starts."""

    def run_menu(self) -> None:
        """Run the feature's menu entry on the menu thread.

        Raises:
            UserError: what the user asked cannot be done; the message says why.
        """

    def describe(self, into: Description) -> None:
        """Add what this feature has open to a discovery answer (any thread, quick)."""

    def close(self) -> None:
        """At exit, on the main thread: goodbyes, leaving, windows closed; quick."""


class PrivateChatOpener(Protocol):
    """What other features may ask of private chats."""

    def open_with(self, record: ClientRecord) -> None:
        """Open a chat with ``record`` or bring it to the front (menu thread).

        Raises:
            UserError: it cannot be opened; the message says why.
        """

    def active_peers(self) -> list[tuple[str, str]]:
        """(ID, name) of every open private chat (any thread)."""
        ...


class GroupJoiner(Protocol):
    """What other features may ask of group chats."""

    def join_interactive(self, name: str) -> None:
        """Ask how to join ``name`` on the terminal, join it, open its window (menu thread).

        Raises:
            UserError: it cannot be joined; the message says why.
        """

    def joined(self) -> list[str]:
        """Names of the groups open right now, sorted (any thread)."""
        ...

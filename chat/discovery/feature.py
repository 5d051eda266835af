"""The discovery feature of one client: answer others, and look through every source."""

from __future__ import annotations

import logging
from collections.abc import Callable

from chat.client import Client
from chat.discovery.menu import discover_chats
from chat.discovery.requester import Requester
from chat.discovery.responder import Responder
from chat.discovery.source import EventSource, NameServerSource, Source
from chat.features import Description, GroupJoiner, PrivateChatOpener
from chat.transport.topology import Names
from chat.transport.wire import MAX_LISTED
from chat.trust.verifier import verifier_of

log = logging.getLogger(__name__)


class Discovery:
    """The "Discover chats" feature.

    It answers every discovery request with this client's record and what
    ``describe`` says is open (groups and private chats). Its menu looks
    through :attr:`sources` (the name server, then a discovery event); a row
    the user picks goes to ``opener`` (a client) or ``joiner`` (a group);
    either may be absent in a client without that feature.
    """

    key = "discovery"
    label = "Discover chats"

    def __init__(
        self,
        client: Client,
        opener: PrivateChatOpener | None = None,
        joiner: GroupJoiner | None = None,
        describe: Callable[[], Description] = Description,
    ) -> None:
        self.client = client
        self.opener = opener
        self.joiner = joiner
        self._describe = describe
        names = Names(client.config.namespace)
        self.responder = Responder(
            client.broker, names, client.me, self.answer, identity=client.identity
        )
        self.requester = Requester(client.broker, names, client.me, verifier_of(client))
        registry = client.registry
        self.name_server = NameServerSource(registry, client.config.client_ttl)
        self.events = EventSource(
            self.requester,
            client.config.discovery_timeout,
            client.me.id,
            listed=lambda: {c.id for c in registry.list_clients()},
        )
        #: Every way to look, in menu order.
        self.sources: list[Source] = [self.name_server, self.events]

    # -- the feature -------------------------------------------------------------

    def start(self) -> None:
        self.responder.start()
        self.requester.start()

    def run_menu(self) -> None:
        discover_chats(self.client.term, self.client.me.id, self.sources, self.opener, self.joiner)

    def describe(self, into: Description) -> None:
        """Discovery itself opens no chats."""

    def close(self) -> None:
        self.requester.stop()
        self.responder.stop()

    # -- answering ---------------------------------------------------------------

    def answer(self) -> tuple[list[str], list[tuple[str, str]]]:
        """The group chats and private chats this client has open right now."""
        try:
            found = self._describe()
        except Exception:
            log.exception("could not list the open chats")
            found = Description()
        groups = [str(g) for g in found.groups]
        peers = [(str(i), str(n)) for i, n in found.private_chats]
        # What would not decode at the other end is left out, not the whole answer.
        fit_groups = [g for g in dict.fromkeys(groups) if 0 < len(g) <= 128][:MAX_LISTED]
        fit_peers = [(i, n) for i, n in peers if 0 < len(i) <= 64 and 0 < len(n) <= 64]
        if len(fit_groups) < len(set(groups)) or len(fit_peers) < len(peers):
            log.warning("left out group or peer names that do not fit a discovery answer")
        return fit_groups, fit_peers[:MAX_LISTED]

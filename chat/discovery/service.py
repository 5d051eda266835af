"""The discovery feature of one client: answer others, and ask both ways."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from chat.client import Client
from chat.discovery.lookup import RedisResult, look_up
from chat.discovery.menu import discover_chats
from chat.discovery.requester import Answered, EventResult, Requester
from chat.discovery.responder import Responder
from chat.features import Description, GroupJoiner, PrivateChatOpener
from chat.transport.topology import Names
from chat.transport.wire import MAX_LISTED
from chat.trust.verifier import verifier_of

log = logging.getLogger(__name__)


class Discovery:
    """The "Discover chats" feature.

    It answers every discovery request with this client's record and what
    ``describe`` says is open (groups and private chats). A row the user picks
    goes to ``opener`` (a client) or ``joiner`` (a group); either may be
    absent in a client without that feature.
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
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="discovery-redis")

    # -- the feature -------------------------------------------------------------

    def start(self) -> None:
        self.responder.start()
        self.requester.start()

    def run_menu(self) -> None:
        discover_chats(self.client, self)

    def describe(self, into: Description) -> None:
        """Discovery itself opens no chats."""

    def close(self) -> None:
        self.requester.stop()
        self.responder.stop()
        self._pool.shutdown(wait=False)

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

    # -- asking ------------------------------------------------------------------

    def via_redis(self) -> RedisResult:
        return look_up(self.client.registry)

    def via_events(
        self,
        on_answer: Callable[[Answered], None] | None = None,
        expected: Future[set[str]] | None = None,
    ) -> EventResult:
        """Ask every client; the wait ends early once every client in ``expected`` answered.

        Without ``expected``, the clients the name server lists right now are
        expected.
        """
        if expected is None:
            expected = self._pool.submit(self._listed_ids)
        return self.requester.discover(self.client.config.discovery_timeout, on_answer, expected)

    def _listed_ids(self) -> set[str]:
        return {c.id for c in self.client.registry.list_clients()}

    def both(
        self, on_answer: Callable[[Answered], None] | None = None
    ) -> tuple[RedisResult, EventResult]:
        """Both ways at the same time: Redis on a worker thread, the event on this one."""
        shared = self._pool.submit(self.via_redis)
        listed: Future[set[str]] = Future()

        def on_shared(done: Future[RedisResult]) -> None:
            result = done.result()
            if result.error:
                listed.set_exception(RuntimeError(result.error))
            else:
                listed.set_result({c.id for c in result.clients})

        shared.add_done_callback(on_shared)
        events = self.via_events(on_answer, listed)
        return shared.result(), events

"""The discovery feature of one client: answer others, and ask both ways."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from chat.client import Client
from chat.discovery.lookup import RedisResult, look_up
from chat.discovery.requester import Answered, EventResult, Requester
from chat.discovery.responder import Responder
from chat.topology import Names
from chat.wire import MAX_LISTED

log = logging.getLogger(__name__)


class Discovery:
    """Attached to a client as ``client.features["discovery"]``.

    It answers every discovery request with this client's record, the groups
    it has open (``features["groups"].joined()``) and its private chats
    (``features["private"].active_peers()``); a feature that is absent counts
    as none open.
    """

    def __init__(self, client: Client) -> None:
        self.client = client
        names = Names(client.config.namespace)
        self.responder = Responder(client.broker, names, client.me, self.describe)
        self.requester = Requester(client.broker, names, client.me)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="discovery-redis")

    def start(self) -> None:
        self.responder.start()
        self.requester.start()
        self.client.at_exit(self.stop)

    def stop(self) -> None:
        self.requester.stop()
        self.responder.stop()
        self._pool.shutdown(wait=False)

    def describe(self) -> tuple[list[str], list[tuple[str, str]]]:
        """The group chats and private chats this client has open right now."""
        groups: list[str] = []
        peers: list[tuple[str, str]] = []
        feature = self.client.features.get("groups")
        if feature is not None:
            try:
                groups = [str(g) for g in feature.joined()]
            except Exception:
                log.exception("could not list the open group chats")
        feature = self.client.features.get("private")
        if feature is not None:
            try:
                peers = [(str(i), str(n)) for i, n in feature.active_peers()]
            except Exception:
                log.exception("could not list the open private chats")
        # What would not decode at the other end is left out, not the whole answer.
        fit_groups = [g for g in dict.fromkeys(groups) if 0 < len(g) <= 128][:MAX_LISTED]
        fit_peers = [(i, n) for i, n in peers if 0 < len(i) <= 64 and 0 < len(n) <= 64]
        if len(fit_groups) < len(set(groups)) or len(fit_peers) < len(peers):
            log.warning("left out group or peer names that do not fit a discovery answer")
        return fit_groups, fit_peers[:MAX_LISTED]

    def via_redis(self) -> RedisResult:
        return look_up(self.client.registry)

    def via_events(self, on_answer: Callable[[Answered], None] | None = None) -> EventResult:
        return self.requester.discover(self.client.config.discovery_timeout, on_answer)

    def both(
        self, on_answer: Callable[[Answered], None] | None = None
    ) -> tuple[RedisResult, EventResult]:
        """Both ways at the same time: Redis on a worker thread, the event on this one."""
        shared = self._pool.submit(self.via_redis)
        events = self.via_events(on_answer)
        return shared.result(), events

    def run_menu(self) -> None:
        from chat.discovery.menu import discover_chats

        discover_chats(self.client, self)


def start(client: Client) -> None:
    """Starter (see ``chat.app.STARTERS``): answer discovery requests from now on."""
    discovery = Discovery(client)
    discovery.start()
    client.features["discovery"] = discovery

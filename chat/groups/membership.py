"""One client's membership of one group: a feed and a conversation, started and closed.

Threads:
- :meth:`Membership.start` runs on the menu thread (it waits for the broker);
  :meth:`Membership.close` on the UI thread, or any thread at exit. Neither
  touches the conversation's state: they only start and stop the feed and
  post to the UI thread.
- The :class:`~chat.groups.feed.Feed` lives on the broker thread and its
  worker; it tells the membership (as its :class:`~chat.groups.feed.Onward`),
  which posts each event to the :class:`~chat.groups.conversation.Conversation`
  on the UI thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING

import pika

from chat.groups import paging
from chat.groups.conversation import Conversation, Outlet
from chat.groups.feed import Feed
from chat.groups.model import Kind, Mode, canonical, check_max_age
from chat.history import ChatLog, OldMessage
from chat.transport.wire import ChatMessage
from chat.trust.verifier import Verdict

if TYPE_CHECKING:
    from chat.client import Client

log = logging.getLogger(__name__)


class Membership:
    """The membership of one client in one group.

    It owns no state of its own beyond two events (closed, joined) that any
    thread reads: the menu thread starts it, the UI thread (or the exit) closes
    it; the feed's events pass through it to the conversation on the UI thread.

    Args:
        client: the running client (broker, UI queue, identity, config).
        name: a valid group name, as the user typed it or as first created
            (shown); keys and broker names use its canonical form.
        mode: ``connect`` (read and write) or ``subscribe`` (read only).
        kind: ``persistent`` or ``transient``, as recorded in the name server.
    """

    def __init__(self, client: Client, name: str, mode: Mode, kind: Kind) -> None:
        self.client = client
        self.title = name
        self.name = canonical(name)
        self.mode = mode
        self.kind = kind
        self._closed = threading.Event()
        self._joined = threading.Event()
        self.feed = Feed(client, self.name, kind, self)
        me = client.me
        outlet = Outlet(self._publish, self.feed.read_page, self._later, self._connected)
        self.conversation = Conversation(
            me.id,
            me.name,
            name,
            self.name,
            mode,
            kind,
            outlet,
            client.ui.post,
            client.config.max_message_bytes,
        )

    @property
    def log(self) -> ChatLog:
        return self.conversation.log

    @property
    def queue(self) -> str:
        """The queue this member reads: the group's stream, or its own transient queue."""
        return self.feed.queue

    @property
    def closed(self) -> bool:
        """True once left (or once joining failed)."""
        return self._closed.is_set()

    @property
    def active(self) -> bool:
        """True once joined (consuming, join announced) and until left."""
        return self._joined.is_set() and not self._closed.is_set()

    # -- menu thread ---------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Consume, then announce the join.

        Raises:
            BrokerUnavailable: the broker is not reachable; nothing is left behind.
            ValueError: the retention setting is not valid (a sentence for the user).
        """
        if self.kind == "persistent":
            check_max_age(self.client.config.group_max_age)
        marker = self._notice("join")
        self.conversation.marker_id = marker.id  # before the UI thread can see it come back
        try:
            self.feed.start(timeout)
            self.client.broker.call(
                lambda ch: ch.basic_publish(
                    self.feed.exchange, self.name, *self._encoded(marker), True
                ),
                timeout,
            )
        except Exception:
            self._stop(announce=False)
            raise
        self._joined.set()
        log.info("joined group %s (%s, %s)", self.name, self.mode, self.kind)
        self.client.ui.post(self.conversation.joined)

    def _notice(self, kind: str) -> ChatMessage:
        me = self.client.me
        return ChatMessage(me.id, me.name, self.name, "", kind=kind)

    def _encoded(self, msg: ChatMessage) -> tuple[bytes, pika.BasicProperties]:
        return msg.encode(self.client.identity), msg.properties(
            persistent=self.kind == "persistent"
        )

    # -- the conversation's outlet (UI thread) ----------------------------------------

    def _publish(self, msg: ChatMessage) -> Future[None]:
        return self.feed.publish(*self._encoded(msg))

    def _later(self, seconds: float, fn: Callable[[], None]) -> None:
        self.feed.later(seconds, lambda: self.client.ui.post(fn))

    def _connected(self) -> bool:
        return self.client.broker.connected

    # -- the feed's onward (broker thread and the feed's worker) ----------------------

    def arrive(self, msg: ChatMessage, verdict: Verdict) -> None:
        self.conversation.arrive(msg, verdict)

    def page(
        self, page: paging.Page, items: list[OldMessage], meetings: list[str], seq: int
    ) -> None:
        self.client.ui.post(self.conversation.page, page, items, meetings, seq)

    def live_start(self, offset: int) -> None:
        self.client.ui.post(self.conversation.live_start, offset)

    def lost(self, connection: bool = True) -> None:
        self.client.ui.post(self.conversation.lost, connection)

    def back(self) -> None:
        self.client.ui.post(self.conversation.back)

    # -- leaving ---------------------------------------------------------------------

    def close(self) -> Future[None] | None:
        """Leave the group: announce it, stop consuming, leave no queue behind.

        Returns the broker's work (None when left already); at exit the
        caller waits for it before the broker closes.
        """
        if self.closed:
            return None
        future = self._stop(announce=True)
        log.info("left group %s", self.name)
        return future

    def _stop(self, announce: bool) -> Future[None]:
        self._closed.set()
        self.client.ui.post(self.conversation.close)
        leave = self._encoded(self._notice("leave")) if announce else None
        return self.feed.close(leave)

"""The heartbeat thread: keeps this client's registration alive in Redis."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis

from chat import textsafe
from nameserver.registry import ClientIdLost, ClientRecord, Registry

log = logging.getLogger(__name__)


class Heartbeat:
    """Refreshes a client record every ``interval`` seconds until stopped.

    When the record has vanished (Redis restarted or flushed) it is registered
    again and ``on_restored`` is called; when Redis is unreachable the thread
    logs, calls ``on_trouble`` once, and keeps trying at the same interval;
    when it answers again ``on_trouble`` hears that too. When the record under
    our ID is someone else's (rewritten in Redis), ``on_trouble`` hears it and
    our record is written back.
    """

    def __init__(
        self,
        registry: Registry,
        record: ClientRecord,
        interval: float,
        on_restored: Callable[[], None] | None = None,
        on_trouble: Callable[[str], None] | None = None,
    ) -> None:
        self.registry = registry
        self.record = record
        self.interval = interval
        self.on_restored = on_restored
        self.on_trouble = on_trouble
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._failing = False

    def start(self) -> None:
        self._thread.start()

    def beat(self) -> None:
        """One refresh (also called directly by tests)."""
        try:
            restored = self.registry.heartbeat(self.record)
        except redis.RedisError as exc:
            log.warning("heartbeat failed: %s", exc)
            if not self._failing and self.on_trouble is not None:
                self.on_trouble(f"Lost contact with the name server ({exc}); still trying.")
            self._failing = True
            return
        except ClientIdLost:
            self._take_back()
            return
        if self._failing:
            log.info("name server reachable again")
            self._failing = False
            if self.on_trouble is not None:
                self.on_trouble("Back in contact with the name server.")
        if restored and self.on_restored is not None:
            self.on_restored()

    def _take_back(self) -> None:
        """Our ID holds another record: say so, and put ours back.

        IDs are random and a live client refreshes its record well within the
        TTL, so another record under our ID was written over ours (someone
        pointing our ID at their own server); it is not a newcomer's claim.
        """
        try:
            theirs = self.registry.take_back(self.record)
        except redis.RedisError as exc:
            log.warning("taking back the record failed: %s", exc)
            return
        if theirs is None:
            return
        mine = self.record
        if theirs.key != mine.key:
            what = "someone else's key"
        elif (theirs.host, theirs.port, theirs.cert) != (mine.host, mine.port, mine.cert):
            what = f"your key but another server ({textsafe.name(theirs.address)})"
        else:
            what = "a changed copy of your record"
        log.error("record of %s held %s; taken back", mine.id, what)
        if self.on_trouble is not None:
            self.on_trouble(
                f"Your record in the name server (ID {mine.id}) was replaced: it held {what}. "
                "Someone may be posing as you; your own record is back in place."
            )

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(2)

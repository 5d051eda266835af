"""The broker's bookkeeping of what features hold on it: setups and lost/back listeners.

No pika connection here. :class:`Subscriptions` keeps them in the order they
were added, under a lock of its own, so any thread may add or cancel one
while the broker thread runs them from a copy; a subscription is checked to
be held right before it runs, so a cancelled one never runs again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Literal

from pika.adapters.blocking_connection import BlockingChannel

log = logging.getLogger(__name__)

Setup = Callable[[BlockingChannel], None]
Listener = Callable[[], None]
Event = Literal["lost", "back"]


class Subscription:
    """A feature's hold on the broker: a setup and/or lost/back listeners.

    Made by :meth:`~chat.transport.broker.Broker.add_setup` and
    :meth:`~chat.transport.broker.Broker.add_listener`; :meth:`cancel` (any
    thread, idempotent) stops the setup from running again and the listeners
    from being called. Consumers the setup started are the feature's to cancel
    (on the broker thread, e.g. with :meth:`~chat.transport.broker.Broker.submit`).
    """

    def __init__(
        self,
        held_by: Subscriptions,
        setup: Setup | None = None,
        on_lost: Listener | None = None,
        on_back: Listener | None = None,
    ) -> None:
        self._held_by = held_by
        self.setup = setup
        self.on_lost = on_lost
        self.on_back = on_back

    @property
    def active(self) -> bool:
        return self._held_by.holds(self)

    def cancel(self) -> None:
        self._held_by.drop(self)


class Subscriptions:
    """The subscriptions of one broker, in the order they were added (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: list[Subscription] = []

    def new(
        self,
        setup: Setup | None = None,
        on_lost: Listener | None = None,
        on_back: Listener | None = None,
    ) -> Subscription:
        """A subscription of this broker, not held yet (see :meth:`hold`)."""
        return Subscription(self, setup, on_lost, on_back)

    def hold(self, subscription: Subscription, unless: threading.Event | None = None) -> None:
        """Hold ``subscription``, unless ``unless`` is set (checked under the lock)."""
        with self._lock:
            if unless is None or not unless.is_set():
                self._held.append(subscription)

    def holds(self, subscription: Subscription) -> bool:
        with self._lock:
            return any(s is subscription for s in self._held)

    def drop(self, subscription: Subscription) -> None:
        with self._lock:
            self._held = [s for s in self._held if s is not subscription]

    def setups(self) -> list[Subscription]:
        """A copy of those with a setup, oldest first."""
        with self._lock:
            return [s for s in self._held if s.setup is not None]

    def notify(self, event: Event) -> None:
        """Call every held listener of ``event``; one that fails is logged and skipped."""
        with self._lock:
            held = list(self._held)
        for subscription in held:
            listener = subscription.on_lost if event == "lost" else subscription.on_back
            if listener is not None and subscription.active:
                try:
                    listener()
                except Exception:
                    log.exception("broker state listener failed")

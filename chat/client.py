"""Everything one running client holds, passed to every feature (no globals)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from chat.broker import Broker
from chat.config import Config
from chat.terminal import Terminal
from chat.ui import UiQueue
from chat.windows.api import WindowHost
from nameserver.registry import ClientRecord, Registry

log = logging.getLogger(__name__)


@dataclass
class Client:
    """The connections and identity of one client process.

    Features (private chats, groups, discovery, insults) are attached as
    attributes at start-up and register what must happen at exit with
    :meth:`at_exit`; the menu calls into them from its own thread.
    """

    config: Config
    redis: redis.Redis
    registry: Registry
    broker: Broker
    ui: UiQueue
    term: Terminal
    me: ClientRecord
    #: The hidden Tk root; windows are made on the main thread only (via ``ui.post``).
    root: Any = None
    #: Every chat window goes through this host (UI thread only); see chat.windows.api.
    windows: WindowHost | None = None
    features: dict[str, Any] = field(default_factory=dict)
    _exit_hooks: list[Callable[[], None]] = field(default_factory=list)

    def at_exit(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` on the main thread at exit, before the connections close."""
        self._exit_hooks.append(hook)

    def run_exit_hooks(self) -> None:
        while self._exit_hooks:
            hook = self._exit_hooks.pop()
            try:
                hook()
            except Exception:
                log.exception("exit hook %r failed", hook)

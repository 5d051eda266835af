"""What every feature of one running client may use: connections, identity, UI (no globals)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chat.config import Config
from chat.front.terminal import Terminal
from chat.front.ui import UiQueue
from chat.transport.broker import Broker
from chat.trust.identity import Identity
from chat.trust.known_peers import KnownPeers
from chat.windows.api import WindowHost
from nameserver.registry import ClientRecord, Registry


@dataclass
class Client:
    """The narrow context a feature is built with.

    Features receive this, never each other: a feature that needs another
    gets it as a typed interface (``chat.features``). The menu calls into
    features from its own thread; windows are made on the main thread only.
    """

    config: Config
    registry: Registry
    broker: Broker
    ui: UiQueue
    term: Terminal
    me: ClientRecord
    #: The hidden Tk root; windows are made on the main thread only (via ``ui.post``).
    root: Any = None
    #: The unstarted gRPC server (``grpc.Server``) features add their servicers to.
    server: Any = None
    #: This user's key pair (its public half is ``me.key``).
    identity: Identity | None = None
    #: The keys seen before for each username (trust on first use).
    known_peers: KnownPeers | None = None
    #: Every chat window goes through this host (UI thread only); see chat.windows.api.
    windows: WindowHost | None = None
    #: Checks signed bodies against the name server and known peers (``chat.trust.verifier``).
    verifier: Any = None

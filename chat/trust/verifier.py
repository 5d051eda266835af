"""Who wrote a signed body: its signature, then its key against the sender.

Every group message, insult and discovery answer is signed by its sender
(``chat/trust/signing.py``). A :class:`Verifier` decides, once per body and off the
Tk thread (on the broker thread, or the thread that asked), whether to show
it:

1. The signature must hold over the body (an unsigned body fails too:
   every client of this version signs).
2. While the sender ID is registered, its record's key must be the key that
   signed: another key means someone else wrote in that ID's name (forged).
   Look-ups are cached per sender ID for :data:`RECORD_TTL` seconds, so a
   burst from one sender costs one Redis read.
3. The key is then compared with the one known for the sender's username
   (``chat/trust/known_peers.py``): a first meeting is noted once, a changed key is
   shown with a warning. A sender no longer registered (old history) is
   judged by this step alone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from chat.textsafe import for_terminal
from chat.transport.boundary import preview
from chat.trust import signing
from chat.trust.known_peers import KnownPeers, PeerCheck, Trust
from nameserver.registry import ClientRecord, Registry

log = logging.getLogger(__name__)

#: Seconds a name-server look-up of a sender ID is reused.
RECORD_TTL = 2.0
#: Most sender IDs (and username/key pairs) cached; the cache starts over beyond it.
MAX_CACHED = 10_000


@dataclass(frozen=True)
class Verdict:
    """What :meth:`Verifier.check` decided about one body.

    Attributes:
        key: the key that signed it (None when it is dropped).
        reason: why it is dropped (for the log), or None.
        warning: a sentence to show beside it (the key changed), or "".
        first_meeting: a sentence to show once before it (a new username), or "".
    """

    key: str | None
    reason: str | None = None
    warning: str = ""
    first_meeting: str = ""

    @property
    def ok(self) -> bool:
        return self.reason is None


Lookup = Callable[[str], "ClientRecord | None"]


class Verifier:
    """Checks signed bodies for one client; thread-safe.

    Args:
        lookup: the name server's record of a client ID (``Registry.get``).
        known_peers: the keys seen before for each username.
        own_id: this client's ID, and ``own_key`` its key: its own bodies
            need no known-peers entry.
        clock: monotonic seconds (tests pass their own).
        on_changed: told the sentence once when a username comes with another
            key than the one known for it (the terminal's ``notify``); called
            on the checking thread.
    """

    def __init__(
        self,
        lookup: Lookup,
        known_peers: KnownPeers | None,
        own_id: str = "",
        own_key: str = "",
        clock: Callable[[], float] = time.monotonic,
        on_changed: Callable[[str], None] | None = None,
    ) -> None:
        self._on_changed = on_changed
        self._lookup = lookup
        self._peers = known_peers
        self._own = (own_id, own_key)
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[str, tuple[float, ClientRecord | None]] = {}
        # (username, key) -> the last answer of known peers, a first meeting cached
        # as known (it is told once); a changed key stays changed until the cache
        # starts over, so the warning holds for every body without a database read.
        self._peer_checks: dict[tuple[str, str], PeerCheck] = {}

    @classmethod
    def for_registry(
        cls,
        registry: Registry,
        known_peers: KnownPeers | None,
        me: ClientRecord,
        on_changed: Callable[[str], None] | None = None,
    ) -> Verifier:
        return cls(registry.get, known_peers, me.id, me.key, on_changed=on_changed)

    def record(self, client_id: str) -> ClientRecord | None:
        """The name server's record of ``client_id``, cached for :data:`RECORD_TTL`.

        A name server that cannot be read counts as no record (known peers decide).
        """
        now = self._clock()
        with self._lock:
            cached = self._records.get(client_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            record = self._lookup(client_id)
        except Exception as exc:  # Redis down: judge by known peers alone
            log.warning("could not look up %s in the name server: %r", preview(client_id, 80), exc)
            record = None
        with self._lock:
            if len(self._records) >= MAX_CACHED:
                self._records.clear()
            self._records[client_id] = (now + RECORD_TTL, record)
        return record

    def check(self, fields: Any, sender_id: str, sender_name: str) -> Verdict:
        """Decide about a body (its JSON object) claiming ``sender_id`` and ``sender_name``.

        Never raises.
        """
        try:
            return self._check(fields, sender_id, sender_name)
        except Exception as exc:
            log.exception("checking a body from %s failed", preview(sender_id, 80))
            return Verdict(None, f"it could not be checked: {exc!r}")

    def _check(self, fields: Any, sender_id: str, sender_name: str) -> Verdict:
        signature = signing.verify(fields)
        if not signature.ok:
            return Verdict(None, signature.reason)
        key = signature.key
        assert key is not None
        if (sender_id, key) == self._own:
            return Verdict(key)
        record = self.record(sender_id)
        if record is not None and record.key:
            if record.key != key:
                return Verdict(None, "forged: signed by another key than the sender's")
            if record.name != sender_name:
                return Verdict(None, "forged: the name is not the sender's")
        peer = self._peer(sender_name, key)
        if peer is None or peer.trust is Trust.KNOWN:
            return Verdict(key)
        sentence = for_terminal(peer.sentence() or "")
        if peer.trust is Trust.NEW:
            return Verdict(key, first_meeting=sentence)
        return Verdict(key, warning=sentence)

    def _tell_changed(self, peer: PeerCheck) -> None:
        if self._on_changed is None:
            return
        try:
            self._on_changed(for_terminal(peer.sentence() or ""))
        except Exception:
            log.exception("could not tell the user that a key changed")

    def _peer(self, username: str, key: str) -> PeerCheck | None:
        if self._peers is None:
            return None
        with self._lock:
            cached = self._peer_checks.get((username, key))
        if cached is not None:
            return cached
        peer = self._peers.check(username, key)
        later = replace(peer, trust=Trust.KNOWN) if peer.trust is Trust.NEW else peer
        with self._lock:
            if len(self._peer_checks) >= MAX_CACHED:
                self._peer_checks.clear()
            told = (username, key) in self._peer_checks
            self._peer_checks[(username, key)] = later
        if peer.trust is Trust.CHANGED and not told:
            self._tell_changed(peer)  # once, not for every body of a burst
        return peer


def verifier_of(client: Any) -> Verifier:
    """The client's shared :class:`Verifier`, made on first use."""
    with _MAKING:
        verifier = getattr(client, "verifier", None)
        if verifier is None:
            verifier = Verifier.for_registry(
                client.registry, client.known_peers, client.me, client.term.notify
            )
            client.verifier = verifier
        return verifier


_MAKING = threading.Lock()

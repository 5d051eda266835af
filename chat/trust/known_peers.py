"""Trust on first use: the key each username was seen with, as SSH's known_hosts.

One store per own identity (``<state_dir>/known_peers/<fingerprint>.db``,
SQLite, mode 0600). :meth:`KnownPeers.check` answers for a username and the
key it came with (after its signature was verified):

- ``NEW``: the first meeting; the key is remembered.
- ``KNOWN``: the key remembered for that username.
- ``CHANGED``: another key than the one remembered. The old key stays until
  the user accepts the new one (:meth:`KnownPeers.accept`).

Bound: at most :data:`MAX_PEERS` usernames; a new one beyond that pushes out
the one seen least recently. "Last seen" is written at most once a minute per
username, so checking every message costs a read, not a write.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chat.trust import statefiles
from chat.trust.identity import Identity, decode_public_key, fingerprint

log = logging.getLogger(__name__)

KNOWN_PEERS_DIR = "known_peers"
MAX_PEERS = 10_000
MAX_USERNAME_CHARS = 256
#: Seconds between writes of a username's "last seen" time.
LAST_SEEN_RESOLUTION = 60.0
#: How the sentence about a first meeting begins.
FIRST_MEETING = "first meeting with "
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS peers (
    username   TEXT PRIMARY KEY,
    key        TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_seen  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS peers_by_last_seen ON peers (last_seen);
"""


class Trust(enum.Enum):
    """How a (username, key) pair compares with what was seen before."""

    NEW = "new"
    KNOWN = "known"
    CHANGED = "changed"


def day(timestamp: float, now: float | None = None) -> str:
    """A short local date, "12 Nov", with the year when it is not this year's."""
    when = time.localtime(timestamp)
    text = f"{when.tm_mday} {_MONTHS[when.tm_mon - 1]}"
    if when.tm_year != time.localtime(now).tm_year:
        text += f" {when.tm_year}"
    return text


@dataclass(frozen=True)
class PeerCheck:
    """The answer of :meth:`KnownPeers.check`.

    Attributes:
        trust: NEW, KNOWN or CHANGED.
        username: the username checked.
        key: the key it came with now.
        known_key: the key remembered for it (the old one when CHANGED).
        first_seen: when ``known_key`` was first seen (Unix seconds).
    """

    trust: Trust
    username: str
    key: str
    known_key: str
    first_seen: float

    def sentence(self, now: float | None = None) -> str | None:
        """What to tell the user, or None when there is nothing to say (KNOWN).

        The username is given as it is: make it printable before it reaches a
        terminal or a window title.
        """
        name = self.username
        if self.trust is Trust.CHANGED:
            return (
                f"{name}'s key has changed since {day(self.first_seen, now)}: "
                f"this may not be the {name} you talked to"
            )
        if self.trust is Trust.NEW:
            return f"{FIRST_MEETING}{name} (key {fingerprint(self.key)})"
        return None


def together(sentences: list[str]) -> list[str]:
    """The sentences to show for several said at once: first meetings collapse into one.

    ``["first meeting with alice (key A)", "first meeting with bob (key B)"]``
    becomes ``["first meeting with alice (key A) and bob (key B)"]``; a sentence
    said twice is said once, and any other sentence follows as it is.
    """
    unique = list(dict.fromkeys(sentences))
    met = [s[len(FIRST_MEETING) :] for s in unique if s.startswith(FIRST_MEETING)]
    if len(met) < 2:
        return unique
    others = [s for s in unique if not s.startswith(FIRST_MEETING)]
    listed = ", ".join(met[:-1]) + " and " + met[-1]
    return [FIRST_MEETING + listed, *others]


class KnownPeers:
    """The keys seen for each username, for one own identity.

    Thread-safe: one connection, used under a lock (broker, gRPC and menu
    threads all check). Several processes with the same identity may share
    the file; SQLite serialises their writes.

    Args:
        path: the database file (created with mode 0600).
        clock: Unix time in seconds (tests pass their own).
        max_peers: most usernames kept.
    """

    def __init__(
        self,
        path: Path,
        clock: Callable[[], float] = time.time,
        max_peers: int = MAX_PEERS,
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._max = max_peers
        self._lock = threading.Lock()
        self._db = statefiles.open_database(self.path)
        self._db.executescript(_SCHEMA)

    @classmethod
    def for_identity(cls, state_dir: Path, identity: Identity) -> KnownPeers:
        """The store of ``identity`` in ``state_dir``."""
        return cls(Path(state_dir) / KNOWN_PEERS_DIR / f"{identity.file_stem}.db")

    @staticmethod
    def _checked(username: object, key: object) -> tuple[str, str]:
        if not isinstance(username, str) or not 0 < len(username) <= MAX_USERNAME_CHARS:
            raise ValueError(f"a username must be 1 to {MAX_USERNAME_CHARS} characters")
        if decode_public_key(key) is None:
            raise ValueError("a key must be base64 of 32 bytes")
        assert isinstance(key, str)
        return username, key

    def check(self, username: str, key: str) -> PeerCheck:
        """Compare ``key`` with the one remembered for ``username``; remember a first one.

        Raises:
            ValueError: ``username`` or ``key`` is malformed (check signatures
                and sizes before asking).
            sqlite3.OperationalError: another process with the same identity
                held the database locked for more than 5 s.
        """
        username, key = self._checked(username, key)
        now = self._clock()
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute(
                "SELECT key, first_seen, last_seen FROM peers WHERE username = ?", (username,)
            ).fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO peers (username, key, first_seen, last_seen) VALUES (?, ?, ?, ?)",
                    (username, key, now, now),
                )
                self._evict()
                log.info("first meeting with %r", username)
                return PeerCheck(Trust.NEW, username, key, key, now)
            known_key, first_seen, last_seen = row
            if known_key != key:
                log.warning("key of %r differs from the one seen since %s", username, first_seen)
                return PeerCheck(Trust.CHANGED, username, key, known_key, first_seen)
            if now - last_seen >= LAST_SEEN_RESOLUTION:
                self._db.execute(
                    "UPDATE peers SET last_seen = ? WHERE username = ?", (now, username)
                )
            return PeerCheck(Trust.KNOWN, username, key, key, first_seen)

    def _evict(self) -> None:
        self._db.execute(
            "DELETE FROM peers WHERE username IN "
            "(SELECT username FROM peers ORDER BY last_seen DESC LIMIT -1 OFFSET ?)",
            (self._max,),
        )

    def accept(self, username: str, key: str) -> None:
        """Trust ``key`` for ``username`` from now on, replacing the remembered one."""
        username, key = self._checked(username, key)
        now = self._clock()
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO peers (username, key, first_seen, last_seen) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (username) DO UPDATE SET key = excluded.key, "
                "first_seen = excluded.first_seen, last_seen = excluded.last_seen",
                (username, key, now, now),
            )
            self._evict()
        log.info("accepted a new key for %r", username)

    def known_key(self, username: str) -> str | None:
        """The key remembered for ``username``, without remembering anything."""
        with self._lock:
            row = self._db.execute(
                "SELECT key FROM peers WHERE username = ?", (username,)
            ).fetchone()
        return None if row is None else row[0]

    def forget(self, username: str) -> bool:
        """Forget ``username``; True if it was known."""
        with self._lock, self._db:
            cursor = self._db.execute("DELETE FROM peers WHERE username = ?", (username,))
        return cursor.rowcount > 0

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM peers").fetchone()[0]

    def close(self) -> None:
        """Close the database; the object is unusable afterwards."""
        statefiles.close_database(self._db, self._lock, self.path)

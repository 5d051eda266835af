"""Private chat history kept on this computer, so a conversation survives a restart.

One SQLite database per own identity, ``<state_dir>/history/<fingerprint>.db``
(mode 0600, WAL). Conversations are keyed by the peer's **public key**, not
by the username: someone new who calls themselves bob never sees what the
old bob and you wrote.

Bound: at most :data:`MAX_PER_PEER` messages (10,000) per peer; appending
beyond it deletes that peer's oldest messages in the same transaction.
Deleting (:meth:`PrivateHistory.delete_peer`, :meth:`PrivateHistory.delete_all`)
overwrites the freed pages (``secure_delete``) and truncates the WAL, so the
text does not linger in the file.

Threads: one connection used under a lock, so any thread may call. An append
is one small transaction (WAL with ``synchronous=NORMAL``: no fsync per
commit, tens of microseconds; :meth:`append_many` takes a burst in one), and
:meth:`recent` is one indexed query of at most ``limit`` rows. Even so, call
them from the chat's stream threads, not from the Tk thread: another process
with the same identity may hold the write lock for a moment (up to 5 s of
waiting before :class:`sqlite3.OperationalError`).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from chat.trust import statefiles
from chat.trust.identity import Identity, decode_public_key

log = logging.getLogger(__name__)

HISTORY_DIR = "history"
MAX_PER_PEER = 10_000
#: Longest text stored (characters); chat texts are far shorter (max_message_bytes).
MAX_TEXT_CHARS = 64 * 1024
MAX_FIELD_CHARS = 256

#: ``out``: written by the owner of the identity; ``in``: by the peer.
Direction = Literal["in", "out"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS peers (
    id       INTEGER PRIMARY KEY,
    key      TEXT NOT NULL UNIQUE,
    username TEXT NOT NULL,
    count    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS messages (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    peer       INTEGER NOT NULL REFERENCES peers (id) ON DELETE CASCADE,
    direction  TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    message_id TEXT NOT NULL,
    username   TEXT NOT NULL,
    text       TEXT NOT NULL,
    ts         REAL NOT NULL,
    UNIQUE (peer, direction, message_id)
);
CREATE INDEX IF NOT EXISTS messages_by_peer ON messages (peer, seq);
"""


@dataclass(frozen=True)
class StoredMessage:
    """One message of a private conversation.

    Attributes:
        direction: ``out`` (own) or ``in`` (the peer's).
        message_id: the message's ID (unique per sender).
        username: the sender's username when it was written.
        text: what was written.
        ts: the sender's clock, Unix seconds.
    """

    direction: Direction
    message_id: str
    username: str
    text: str
    ts: float


def _check(
    peer_username: object, peer_key: object, message: StoredMessage
) -> tuple[str, str, StoredMessage]:
    if not isinstance(peer_username, str) or not 0 < len(peer_username) <= MAX_FIELD_CHARS:
        raise ValueError("the peer's username must be 1 to 256 characters")
    if decode_public_key(peer_key) is None:
        raise ValueError("the peer's key must be base64 of 32 bytes")
    if message.direction not in ("in", "out"):
        raise ValueError("direction must be 'in' or 'out'")
    if not message.message_id or len(message.message_id) > MAX_FIELD_CHARS:
        raise ValueError("the message ID must be 1 to 256 characters")
    if len(message.text) > MAX_TEXT_CHARS:
        raise ValueError(f"a stored text can be at most {MAX_TEXT_CHARS} characters")
    assert isinstance(peer_key, str)
    return peer_username, peer_key, message


class PrivateHistory:
    """The private conversations of one own identity.

    Args:
        path: the database file (created with mode 0600).
        max_per_peer: most messages kept per peer; the oldest go first.
    """

    def __init__(self, path: Path, max_per_peer: int = MAX_PER_PEER) -> None:
        if max_per_peer < 1:
            raise ValueError("max_per_peer must be at least 1")
        self.path = Path(path)
        self._max = max_per_peer
        self._lock = threading.Lock()
        self._db = statefiles.open_database(self.path)
        self._db.execute("PRAGMA secure_delete=ON")
        self._db.executescript(_SCHEMA)

    @classmethod
    def for_identity(cls, state_dir: Path, identity: Identity) -> PrivateHistory:
        """The history of ``identity`` in ``state_dir``."""
        return cls(Path(state_dir) / HISTORY_DIR / f"{identity.file_stem}.db")

    def append(self, peer_username: str, peer_key: str, message: StoredMessage) -> bool:
        """Keep one message of the conversation with the holder of ``peer_key``.

        Returns:
            False if it was kept already (same direction and message ID).

        Raises:
            ValueError: a malformed value (nothing is written).
        """
        return self.append_many(peer_username, peer_key, [message]) == 1

    def append_many(
        self, peer_username: str, peer_key: str, messages: Iterable[StoredMessage]
    ) -> int:
        """Keep several messages in one transaction; returns how many were new.

        Raises:
            ValueError: a malformed value (nothing is written).
        """
        rows = [_check(peer_username, peer_key, message)[2] for message in messages]
        if not rows:
            return 0
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO peers (key, username) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET username = excluded.username",
                (peer_key, peer_username),
            )
            peer, count = self._db.execute(
                "SELECT id, count FROM peers WHERE key = ?", (peer_key,)
            ).fetchone()
            added = 0
            for m in rows:
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO messages "
                    "(peer, direction, message_id, username, text, ts) VALUES (?, ?, ?, ?, ?, ?)",
                    (peer, m.direction, m.message_id, m.username, m.text, m.ts),
                )
                added += cursor.rowcount
            count += added
            if count > self._max:
                self._db.execute(
                    "DELETE FROM messages WHERE seq IN "
                    "(SELECT seq FROM messages WHERE peer = ? ORDER BY seq LIMIT ?)",
                    (peer, count - self._max),
                )
                count = self._max
            self._db.execute("UPDATE peers SET count = ? WHERE id = ?", (count, peer))
        return added

    def recent(self, peer_key: str, limit: int = 100) -> list[StoredMessage]:
        """The last ``limit`` messages with the holder of ``peer_key``, oldest first."""
        if limit < 1:
            return []
        with self._lock:
            rows = self._db.execute(
                "SELECT m.direction, m.message_id, m.username, m.text, m.ts "
                "FROM messages m JOIN peers p ON p.id = m.peer "
                "WHERE p.key = ? ORDER BY m.seq DESC LIMIT ?",
                (peer_key, limit),
            ).fetchall()
        return [StoredMessage(*row) for row in reversed(rows)]

    def count(self, peer_key: str) -> int:
        """How many messages are kept with the holder of ``peer_key``."""
        with self._lock:
            row = self._db.execute("SELECT count FROM peers WHERE key = ?", (peer_key,)).fetchone()
        return 0 if row is None else row[0]

    def delete_peer(self, peer_key: str) -> int:
        """Delete the conversation with the holder of ``peer_key``; returns the count deleted."""
        with self._lock:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                row = self._db.execute(
                    "SELECT id, count FROM peers WHERE key = ?", (peer_key,)
                ).fetchone()
                if row is None:
                    return 0
                self._db.execute("DELETE FROM peers WHERE id = ?", (row[0],))
            self._truncate_wal()
        log.info("deleted %d private messages with one peer", row[1])
        return row[1]

    def delete_all(self) -> None:
        """Delete every private conversation of this identity."""
        with self._lock:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("DELETE FROM messages")
                self._db.execute("DELETE FROM peers")
            self._truncate_wal()
        log.info("deleted all private history in %s", self.path)

    def _truncate_wal(self) -> None:
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            log.warning("could not truncate the WAL of %s", self.path, exc_info=True)

    def close(self) -> None:
        """Close the database; the object is unusable afterwards."""
        statefiles.close_database(self._db, self._lock, self.path)

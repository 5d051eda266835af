"""Private history for the chats of one client: kept as they happen, shown again later.

A :class:`Keeper` wraps the client's :class:`~chat.private.store.PrivateHistory`
(one SQLite database per own identity, keyed by the peer's public key; at most
10,000 messages per peer). Conversations with a peer whose key is known (every
peer that got through the handshake) are kept; when a chat with the same key
opens again, even after a restart, its last :data:`SHOWN` messages go into
the window above the new ones.

Threads: :meth:`Kept.incoming` and :meth:`Kept.outgoing` run on the reader
thread and the Tk thread (the window's send handler); they only put the
message on a queue. One writer thread takes what is queued and appends it in
one transaction per burst, so neither a burst nor another process holding
the database lock ever blocks a window. :meth:`Keeper.open` reads on the
thread that opens the chat (menu or gRPC), never on the Tk thread.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from typing import TYPE_CHECKING

from chat.history import counted
from chat.private.store import PrivateHistory, StoredMessage

if TYPE_CHECKING:
    from chat.client import Client
    from chat.front.ui import UiQueue
    from chat.history import ChatLog
    from nameserver.registry import ClientRecord

log = logging.getLogger(__name__)

#: Earlier messages shown when a chat opens again.
SHOWN = 100
#: Most messages written in one transaction.
BATCH = 500
_STOP = object()


class Keeper:
    """Keeps the private conversations of one client (thread-safe).

    Args:
        history: the store.
        ui: the UI queue, to put earlier messages into a chat's log.
    """

    def __init__(self, history: PrivateHistory, ui: UiQueue) -> None:
        self.history = history
        self.ui = ui
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._idle = threading.Condition()
        self._pending = 0
        self._writer = threading.Thread(target=self._write, name="private-history", daemon=True)
        self._writer.start()

    @classmethod
    def for_client(cls, client: Client) -> Keeper | None:
        """The client's keeper, or None when ``private_history`` is off (or no identity)."""
        if not client.config.private_history or client.identity is None:
            return None
        try:
            history = PrivateHistory.for_identity(client.config.state_path, client.identity)
        except (OSError, sqlite3.Error) as exc:
            log.error("private history cannot be opened: %s", exc)
            client.term.notify(f"Private chats are not kept this time ({exc}).")
            return None
        return cls(history, client.ui)

    def open(
        self, me: ClientRecord, peer: ClientRecord, chat_log: ChatLog, show_earlier: bool = True
    ) -> Kept | None:
        """Start keeping a chat with ``peer``, after showing its earlier messages.

        Args:
            me: this client's record.
            peer: the record of the other side (its key names the history).
            chat_log: the chat's log.
            show_earlier: put the last kept messages into ``chat_log`` first
                (False for a log that shows this run's conversation already).

        Returns:
            None when the peer has no key to keep it under.
        """
        if not peer.key:
            return None
        if not show_earlier:
            return Kept(self, me, peer)
        try:
            earlier = self.history.recent(peer.key, SHOWN)
        except sqlite3.Error as exc:
            log.warning("reading the history with %s failed: %s", peer.id, exc)
            earlier = []
        if earlier:
            self.ui.post(_show_earlier, chat_log, me, peer, earlier)
        return Kept(self, me, peer)

    def put(self, peer: ClientRecord, message: StoredMessage) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put((peer.name, peer.key, message))

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until everything queued is written; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _write(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            while len(batch) < BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    self._queue.put(_STOP)
                    break
                batch.append(more)
            self._append(batch)
            with self._idle:
                self._pending -= len(batch)
                self._idle.notify_all()

    def _append(self, batch: list[object]) -> None:
        by_peer: dict[tuple[str, str], list[StoredMessage]] = {}
        for name, key, message in batch:  # type: ignore[misc]
            by_peer.setdefault((name, key), []).append(message)
        for (name, key), messages in by_peer.items():
            try:
                self.history.append_many(name, key, messages)
            except (ValueError, sqlite3.Error) as exc:
                log.warning("%d private messages with %r not kept: %s", len(messages), name, exc)

    def close(self) -> None:
        """Write what is queued (briefly), then close the store."""
        self.flush()
        self._queue.put(_STOP)
        self._writer.join(2)
        self.history.close()


class Kept:
    """One chat being kept: what its threads call for each message."""

    def __init__(self, keeper: Keeper, me: ClientRecord, peer: ClientRecord) -> None:
        self.keeper = keeper
        self.me = me
        self.peer = peer

    def incoming(self, msg_id: str, text: str, ts: float | None) -> None:
        message = StoredMessage("in", msg_id, self.peer.name, text, ts or time.time())
        self.keeper.put(self.peer, message)

    def outgoing(self, msg_id: str, text: str) -> None:
        self.keeper.put(self.peer, StoredMessage("out", msg_id, self.me.name, text, time.time()))


def _show_earlier(
    chat_log: ChatLog, me: ClientRecord, peer: ClientRecord, earlier: list[StoredMessage]
) -> None:
    """Put earlier messages into a chat's log, above a separator (UI thread)."""
    for message in earlier:
        sender = me.id if message.direction == "out" else peer.id
        chat_log.message(sender, message.username, message.text, message.message_id, message.ts)
    chat_log.separator(f"{counted(len(earlier), 'earlier message')}, kept on this computer")

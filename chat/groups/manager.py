"""The group chats of one client: the menu flow, the open sessions, what the host shows.

The "Group chat" feature. The menu thread calls
:meth:`GroupManager.run_menu` and :meth:`GroupManager.join_interactive`; any
thread may call :meth:`GroupManager.joined`. Each open group is handed to the
window host (``client.windows``) on the UI thread, through ``client.ui.post``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import pika.exceptions
import redis

from chat.errors import UserError
from chat.features import Description
from chat.groups import amqp
from chat.groups.amqp import StreamRefused
from chat.groups.model import (
    Kind,
    Mode,
    check_group_name,
    mode_label,
    parse_kind,
    parse_mode,
    window_title,
)
from chat.groups.session import READ_ONLY, GroupSession
from chat.transport.broker import BrokerUnavailable
from chat.transport.topology import Names
from chat.windows.api import Chat
from nameserver.members import GroupMembers
from nameserver.registry import GroupRecord

if TYPE_CHECKING:
    from chat.client import Client

log = logging.getLogger(__name__)

#: Longest wait at exit for the broker to finish leaving every group.
EXIT_WAIT = 0.5
UNREACHABLE = "the chat server (RabbitMQ) is not reachable right now; try again in a moment."


class GroupManager:
    """Joins groups, keeps one session and one window per open group, leaves them."""

    key = "groups"
    label = "Group chat"

    def __init__(self, client: Client) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._sessions: dict[str, GroupSession] = {}
        registry = client.registry
        self.members = GroupMembers(registry.redis, registry.keys, client.config.client_ttl)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._left: set[str] = set()  # groups left, whose membership is still to remove
        #: The record each open group was joined under, written back if Redis loses it.
        self._records: dict[str, GroupRecord] = {}
        self._refresher = threading.Thread(target=self._refresh, name="groups", daemon=True)

    # -- the feature -------------------------------------------------------------

    def start(self) -> None:
        """Start keeping this client's group memberships alive in the name server."""
        self._refresher.start()

    def describe(self, into: Description) -> None:
        into.groups.extend(self.joined())

    def close(self) -> None:
        self.close_all()

    # -- for other features (any thread) ---------------------------------------

    def joined(self) -> list[str]:
        """Names of the groups this client has open, sorted (not those still joining)."""
        with self._lock:
            return sorted(name for name, session in self._sessions.items() if session.active)

    def session(self, name: str) -> GroupSession | None:
        with self._lock:
            return self._sessions.get(name)

    # -- the menu (menu thread) ----------------------------------------------

    def run_menu(self) -> None:
        """Menu item "Group chat": ask for a group name, then join it."""
        term = self.client.term
        while True:
            raw = term.ask("Group name (letters, digits, - _ .; empty to go back): ")
            if not raw.strip():
                return
            try:
                name = check_group_name(raw)
            except ValueError as exc:
                term.say(str(exc))
                continue
            self.join_interactive(name)
            return

    def join_interactive(self, name: str) -> None:
        """Ask connect or subscribe (and the kind of a new group), join, open the window.

        Raises:
            UserError: the name is not valid, the group is open already, or
                the name server or the broker cannot be reached.
        """
        try:
            name = check_group_name(name)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        term = self.client.term
        if self.session(name) is not None:
            self.client.ui.post(self._present, name)
            raise UserError(f"Group {name} is open already; its window is brought to the front.")
        mode = self._ask(
            term, "Connect (read and write) or subscribe (read only)? [c/s]: ", parse_mode
        )
        record = self._lookup(name)
        if record is None and self._stream_exists(name):
            # The name server lost the record (flushed or restarted), but the
            # broker still keeps the group's history: it is persistent.
            record, _ = self._claim(name, "persistent")
        if record is None:
            kind = self._ask(
                term,
                f"{name} is a new group. Transient (messages from now on) or "
                "persistent (keeps the history)? [t/p]: ",
                parse_kind,
            )
            record, created = self._claim(name, kind)
            if created:
                term.say(f"Created the {record.kind} group {name}.")
            else:
                term.say(
                    f"{record.creator_name} has just created {name} as a {record.kind} group; "
                    "joining it as it is."
                )
        else:
            term.say(f"{name} is a {record.kind} group; joining it as it is.")
        self._records[name] = record
        self.join(name, mode, record.kind)
        term.say(f"Opened group {name} ({mode_label(mode)}, {record.kind}) in a new window.")

    @staticmethod
    def _ask(term: Any, prompt: str, parse: Any) -> Any:
        while True:
            answer = term.ask(prompt)
            value = parse(answer)
            if value is not None:
                return value
            term.say(f"{answer.strip()!r} is not one of the choices; type the letter in brackets.")

    def _lookup(self, name: str) -> GroupRecord | None:
        try:
            return self.client.registry.get_group(name)
        except redis.RedisError:
            log.exception("looking up group %s failed", name)
            raise UserError(
                "The name server (Redis) is not answering; try again in a moment."
            ) from None

    def _stream_exists(self, name: str) -> bool:
        queue = Names(self.client.config.namespace).group_stream(name)
        try:
            return self.client.broker.call(lambda ch: amqp.stream_exists(ch, queue), 5.0)
        except Exception as exc:  # the question is only a safeguard; the user decides
            log.warning("could not ask the broker whether group %s exists: %r", name, exc)
            return False

    def _claim(self, name: str, kind: Kind) -> tuple[GroupRecord, bool]:
        me = self.client.me
        try:
            return self.client.registry.claim_group(
                GroupRecord(name, kind, me.id, me.name, time.time())
            )
        except redis.RedisError:
            log.exception("creating group %s failed", name)
            raise UserError(
                "The name server (Redis) is not answering; try again in a moment."
            ) from None

    # -- joining and leaving ---------------------------------------------------

    def join(self, name: str, mode: Mode, kind: Kind) -> GroupSession:
        """Join ``name`` as it is recorded and open its window (not on the UI thread).

        Raises:
            UserError: open already, or the broker cannot be reached.
        """
        session = GroupSession(self.client, name, mode, kind)
        with self._lock:
            if name in self._sessions:
                raise UserError(f"Group {name} is open already.")
            self._sessions[name] = session
        try:
            session.start()
        except ValueError as exc:
            self._forget(session)
            raise UserError(str(exc)) from None
        except StreamRefused as exc:
            self._forget(session)
            log.error("the broker refused the stream of group %s: %s", name, exc)
            raise UserError(
                f"Could not join {name}: the chat server refused to open its history ({exc})."
            ) from None
        except (BrokerUnavailable, TimeoutError, pika.exceptions.AMQPError) as exc:
            self._forget(session)
            log.warning("joining group %s failed: %r", name, exc)
            raise UserError(f"Could not join {name}: {UNREACHABLE}") from None
        self._publish_membership([name])
        self.client.ui.post(self._open_window, session)
        return session

    # -- membership in the name server ---------------------------------------

    def _publish_membership(self, names: list[str]) -> None:
        if not names:
            return
        try:
            self.members.refresh(self.client.me.id, names)
        except redis.RedisError as exc:
            log.warning("could not record group membership: %s", exc)

    def _refresh(self) -> None:
        """Keep this client's memberships alive, like the client heartbeat.

        Also removes the memberships of groups left on the UI thread, so Tk
        never waits for Redis.
        """
        while not self._stop.is_set():
            self._wake.wait(self.client.config.heartbeat_interval)
            self._wake.clear()
            with self._lock:
                left, self._left = self._left, set()
            for name in sorted(left):
                self._forget_membership(name)
            joined = self.joined()
            self._publish_membership(joined)
            self._reassert_records(joined)

    def _reassert_records(self, names: list[str]) -> None:
        """Write back the records of open groups that the name server lost (kind unchanged)."""
        me = self.client.me
        records = []
        for name in names:
            session = self.session(name)
            record = self._records.get(name)
            if record is None and session is not None:
                record = GroupRecord(name, session.kind, me.id, me.name, time.time())
            if record is not None:
                records.append(record)
        try:
            restored = self.client.registry.reassert_groups(records)
        except redis.RedisError as exc:
            log.warning("could not re-assert group records: %s", exc)
            return
        if restored:
            log.warning("wrote back %d group record(s) the name server had lost", restored)

    def _forget_membership(self, name: str) -> None:
        try:
            self.members.leave(self.client.me.id, name)
        except redis.RedisError as exc:
            log.warning("could not remove group membership: %s", exc)

    def _forget(self, session: GroupSession) -> None:
        with self._lock:
            if self._sessions.get(session.name) is not session:
                return
            del self._sessions[session.name]
            self._left.add(session.name)
        self._wake.set()

    # -- windows (UI thread) ---------------------------------------------------

    def _open_window(self, session: GroupSession) -> None:
        if session.closed:
            return
        connect = session.mode == "connect"
        key = chat_key(session.name)
        self.client.windows.open(
            Chat(
                key,
                window_title(session.name, session.mode, session.kind),
                session.log,
                on_send=session.send if connect else None,
                read_only=None if connect else READ_ONLY,
                on_close=lambda: self._on_window_closed(session),
                on_older=session.load_older if session.kind == "persistent" else None,
            )
        )
        windows = self.client.windows
        session.on_status = lambda text: windows.status(key, text)
        session.on_connection = lambda lost, text: (windows.lost if lost else windows.back)(
            key, text
        )

    def _present(self, name: str) -> None:
        session = self.session(name)
        if session is not None:
            self._open_window(session)

    def _on_window_closed(self, session: GroupSession) -> None:
        session.on_status = session.on_connection = None
        self._forget(session)
        session.close(wait=False)

    def leave(self, name: str) -> None:
        """Close a group's window and leave the group (UI thread)."""
        if self.client.windows.is_open(chat_key(name)):
            self.client.windows.close(chat_key(name))
            return
        session = self.session(name)
        if session is not None:
            self._forget(session)
            session.close(wait=False)

    def close_all(self) -> None:
        """At exit (UI thread): leave every group, announcing it, before the broker closes."""
        self._stop.set()
        self._wake.set()
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
            left, self._left = self._left, set()
        for name in sorted(left | {session.name for session in sessions}):
            self._forget_membership(name)  # at exit waiting for Redis is fine
        leaving = []
        for session in sessions:
            session.on_status = session.on_connection = None
            leaving.append(session.close(wait=False))
        # Done before the broker closes, but never more than EXIT_WAIT for all together.
        deadline = time.monotonic() + EXIT_WAIT
        for future in leaving:
            if future is not None:
                with contextlib.suppress(Exception):
                    future.result(max(0.0, deadline - time.monotonic()))


def chat_key(name: str) -> str:
    """The window host's key of a group's conversation."""
    return f"group:{name}"

"""The group chats of one client: the menu flow, the open memberships, what the host shows.

The "Group chat" feature. The menu thread calls
:meth:`GroupManager.run_menu` and :meth:`GroupManager.join_interactive`; any
thread may call :meth:`GroupManager.joined`. Each open group is handed to the
window host (``client.windows``) on the UI thread, through ``client.ui.post``.
The ``groups`` thread keeps the memberships alive in the name server and
reads who is in each open group.

Group names are case-insensitive: ``Book-Club`` joins ``book-club``; open
groups are keyed by the canonical form, and a window shows the name as the
group was first created.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import pika.exceptions
import redis

from chat.errors import UserError
from chat.features import Description
from chat.groups import amqp
from chat.groups.amqp import StreamRefused
from chat.groups.membership import Membership
from chat.groups.model import (
    READ_ONLY,
    Kind,
    Mode,
    canonical,
    check_group_name,
    mode_label,
    parse_kind,
    parse_mode,
    window_title,
)
from chat.transport.broker import BrokerUnavailable
from chat.transport.topology import Names
from chat.windows.api import Chat
from nameserver.members import GroupMembers
from nameserver.registry import GroupRecord

if TYPE_CHECKING:
    from chat.client import Client

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Longest wait at exit for the broker to finish leaving every group.
EXIT_WAIT = 0.5
UNREACHABLE = "the chat server (RabbitMQ) is not reachable right now; try again in a moment."


class GroupManager:
    """Joins groups, keeps one membership and one window per open group, leaves them.

    Under the lock: the open memberships, the groups left but not yet removed
    from the name server, and the record each open group was joined under
    (all keyed by canonical name). The menu thread joins, the UI thread
    leaves, the ``groups`` thread reads them.
    """

    key = "groups"
    label = "Group chat"

    def __init__(self, client: Client) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._memberships: dict[str, Membership] = {}
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
        """Names of the groups this client has open (as first created), sorted; not
        those still joining."""
        with self._lock:
            return sorted((m.title for m in self._memberships.values() if m.active), key=str.lower)

    def membership(self, name: str) -> Membership | None:
        """The open membership of ``name`` (any spelling), or None."""
        with self._lock:
            return self._memberships.get(canonical(name))

    # -- the menu (menu thread) ----------------------------------------------

    def run_menu(self) -> None:
        """Menu item "Group chat": ask for a group name, then join it (empty: back)."""
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
        if self.membership(name) is not None:
            self.client.ui.post(self._present, name)
            raise UserError(f"Group {name} is open already; its window is brought to the front.")
        mode = self._ask(
            term, "Connect (read and write) or subscribe (read only)? [c/s]: ", parse_mode
        )
        if mode is None:
            return
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
            if kind is None:
                return
            record, created = self._claim(name, kind)
            if created:
                term.say(f"Created the {record.kind} group {name}.")
            else:
                term.say(
                    f"{record.creator_name} has just created {name} as a {record.kind} group; "
                    "joining it as it is."
                )
        else:
            term.say(f"{record.name} is a {record.kind} group; joining it as it is.")
        self.join(record.name, mode, record.kind, record)
        term.say(f"Opened group {record.name} ({mode_label(mode)}, {record.kind}) in a new window.")

    @staticmethod
    def _ask(term: Any, prompt: str, parse: Any) -> Any:
        """The parsed answer, asked again until valid; None for an empty line (back)."""
        while True:
            answer = term.ask(prompt)
            if not answer.strip():
                return None
            value = parse(answer)
            if value is not None:
                return value
            term.say(f"{answer.strip()!r} is not one of the choices; type the letter in brackets.")

    def _lookup(self, name: str) -> GroupRecord | None:
        return _asking_redis(lambda: self.client.registry.get_group(name), "looking up", name)

    def _stream_exists(self, name: str) -> bool:
        queue = Names(self.client.config.namespace).group_stream(canonical(name))
        try:
            return self.client.broker.call(lambda ch: amqp.stream_exists(ch, queue), 5.0)
        except Exception as exc:  # the question is only a safeguard; the user decides
            log.warning("could not ask the broker whether group %s exists: %r", name, exc)
            return False

    def _claim(self, name: str, kind: Kind) -> tuple[GroupRecord, bool]:
        me = self.client.me
        record = GroupRecord(name, kind, me.id, me.name, time.time())
        return _asking_redis(lambda: self.client.registry.claim_group(record), "creating", name)

    # -- joining and leaving ---------------------------------------------------

    def join(
        self, name: str, mode: Mode, kind: Kind, record: GroupRecord | None = None
    ) -> Membership:
        """Join ``name`` as it is recorded and open its window (not on the UI thread).

        ``record`` is the name server's record of the group (written back
        should Redis lose it).

        Raises:
            UserError: open already, or the broker cannot be reached.
        """
        session = Membership(self.client, name, mode, kind)
        with self._lock:
            if session.name in self._memberships:
                raise UserError(f"Group {name} is open already.")
            self._memberships[session.name] = session
            if record is not None:
                self._records[session.name] = record
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
        self._publish_membership([session.name])
        self._wake.set()  # read who is here now
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
            self._read_rosters(joined)

    def _read_rosters(self, names: list[str]) -> None:
        """Tell each open group's conversation who the name server says is in it."""
        if not names:
            return
        try:
            clients = {r.id: r.name for r in self.client.registry.list_clients()}
            rosters = {name: self.members.live(name) for name in names}
        except redis.RedisError as exc:
            log.warning("could not read who is in the groups: %s", exc)
            return
        for name, ids in rosters.items():
            membership = self.membership(name)
            if membership is not None:
                here = {i: clients[i] for i in ids if i in clients}
                self.client.ui.post(membership.conversation.roster, here)

    def _reassert_records(self, names: list[str]) -> None:
        """Write back the records of open groups that the name server lost (kind unchanged)."""
        me = self.client.me
        records = []
        for name in names:
            with self._lock:
                session = self._memberships.get(canonical(name))
                record = self._records.get(canonical(name))
            if record is None and session is not None:
                record = GroupRecord(session.title, session.kind, me.id, me.name, time.time())
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

    def _forget(self, session: Membership) -> None:
        with self._lock:
            if self._memberships.get(session.name) is not session:
                return
            del self._memberships[session.name]
            self._records.pop(session.name, None)
            self._left.add(session.name)
        self._wake.set()

    # -- windows (UI thread) ---------------------------------------------------

    def _open_window(self, session: Membership) -> None:
        if session.closed:
            return
        conversation = session.conversation
        connect = session.mode == "connect"
        key = chat_key(session.name)
        self.client.windows.open(
            Chat(
                key,
                window_title(session.title, session.mode, session.kind),
                conversation.log,
                on_send=conversation.send if connect else None,
                read_only=None if connect else READ_ONLY,
                on_close=lambda: self._on_window_closed(session),
                on_older=conversation.load_older if session.kind == "persistent" else None,
            )
        )
        windows = self.client.windows
        conversation.on_status = lambda text: windows.status(key, text)
        conversation.on_connection = lambda lost, text: (windows.lost if lost else windows.back)(
            key, text
        )

    def _present(self, name: str) -> None:
        session = self.membership(name)
        if session is not None:
            self._open_window(session)

    def _on_window_closed(self, session: Membership) -> None:
        session.conversation.close()
        self._forget(session)
        session.close()

    def close_all(self) -> None:
        """At exit (UI thread): leave every group, announcing it, before the broker closes."""
        self._stop.set()
        self._wake.set()
        with self._lock:
            sessions, self._memberships = list(self._memberships.values()), {}
            left, self._left = self._left, set()
            self._records.clear()
        for name in sorted(left | {session.name for session in sessions}):
            self._forget_membership(name)  # at exit waiting for Redis is fine
        leaving = []
        for session in sessions:
            session.conversation.close()
            leaving.append(session.close())
        # Done before the broker closes, but never more than EXIT_WAIT for all together.
        deadline = time.monotonic() + EXIT_WAIT
        for future in leaving:
            if future is not None:
                with contextlib.suppress(Exception):
                    future.result(max(0.0, deadline - time.monotonic()))


def _asking_redis(fn: Callable[[], T], doing: str, name: str) -> T:
    """``fn()``, or a sentence for the user when the name server is not answering."""
    try:
        return fn()
    except redis.RedisError:
        log.exception("%s group %s failed", doing, name)
        raise UserError(
            "The name server (Redis) is not answering; try again in a moment."
        ) from None


def chat_key(name: str) -> str:
    """The window host's key of a group's conversation."""
    return f"group:{canonical(name)}"

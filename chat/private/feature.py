"""The private-chat feature of one client: opening, accepting, windows, goodbyes.

:class:`PrivateChats` dials peers (on the menu thread, :mod:`chat.private.dial`),
accepts chats the :class:`~chat.private.servicer.PrivateChatServicer` hands it
(on gRPC threads), and binds each chat (a
:class:`~chat.private.conversation.Conversation`) to a
:class:`~chat.history.ChatLog`, which it hands to the window host
(``client.windows``). Reader threads never touch the host: whatever a window
must show is posted to the UI queue. Nothing here imports tkinter, so this
module also runs without a display (the benchmark does).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from chat import textsafe
from chat.errors import UserError
from chat.features import Description
from chat.history import ChatLog
from chat.private import auth
from chat.private import menu as private_menu
from chat.private.conversation import Conversation
from chat.private.dial import Dials, crossed, dial
from chat.private.keeper import Keeper
from chat.private.refusal import ALREADY_OPEN, SELF, Refusal
from chat.private.servicer import PrivateChatServicer
from chat.private.session import Session, hello_frame
from chat.proto import private_chat_pb2 as pb
from chat.proto import private_chat_pb2_grpc as pb_grpc
from nameserver.registry import ClientRecord

if TYPE_CHECKING:
    from chat.client import Client
    from chat.front.terminal import Terminal
    from chat.windows.api import WindowHost

log = logging.getLogger(__name__)

__all__ = ["Conversation", "PrivateChats"]


class PrivateChats:
    """The private chats of one client: the "Private chat" feature."""

    key = "private"
    label = "Private chat"

    def __init__(self, client: Client) -> None:
        self.client = client
        self.config = client.config
        self.me = client.me
        self.ui = client.ui
        self._lock = threading.Lock()
        self._chats: dict[str, Conversation] = {}
        self._dials = Dials(self.me.id)  # our calls under way, under the lock
        #: One log per peer for the whole run: a chat started again shows the
        #: earlier conversation above the new one.
        self._logs: dict[str, ChatLog] = {}
        #: The conversation each peer's window shows (UI thread only): a call
        #: that lost a crossing, or an earlier chat, never speaks in it.
        self.showing: dict[str, Conversation] = {}
        #: Peers whose log got the kept messages already (once a run).
        self._seeded: set[str] = set()
        self.keeper = Keeper.for_client(client)

    @property
    def windows(self) -> WindowHost:
        """The client's window host (UI thread only)."""
        assert self.client.windows is not None
        return self.client.windows

    @property
    def term(self) -> Terminal:
        return self.client.term

    # -- the feature -----------------------------------------------------------

    def start(self) -> None:
        """Serve incoming chats on the client's (not yet started) gRPC server."""
        servicer = PrivateChatServicer(self.accept_record, auth.Gate(self.client.registry, self.me))
        pb_grpc.add_PrivateChatServicer_to_server(servicer, self.client.server)

    def run_menu(self) -> None:
        private_menu.run(self.client, self)

    def describe(self, into: Description) -> None:
        into.private_chats.extend(self.active_peers())

    def close(self) -> None:
        self.close_all(timeout=0.5)
        if self.keeper is not None:
            self.keeper.close()

    def _conversation(self, peer_id: str, peer_name: str, address: str) -> Conversation:
        with self._lock:
            chat_log = self._logs.setdefault(peer_id, ChatLog(self.me.id))
        return Conversation(self, peer_id, peer_name, address, chat_log)

    def _keep(self, conversation: Conversation, record: ClientRecord) -> None:
        """Keep the chat on disk; the peer's log shows the kept messages once a run.

        The first chat with a peer in this run puts the last kept messages into
        its (new) log; a chat started again reuses that log, which shows them
        already, with this run's conversation below.
        """
        if self.keeper is None:
            return
        with self._lock:
            first = conversation.peer_id not in self._seeded
            self._seeded.add(conversation.peer_id)
        conversation.kept = self.keeper.open(self.me, record, conversation.log, show_earlier=first)

    def _me_peer(self) -> pb.Peer:
        me = self.me
        return pb.Peer(id=me.id, name=me.name, host=me.host, port=me.port)

    # -- what other features call --------------------------------------------

    def open_with(self, record: ClientRecord) -> None:
        """Open a chat with ``record`` (menu thread), or bring its window to the front.

        Raises:
            UserError: it cannot be opened; the message says why.
        """
        if record.id == self.me.id:
            raise UserError("You cannot chat with yourself.")
        with self._lock:
            existing = self._chats.get(record.id)
            if existing is not None and existing.live:
                self.ui.post(existing.show)
                return
            # Registered before dialling, so a call from this peer that crosses
            # ours sees it (accept()).
            under_way = self._dials.begin(record.id)
        conversation = self._conversation(record.id, record.name, record.address)
        try:
            note = dial(
                conversation,
                record,
                self.config,
                lambda c: self._session(c, expect_hello=True),
                self.client.identity,
                self.client.known_peers,
                keep=lambda: self._keep(conversation, record),
            )
        except UserError:
            if crossed(conversation):  # the peer's call to us goes on instead; it is on its way
                under_way.adopted.wait(self.config.connect_timeout)
            with self._lock:
                self._dials.end(record.id)
            if under_way.conversation is None:
                raise
            log.info("our call to %s crossed theirs; theirs goes on", record.id)
            self.ui.post(under_way.conversation.show)
            return
        except BaseException:
            with self._lock:
                self._dials.end(record.id)
            raise
        with self._lock:
            self._dials.end(record.id)
            if conversation.live:
                self._chats[record.id] = conversation
        self.ui.post(conversation.log.notice, f"You started a chat with {conversation.peer_name}")
        if note is not None:
            self.ui.post(conversation.log.notice, note)
        self.ui.post(conversation.show)

    def active_peers(self) -> list[tuple[str, str]]:
        """(ID, name) of every open private chat; safe from any thread."""
        with self._lock:
            return [(c.peer_id, c.peer_name) for c in self._chats.values() if c.live]

    # -- calling and being called --------------------------------------------

    def _session(self, conversation: Conversation, expect_hello: bool = False) -> Session:
        return Session(
            conversation,
            hello_frame(self._me_peer()),
            expect_hello=expect_hello,
            max_text_bytes=self.config.max_message_bytes,
            heartbeat=self.config.keepalive_seconds,
        )

    def accept_record(self, record: ClientRecord) -> tuple[Session | None, Refusal | None]:
        """A chat from a caller that proved it is ``record`` (gRPC thread)."""
        note = auth.caller_note(self.client.known_peers, record)
        peer = pb.Peer(id=record.id, name=record.name, host=record.host, port=record.port)
        return self.accept(peer, note, record)

    def accept(
        self, peer: pb.Peer, note: str | None = None, record: ClientRecord | None = None
    ) -> tuple[Session | None, Refusal | None]:
        """A chat that another client opened (gRPC thread): the session, or why not."""
        if peer.id == self.me.id:
            return None, Refusal(SELF, "a client cannot chat with itself")
        conversation = self._conversation(peer.id, peer.name, f"{peer.host}:{peer.port}")
        session = self._session(conversation)
        conversation.session = session
        with self._lock:
            existing = self._chats.get(peer.id)
            if existing is not None and existing.live:
                return None, Refusal(
                    ALREADY_OPEN, f"{self.me.name} already has a chat with you open"
                )
            replaced, refusal = self._dials.crossing(peer.id)
            if refusal is not None:
                return None, refusal
            self._chats[peer.id] = conversation
            if replaced is not None:  # their call takes the place of ours
                replaced.conversation = conversation
                replaced.adopted.set()
        name, peer_id = conversation.peer_name, textsafe.name(peer.id)
        log.info("%s (%s) started a chat from %s", name, peer_id, conversation.address)
        if record is not None:
            self._keep(conversation, record)
        if replaced is not None:
            self.ui.post(conversation.show)
        else:
            self.ui.post(conversation.show, f"{name} started a chat with you")
            self.client.term.notify(
                f"{name} ({peer_id}) started a private chat with you; its window is open."
            )
        if note is not None:  # below the opening line
            self.ui.post(conversation.log.notice, note)
        return session, None

    def forget(self, conversation: Conversation) -> None:
        with self._lock:
            if self._chats.get(conversation.peer_id) is conversation:
                del self._chats[conversation.peer_id]

    def close_all(self, timeout: float = 1.5) -> None:
        """Say goodbye on every open chat and wait (briefly) until each stream is
        over (at exit, main thread; the host closes the windows)."""
        with self._lock:
            conversations = list(self._chats.values())
        for conversation in conversations:
            if conversation.session is not None:
                conversation.session.close("exit")
        deadline = time.monotonic() + timeout
        for conversation in conversations:
            if conversation.session is not None:
                conversation.session.done.wait(max(0.0, deadline - time.monotonic()))

"""Every private chat of one client: opening, accepting, windows, goodbyes.

:class:`PrivateChats` is the private-chat feature. It dials peers (on
the menu thread), accepts chats the :class:`~chat.private.service.PrivateChat`
servicer hands it (on gRPC threads), and binds each chat to a
:class:`~chat.history.ChatLog`, which it hands to the window host
(``client.windows``). Reader threads never touch the host: whatever a window
must show is posted to the UI queue. Nothing here imports tkinter, so this
module also runs without a display (the benchmark does).

When two clients call each other at the same moment, the call from the lower
client ID goes on and the other is refused with the code ``crossing``
(:mod:`chat.private.refusal`); the side
whose call lost adopts the incoming one, so both end up in the one chat
(docs/protocol.md, "Calls that cross").
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

import grpc

from chat import textsafe
from chat.errors import UserError
from chat.features import Description
from chat.history import ChatLog, Status
from chat.private import auth
from chat.private import menu as private_menu
from chat.private.keeper import Keeper, Kept
from chat.private.refusal import ALREADY_OPEN, CROSSING, SELF, Refusal
from chat.private.service import PrivateChat
from chat.private.session import Ending, Session, hello_frame
from chat.proto import private_chat_pb2 as pb
from chat.proto import private_chat_pb2_grpc as pb_grpc
from chat.transport.rpc import keepalive_options, message_options
from chat.transport.wire import check_text
from chat.windows.api import Chat
from nameserver.registry import ClientRecord

if TYPE_CHECKING:
    from chat.client import Client

log = logging.getLogger(__name__)

#: Why a call is refused when it crosses a call of ours that goes on instead.
CROSSING_SENTENCE = "both sides called at once; the call from the lower client ID goes on"


class _Dial:
    """A call of ours under way; an incoming call from the same peer may take its place."""

    def __init__(self) -> None:
        self.adopted = threading.Event()
        self.conversation: Conversation | None = None


class Conversation:
    """One private chat as the user sees it: a session, its log and its window."""

    def __init__(
        self, chats: PrivateChats, peer_id: str, peer_name: str, address: str, chat_log: ChatLog
    ) -> None:
        self.chats = chats
        self.peer_id = peer_id
        # Shown in the title, notices and the terminal: made safe once, here.
        self.peer_name = textsafe.name(peer_name)
        self.address = address
        self.log = chat_log
        self.session: Session | None = None
        #: Keeps this chat in the private history (None: not kept).
        self.kept: Kept | None = None
        self.channel: grpc.Channel | None = None
        self._ending: Ending | None = None  # UI thread only

    @property
    def live(self) -> bool:
        return self.session is not None and self.session.live

    @property
    def ending(self) -> Ending | None:
        """How the peer's side ended ("goodbye" or "lost"), once shown (UI thread)."""
        return self._ending

    @property
    def key(self) -> str:
        """The window host's key: one window per peer (one log per peer for the run)."""
        return f"private:{self.peer_id}"

    # -- session events (reader thread) --------------------------------------

    def on_text(self, text: pb.Text) -> None:
        ts = text.sent_ms / 1000 if text.sent_ms > 0 else None
        if self.kept is not None:
            self.kept.incoming(text.id, text.text, ts)
        self.chats.ui.post(self.log.message, self.peer_id, self.peer_name, text.text, text.id, ts)

    def on_acked(self, ids: list[str]) -> None:
        self.chats.ui.post(self._set_status, ids, "sent")

    def on_ended(self, how: Ending, failed: list[str]) -> None:
        log.info(
            "chat with %s (%s) ended: %s, %d not delivered",
            self.peer_name,
            self.peer_id,
            how,
            len(failed),
        )
        self.chats.forget(self)
        if self.channel is not None:
            self.channel.close()
        self.chats.ui.post(self._show_end, how, failed)

    # -- the window (UI thread) ----------------------------------------------

    def show(self, notice: str | None = None) -> None:
        """Open the window, or bring it to the front when it is open already.

        A chat someone else started (``notice`` given) opens without taking the
        keyboard from the window the user is typing in.
        """
        if notice is not None:
            self.log.notice(notice)
        self.chats.showing[self.peer_id] = self
        self.chats.client.windows.open(
            Chat(
                self.key,
                f"Chat with {self.peer_name} ({textsafe.name(self.peer_id)})",
                self.log,
                on_send=self.send,
                on_close=self.close,
            ),
            focus=notice is None,
        )
        if self._ending is not None:  # over before its window opened
            self._announce_end()

    def send(self, text: str) -> str | None:
        """The window's send handler: None when taken, else a sentence for the user."""
        problem = check_text(text, self.chats.config.max_message_bytes)
        if problem is not None:
            return problem
        msg_id = self.session.send(text) if self.session is not None else None
        if msg_id is None:
            return f"{self.peer_name} has left the chat; the message was not sent."
        me = self.chats.me
        self.log.message(me.id, me.name, text, msg_id, status="sending")
        if self.kept is not None:
            self.kept.outgoing(msg_id, text)
        return None

    def close(self) -> None:
        """The user closed the window: say goodbye."""
        self.chats.forget(self)
        if self.session is not None:
            self.session.close("closed")

    def _set_status(self, ids: list[str], status: Status) -> None:
        for msg_id in ids:
            self.log.set_status(msg_id, status)

    def _show_end(self, how: Ending, failed: list[str]) -> None:
        self._set_status(failed, "failed")
        if how == "local" or self._ending is not None:
            return
        self._ending = how
        # The peer's window may show another conversation now (the one that
        # won a crossing, or a chat started again): only its own ends it.
        if self.chats.showing.get(self.peer_id) is self and self.chats.client.windows.is_open(
            self.key
        ):
            self._announce_end()

    def _announce_end(self) -> None:
        name, how = self.peer_name, self._ending
        violation = self.session.violation if self.session is not None else None
        if violation is not None:
            self.log.notice(f"The chat was closed: {name} {violation}.")
        notice = f"{name} left the chat" if how == "goodbye" else f"connection to {name} lost"
        reason = (
            f"{name} has left the chat."
            if how == "goodbye"
            else f"The connection to {name} was lost."
        )
        self.chats.client.windows.ended(self.key, notice, reason, self.chats.config.close_delay)


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
        self._dialling: dict[str, _Dial] = {}  # peer ID -> our call under way
        #: One log per peer for the whole run: a chat started again shows the
        #: earlier conversation above the new one.
        self._logs: dict[str, ChatLog] = {}
        #: The conversation each peer's window shows (UI thread only): a call
        #: that lost a crossing, or an earlier chat, never speaks in it.
        self.showing: dict[str, Conversation] = {}
        #: Peers whose log got the kept messages already (once a run).
        self._seeded: set[str] = set()
        self.keeper = Keeper.for_client(client)

    # -- the feature -----------------------------------------------------------

    def start(self) -> None:
        """Serve incoming chats on the client's (not yet started) gRPC server."""
        pb_grpc.add_PrivateChatServicer_to_server(PrivateChat(self), self.client.server)

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
            dial = self._dialling[record.id] = _Dial()
        conversation = self._conversation(record.id, record.name, record.address)
        try:
            self._dial(conversation, record)
        except UserError:
            crossed = conversation.session is not None and conversation.session.refusal == CROSSING
            if crossed:  # the peer's call to us goes on instead; it is on its way
                dial.adopted.wait(self.config.connect_timeout)
            with self._lock:
                self._dialling.pop(record.id, None)
            if dial.conversation is None:
                raise
            log.info("our call to %s crossed theirs; theirs goes on", record.id)
            self.ui.post(dial.conversation.show)
            return
        except BaseException:
            with self._lock:
                self._dialling.pop(record.id, None)
            raise
        with self._lock:
            self._dialling.pop(record.id, None)
            if conversation.live:
                self._chats[record.id] = conversation
        self.ui.post(conversation.show)

    def active_peers(self) -> list[tuple[str, str]]:
        """(ID, name) of every open private chat; safe from any thread."""
        with self._lock:
            return [(c.peer_id, c.peer_name) for c in self._chats.values() if c.live]

    # -- calling and being called --------------------------------------------

    def _dial(self, conversation: Conversation, record: ClientRecord) -> None:
        address = record.address
        unreachable = f"Could not reach {record.name} at {address} (they may have just left)."
        timeout = self.config.connect_timeout
        cert_fp, note = auth.check_callee(self.client.known_peers, record)
        self._keep(conversation, record)  # earlier messages first, above anything new
        channel = auth.pinned_channel(
            record,
            keepalive_options(self.config.keepalive_seconds)
            + message_options(self.config.max_message_bytes),
        )
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            channel.close()
            log.info("no answer from %s at %s within %.1f s", record.id, address, timeout)
            raise UserError(unreachable) from None
        session = self._session(conversation, expect_hello=True)
        session.prover = auth.Prover(self.client.identity, self.me, record, cert_fp).answer
        conversation.session = session
        conversation.channel = channel
        started = time.monotonic()
        call = pb_grpc.PrivateChatStub(channel).Chat(session.frames())
        session.cancel = call.cancel
        threading.Thread(
            target=session.read, args=(call,), name=f"chat-out-{record.id}", daemon=True
        ).start()
        if not session.hello_received.wait(timeout) or session.peer_hello is None:
            call.cancel()
            if session.error is None:
                raise UserError(unreachable)
            raise UserError(f"{record.name} did not take the chat ({session.error}).")
        if session.peer_hello.peer.id != record.id:
            # Another client now listens where the registration points.
            log.info(
                "%s answered at %s instead of %s", session.peer_hello.peer.id, address, record.id
            )
            session.close("wrong peer")
            call.cancel()
            raise UserError(unreachable)
        log.info(
            "chat with %s (%s) at %s open in %.1f ms",
            record.name,
            record.id,
            address,
            (time.monotonic() - started) * 1000,
        )
        if note is not None:
            self.ui.post(conversation.log.notice, note)

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
            dial = self._dialling.get(peer.id)
            if dial is not None and self.me.id < peer.id:
                return None, Refusal(CROSSING, CROSSING_SENTENCE)  # our call to them goes on
            self._chats[peer.id] = conversation
            if dial is not None:  # their call takes the place of ours
                dial.conversation = conversation
                dial.adopted.set()
        name, peer_id = conversation.peer_name, textsafe.name(peer.id)
        log.info("%s (%s) started a chat from %s", name, peer_id, conversation.address)
        if record is not None:
            self._keep(conversation, record)
        if dial is not None:
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

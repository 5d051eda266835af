"""One private chat as the user sees it: its session, its log and its window.

A :class:`Conversation` knows the few things of the feature it needs through
:class:`Place` (the UI queue, the window host, the terminal, the settings,
the map of shown conversations), never the feature itself, so this module
imports nothing of :mod:`chat.private.feature`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

import grpc

from chat import textsafe
from chat.history import ChatLog, Status
from chat.private.keeper import Kept
from chat.private.session import Ending, Session
from chat.proto import private_chat_pb2 as pb
from chat.transport.wire import check_text
from chat.windows.api import Chat
from chat.windows.binding import Binding

if TYPE_CHECKING:
    from chat.config import Config
    from chat.front.terminal import Terminal
    from chat.front.ui import UiQueue
    from chat.windows.api import WindowHost
    from nameserver.registry import ClientRecord

log = logging.getLogger(__name__)

#: Why the input of a chat whose other side ended is off (the notice above says who and how).
ENDED = "The chat has ended."


class Place(Protocol):
    """What a conversation may use of the feature that holds it."""

    config: Config
    me: ClientRecord
    ui: UiQueue
    #: The conversation each peer's window shows (UI thread only).
    showing: dict[str, Conversation]

    @property
    def windows(self) -> WindowHost: ...

    @property
    def term(self) -> Terminal: ...

    def forget(self, conversation: Conversation) -> None:
        """The conversation is over: it no longer counts as open."""


class Conversation:
    """One private chat as the user sees it: a session, its log and its window."""

    def __init__(
        self, chats: Place, peer_id: str, peer_name: str, address: str, chat_log: ChatLog
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
        self.grpc_channel: grpc.Channel | None = None
        self._ending: Ending | None = None  # UI thread only

    @property
    def live(self) -> bool:
        return self.session is not None and self.session.live

    @property
    def ending(self) -> Ending | None:
        """How the peer's side ended ("goodbye" or "lost"), once shown (UI thread)."""
        return self._ending

    @property
    def window(self) -> Binding:
        """This chat's window in the client's host (UI thread)."""
        return Binding(self.chats.windows, self.key)

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
        if self.grpc_channel is not None:
            self.grpc_channel.close()
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
        self.window.open(
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
        if self.chats.showing.get(self.peer_id) is not self:
            return
        # Said on the terminal too: the user may be away from the window.
        self.chats.term.notify(self._end_notice())
        if self.window.is_open:
            self._announce_end()

    def _announce_end(self) -> None:
        name = self.peer_name
        violation = self.session.violation if self.session is not None else None
        if violation is not None:
            self.log.notice(f"The chat was closed: {name} {violation}.")
        # The notice says who and how, once; the input only says that it is off.
        self.window.ended(self._end_notice(), ENDED, self.chats.config.close_delay)

    def _end_notice(self) -> str:
        name = self.peer_name
        return (
            f"{name} left the chat" if self._ending == "goodbye" else f"connection to {name} lost"
        )

"""The insult channel feature: the menu entry, its conversation, and the channel behind them.

The window is the connection: opening it starts listening on the channel,
closing it stops. The menu thread opens; everything that touches the window
host or the :class:`~chat.history.ChatLog` runs on the main thread (through
``client.ui.post``); the channel's consumer runs on the broker thread.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future

from chat.client import Client
from chat.errors import UserError
from chat.features import Description
from chat.history import ChatLog
from chat.insults.channel import InsultChannel
from chat.transport.broker import BrokerUnavailable, Subscription
from chat.transport.topology import Names
from chat.transport.wire import ChatMessage
from chat.trust.verifier import Verdict, verifier_of
from chat.windows.api import Chat
from chat.windows.binding import BACK, LOST

log = logging.getLogger(__name__)

#: The window host's key of the insult channel's conversation.
KEY = "insults"
TITLE = "Insult channel"
EMPTY = "Nothing to send: the insult is empty."


class InsultFeature:
    """One client's insult channel: its log of insults and, while open, its window."""

    key = "insults"
    label = "Insult channel"

    def __init__(self, client: Client) -> None:
        self.client = client
        me = client.me
        self.channel = InsultChannel(
            client.broker,
            Names(client.config.namespace),
            me.id,
            me.name,
            client.config.max_message_bytes,
            identity=client.identity,
            verifier=verifier_of(client),
        )
        #: Kept for the whole run, so reopening the window shows earlier insults.
        self.log = ChatLog(me.id)  # main thread only
        self._open = False
        self._lock = threading.Lock()
        self._listening: Subscription | None = None

    # -- the feature -------------------------------------------------------------

    def start(self) -> None:
        self._listening = self.client.broker.add_listener(
            on_lost=self._on_broker_lost, on_back=self._on_broker_back
        )

    def run_menu(self) -> None:
        """Menu entry: open the channel's window (or bring it to the front)."""
        if self.open():
            self.client.term.say(
                "The insult channel is open in its own window. Insults you receive appear "
                "there; close the window to stop receiving."
            )
        else:
            self.client.term.say("The insult channel is already open; its window is now in front.")

    def describe(self, into: Description) -> None:
        """The insult channel is not a chat that discovery lists."""

    def close(self) -> None:
        self.shutdown()

    # -- menu thread -----------------------------------------------------------

    def open(self) -> bool:
        """Open the window and start listening; bring it to the front if it is open.

        Returns True when it was opened now, False when it was open already.

        Raises:
            UserError: the broker cannot be reached.
        """
        with self._lock:
            if self._open:
                self.client.ui.post(self._present)
                return False
            self._open = True
        try:
            self.channel.connect(self._on_insult)
        except BaseException as exc:
            with self._lock:
                self._open = False
            if isinstance(exc, BrokerUnavailable):
                raise UserError(
                    "The insult channel cannot open: RabbitMQ is not answering right now. "
                    "Try again in a moment."
                ) from None
            raise  # the menu logs it and tells the user
        self.client.ui.post(self._show)
        return True

    # -- broker thread ---------------------------------------------------------

    def _on_insult(self, message: ChatMessage, verdict: Verdict) -> None:
        self.client.ui.post(self._received, message, verdict)

    def _on_broker_lost(self) -> None:
        self.client.ui.post(self._lost)

    def _on_broker_back(self) -> None:
        self.client.ui.post(self._back)

    # -- main thread -----------------------------------------------------------

    def _received(self, message: ChatMessage, verdict: Verdict) -> None:
        me = self.client.me
        if verdict.first_meeting:
            self.log.notice(verdict.first_meeting, ts=message.ts)
        if message.sender_id == me.id:
            # An own insult that came back (no one else was listening) is still a
            # received one: keep it on the left, apart from the sent copy.
            self.log.message(
                "", f"{message.sender_name} (you)", message.text, message.id, message.ts
            )
        else:
            self.log.message(
                message.sender_id,
                message.sender_name,
                message.text,
                message.id,
                message.ts,
                warning=verdict.warning,
            )

    def _show(self) -> None:
        self.log.notice("Listening: each insult sent to the channel reaches one listener")
        self._present()

    def _present(self) -> None:
        chat = Chat(
            KEY, TITLE, self.log, on_send=self._send, on_close=self._closed, empty_warning=EMPTY
        )
        self.client.windows.open(chat)

    def _lost(self) -> None:
        self.client.windows.lost(KEY, LOST)

    def _back(self) -> None:
        self.client.windows.back(KEY, BACK)

    def _send(self, text: str) -> str | None:
        problem = self.channel.check(text)
        if problem is not None:
            return problem
        message = self.channel.message(text)
        me = self.client.me
        self.log.message(me.id, me.name, text, message.id, message.ts, status="sending")
        future = self.channel.send(message)
        future.add_done_callback(lambda f: self.client.ui.post(self._sent, message, f))
        return None

    def _sent(self, message: ChatMessage, future: Future[int]) -> None:
        exc = future.exception()
        if exc is None:
            self.log.set_status(message.id, "sent")
            others = future.result()
            if others == 0:
                self._tell(
                    "No one else is listening right now: this insult waits in the queue "
                    "for the next listener, or comes back to you."
                )
            return
        self.log.set_status(message.id, "failed")
        if isinstance(exc, BrokerUnavailable):
            reason = "RabbitMQ is not reachable right now"
        else:
            log.error("sending insult %s failed", message.id, exc_info=exc)
            reason = "the broker refused it (details are in the log)"
        self._tell(f"Your insult was not sent: {reason}. Try again in a moment.")
        if not self.client.windows.is_open(KEY):
            self.client.term.notify(f"Your insult {_quote(message.text)} was not sent: {reason}.")

    def _tell(self, sentence: str) -> None:
        self.client.windows.status(KEY, sentence)

    def _closed(self) -> None:
        """The user closed the window: stop listening."""
        self.channel.disconnect()
        self.log.notice("Stopped listening")
        with self._lock:
            self._open = False

    def shutdown(self) -> None:
        """At exit (main thread): leave the channel (the host closes the window)."""
        self.channel.close()
        if self._listening is not None:
            self._listening.cancel()


def _quote(text: str, limit: int = 40) -> str:
    return f"“{text if len(text) <= limit else text[: limit - 1] + '…'}”"

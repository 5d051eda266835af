"""The insult channel's window: a :class:`ChatWindow` titled "Insult channel". Main thread only."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable

from chat.history import ChatLog
from chat.windows.chat_window import ChatWindow, SendHandler

TITLE = "Insult channel"
EMPTY = "Nothing to send: the insult is empty."


class InsultWindow(ChatWindow):
    """Own insults on the right, received ones on the left with sender and time."""

    def send(self) -> None:
        # The chat window ignores an empty line; here the user is told why nothing happened.
        if not self.text_var.get().strip() and str(self.input.cget("state")) != "disabled":
            self.set_status(EMPTY)
            return
        super().send()


def open_window(
    root: tk.Misc, chat_log: ChatLog, on_send: SendHandler, on_close: Callable[[], None]
) -> InsultWindow:
    """Show the channel's log in a new window."""
    return InsultWindow(root, TITLE, chat_log, on_send=on_send, on_close=on_close)

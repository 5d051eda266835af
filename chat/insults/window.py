"""The insult channel's window: a :class:`ChatWindow` titled "Insult channel". Main thread only."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable

from chat.history import ChatLog
from chat.windows.chat_window import ChatWindow, SendHandler

TITLE = "Insult channel"


def open_window(
    root: tk.Misc, chat_log: ChatLog, on_send: SendHandler, on_close: Callable[[], None]
) -> ChatWindow:
    """Show the channel's log: own insults on the right, received ones on the left."""
    return ChatWindow(root, TITLE, chat_log, on_send=on_send, on_close=on_close)

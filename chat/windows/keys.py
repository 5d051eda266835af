"""The keyboard of a chat window: sending, recalling, scrolling, moving on and closing.

From the input box: Return sends, Shift-Return breaks the line, Up recalls
the last message into an empty box, PageUp/PageDown scroll the history by a
page and Ctrl-Home/Ctrl-End to its top and bottom, Tab and Shift-Tab move the
keyboard on (a tab is never typed). Escape closes the window only while the
input box is empty; Ctrl-W always closes it. Main thread only.
"""

from __future__ import annotations

import tkinter as tk
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chat.windows.chat_window import ChatWindow


class InputText:
    """The input box's text with ``StringVar``'s ``get``/``set``."""

    def __init__(self, widget: tk.Text) -> None:
        self.widget = widget

    def get(self) -> str:
        return self.widget.get("1.0", "end-1c")

    def set(self, text: str) -> None:
        disabled = str(self.widget.cget("state")) == "disabled"
        if disabled:
            self.widget.configure(state="normal")
        self.widget.delete("1.0", "end")
        self.widget.insert("1.0", text)
        if disabled:
            self.widget.configure(state="disabled")


def bind(window: ChatWindow) -> None:
    """Bind the keys of ``window``'s input box and toplevel."""
    box, history, top = window.input, window.history, window.top

    def scroll(amount: int, what: str) -> str:
        history.yview_scroll(amount, what)
        return "break"

    def moveto(fraction: float) -> str:
        history.yview_moveto(fraction)
        return "break"

    def newline(_event: Any) -> str:
        box.insert("insert", "\n")
        box.see("insert")
        return "break"

    def send(_event: Any) -> str:
        window.send()
        return "break"

    def recall(_event: Any) -> str | None:
        if window.text_var.get() or not window.last_sent:
            return None
        window.text_var.set(window.last_sent)
        box.mark_set("insert", "end-1c")
        return "break"

    def focus_next(_event: Any) -> str:
        box.tk_focusNext().focus_set()
        return "break"

    def focus_prev(_event: Any) -> str:
        box.tk_focusPrev().focus_set()
        return "break"

    def escape(_event: Any) -> str | None:
        if window.text_var.get():  # a draft is never thrown away by one key
            return "break"
        window.close()
        return "break"

    def close(_event: Any) -> str:
        window.close()
        return "break"

    def copy(_event: Any) -> str | None:
        return "break" if window.copy() else None

    for sequence in ("<Return>", "<KP_Enter>"):
        box.bind(sequence, send)
    for sequence in ("<Shift-Return>", "<Shift-KP_Enter>"):
        box.bind(sequence, newline)
    box.bind("<Up>", recall)
    for sequence, amount in (("<Prior>", -1), ("<Next>", 1)):
        box.bind(sequence, lambda _e, n=amount: scroll(n, "pages"))
    box.bind("<Control-Home>", lambda _e: moveto(0.0))
    box.bind("<Control-End>", lambda _e: moveto(1.0))
    box.bind("<Tab>", focus_next)
    for sequence in ("<Shift-Tab>", "<ISO_Left_Tab>"):
        box.bind(sequence, focus_prev)
    top.bind("<Escape>", escape)
    for sequence in ("<Control-w>", "<Control-W>"):
        top.bind(sequence, close)
    top.bind("<Control-c>", copy)

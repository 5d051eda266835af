"""A chat window: a history pane bound to a :class:`~chat.history.ChatLog`, an input box.

The window holds no chat logic: sending is the chat's ``on_send`` callback,
and what is shown comes from the log. It owns how the conversation reads:
headers per run of messages, date lines, own messages in a shaded block,
following new messages at the bottom, the "new messages" bar when scrolled
up, the unread count in the title, and the visible, stoppable closing after
the other side left. Created by :mod:`chat.windows.host`; main thread only.
"""

from __future__ import annotations

import contextlib
import logging
import time
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk
from typing import Any

from chat.history import Entry
from chat.textsafe import TITLE_CHARS, for_title
from chat.windows import style
from chat.windows.api import Chat
from chat.windows.history_view import HistoryView

log = logging.getLogger(__name__)

WINDOW_CLASS = "Distchat"
WIDTH, HEIGHT = 560, 540
#: A window that opened by itself gives back a focus it got within this time.
RETURN_FOCUS_SECONDS = 1.0


class _InputText:
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


class ChatWindow:
    """One chat's Toplevel window."""

    def __init__(
        self,
        root: tk.Misc,
        chat: Chat,
        geometry: str | None = None,
        focus: bool = True,
        on_destroyed: Callable[[ChatWindow], None] | None = None,
    ) -> None:
        self.chat = chat
        self.log = chat.log
        self.closed = False
        self.unread = 0
        self._on_destroyed = on_destroyed
        self._fonts = style.fonts_for(root)
        self._pin_bottom = False
        self._last_sent = ""
        self._closing_job: str | None = None
        self._closing_left = 0.0
        self._return_focus: tk.Misc | None = None
        self._return_until = 0.0

        self.top = tk.Toplevel(root, class_=WINDOW_CLASS)
        self._show_title()
        self.top.geometry(geometry or f"{WIDTH}x{HEIGHT}")
        self.top.minsize(340, 300)
        self.top.protocol("WM_DELETE_WINDOW", self.close)

        frame = ttk.Frame(self.top, padding=(8, 8, 8, 6), style="Chat.TFrame")
        frame.pack(fill="both", expand=True)
        self.frame = frame
        pane = tk.Frame(frame, background=style.BORDER, padx=1, pady=1)
        pane.grid(row=0, column=0, columnspan=2, sticky="nsew")
        self.view = HistoryView(pane, self._fonts, on_top=self._on_top)
        self.history = self.view.text
        self.new_bar = self.view.new_bar

        self.closing_bar = ttk.Frame(frame, padding=(8, 4), style="Closing.TFrame")
        self.closing_label = ttk.Label(self.closing_bar, text="", style="Closing.TLabel")
        self.closing_label.pack(side="left")
        self.keep_button = ttk.Button(self.closing_bar, text="Keep open", command=self.keep_open)
        self.keep_button.pack(side="right")

        self.input = tk.Text(
            frame,
            height=3,
            width=40,
            wrap="word",
            undo=True,
            font=self._fonts.text,
            relief="flat",
            borderwidth=0,
            padx=8,
            pady=6,
            highlightthickness=1,
            highlightbackground=style.BORDER,
            highlightcolor=style.ACCENT,
            background="#ffffff",
        )
        self.text_var = _InputText(self.input)
        self.send_button = ttk.Button(frame, text="Send", command=self.send, style="Send.TButton")
        self.input.grid(row=2, column=0, sticky="ew", pady=(6, 0))
        self.send_button.grid(row=2, column=1, sticky="se", padx=(6, 0), pady=(6, 0))
        self.status = ttk.Label(frame, text="", style="Status.TLabel", justify="left")
        self.status.grid(row=3, column=0, columnspan=2, sticky="ew", pady=(4, 0))
        frame.columnconfigure(0, weight=1)
        frame.rowconfigure(0, weight=1)
        frame.bind("<Configure>", self._on_resized)

        self._bind_keys()
        for entry in self.log.entries:  # an entry that cannot be drawn does not stop the rest
            self.view.append(entry)
        self.log.listener = self._on_log
        if chat.read_only is not None or chat.on_send is None:
            self.set_read_only(chat.read_only or "This chat is read only.")
        self.top.after_idle(self.scroll_to_end)
        if focus:
            self.input.focus_set()
        else:
            # A window manager may hand a newly mapped window the focus; if that
            # happens right away, before the user touched this window, the
            # keyboard goes back to where the user was typing.
            self._return_focus = self._focused_widget()
            self._return_until = time.monotonic() + RETURN_FOCUS_SECONDS
            self.top.bind("<ButtonPress>", self._on_user_touch, add=True)
            self.top.bind("<KeyPress>", self._on_user_touch, add=True)

    # -- keys and menus ------------------------------------------------------

    def _bind_keys(self) -> None:
        i = self.input
        i.bind("<Return>", self._on_return)
        i.bind("<KP_Enter>", self._on_return)
        i.bind("<Shift-Return>", self._on_newline)
        i.bind("<Shift-KP_Enter>", self._on_newline)
        i.bind("<Up>", self._on_up)
        for sequence in ("<Escape>", "<Control-w>", "<Control-W>"):
            self.top.bind(sequence, lambda _e: self.close())
        self.top.bind("<Control-c>", self._on_copy_key)
        self.top.bind("<FocusIn>", self._on_focus)
        self.menu = tk.Menu(self.history, tearoff=False)
        self.menu.add_command(label="Copy", command=self.copy)
        self.menu.add_command(label="Select all", command=self._select_all)
        self.history.bind("<Button-3>", self._on_menu)
        # A disabled Text takes no focus on click; it must, for Ctrl-C to reach it.
        self.history.bind("<Button-1>", lambda _e: self.history.focus_set(), add=True)

    def _on_return(self, _event: Any) -> str:
        self.send()
        return "break"

    def _on_newline(self, _event: Any) -> str:
        self.input.insert("insert", "\n")
        self.input.see("insert")
        return "break"

    def _on_up(self, _event: Any) -> str | None:
        if self.text_var.get() or not self._last_sent:
            return None
        self.text_var.set(self._last_sent)
        self.input.mark_set("insert", "end-1c")
        return "break"

    def _on_copy_key(self, _event: Any) -> str | None:
        if self.history.tag_ranges("sel"):
            self.copy()
            return "break"
        return None

    def copy(self) -> bool:
        """Put the selected history text on the clipboard; False when nothing is selected."""
        if not self.history.tag_ranges("sel"):
            return False
        text = self.history.get("sel.first", "sel.last")
        self.top.clipboard_clear()
        self.top.clipboard_append(text)
        return True

    def _select_all(self) -> None:
        self.history.tag_add("sel", "1.0", "end-1c")

    def _on_menu(self, event: Any) -> None:
        has_selection = bool(self.history.tag_ranges("sel"))
        self.menu.entryconfigure("Copy", state="normal" if has_selection else "disabled")
        self.menu.tk_popup(event.x_root, event.y_root)

    def _focused_widget(self) -> tk.Misc | None:
        try:
            return self.top.focus_get()
        except (KeyError, tk.TclError):  # the focus is in a widget tkinter does not know
            return None

    def _on_user_touch(self, _event: Any) -> None:
        self._return_focus = None

    def _on_focus(self, _event: Any) -> None:
        back, self._return_focus = self._return_focus, None
        if (
            back is not None
            and time.monotonic() < self._return_until
            and back.winfo_exists()
            and back.winfo_toplevel() != self.top
        ):
            back.focus_force()
            return
        if self.unread:
            self.unread = 0
            self._show_title()

    def _show_title(self) -> None:
        """The chat's title, made safe (it holds remote names), after the unread count."""
        prefix = f"({self.unread}) " if self.unread else ""
        self.top.title(prefix + for_title(self.chat.title, TITLE_CHARS - len(prefix)))

    def has_focus(self) -> bool:
        focus = str(self.top.tk.call("focus"))
        own = str(self.top)
        return focus == own or focus.startswith(own + ".")

    def _on_resized(self, event: Any) -> None:
        # The status wraps to the window's width instead of widening (and so
        # squeezing) the message pane, and a long sentence is never clipped.
        self.status.configure(wraplength=max(100, event.width - 24))
        self.closing_label.configure(wraplength=max(100, event.width - 140))

    # -- the history ---------------------------------------------------------

    def _on_log(self, event: str, what: Any) -> None:
        if self.closed:
            return
        if event == "added":
            self._on_added(what)
        elif event == "prepended":
            self.view.prepend(what)
        elif event == "updated":
            self.view.update_status(what)

    def _on_added(self, entry: Entry) -> None:
        # Your own message always comes into view; others' only at the bottom.
        follow = self._pin_bottom or entry.side == "own" or self.at_bottom()
        if entry.side == "own":
            self._pin_bottom = False
        self.view.add(entry, follow)
        if entry.side == "peer" and not self.has_focus():
            self.unread += 1
            self._show_title()

    def _on_top(self) -> None:
        if not self.closed and self.chat.on_older is not None:
            self.chat.on_older()

    def at_bottom(self) -> bool:
        return self.view.at_bottom()

    def scroll_to_end(self) -> None:
        if not self.closed:
            self.view.scroll_to_end()

    def shown(self) -> list[tuple[str, str]]:
        """(side, text) of every message, notice and separator, top to bottom, as displayed."""
        return self.view.shown()

    # -- input ---------------------------------------------------------------

    def send(self) -> None:
        if self.chat.on_send is None or str(self.input.cget("state")) == "disabled":
            return
        text = self.text_var.get()
        if not text.strip():
            if self.chat.empty_warning is not None:
                self.set_status(self.chat.empty_warning)
            return
        text = text.strip("\n")
        problem = self.chat.on_send(text)
        if problem is None:
            self._last_sent = text
            self.text_var.set("")
            self.status.configure(text="")
            self._pin_bottom = True  # your own message always comes into view
            self.scroll_to_end()
        else:
            self.status.configure(text=problem)

    def set_status(self, text: str) -> None:
        if not self.closed:
            self.status.configure(text=text)

    def set_read_only(self, reason: str) -> None:
        """Disable the input, saying why."""
        self.input.configure(state="disabled", background="#f2f2f2")
        self.send_button.configure(state="disabled")
        self.status.configure(text=reason, foreground="#555")

    def take(self, chat: Chat) -> None:
        """Show the same conversation with new handlers (a chat started again)."""
        self.chat = chat
        self.cancel_closing()
        self._show_title()
        if chat.read_only is None and chat.on_send is not None:
            self.input.configure(state="normal", background="#ffffff")
            self.send_button.configure(state="normal")
            self.status.configure(text="", foreground="#a33")

    # -- closing -------------------------------------------------------------

    def reading(self) -> bool:
        """True while the user reads above the bottom or has text selected."""
        return not self.at_bottom() or bool(self.history.tag_ranges("sel"))

    def close_after(self, seconds: float) -> None:
        """Close by itself in ``seconds``, showing a countdown and "Keep open"."""
        if self.closed or self._closing_job is not None:
            return
        self._closing_left = max(0.0, seconds)
        self.closing_bar.grid(row=1, column=0, columnspan=2, sticky="ew", pady=(6, 0))
        self._tick()

    def _tick(self) -> None:
        self._closing_job = None
        if self.closed:
            return
        if self.reading():
            self.closing_label.configure(text="This window closes when you are back at the bottom.")
            self._closing_job = self.top.after(300, self._tick)
            return
        if self._closing_left <= 0:
            self.destroy()
            return
        whole = max(1, round(self._closing_left))
        self.closing_label.configure(text=f"This chat is over; the window closes in {whole} s.")
        step = min(1.0, self._closing_left)
        self._closing_left -= step
        self._closing_job = self.top.after(int(step * 1000), self._tick)

    @property
    def closing(self) -> bool:
        return self._closing_job is not None

    def keep_open(self) -> None:
        """Stop the closing; the window stays until the user closes it."""
        self.cancel_closing()

    def cancel_closing(self) -> None:
        if self._closing_job is not None:
            with contextlib.suppress(tk.TclError):
                self.top.after_cancel(self._closing_job)
            self._closing_job = None
        if not self.closed:
            self.closing_bar.grid_remove()

    def present(self) -> None:
        """Bring the window to the front."""
        if self.closed:
            return
        self.top.deiconify()
        self.top.lift()
        self.input.focus_set()

    def close(self) -> None:
        """The user closed the window: tell the owner, then go."""
        if self.closed:
            return
        if self.chat.on_close is not None:
            try:
                self.chat.on_close()
            except Exception:
                log.exception("close handler failed")
        self.destroy()

    def destroy(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.cancel_closing()
        self.view.cancel()
        if self.log.listener == self._on_log:
            self.log.listener = None
        with contextlib.suppress(tk.TclError):
            self.top.destroy()
        if self._on_destroyed is not None:
            self._on_destroyed(self)

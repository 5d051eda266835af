"""A chat window: a history pane bound to a :class:`~chat.history.ChatLog`, an input box.

The window holds no chat logic: sending is the chat's ``on_send`` callback,
and what is shown comes from the log. It owns how the conversation reads:
headers per run of messages, date lines, own messages in a shaded block,
following new messages at the bottom, the "new messages" bar when scrolled
up, the unread count in the title, the "unread from here" line, the bell and
urgency hint for arrivals (:mod:`.attention`), the member line of a group
(:mod:`.members`), the keyboard (:mod:`.keys`), and the visible, stoppable
closing after the other side left, which counts down only while the user is
in the window. Activating the window in any way puts the keyboard in its
input box. Created by :mod:`chat.windows.host`; main thread only.
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
from chat.transport.wire import utf8_size
from chat.windows import keys, style
from chat.windows.api import Chat
from chat.windows.attention import Attention
from chat.windows.closing import Countdown
from chat.windows.history_view import HistoryView
from chat.windows.members import MemberLine

log = logging.getLogger(__name__)

WINDOW_CLASS = "Distchat"
WIDTH, HEIGHT = 560, 540
#: A window that opened by itself gives back a focus it got within this time.
RETURN_FOCUS_SECONDS = 1.0


class ChatWindow:
    """One chat's Toplevel window."""

    def __init__(
        self,
        root: tk.Misc,
        chat: Chat,
        geometry: str | None = None,
        focus: bool = True,
        on_destroyed: Callable[[ChatWindow], None] | None = None,
        notify: bool = False,
        max_bytes: int | None = None,
    ) -> None:
        self.chat = chat
        self.log = chat.log
        self.closed = False
        self.unread = 0
        self.last_sent = ""
        self.max_bytes = max_bytes
        self._on_destroyed = on_destroyed
        self._fonts = style.fonts_for(root)
        self._pin_bottom = False
        self._too_long = False  # the status says the text in the box is too long
        self._active = False  # the keyboard is in this window (as last seen)
        self._line_moves = True  # the user was here since the unread line was drawn
        self._return_focus: tk.Misc | None = None
        self._return_until = 0.0

        self.top = tk.Toplevel(root, class_=WINDOW_CLASS)
        self._show_title()
        self.top.geometry(geometry or f"{WIDTH}x{HEIGHT}")
        self.top.minsize(340, 300)
        self.top.protocol("WM_DELETE_WINDOW", self.close)
        self.attention = Attention(self.top, notify)

        frame = ttk.Frame(self.top, padding=(8, 8, 8, 6), style="Chat.TFrame")
        frame.pack(fill="both", expand=True)
        self.frame = frame
        self.members = MemberLine(frame, self._fonts.small, row=0)
        pane = tk.Frame(frame, background=style.BORDER, padx=1, pady=1)
        pane.grid(row=1, column=0, columnspan=2, sticky="nsew")
        self.view = HistoryView(pane, self._fonts, on_top=self._on_top, on_touch=self.to_input)
        self.history = self.view.text
        self.new_bar = self.view.new_bar

        self.countdown = Countdown(frame, 2, self.has_focus, self.reading, self.destroy)
        self.closing_bar = self.countdown.bar
        self.closing_label = self.countdown.label
        self.keep_button = self.countdown.keep_button

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
        self.text_var = keys.InputText(self.input)
        self.send_button = ttk.Button(frame, text="Send", command=self.send, style="Send.TButton")
        self.input.grid(row=3, column=0, sticky="ew", pady=(6, 0))
        self.send_button.grid(row=3, column=1, sticky="se", padx=(6, 0), pady=(6, 0))
        self.status = ttk.Label(frame, text="", style="Status.TLabel", justify="left")
        self.status.grid(row=4, column=0, columnspan=2, sticky="ew", pady=(4, 0))
        frame.columnconfigure(0, weight=1)
        frame.rowconfigure(1, weight=1)
        frame.bind("<Configure>", self._on_resized)

        keys.bind(self)
        self.top.bind("<FocusIn>", self._on_focus)
        self.top.bind("<FocusOut>", self._on_focus_out)
        self.input.bind("<<Modified>>", self._on_edited)
        self.menu = tk.Menu(self.history, tearoff=False)
        self.menu.add_command(label="Copy", command=self.copy)
        self.menu.add_command(label="Select all", command=self._select_all)
        self.history.bind("<Button-3>", self._on_menu)
        for entry in self.log.entries:  # an entry that cannot be drawn does not stop the rest
            self.view.append(entry)
        self.log.listener = self._on_log
        self.members.show(self.log.members if self.log.members_known else None)
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
        if not self._active and self.has_focus():  # a FocusIn may come after focus moved on
            # The window was activated (title bar, Alt-Tab, a click): the
            # keyboard goes to the input box; moves inside it stay where they go.
            self._active = True
            self.to_input()
            self._came_back()

    def _on_focus_out(self, _event: Any) -> None:
        # A move between widgets of this window also sends FocusOut: look
        # again once Tk has settled where the focus went.
        self.top.after_idle(self._check_focus)

    def _check_focus(self) -> None:
        if not self.closed:
            self._active = self.has_focus()

    def to_input(self) -> None:
        """Put the keyboard in the input box (the user touched or activated the window)."""
        if not self.closed:
            self.input.focus_set()

    def _came_back(self) -> None:
        """The user is in the window: arrivals are seen, a waiting close counts down."""
        self._line_moves = True
        self.attention.seen()
        if self.unread:
            self.unread = 0
            self._show_title()
        self.countdown.came_back()

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
        self.members.resized(event.width)

    # -- the history ---------------------------------------------------------

    def _on_log(self, event: str, what: Any) -> None:
        if self.closed:
            return
        if event == "added":
            self._on_added(what)
        elif event == "prepended":
            self.view.prepend(what)
        elif event == "members":
            self.members.show(what)
        else:
            self.view.update_status(what)

    def _on_added(self, entry: Entry) -> None:
        # Your own message always comes into view; others' only at the bottom.
        follow = self._pin_bottom or entry.side == "own" or self.at_bottom()
        if entry.side == "own":
            self._pin_bottom = False
        away = entry.side == "peer" and not self.has_focus()
        # The line moves to the first arrival after the user was last here.
        line = away and self._line_moves
        if line:
            self._line_moves = False
        self.view.add(entry, follow, unread_line=line)
        if away:
            self.unread += 1
            self._show_title()
            self.attention.arrived(self.chat.title, entry.sender_name, entry.text)

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
        if self.has_focus():
            self.input.focus_set()  # a click on Send leaves the keyboard in the box
        if problem is None:
            self.last_sent = text
            self.text_var.set("")
            self.status.configure(text="")
            self._too_long = False
            self._pin_bottom = True  # your own message always comes into view
            self.scroll_to_end()
        else:
            self.status.configure(text=problem)
            self._too_long = self.max_bytes is not None and utf8_size(text) > self.max_bytes

    def _on_edited(self, _event: Any) -> None:
        # The "too long" sentence goes as soon as the text fits again.
        self.input.edit_modified(False)
        if self._too_long and self.max_bytes is not None:
            text = self.text_var.get().strip("\n")
            if utf8_size(text) <= self.max_bytes:
                self._too_long = False
                self.set_status("")

    def set_status(self, text: str) -> None:
        if not self.closed:
            self._too_long = False
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
        """Close by itself in ``seconds``, showing a countdown and "Keep open"; the
        countdown runs only while the user is in the window (:mod:`.closing`)."""
        if not self.closed:
            self.countdown.start(seconds)

    @property
    def closing(self) -> bool:
        return self.countdown.active

    def keep_open(self) -> None:
        """Stop the closing; the window stays until the user closes it."""
        self.countdown.cancel()

    def cancel_closing(self) -> None:
        self.countdown.cancel()

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
        self.countdown.stop()
        self.view.cancel()
        if self.log.listener == self._on_log:
            self.log.listener = None
        with contextlib.suppress(tk.TclError):
            self.top.destroy()
        if self._on_destroyed is not None:
            self._on_destroyed(self)

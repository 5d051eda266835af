"""A chat window: a history pane bound to a :class:`~chat.history.ChatLog`, an input line.

Own messages sit on the right, others' on the left with name and time,
notices in the middle. The window holds no chat logic: sending is the
``on_send`` callback's job, and what is shown comes from the log. Main thread
only.
"""

from __future__ import annotations

import contextlib
import logging
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from chat.boundary import guarded
from chat.history import ChatLog, Entry

log = logging.getLogger(__name__)

#: ``on_send(text)`` returns None when the text was taken, else a sentence to show
#: (the text then stays in the input box).
SendHandler = Callable[[str], "str | None"]


class ChatWindow:
    """One chat's Toplevel window."""

    def __init__(
        self,
        root: tk.Misc,
        title: str,
        chat_log: ChatLog,
        on_send: SendHandler | None,
        on_close: Callable[[], None] | None = None,
        read_only_reason: str | None = None,
    ) -> None:
        self.log = chat_log
        self.on_send = on_send
        self.on_close = on_close
        self.closed = False
        self._close_job: str | None = None
        self._status_marks: dict[int, str] = {}
        self._rendered: list[tuple[str, str]] = []

        self.top = tk.Toplevel(root)
        self.top.title(title)
        self.top.geometry("520x480")
        self.top.minsize(320, 240)
        self.top.protocol("WM_DELETE_WINDOW", self.close)

        frame = ttk.Frame(self.top, padding=6)
        frame.pack(fill="both", expand=True)
        self.history = tk.Text(
            frame,
            wrap="word",
            state="disabled",
            height=20,
            width=60,
            padx=8,
            pady=6,
            relief="flat",
            cursor="arrow",
        )
        scroll = ttk.Scrollbar(frame, command=self.history.yview)
        self.history.configure(yscrollcommand=scroll.set)
        self.history.grid(row=0, column=0, columnspan=2, sticky="nsew")
        scroll.grid(row=0, column=2, sticky="ns")

        self.text_var = tk.StringVar()
        self.input = ttk.Entry(frame, textvariable=self.text_var)
        self.send_button = ttk.Button(frame, text="Send", command=self.send)
        self.input.grid(row=1, column=0, sticky="ew", pady=(6, 0))
        self.send_button.grid(row=1, column=1, columnspan=2, sticky="e", padx=(6, 0), pady=(6, 0))
        self.status = ttk.Label(frame, text="", foreground="#a33")
        self.status.grid(row=2, column=0, columnspan=3, sticky="w")
        frame.columnconfigure(0, weight=1)
        frame.rowconfigure(0, weight=1)
        self.input.bind("<Return>", lambda _e: self.send())
        self.input.bind("<KP_Enter>", lambda _e: self.send())

        h = self.history
        h.tag_configure("own", justify="right", lmargin1=80, lmargin2=80)
        h.tag_configure("peer", justify="left", rmargin=80)
        h.tag_configure("meta", foreground="#777", font="TkSmallCaptionFont")
        h.tag_configure("body", spacing3=6)
        h.tag_configure(
            "notice",
            justify="center",
            foreground="#555",
            font="TkSmallCaptionFont",
            spacing1=4,
            spacing3=6,
        )
        h.tag_configure("separator", justify="center", foreground="#36c", spacing1=6, spacing3=6)
        h.tag_configure("failed", foreground="#c00")

        for entry in chat_log.entries:  # one entry that cannot be drawn does not stop the rest
            guarded("drawing a chat entry", self._render, entry, body=entry.text)
        chat_log.listener = self._on_log
        if read_only_reason is not None or on_send is None:
            self.set_read_only(read_only_reason or "This chat is read only.")
        else:
            self.input.focus_set()

    # -- the history ---------------------------------------------------------

    def _on_log(self, event: str, entry: Entry) -> None:
        if self.closed:
            return
        if event == "added":
            self._render(entry)
        else:
            self._update_status(entry)

    def _insert(self, text: str, *tags: str) -> None:
        self.history.insert("end", text, tags)

    def _render(self, entry: Entry) -> None:
        h = self.history
        follow = h.yview()[1] >= 0.999
        h.configure(state="normal")
        tag = f"e{len(self._rendered)}"  # one tag per entry, for reading it back
        self._rendered.append((tag, entry.side))
        if entry.side == "own":
            self._insert(entry.text + "\n", "own", "body", tag)
            self._insert(entry.clock, "own", "meta")
            # The status (sending, not delivered) follows this mark to the end of the line.
            mark = f"status{id(entry)}"
            h.mark_set(mark, "end-1c")
            h.mark_gravity(mark, "left")
            self._status_marks[id(entry)] = mark
            self._insert(_status_text(entry), *_status_tags(entry))
            self._insert("\n", "own", "meta")
        elif entry.side == "peer":
            self._insert(f"{entry.sender_name} · {entry.clock}", "peer", "meta")
            if entry.warning:
                self._insert(f"  ⚠ {entry.warning}", "peer", "meta", "failed")
            self._insert("\n", "peer", "meta")
            self._insert(entry.text + "\n", "peer", "body", tag)
        elif entry.side == "notice":
            self._insert(entry.text, "notice", tag)
            self._insert(f" · {entry.clock}\n", "notice")
        else:
            self._insert(f"──── {entry.text} ────", "separator", tag)
            self._insert("\n", "separator")
        h.configure(state="disabled")
        if follow:
            h.see("end")

    def _update_status(self, entry: Entry) -> None:
        mark = self._status_marks.get(id(entry))
        if mark is None:
            return
        h = self.history
        h.configure(state="normal")
        h.delete(mark, f"{mark} lineend")
        h.insert(mark, _status_text(entry), _status_tags(entry))
        h.configure(state="disabled")

    def shown(self) -> list[tuple[str, str]]:
        """(side, text) of every message, notice and separator, top to bottom, as displayed."""
        h = self.history
        out = []
        for tag, side in self._rendered:
            start, end = h.tag_ranges(tag)
            out.append((side, h.get(start, end).rstrip("\n")))
        return out

    # -- input ---------------------------------------------------------------

    def send(self) -> None:
        if self.on_send is None or str(self.input.cget("state")) == "disabled":
            return
        text = self.text_var.get()
        if not text.strip():
            return
        problem = self.on_send(text)
        if problem is None:
            self.text_var.set("")
            self.status.configure(text="")
        else:
            self.status.configure(text=problem)

    def set_status(self, text: str) -> None:
        if not self.closed:
            self.status.configure(text=text)

    def set_read_only(self, reason: str) -> None:
        """Disable the input for good, saying why."""
        self.input.configure(state="disabled")
        self.send_button.configure(state="disabled")
        self.status.configure(text=reason, foreground="#555")

    # -- the window ----------------------------------------------------------

    def present(self) -> None:
        """Bring the window to the front."""
        if self.closed:
            return
        self.top.deiconify()
        self.top.lift()
        self.input.focus_set()

    def close_after(self, seconds: float) -> None:
        """Close by itself in ``seconds`` (after a disconnect notice)."""
        if not self.closed and self._close_job is None:
            self._close_job = self.top.after(int(seconds * 1000), self.destroy)

    def close(self) -> None:
        """The user closed the window: tell the owner, then go."""
        if self.closed:
            return
        if self.on_close is not None:
            try:
                self.on_close()
            except Exception:
                log.exception("close handler failed")
        self.destroy()

    def destroy(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.log.listener = None
        with contextlib.suppress(tk.TclError):
            self.top.destroy()
        # Unset the Tcl variable here, on the Tk thread: left to the garbage
        # collector, StringVar.__del__ could run on whichever thread collects.
        with contextlib.suppress(tk.TclError):
            self.text_var.__del__()
        self.text_var._tk = None  # so the collector's own __del__ call does nothing


def _status_text(entry: Entry) -> str:
    if entry.status == "failed":
        return "  ✗ not delivered"
    if entry.status == "sending":
        return "  …"
    return ""


def _status_tags(entry: Entry) -> tuple[str, ...]:
    return ("own", "meta", "failed") if entry.status == "failed" else ("own", "meta")

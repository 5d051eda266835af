"""The history pane of a chat window: entries of a ChatLog drawn into a Tk Text.

It draws headers once per run of messages, date lines, own messages in a
shaded block and delivery marks; it puts older pages in above without moving
the reader; it follows new entries while the reader is at the bottom and
otherwise counts them on a "new messages" bar; it draws the "unread from
here" line, names in colours kept apart per window (:mod:`.colours`), links
that open in the browser (:mod:`.links`), and keeps own blocks and peers'
lines to a readable width on wide windows. Main thread only.

Every entry is found again by two marks around its text (for reading back
what is shown), never by a tag per entry: thousands of tags would slow every
insertion, marks cost nothing to keep.
"""

from __future__ import annotations

import contextlib
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from chat.history import Entry
from chat.transport.boundary import guarded
from chat.windows import links, style
from chat.windows.colours import ColourBook

#: The line above the first message that came while the window had no focus.
UNREAD_TEXT = "unread from here"


class HistoryView:
    """A read-only Text with a scrollbar, bound to nothing but what it is told to draw.

    Args:
        parent: where the pane goes (packed to fill it).
        fonts: the window's fonts.
        on_top: called (once per idle moment) while the view is at the very top.
        on_touch: called after the user clicked the pane or the "new messages" bar.
    """

    def __init__(
        self,
        parent: tk.Misc,
        fonts: style.Fonts,
        on_top: Callable[[], None] | None = None,
        on_touch: Callable[[], None] | None = None,
    ) -> None:
        self.on_top = on_top
        self.on_touch = on_touch
        self.colours = ColourBook()
        self._unread: tuple[str, str] | None = None  # marks around the unread line
        self._unread_at: str | None = None  # start mark of the entry below it
        self._rendered: list[tuple[str, str, str]] = []  # (side, start mark, end mark)
        self._status_marks: dict[int, str] = {}
        self._marks = 0
        self._last: Entry | None = None  # the entry shown last (at the bottom)
        self._first: Entry | None = None  # the entry shown first (at the top)
        self._top_date: tuple[str, str] | None = None  # marks of a date line at the very top
        self._dated: tuple[str, str] | None = None  # the date line _render drew last, if any
        self._headed: tuple[str, str] | None = None  # the header _render drew last, if any
        self._top_head: tuple[str, str] | None = None  # marks of the first entry's header
        self._new = 0
        self._bottom = True
        self._height = 0  # the pane's height at the last scroll report
        self._top_job: str | None = None

        self.text = tk.Text(
            parent,
            wrap="word",
            state="disabled",
            height=18,
            width=60,
            padx=10,
            pady=8,
            relief="flat",
            highlightthickness=0,
            cursor="arrow",
            font=fonts.text,
            background="#ffffff",
            selectbackground="#c2dbff",
            inactiveselectbackground="#c2dbff",
            takefocus=0,
        )
        self.scrollbar = ttk.Scrollbar(parent, command=self.text.yview)
        self.text.configure(yscrollcommand=self._on_scrolled)
        # The scrollbar is packed first, so a narrow window squeezes the text, never it.
        self.scrollbar.pack(side="right", fill="y")
        self.text.pack(side="left", fill="both", expand=True)
        style.configure_tags(self.text, fonts)
        links.bind(self.text)
        self.text.bind("<Configure>", lambda e: style.fit_margins(self.text, e.width), add=True)
        self.text.bind("<ButtonRelease-1>", self._touched, add=True)
        self.text.mark_set("ins", "1.0")
        self.text.mark_gravity("ins", "right")
        self.new_bar = ttk.Button(
            self.text, text="", command=self._on_new_bar, style="New.TButton", cursor="hand2"
        )

    # -- where the reader is -------------------------------------------------

    def at_bottom(self) -> bool:
        """True while the end of the history is in view (as the pane last reported)."""
        return self._bottom

    def _on_scrolled(self, first: str, last: str) -> None:
        # Tk reports the view here whenever it changes; keeping it saves asking
        # Tk (which would lay out every new line first) on each new message.
        height = self.text.winfo_height()
        resized, self._height = height != self._height, height
        if resized and self._bottom and float(last) < 0.999:
            # The pane shrank (the closing bar appeared, the window was made
            # smaller) and Tk kept the top line: a reader at the bottom stays
            # there, else a closing window would wait for them for ever.
            self.text.yview_moveto(1.0)
            return  # Tk reports the view again
        self._bottom = float(last) >= 0.999
        self.scrollbar.set(first, last)
        if float(last) >= 0.999 and self._new:
            self._new = 0
            self.new_bar.place_forget()
        if float(first) <= 0.0 and self.on_top is not None and self._top_job is None:
            self._top_job = self.text.after_idle(self._at_top)

    def _at_top(self) -> None:
        self._top_job = None
        if self.on_top is not None and self._rendered and self.text.winfo_exists():
            self.on_top()

    def cancel(self) -> None:
        """Forget the pending call of ``on_top`` (the window is going)."""
        self.on_top = None
        if self._top_job is not None:
            with contextlib.suppress(tk.TclError):
                self.text.after_cancel(self._top_job)
            self._top_job = None

    def _show_new_bar(self) -> None:
        n = self._new
        self.new_bar.configure(text=f"{n} new message{'s' if n != 1 else ''} ↓")
        self.new_bar.place(relx=0.5, rely=1.0, anchor="s", y=-8)

    def _on_new_bar(self) -> None:
        self.scroll_to_end()
        self._touched()

    def _touched(self, _event: object = None) -> None:
        if self.on_touch is not None:
            self.on_touch()

    def scroll_to_end(self) -> None:
        self.text.yview_moveto(1.0)
        self._new = 0
        self.new_bar.place_forget()

    # -- drawing -------------------------------------------------------------

    def add(self, entry: Entry, follow: bool, unread_line: bool = False) -> None:
        """Draw a new entry at the bottom; scroll to it when ``follow``, else count it.

        With ``unread_line`` the "unread from here" line moves to just above it.
        """
        if unread_line:
            self._draw_unread_line()
        if not self.append(entry, after_line=unread_line):
            return
        if unread_line:
            self._unread_at = self._rendered[-1][1]
        if follow:
            self.text.see("end")
        elif style.is_message(entry):
            self._new += 1
            self._show_new_bar()

    def _mark(self, index: str, gravity: str = "left") -> str:
        self._marks += 1
        name = f"m{self._marks}"
        self.text.mark_set(name, index)
        self.text.mark_gravity(name, gravity)
        return name

    def _render(self, entry: Entry, prev: Entry | None, at: str) -> tuple[str, str, str] | None:
        """Insert ``entry`` at index ``at`` ("end", or the right-gravity mark "ins")."""
        h = self.text
        pos = "end-1c" if at == "end" else at  # a mark cannot sit after the final newline
        date_marks = None
        dated = style.needs_date(entry, prev)
        if dated:
            start = self._mark(pos)
            h.insert(at, style.date_text(entry.ts) + "\n", ("date",))
            date_marks = (start, self._mark(pos))
            h.mark_gravity(start, "right")
        head_marks = None
        if entry.side in ("own", "peer"):
            side = entry.side
            if style.needs_header(entry, prev, dated):
                head_start = self._mark(pos)
                if side == "own":
                    h.insert(
                        at,
                        "You",
                        (side, "head", "name"),
                        f" · {entry.clock}\n",
                        (side, "head", "meta"),
                    )
                else:
                    name_tags = (side, "head", "name", self.colours.tag_for(entry.sender_name))
                    h.insert(
                        at,
                        entry.sender_name,
                        name_tags,
                        f" · {entry.clock}",
                        (side, "head", "meta"),
                        # The sender's key changed: said in red beside the name.
                        f"  ⚠ {entry.warning}" if entry.warning else "",
                        (side, "head", "warning"),
                        "\n",
                        (side, "head", "meta"),
                    )
                head_marks = (head_start, self._mark(pos))
                h.mark_gravity(head_start, "right")
            start = self._mark(pos)
            body = (side, "body")
            pieces = links.split(entry.text) or [("", False)]
            h.insert(at, *[x for p, link in pieces for x in (p, body + (links.TAG,) * link)])
            end = self._mark(pos)
            if side == "own" and entry.msg_id:
                status = self._mark(pos)
                self._status_marks[id(entry)] = status
                h.insert(at, _status_text(entry), _status_tags(entry))
            h.insert(at, "\n", (side, "body"))
        elif entry.side == "notice":
            start = self._mark(pos)
            h.insert(at, entry.text, ("notice",))
            end = self._mark(pos)
            joiner = "  " if entry.text.endswith((".", "!", "?", "…")) else " · "
            h.insert(at, f"{joiner}{entry.clock}\n", ("notice",))
        else:
            start = self._mark(pos)
            h.insert(at, f"──── {entry.text} ────", ("separator",))
            end = self._mark(pos)
            h.insert(at, "\n", ("separator",))
        h.mark_gravity(start, "right")  # text put in above never slips in behind it
        self._dated, self._headed = date_marks, head_marks
        return (entry.side, start, end)

    def append(self, entry: Entry, after_line: bool = False) -> bool:
        """Draw ``entry`` at the bottom; False (logged) when it cannot be drawn.

        ``after_line``: it goes under the unread line, so it has a header of its own.
        """
        h = self.text
        prev = self._last
        if after_line and prev is not None:
            prev = Entry("separator", "", prev.ts)  # keeps the date rule, starts a run
        h.configure(state="normal")
        try:
            drawn = self._draw(entry, prev, "end")
            if drawn is None:
                return False
            if not self._rendered:
                self._first = entry
                self._top_date, self._top_head = self._dated, self._headed
            self._rendered.append(drawn)
            self._last = entry
            return True
        finally:
            h.configure(state="disabled")

    def _draw(self, entry: Entry, prev: Entry | None, at: str) -> tuple[str, str, str] | None:
        """:meth:`_render` behind the boundary: an entry that cannot be drawn is
        logged and left out, and never stops the entries after it."""
        self._dated = self._headed = None
        return guarded("drawing a chat entry", self._render, entry, prev, at, body=entry.text)

    def prepend(self, page: list[Entry]) -> None:
        """Put older entries above, keeping the view where the reader is."""
        if not page:
            return
        h = self.text
        at_bottom = self.at_bottom()
        anchor = self._mark("@0,0", "right")
        h.configure(state="normal")
        h.mark_set("ins", "1.0")
        old_first, old_top_date, old_top_head = self._first, self._top_date, self._top_head
        rendered = []
        first: Entry | None = None
        prev: Entry | None = None
        top_date = top_head = None
        for entry in page:
            drawn = self._draw(entry, prev, "ins")
            if drawn is None:
                continue
            if first is None:
                first, top_date, top_head = entry, self._dated, self._headed
            rendered.append(drawn)
            prev = entry
        if first is None or prev is None:  # not one entry of the page could be drawn
            h.configure(state="disabled")
            h.mark_unset(anchor)
            return
        self._rendered[:0] = rendered
        self._first, self._top_date, self._top_head = first, top_date, top_head
        if old_first is None:
            self._last = prev
        else:
            # Where the page meets what was shown, the day line must tell the truth.
            same_day = style.day_of(prev.ts) == style.day_of(old_first.ts)
            if same_day and old_top_date is not None:
                h.delete(old_top_date[0], old_top_date[1])
            elif not same_day and old_top_date is None and old_first.side != "separator":
                h.insert("ins", style.date_text(old_first.ts) + "\n", ("date",))
            # ...and a run of one sender across it keeps a single header.
            if old_top_head is not None and not style.needs_header(old_first, prev, not same_day):
                h.delete(old_top_head[0], old_top_head[1])
        h.configure(state="disabled")
        if at_bottom:
            h.yview_moveto(1.0)
        else:
            h.yview(anchor)
        h.mark_unset(anchor)

    def _draw_unread_line(self) -> None:
        self.remove_unread_line()
        h = self.text
        h.configure(state="normal")
        start = self._mark("end-1c")
        h.insert("end", f"──── {UNREAD_TEXT} ────\n", ("unread",))
        self._unread = (start, self._mark("end-1c"))
        h.configure(state="disabled")

    def remove_unread_line(self) -> None:
        if self._unread is None:
            return
        h = self.text
        h.configure(state="normal")
        h.delete(*self._unread)
        h.configure(state="disabled")
        for mark in self._unread:
            h.mark_unset(mark)
        self._unread = self._unread_at = None

    def unread_before(self) -> tuple[str, str] | None:
        """(side, text) of the entry right under the unread line; None without a line."""
        if self._unread is None:
            return None
        h = self.text
        for side, start, end in self._rendered:
            if start == self._unread_at:
                return (side, h.get(start, end))
        return ("", "")  # a line whose entry could not be drawn

    def update_status(self, entry: Entry) -> None:
        mark = self._status_marks.get(id(entry))
        if mark is None:
            return
        h = self.text
        h.configure(state="normal")
        h.delete(mark, f"{mark} lineend")
        h.insert(mark, _status_text(entry), _status_tags(entry))
        h.configure(state="disabled")

    def shown(self) -> list[tuple[str, str]]:
        """(side, text) of every message, notice and separator, top to bottom, as displayed."""
        h = self.text
        return [(side, h.get(start, end)) for side, start, end in self._rendered]


def _status_text(entry: Entry) -> str:
    if entry.status == "failed":
        return "  ✗ not delivered"
    if entry.status == "sending":
        return "  …"
    return ""


def _status_tags(entry: Entry) -> tuple[str, ...]:
    return (
        ("own", "body", "meta", "failed") if entry.status == "failed" else ("own", "body", "meta")
    )

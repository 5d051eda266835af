"""How a chat history looks: fonts, colours, text tags and the rules for headers and dates.

Main thread only (named fonts belong to one Tk interpreter).
"""

from __future__ import annotations

import time
import tkinter as tk
from tkinter import font as tkfont
from tkinter import ttk

from chat.history import Entry, local_time
from chat.windows.colours import PALETTE, tag

#: Consecutive messages from one sender within this many seconds share one header.
RUN_SECONDS = 5 * 60
OWN_SHADE = "#e8f0fe"
MUTED = "#6b6b6b"
FAILED = "#c5221f"
SEPARATOR = "#1a73e8"
WINDOW_BG = "#eef0f3"
BORDER = "#c9ced6"
ACCENT = "#1a73e8"
UNREAD = "#d93025"
LINK = "#1a5fb4"
OWN_INDENT = 72
PEER_RIGHT = 48
#: The widest an own message's shaded block or a peer's lines get, in pixels:
#: on a wide window the text keeps a readable measure instead of a full-width slab.
OWN_MAX = 560
PEER_MAX = 720


def day_of(ts: float) -> tuple[int, int, int]:
    t = local_time(ts)
    return (t.tm_year, t.tm_mon, t.tm_mday)


def date_text(ts: float, now: float | None = None) -> str:
    """ "Today", "Yesterday", or the weekday and date of ``ts``."""
    now = time.time() if now is None else now
    day = day_of(ts)
    if day == day_of(now):
        return "Today"
    if day == day_of(now - 86400):
        return "Yesterday"
    t = local_time(ts)
    text = time.strftime("%A %d %B", t)
    return text if t.tm_year == local_time(now).tm_year else f"{text} {t.tm_year}"


def is_message(entry: Entry | None) -> bool:
    return entry is not None and entry.side in ("own", "peer")


def needs_date(entry: Entry, prev: Entry | None, now: float | None = None) -> bool:
    """A date line goes above ``entry`` when the day changes, and over older history."""
    if entry.side == "separator":
        return False
    if prev is None:
        return day_of(entry.ts) != day_of(time.time() if now is None else now)
    return day_of(prev.ts) != day_of(entry.ts)


def needs_header(entry: Entry, prev: Entry | None, dated: bool) -> bool:
    """One header (name · time) per run of messages from one sender; a key
    warning that comes or goes starts a new run, so its header shows the mark."""
    if not is_message(entry):
        return False
    if dated or not is_message(prev):
        return True
    assert prev is not None
    return (
        prev.sender_id != entry.sender_id
        or prev.warning != entry.warning
        or abs(entry.ts - prev.ts) > RUN_SECONDS
    )


class Fonts:
    """The named fonts a chat window uses, derived from Tk's own."""

    def __init__(self, root: tk.Misc) -> None:
        text = tkfont.nametofont("TkTextFont", root)
        default = tkfont.nametofont("TkDefaultFont", root)
        self.text = text
        self.bold = tkfont.Font(root, **{**default.actual(), "weight": "bold"})
        small = tkfont.nametofont("TkSmallCaptionFont", root)
        self.small = small
        self.small_bold = tkfont.Font(root, **{**small.actual(), "weight": "bold"})


_fonts: dict[str, Fonts] = {}


def fonts_for(root: tk.Misc) -> Fonts:
    key = str(root.tk)
    if key not in _fonts:
        _fonts[key] = Fonts(root)
    return _fonts[key]


def configure_tags(text: tk.Text, fonts: Fonts) -> None:
    """The tags a history pane renders with."""
    text.tag_configure("peer", lmargin1=6, lmargin2=6, rmargin=PEER_RIGHT)
    text.tag_configure(
        "own",
        lmargin1=OWN_INDENT,
        lmargin2=OWN_INDENT,
        rmargin=6,
        background=OWN_SHADE,
        lmargincolor=text.cget("background"),
    )
    text.tag_configure("head", spacing1=8, spacing3=1)
    text.tag_configure("body", spacing1=1, spacing3=1)
    text.tag_configure("name", font=fonts.bold)
    text.tag_configure("meta", foreground=MUTED, font=fonts.small)
    text.tag_configure("failed", foreground=FAILED)
    text.tag_configure("warning", foreground=FAILED, font=fonts.small)
    text.tag_configure(
        "notice", justify="center", foreground=MUTED, font=fonts.small, spacing1=6, spacing3=6
    )
    text.tag_configure(
        "separator",
        justify="center",
        foreground=SEPARATOR,
        font=fonts.small_bold,
        spacing1=10,
        spacing3=10,
    )
    text.tag_configure(
        "date", justify="center", foreground=MUTED, font=fonts.small_bold, spacing1=12, spacing3=4
    )
    text.tag_configure(
        "unread",
        justify="center",
        foreground=UNREAD,
        font=fonts.small_bold,
        spacing1=8,
        spacing3=2,
    )
    text.tag_configure("link", foreground=LINK, underline=True)
    for index, colour in enumerate(PALETTE):
        text.tag_configure(tag(index), foreground=colour)


def fit_margins(text: tk.Text, width: int) -> None:
    """Keep own blocks and peers' lines to a readable width in a pane ``width`` pixels wide."""
    own_left = max(OWN_INDENT, width - OWN_MAX)
    text.tag_configure("own", lmargin1=own_left, lmargin2=own_left)
    text.tag_configure("peer", rmargin=max(PEER_RIGHT, width - PEER_MAX))


def configure_theme(root: tk.Misc) -> None:
    """The ttk styles of chat windows: a light frame around a white page."""
    styles = ttk.Style(root)
    if "clam" in styles.theme_names():
        styles.theme_use("clam")
    styles.configure("Chat.TFrame", background=WINDOW_BG)
    styles.configure("Chat.TLabel", background=WINDOW_BG)
    styles.configure("Members.TLabel", background=WINDOW_BG, foreground=MUTED)
    styles.configure("Status.TLabel", background=WINDOW_BG, foreground="#a33")
    styles.configure("Closing.TFrame", background="#fff4d6")
    styles.configure("Closing.TLabel", background="#fff4d6")
    styles.configure("Send.TButton", foreground="#ffffff", background=ACCENT, padding=(12, 4))
    styles.map(
        "Send.TButton",
        background=[("disabled", "#b8c4d6"), ("active", "#1765cc")],
        foreground=[("disabled", "#eef0f3")],
    )
    styles.configure(
        "New.TButton", foreground="#ffffff", background=ACCENT, padding=(10, 2), relief="flat"
    )
    styles.map("New.TButton", background=[("active", "#1765cc")])

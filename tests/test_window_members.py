"""Who is in a group (ChatLog.set_members and the member line) and the colours of names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from chat.history import ChatLog, counted
from chat.windows import colours
from chat.windows.api import Chat
from chat.windows.chat_window import ChatWindow
from chat.windows.members import line
from tests.support import tk_wait

ROOT = Path(__file__).resolve().parent.parent


def test_set_members_stores_sorted_safe_names_and_tells_the_listener():
    chat_log = ChatLog("me")
    told: list[tuple[str, object]] = []
    chat_log.listener = lambda event, what: told.append((event, what))
    assert chat_log.members == () and not chat_log.members_known
    chat_log.set_members(["dave", "Carol", "b\x1b[2Job", "alice"])
    assert chat_log.members == ("alice", "b\\x1b[2Job", "Carol", "dave")
    assert chat_log.members_known
    assert told == [("members", ("alice", "b\\x1b[2Job", "Carol", "dave"))]
    chat_log.set_members([])
    assert chat_log.members == () and chat_log.members_known
    assert told[-1] == ("members", ())


def test_counted_says_singular_and_plural_right():
    assert counted(1, "earlier message") == "1 earlier message"
    assert counted(2, "earlier message") == "2 earlier messages"
    assert counted(0, "person", "people") == "0 people"


def test_member_line_cuts_with_an_ellipsis_to_fit():
    names = ["alice", "bob", "carol", "dave"]
    assert line(names, lambda t: True) == "4 here: alice, bob, carol, dave"
    assert line(names, lambda t: len(t) <= 24) == "4 here: alice, bob, …"
    assert line(["averyveryverylongname"], lambda t: len(t) <= 14) == "1 here: avery…"
    assert line([], lambda t: True) == "No one here"


def test_group_window_shows_who_is_there_and_follows_changes(tk_root):
    chat_log = ChatLog("me")
    plain = ChatWindow(tk_root, Chat("p", "Chat with bob", ChatLog("me"), lambda _t: None))
    chat_log.set_members(["dave", "bob", "carol", "alice"])
    window = ChatWindow(tk_root, Chat("g", "Group hall", chat_log, lambda _t: None))
    try:
        tk_root.update()
        assert not plain.members.label.winfo_ismapped() and plain.members.text == ""
        assert window.members.label.winfo_ismapped()
        assert window.members.text == "4 here: alice, bob, carol, dave"
        # The line sits under the title bar, above the history.
        assert (
            window.members.label.winfo_y() < window.history.winfo_rooty() - window.top.winfo_rooty()
        )

        chat_log.set_members(["alice", "carol", "erin"])  # bob and dave left, erin came
        tk_root.update()
        assert window.members.text == "3 here: alice, carol, erin"

        many = [f"member{n:02}" for n in range(40)]
        chat_log.set_members(many)
        window.top.geometry("360x500")
        tk_wait(tk_root, lambda: window.top.winfo_width() == 360, what="a narrow window")
        tk_root.update()
        text = window.members.text
        assert text.startswith("40 here: member00, ") and text.endswith("…")
        label = window.members.label
        assert label.winfo_reqwidth() <= label.winfo_width()  # cut to fit, not clipped
        assert window.view.scrollbar.winfo_ismapped()
    finally:
        window.destroy()
        plain.destroy()


def contrast(colour: str, background: str = "#ffffff") -> float:
    def luminance(hex_colour: str) -> float:
        def channel(c: float) -> float:
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
        return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)

    high, low = sorted((luminance(colour), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_palette_has_sixteen_distinct_readable_colours(tk_root):
    window = ChatWindow(tk_root, Chat("k", "Group", ChatLog("me"), lambda _t: None))
    try:
        page = window.history.cget("background")
        r, g, b = (v // 257 for v in window.history.winfo_rgb(page))
        background = f"#{r:02x}{g:02x}{b:02x}"
    finally:
        window.destroy()
    assert len(set(colours.PALETTE)) == len(colours.PALETTE) >= 16
    for colour in colours.PALETTE:
        assert contrast(colour, background) >= 4.5, colour


def test_a_name_has_the_same_colour_in_every_run_and_window(tk_root):
    names = ["alice", "Bob", "carol", "dave", "émile", "李雷"]
    here = [colours.colour_of(n) for n in names]
    code = (
        "from chat.windows.colours import colour_of; "
        f"print(','.join(colour_of(n) for n in {names!r}))"
    )
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert out.stdout.strip().split(",") == here
    assert colours.colour_of("Bob") == colours.colour_of("bob")  # casefolded

    # Two windows: the same name gets the same colour in both.
    logs = [ChatLog("me"), ChatLog("me")]
    logs[0].message("b1", "bob", "in the first", "m1")
    logs[1].message("c1", "carol", "in the second", "m1")
    logs[1].message("b1", "bob", "bob too", "m2")
    windows = [
        ChatWindow(tk_root, Chat(f"k{i}", "G", log, lambda _t: None)) for i, log in enumerate(logs)
    ]
    try:
        tags = []
        for window in windows:
            start = window.history.search("bob · ", "1.0")
            tags.append([t for t in window.history.tag_names(start) if t.startswith("c")])
        assert tags[0] == tags[1] == [colours.tag(colours.preferred("bob"))]
    finally:
        for window in windows:
            window.destroy()


def test_two_names_in_one_window_never_share_while_a_colour_is_free():
    # Names whose preferred colours collide.
    by_colour: dict[int, list[str]] = {}
    for n in range(400):
        by_colour.setdefault(colours.preferred(f"user{n}"), []).append(f"user{n}")
    clash = next(names for names in by_colour.values() if len(names) >= 3)
    book = colours.ColourBook()
    first = book.index_for(clash[0])
    assert first == colours.preferred(clash[0])  # the first one gets its own colour
    given = [first, book.index_for(clash[1]), book.index_for(clash[2])]
    assert len(set(given)) == 3
    everyone = [f"user{n}" for n in range(len(colours.PALETTE))]
    book = colours.ColourBook()
    assert len({book.index_for(n) for n in everyone}) == len(colours.PALETTE)
    assert book.index_for("user0") == book.index_for("USER0")  # a name keeps its colour
    extra = book.index_for("one too many")  # the palette is full: the preferred one
    assert extra == colours.preferred("one too many")

"""The window host and its chat windows on a real Tk display: what a user sees and does."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from chat.history import ChatLog
from chat.windows.api import Chat
from chat.windows.chat_window import WINDOW_CLASS, ChatWindow
from chat.windows.host import TkWindowHost
from tests.support import tk_wait


@pytest.fixture
def host(tk_root) -> Iterator[TkWindowHost]:
    made = TkWindowHost(tk_root)
    yield made
    made.close_all()
    tk_root.update()


def open_chat(host: TkWindowHost, root, key: str, focus: bool = True, **kw) -> ChatWindow:
    chat_log = kw.pop("log", None) or ChatLog("me")
    host.open(Chat(key, f"Chat with {key}", chat_log, **kw), focus=focus)
    root.update()
    window = host.window(key)
    assert window is not None
    return window


def fill(chat_log: ChatLog, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        chat_log.message("b0b", "bob", f"line {i}\nsecond row of {i}", f"x{i}")


def last_line_visible(window: ChatWindow, text: str) -> bool:
    index = window.history.search(text, "1.0", "end")
    return bool(index) and window.history.bbox(index) is not None


def come_back(root, window: ChatWindow) -> None:
    """The user is in ``window`` (the keyboard is in its input box)."""
    window.input.focus_force()
    root.update()  # the FocusIn events run
    tk_wait(root, window.has_focus, what="the keyboard in the window")


def test_two_clients_on_one_screen_open_their_first_windows_apart(host, tk_root):
    import tkinter

    # A second client on this display: the same program name, which Tk makes unique.
    other_root = tkinter.Tk()
    other_root.withdraw()
    other_root.tk.call("tk", "appname", tk_root.tk.call("tk", "appname"))
    try:
        other = TkWindowHost(other_root)
        mine = open_chat(host, tk_root, "alice")
        other.open(Chat("bob", "Chat with bob", ChatLog("me")))
        other_root.update()
        theirs = other.window("bob")
        assert theirs is not None
        assert (mine.top.winfo_x(), mine.top.winfo_y()) != (
            theirs.top.winfo_x(),
            theirs.top.winfo_y(),
        )
        assert theirs.top.winfo_x() + theirs.top.winfo_width() <= other_root.winfo_screenwidth()
        other.close_all()
    finally:
        other_root.destroy()


def test_windows_have_the_class_and_cascade_on_screen(host, tk_root):
    first = open_chat(host, tk_root, "a")
    second = open_chat(host, tk_root, "b")
    tk_root.update()
    assert first.top.winfo_class() == WINDOW_CLASS == "Distchat"
    positions = {(w.top.winfo_x(), w.top.winfo_y()) for w in (first, second)}
    assert len(positions) == 2
    for window in (first, second):
        assert window.top.winfo_x() + window.top.winfo_width() <= tk_root.winfo_screenwidth()
        assert window.top.winfo_y() + window.top.winfo_height() <= tk_root.winfo_screenheight()
    # Asking for an open chat brings the same window to the front.
    host.open(Chat("a", "Chat with a", first.log))
    assert host.window("a") is first and len(host.open_windows()) == 2


def test_follows_at_the_bottom_and_stays_put_when_scrolled_up(host, tk_root):
    chat_log = ChatLog("me")
    fill(chat_log, 60)
    window = open_chat(host, tk_root, "bob", log=chat_log, on_send=lambda _t: None)
    tk_wait(tk_root, lambda: last_line_visible(window, "line 59"), what="the newest in view")
    fill(chat_log, 1, 60)
    tk_root.update()
    assert last_line_visible(window, "line 60")
    assert not window.new_bar.winfo_ismapped()

    window.history.yview_moveto(0.2)
    tk_root.update()
    top = window.history.index("@0,0")
    fill(chat_log, 3, 61)
    tk_root.update()
    assert window.history.index("@0,0") == top  # the reader is not moved
    assert window.new_bar.winfo_ismapped()
    assert window.new_bar.cget("text") == "3 new messages ↓"

    window.new_bar.invoke()
    tk_root.update()
    assert last_line_visible(window, "line 63")
    assert not window.new_bar.winfo_ismapped()


def test_own_message_always_comes_into_view(host, tk_root):
    chat_log = ChatLog("me")
    fill(chat_log, 60)

    def on_send(text: str) -> None:
        chat_log.message("me", "alice", text, f"own{time.monotonic_ns()}")

    window = open_chat(host, tk_root, "bob", log=chat_log, on_send=on_send)
    window.history.yview_moveto(0)
    tk_root.update()
    window.text_var.set("mine, seen")
    window.send()
    tk_root.update()
    assert last_line_visible(window, "mine, seen")


def test_unread_count_in_the_title_clears_on_focus(host, tk_root):
    typing = open_chat(host, tk_root, "carol", on_send=lambda _t: None)
    typing.input.focus_force()
    tk_wait(tk_root, lambda: typing.has_focus(), what="focus in carol's window")
    chat_log = ChatLog("me")
    window = open_chat(host, tk_root, "bob", focus=False, log=chat_log, on_send=lambda _t: None)
    fill(chat_log, 3)
    tk_root.update()
    assert typing.has_focus()
    assert window.top.title() == "(3) Chat with bob"
    window.input.event_generate("<ButtonPress-1>", x=5, y=5)  # the user clicks into it
    window.input.focus_force()
    tk_wait(tk_root, lambda: window.top.title() == "Chat with bob", what="the count cleared")


def test_a_window_opening_by_itself_leaves_the_keyboard_where_it_is(host, tk_root):
    typing = open_chat(host, tk_root, "carol", on_send=lambda _t: None)
    typing.input.focus_force()
    tk_wait(tk_root, lambda: typing.has_focus(), what="focus in carol's window")
    typing.input.insert("end", "half a sen")
    incoming = open_chat(host, tk_root, "bob", focus=False, on_send=lambda _t: None)
    tk_root.update()
    incoming.input.focus_force()  # as a window manager may do with a new window
    tk_wait(tk_root, lambda: typing.has_focus(), what="the keyboard back in carol's window")
    typing.input.event_generate("<Key>", keysym="t", when="tail")
    tk_root.update()
    assert tk_root.focus_get() is typing.input
    assert not incoming.has_focus()
    assert incoming.text_var.get() == ""


def test_keep_open_stops_the_closing_and_reading_postpones_it(host, tk_root):
    chat_log = ChatLog("me")
    fill(chat_log, 60)
    window = open_chat(host, tk_root, "bob", log=chat_log, on_send=lambda _t: None)
    tk_wait(tk_root, lambda: window.at_bottom(), what="the bottom")
    come_back(tk_root, window)
    host.ended("bob", "bob left the chat", "bob has left the chat.", 0.3)
    tk_root.update()
    assert window.closing_bar.winfo_ismapped()
    assert "closes in" in window.closing_label.cget("text")
    assert str(window.input.cget("state")) == "disabled"
    window.keep_button.invoke()
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:  # the moment it would have closed has passed
        tk_root.update()
    assert not window.closed and not window.closing_bar.winfo_ismapped()
    assert window.shown()[-1] == ("notice", "bob left the chat")

    # Scrolled up reading: the closing waits until the reader is back at the bottom.
    other = open_chat(host, tk_root, "dan", log=ChatLog("me"), on_send=lambda _t: None)
    fill(other.log, 60)
    tk_root.update()
    come_back(tk_root, other)
    other.history.yview_moveto(0)
    tk_root.update()
    host.ended("dan", "dan left the chat", "dan has left the chat.", 0.2)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        tk_root.update()
    assert not other.closed
    assert "when you are back at the bottom" in other.closing_label.cget("text")
    other.scroll_to_end()
    tk_wait(tk_root, lambda: other.closed, what="closing once back at the bottom")


def test_a_reader_at_the_bottom_stays_there_when_the_pane_shrinks(host, tk_root):
    chat_log = ChatLog("me")
    fill(chat_log, 60)
    window = open_chat(host, tk_root, "bob", log=chat_log, on_send=lambda _t: None)
    tk_wait(tk_root, lambda: last_line_visible(window, "line 59"), what="the newest in view")
    window.top.geometry(f"{window.top.winfo_width()}x{window.top.winfo_height() - 120}")
    tk_wait(tk_root, lambda: last_line_visible(window, "line 59"), what="the newest still in view")
    assert window.at_bottom()
    # The closing bar takes room from the pane too; the window still closes by itself.
    come_back(tk_root, window)
    host.ended("bob", "bob left the chat", "bob has left the chat.", 0.3)
    tk_wait(tk_root, lambda: window.closed, what="the window closing by itself")


def test_a_long_status_sentence_is_fully_visible(host, tk_root):
    window = open_chat(host, tk_root, "bob", on_send=lambda _t: None)
    tk_root.update()
    pane_width = window.history.winfo_width()
    pane_height = window.history.winfo_height()
    sentence = (
        "No one else is listening right now: this insult waits in the queue for the next "
        "listener, or comes back to you. Nothing was sent to anyone else meanwhile, and "
        "nothing you typed is lost."
    )
    window.set_status(sentence)
    tk_root.update()
    status = window.status
    assert status.cget("text") == sentence
    assert status.winfo_reqwidth() <= status.winfo_width()  # wrapped, not clipped
    assert status.winfo_reqheight() <= status.winfo_height()
    assert status.winfo_y() + status.winfo_height() <= window.frame.winfo_height()
    assert window.history.winfo_width() == pane_width  # the pane is not squeezed
    assert window.history.winfo_height() >= pane_height - 3 * status.winfo_reqheight()


def test_keyboard_shift_enter_up_escape_and_copy(host, tk_root):
    sent: list[str] = []
    closed: list[bool] = []
    chat_log = ChatLog("me")

    def on_send(text: str) -> None:
        sent.append(text)
        chat_log.message("me", "alice", text, f"own{len(sent)}")

    window = open_chat(
        host, tk_root, "bob", log=chat_log, on_send=on_send, on_close=lambda: closed.append(True)
    )
    box = window.input
    box.focus_force()
    tk_wait(tk_root, lambda: window.has_focus(), what="the input's focus")
    box.insert("end", "first line")
    box.event_generate("<Shift-Return>", when="tail")
    tk_root.update()
    box.insert("end", "second line")
    box.event_generate("<Return>", when="tail")
    tk_root.update()
    assert sent == ["first line\nsecond line"]
    assert window.shown()[-1] == ("own", "first line\nsecond line")
    assert window.text_var.get() == ""

    box.event_generate("<Up>", when="tail")  # recall the last message into the empty box
    tk_root.update()
    assert window.text_var.get() == "first line\nsecond line"

    window.history.tag_add("sel", "1.0", "end-1c")
    window.history.focus_force()
    tk_root.update()
    window.history.event_generate("<Control-c>", when="tail")
    tk_root.update()
    assert "second line" in tk_root.clipboard_get()
    tk_root.clipboard_clear()
    window.menu.invoke("Copy")
    assert "first line" in tk_root.clipboard_get()

    # Escape with a draft in the box neither closes the window nor clears the draft.
    box.focus_force()
    tk_root.update()
    box.event_generate("<Escape>", when="tail")
    tk_root.update()
    assert not window.closed and closed == []
    assert window.text_var.get() == "first line\nsecond line"
    window.text_var.set("")
    box.event_generate("<Escape>", when="tail")
    tk_root.update()
    assert window.closed and closed == [True]
    assert host.window("bob") is None


def test_headers_once_per_run_and_a_date_line_over_older_days(host, tk_root):
    chat_log = ChatLog("me")
    day = 86400
    old = time.time() - 3 * day
    chat_log.message("b0b", "bob", "old one", "o1", ts=old)
    chat_log.message("b0b", "bob", "old two", "o2", ts=old + 30)
    chat_log.message("c4r", "carol", "today", "t1")
    chat_log.message("c4r", "carol", "today again", "t2")
    window = open_chat(host, tk_root, "room", log=chat_log, on_send=lambda _t: None)
    text = window.history.get("1.0", "end")
    assert text.count("bob · ") == 1 and text.count("carol · ") == 1
    assert text.count("Today") == 1
    assert text.index(time.strftime("%A", time.localtime(old))) < text.index("bob · ")
    names = window.history.tag_ranges("name")
    bob_tags = window.history.tag_names(names[0])
    carol_tags = window.history.tag_names(names[2])
    assert [t for t in bob_tags if t.startswith("c")] != [
        t for t in carol_tags if t.startswith("c")
    ]
    assert window.history.tag_cget("name", "font")  # bold names


def test_a_time_no_calendar_holds_is_shown_as_now(host, tk_root):
    chat_log = ChatLog("me")
    chat_log.message("b0b", "bob", "from a broken clock", "x1", ts=1e300)
    chat_log.message("b0b", "bob", "and another", "x2", ts=float("nan"))
    window = open_chat(host, tk_root, "bob", log=chat_log, on_send=lambda _t: None)
    chat_log.older([("c4r", "carol", "older, also broken", "y1", -1e300)])
    chat_log.message("b0b", "bob", "fine", "x3")
    tk_root.update()
    assert [t for _s, t in window.shown()] == [
        "older, also broken",
        "from a broken clock",
        "and another",
        "fine",
    ]


def test_features_reach_the_host_without_tkinter():
    import subprocess
    import sys

    code = (
        "import sys; import chat.windows.api, chat.private.manager, chat.groups.manager, "
        "chat.insults; print('tkinter' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

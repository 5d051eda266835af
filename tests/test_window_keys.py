"""Keys, scrolling, links and the input's warnings of a chat window on a real Tk display."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chat.history import ChatLog
from chat.transport.wire import check_text
from chat.windows import links
from chat.windows.api import Chat
from chat.windows.chat_window import ChatWindow
from chat.windows.host import TkWindowHost
from tests.support import tk_wait, wait_for


@pytest.fixture
def host(tk_root) -> Iterator[TkWindowHost]:
    made = TkWindowHost(tk_root, max_bytes=40)
    yield made
    made.close_all()
    tk_root.update()


def open_chat(host: TkWindowHost, root, key: str = "bob", **kw) -> ChatWindow:
    chat_log = kw.pop("log", None) or ChatLog("me")
    host.open(Chat(key, f"Chat with {key}", chat_log, **kw))
    root.update()
    window = host.window(key)
    assert window is not None
    window.input.focus_force()
    root.update()
    tk_wait(root, window.has_focus, what="the keyboard in the window")
    return window


def press(root, widget, sequence: str) -> None:
    widget.event_generate(sequence, when="tail")
    root.update()


def test_page_keys_from_the_input_scroll_the_history(host, tk_root):
    chat_log = ChatLog("me")
    for n in range(80):
        chat_log.message("b0b", "bob", f"line {n}", f"x{n}")
    window = open_chat(host, tk_root, log=chat_log, on_send=lambda _t: None)
    tk_wait(tk_root, window.at_bottom, what="the bottom")
    window.input.insert("end", "a draft")
    bottom = window.history.yview()[0]
    press(tk_root, window.input, "<Prior>")
    one_page_up = window.history.yview()[0]
    assert one_page_up < bottom
    press(tk_root, window.input, "<Prior>")
    assert window.history.yview()[0] < one_page_up
    press(tk_root, window.input, "<Next>")
    assert window.history.yview()[0] == pytest.approx(one_page_up, abs=0.02)
    press(tk_root, window.input, "<Control-Home>")
    assert window.history.yview()[0] == 0.0
    press(tk_root, window.input, "<Control-End>")
    assert window.history.yview()[1] == 1.0
    # The keys scrolled the history and left the draft and the keyboard alone.
    assert window.text_var.get() == "a draft"
    assert tk_root.focus_get() is window.input


def test_tab_leaves_the_input_box_and_types_no_tab(host, tk_root):
    window = open_chat(host, tk_root, on_send=lambda _t: None)
    window.input.insert("end", "hello")
    press(tk_root, window.input, "<Tab>")
    assert window.text_var.get() == "hello"
    assert tk_root.focus_get() is window.send_button
    window.input.focus_force()
    tk_root.update()
    press(tk_root, window.input, "<ISO_Left_Tab>")
    assert tk_root.focus_get() is not window.input
    assert window.text_var.get() == "hello"


def test_escape_with_text_keeps_the_window_ctrl_w_closes_it(host, tk_root):
    closed: list[bool] = []
    window = open_chat(host, tk_root, on_send=lambda _t: None, on_close=lambda: closed.append(True))
    window.input.insert("end", "half a sen")
    press(tk_root, window.input, "<Escape>")
    assert not window.closed and window.text_var.get() == "half a sen"
    press(tk_root, window.input, "<Control-w>")
    assert window.closed and closed == [True]


def test_scrollbar_stays_visible_at_every_width(host, tk_root):
    chat_log = ChatLog("me")
    for n in range(80):
        chat_log.message("b0b", "bob", f"line {n} " * 8, f"x{n}")
    window = open_chat(host, tk_root, log=chat_log, on_send=lambda _t: None)
    for width in (340, 420, 500, 589, 700, 1100):
        window.top.geometry(f"{width}x500")
        tk_wait(tk_root, lambda w=width: window.top.winfo_width() == w, what=f"{width} px wide")
        bar = window.view.scrollbar
        pane = bar.master
        assert bar.winfo_ismapped(), width
        assert bar.winfo_width() >= 8, width
        assert bar.winfo_x() + bar.winfo_width() <= pane.winfo_width(), width


def test_own_block_keeps_a_readable_width_on_a_wide_window(host, tk_root):
    chat_log = ChatLog("me")
    chat_log.message("me", "alice", "mine " * 80, "o1")
    chat_log.message("b0b", "bob", "theirs " * 80, "p1")
    window = open_chat(host, tk_root, log=chat_log, on_send=lambda _t: None)
    window.top.geometry("1250x600")
    tk_wait(tk_root, lambda: window.history.winfo_width() > 1150, what="a wide window")
    tk_root.update()
    width = window.history.winfo_width()
    left = int(window.history.tag_cget("own", "lmargin1"))
    assert width - left <= 600  # the shaded block is at most ~560 px, not a full-width slab
    start = window.history.search("mine", "1.0")
    x = window.history.bbox(start)[0]
    assert x >= width - 620
    peer_right = int(window.history.tag_cget("peer", "rmargin"))
    assert width - peer_right <= 760


def test_too_long_warning_clears_as_soon_as_the_text_fits(host, tk_root):
    sent: list[str] = []

    def on_send(text: str) -> str | None:
        problem = check_text(text, 40)
        if problem is None:
            sent.append(text)
        return problem

    window = open_chat(host, tk_root, on_send=on_send)
    window.text_var.set("x" * 45)
    window.send()
    assert "too long" in window.status.cget("text")
    for _ in range(4):  # still too long: the warning stays
        press(tk_root, window.input, "<BackSpace>")
    assert "too long" in window.status.cget("text")
    press(tk_root, window.input, "<BackSpace>")  # 40 bytes: it fits
    assert window.status.cget("text") == ""
    assert sent == []
    # Other sentences do not go away when typing.
    window.set_status("The connection to RabbitMQ was lost.")
    press(tk_root, window.input, "<BackSpace>")
    assert window.status.cget("text") == "The connection to RabbitMQ was lost."


def test_links_open_in_the_browser_only_for_http(host, tk_root, monkeypatch):
    opened: list[str] = []
    monkeypatch.setattr(links.webbrowser, "open", opened.append)
    chat_log = ChatLog("me")
    chat_log.message(
        "b0b",
        "bob",
        "see https://example.org/a_(b)?q=1. or file:///etc/passwd javascript:alert(1)",
        "x1",
    )
    window = open_chat(host, tk_root, log=chat_log, on_send=lambda _t: None)
    h = window.history
    ranges = h.tag_ranges("link")
    assert [h.get(a, b) for a, b in zip(ranges[::2], ranges[1::2], strict=True)] == [
        "https://example.org/a_(b)?q=1"
    ]
    h.see(ranges[0])
    tk_root.update()
    x, y, _w, _h = h.bbox(f"{ranges[0]} + 3c")
    h.event_generate("<Motion>", x=x + 1, y=y + 1)  # the pointer over the link
    h.event_generate("<ButtonPress-1>", x=x + 1, y=y + 1)
    h.event_generate("<ButtonRelease-1>", x=x + 1, y=y + 1)
    tk_root.update()
    wait_for(lambda: opened, what="the browser asked to open the link")
    assert opened == ["https://example.org/a_(b)?q=1"]
    assert not links.open_link("file:///etc/passwd") and not links.open_link("javascript:x")


def test_split_finds_links_and_keeps_every_character():
    text = "a http://x.io, b (https://y.io/p) c https://"
    pieces = links.split(text)
    assert "".join(p for p, _ in pieces) == text
    assert [p for p, link in pieces if link] == ["http://x.io", "https://y.io/p"]

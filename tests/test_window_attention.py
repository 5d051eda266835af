"""Arrivals reach the user on a real Tk display: bell, urgency hint, unread line, focus, closing."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from chat.history import ChatLog
from chat.windows import attention, xhints
from chat.windows.api import Chat
from chat.windows.chat_window import ChatWindow
from chat.windows.history_view import UNREAD_TEXT
from chat.windows.host import TkWindowHost
from tests.support import tk_wait


@pytest.fixture
def host(tk_root) -> Iterator[TkWindowHost]:
    made = TkWindowHost(tk_root)
    yield made
    made.close_all()
    tk_root.update()


def open_chat(host: TkWindowHost, root, key: str, focus: bool = True) -> ChatWindow:
    host.open(Chat(key, f"Chat with {key}", ChatLog("me"), on_send=lambda _t: None), focus=focus)
    root.update()
    window = host.window(key)
    assert window is not None
    return window


def come_back(root, window: ChatWindow) -> None:
    # The user's click on the window, then the focus as a window manager gives
    # it on a title-bar click or Alt-Tab.
    window.frame.event_generate("<ButtonPress-1>", x=2, y=2)
    window.top.focus_force()
    root.update()  # the FocusIn events run
    tk_wait(root, window.has_focus, what="the keyboard in the window")


def wm_hints_urgent(window: ChatWindow) -> bool:
    """The urgency bit of the window's WM_HINTS as the X server has it (read by xprop)."""
    found = xhints.wrapper_of(window.top)
    assert found is not None, "no X11 wrapper window"
    out = subprocess.run(
        ["xprop", "-id", hex(found[2]), "WM_HINTS"], capture_output=True, text=True, check=True
    ).stdout
    return "urgency hint bit is set" in out


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bell_once_per_burst_and_urgency_until_focus(host, tk_root, monkeypatch):
    if shutil.which("xprop") is None:
        pytest.skip("xprop is not installed (apt-get install x11-utils)")
    typing = open_chat(host, tk_root, "carol")
    come_back(tk_root, typing)
    window = open_chat(host, tk_root, "bob", focus=False)
    rings: list[float] = []
    clock = Clock()
    window.attention.clock = clock
    monkeypatch.setattr(window.top, "bell", lambda *a: rings.append(clock.now))
    assert not wm_hints_urgent(window)

    for n in range(5):  # one burst: a ring, and the hint set
        window.log.message("b0b", "bob", f"burst one {n}", f"a{n}")
        clock.now += 2
    tk_root.update()
    assert len(rings) == 1
    assert wm_hints_urgent(window)
    assert typing.has_focus()  # nothing took the keyboard

    clock.now += attention.BURST_GAP + 1  # a quiet spell, then a new burst
    window.log.message("b0b", "bob", "burst two", "b1")
    window.log.message("b0b", "bob", "burst two again", "b2")
    assert len(rings) == 2

    come_back(tk_root, window)  # the user looks: the hint clears, the burst ends
    assert not wm_hints_urgent(window)
    assert not window.attention.urgent
    # Messages while the user is in the window ring nothing.
    window.log.message("b0b", "bob", "while you are here", "c1")
    assert len(rings) == 2 and not wm_hints_urgent(window)

    come_back(tk_root, typing)
    window.log.message("b0b", "bob", "after you left", "d1")
    assert len(rings) == 3 and wm_hints_urgent(window)


def test_desktop_notification_only_when_asked_and_made_safe(host, tk_root, monkeypatch, tmp_path):
    calls = tmp_path / "calls"
    program = tmp_path / "notify-send"
    program.write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done >> {calls}\n')
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    started = []
    real = attention.notify
    monkeypatch.setattr(attention, "notify", lambda *a: started.append(real(*a)))
    come_back(tk_root, open_chat(host, tk_root, "carol"))  # the user types elsewhere
    quiet = open_chat(host, tk_root, "quiet", focus=False)
    quiet.log.message("b0b", "bob", "no popup for me", "q1")
    host.notify = True
    loud = open_chat(host, tk_root, "loud", focus=False)
    monkeypatch.setattr(loud.top, "bell", lambda *a: None)
    loud.log.message("b0b", "b\x1b[2Job", "<b>hi</b> & \x1b]0;x\x07 " + "long " * 100, "n1")
    loud.log.message("b0b", "bob", "same burst, no second popup", "n2")
    assert len(started) == 1 and started[0] is not None
    started[0].join(10)  # notify-send ran, off the UI thread
    lines = calls.read_text().splitlines()
    assert lines[:3] == ["--app-name=distchat", "--expire-time=8000", "--"]
    assert lines[3] == "Chat with loud"
    body = lines[4]
    assert body.startswith("b\\x1b[2Job: &lt;b&gt;hi&lt;/b&gt; &amp; \\x1b]0;x\\x07 long")
    assert len(body) < 200 and "\x1b" not in body
    assert len(lines) == 5  # one notification, none for the quiet window


def test_unread_line_before_the_first_arrival_while_away_and_moves_only_after_leaving(
    host, tk_root
):
    typing = open_chat(host, tk_root, "carol")
    window = open_chat(host, tk_root, "bob")
    come_back(tk_root, window)
    window.log.message("b0b", "bob", "read at once", "m1")
    assert window.view.unread_before() is None  # nothing unread: no line
    come_back(tk_root, typing)
    window.log.message("b0b", "bob", "first while away", "m2")
    window.log.message("b0b", "bob", "second while away", "m3")
    tk_root.update()
    assert window.view.unread_before() == ("peer", "first while away")
    text = window.history.get("1.0", "end")
    assert text.index(UNREAD_TEXT) < text.index("first while away")
    assert text.index("read at once") < text.index(UNREAD_TEXT)
    assert text.count(UNREAD_TEXT) == 1
    # Under the line the run starts again with the sender's name.
    line = text.splitlines().index(f"──── {UNREAD_TEXT} ────")
    assert text.splitlines()[line + 1].startswith("bob · ")

    come_back(tk_root, window)  # the user reads: the line stays where it is
    window.log.message("b0b", "bob", "while here", "m4")
    assert window.view.unread_before() == ("peer", "first while away")
    come_back(tk_root, typing)  # left again: no new messages, the line does not move
    assert window.view.unread_before() == ("peer", "first while away")
    window.log.message("b0b", "bob", "next time away", "m5")
    tk_root.update()
    assert window.view.unread_before() == ("peer", "next time away")
    assert window.history.get("1.0", "end").count(UNREAD_TEXT) == 1


def test_activation_puts_the_keyboard_in_the_input_box(host, tk_root):
    window = open_chat(host, tk_root, "bob")
    other = open_chat(host, tk_root, "carol")
    for _ in range(40):
        window.log.message("b0b", "bob", "line\nline", f"x{_}")
    come_back(tk_root, window)
    assert tk_root.focus_get() is window.input

    # Tab to the Send button, then away and back (title bar, Alt-Tab): the input again.
    window.input.event_generate("<Tab>", when="tail")
    tk_root.update()
    assert tk_root.focus_get() is window.send_button
    come_back(tk_root, other)
    come_back(tk_root, window)
    assert tk_root.focus_get() is window.input

    # A click in the history puts the keyboard in the input box too.
    window.send_button.focus_force()
    tk_root.update()
    window.history.event_generate("<ButtonPress-1>", x=20, y=20)
    window.history.event_generate("<ButtonRelease-1>", x=20, y=20)
    tk_root.update()
    assert tk_root.focus_get() is window.input

    # So does the "new messages" bar.
    window.history.yview_moveto(0)
    tk_root.update()
    window.log.message("b0b", "bob", "below", "y1")
    tk_root.update()
    assert window.new_bar.winfo_ismapped()
    window.send_button.focus_force()
    tk_root.update()
    window.new_bar.invoke()
    tk_root.update()
    assert tk_root.focus_get() is window.input


def test_an_ended_chat_waits_for_the_user_before_counting_down(host, tk_root):
    typing = open_chat(host, tk_root, "carol")
    window = open_chat(host, tk_root, "bob")
    come_back(tk_root, typing)
    host.ended("bob", "bob left the chat", "bob has left the chat.", 0.2)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:  # well past the delay: the user was away
        tk_root.update()
    assert not window.closed and window.closing
    assert window.shown()[-1] == ("notice", "bob left the chat")
    assert "after you come back" in window.closing_label.cget("text")
    come_back(tk_root, window)
    assert "closes in" in window.closing_label.cget("text")
    tk_wait(tk_root, lambda: window.closed, what="the window closing once the user is back")

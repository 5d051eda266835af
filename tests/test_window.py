"""The UI queue and the chat window, on a real Tk display."""

from __future__ import annotations

import threading

from chat.front.ui import UiQueue
from chat.history import ChatLog
from chat.windows.api import Chat
from chat.windows.chat_window import ChatWindow
from chat.windows.pump import Pump
from tests.support import tk_wait


def test_message_posted_from_another_thread_reaches_a_real_widget(tk_root):
    calls = UiQueue()
    pump = Pump(tk_root, calls)
    chat_log = ChatLog("me")
    window = ChatWindow(tk_root, Chat("k", "Chat with bob (abcd2345)", chat_log, lambda _t: None))
    try:

        def worker() -> None:
            for n in range(50):
                calls.post(chat_log.message, "b0b", "bob", f"line {n}", f"m{n}")

        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        tk_wait(tk_root, lambda: len(window.shown()) == 50, what="50 messages in the window")
        assert window.shown() == [("peer", f"line {n}") for n in range(50)]
        assert threading.current_thread() is threading.main_thread()
    finally:
        window.destroy()
        pump.stop()
        calls.close()


def test_own_messages_right_peer_left_notices_centred_and_duplicates_hidden(tk_root):
    chat_log = ChatLog("me")
    sent: list[str] = []

    def on_send(text: str) -> str | None:
        sent.append(text)
        chat_log.message("me", "alice", text, f"own{len(sent)}")
        return None

    window = ChatWindow(tk_root, Chat("k", "Chat", chat_log, on_send))
    try:
        chat_log.notice("bob started a chat with you")
        chat_log.message("b0b", "bob", "hi alice", "x1")
        chat_log.message("b0b", "bob", "hi alice", "x1")  # redelivered: shown once
        window.text_var.set("hello bob")
        window.send()
        window.text_var.set("   ")
        window.send()  # empty: nothing sent
        tk_root.update()
        assert window.shown() == [
            ("notice", "bob started a chat with you"),
            ("peer", "hi alice"),
            ("own", "hello bob"),
        ]
        assert sent == ["hello bob"]
        assert window.text_var.get() == "   "
        own_start = window.history.tag_ranges("own")[0]
        assert window.history.tag_cget("own", "background") != ""  # a shaded block
        assert "own" in window.history.tag_names(own_start)
    finally:
        window.destroy()


def test_refused_text_stays_in_the_box_and_failed_messages_are_marked(tk_root):
    chat_log = ChatLog("me")
    window = ChatWindow(tk_root, Chat("k", "Chat", chat_log, lambda _t: "The message is too long."))
    try:
        window.text_var.set("x" * 5000)
        window.send()
        assert window.text_var.get() == "x" * 5000
        assert window.status.cget("text") == "The message is too long."
        chat_log.message("me", "alice", "lost one", "m1", status="sending")
        chat_log.set_status("m1", "failed")
        tk_root.update()
        assert ("own", "lost one") in window.shown()
        assert "not delivered" in window.history.get("1.0", "end")
    finally:
        window.destroy()


def test_read_only_window_cannot_send(tk_root):
    chat_log = ChatLog("me")
    window = ChatWindow(tk_root, Chat("k", "Group", chat_log, read_only="Read only."))
    try:
        assert str(window.input.cget("state")) == "disabled"
        assert window.status.cget("text") == "Read only."
    finally:
        window.destroy()


def test_absurd_times_and_escapes_never_stop_a_batch_from_being_drawn(tk_root):
    chat_log = ChatLog("me")
    for n, ts in enumerate([1795660800.0, float("nan"), float("inf"), 1e20, -1e20, 1795660801.0]):
        chat_log.message("bob", "b\x1b[31mob\u202e", f"text {n} \x1b[2J", f"m{n}", ts)
    window = ChatWindow(tk_root, Chat("k", "Chat with \x1b]0;x\x07 bob", chat_log, lambda _t: None))
    try:
        late = [("bob", float("nan"), "late 1"), ("bob", 1e300, "late 2")]
        for n, (sender, ts, text) in enumerate(late):
            chat_log.message(sender, "bob", text, f"late{n}", ts)
        tk_root.update()
        shown = window.history.get("1.0", "end")
        for n in range(6):
            assert f"text {n} \\x1b[2J" in shown
        assert "late 1" in shown and "late 2" in shown
        assert "--:--" in shown
        assert "\x1b" not in shown and "\u202e" not in shown
        title = window.top.title()
        assert "\x1b" not in title and "\x07" not in title and "bob" in title
    finally:
        window.destroy()


def test_an_entry_that_cannot_be_drawn_never_stops_the_rest(tk_root, monkeypatch):
    from chat.windows.colours import ColourBook

    real = ColourBook.tag_for

    def tag_for(self: ColourBook, name: str) -> str:
        if name == "eve":
            raise ValueError("cannot draw this one")
        return real(self, name)

    monkeypatch.setattr(ColourBook, "tag_for", tag_for)
    chat_log = ChatLog("me")
    chat_log.message("bob", "bob", "first", "m1", 1795660800.0)
    chat_log.message("br0k", "eve", "broken at open", "m2", 1795660900.0)
    chat_log.message("bob", "bob", "after it", "m3", 1795661000.0)
    window = ChatWindow(tk_root, Chat("k", "Group", chat_log, lambda _t: None))
    try:
        chat_log.message("br0k", "eve", "broken live", "m4")
        chat_log.message("bob", "bob", "live after it", "m5")
        # An older page with a bad entry and escapes in it: the rest goes in, made safe.
        chat_log.older(
            [
                ("c4r0", "car\x1b[2Jol", "older \x1b]0;x\x07 one", "o1", 1795650000.0),
                ("br0k", "eve", "broken older", "o2", 1795650100.0),
                ("c4r0", "carol", "older two", "o3", 1795650200.0),
            ]
        )
        tk_root.update()
        assert [t for s, t in window.shown() if s == "peer"] == [
            "older \\x1b]0;x\\x07 one",
            "older two",
            "first",
            "after it",
            "live after it",
        ]
        shown = window.history.get("1.0", "end")
        assert "\x1b" not in shown and "car\\x1b[2Jol" in shown
        assert str(window.history.cget("state")) == "disabled"
    finally:
        window.destroy()


def test_a_changed_key_is_marked_in_red_beside_the_name_and_starts_its_own_run(tk_root):
    chat_log = ChatLog("me")
    window = ChatWindow(tk_root, Chat("k", "Group", chat_log, lambda _t: None))
    warning = "bob's key has changed since 1 March: this may not be the bob you talked to"
    try:
        chat_log.message("b0b", "bob", "from the bob we know", "m1")
        chat_log.message("b0b", "bob", "same run", "m2")
        chat_log.message("b0b", "bob", "from another key", "m3", warning=warning)
        chat_log.older([("b0b", "bob", "older, changed key", "m0", 1.0, warning)])
        tk_root.update()
        lines = window.history.get("1.0", "end").splitlines()
        headers = [line for line in lines if line.startswith("bob · ")]
        # Older page (own header, marked), the known run (one header), the changed one.
        assert len(headers) == 3
        assert headers[0].endswith(f"  ⚠ {warning}")
        assert "⚠" not in headers[1]
        assert headers[2].endswith(f"  ⚠ {warning}")
        body = lines.index("from another key")
        assert lines[body - 1] == headers[2]  # the mark is right above the changed key's text
        marked = window.history.tag_ranges("warning")
        assert len(marked) == 4  # two marks, red: the "warning" tag
        assert window.history.tag_cget("warning", "foreground") == "#c5221f"
    finally:
        window.destroy()

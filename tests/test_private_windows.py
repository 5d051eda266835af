"""Private chat windows between two in-process clients: keys, line breaks, reopening."""

from __future__ import annotations

from tests.support import tk_wait
from tests.test_private import make_client, window_of  # noqa: F401  (make_client is a fixture)


def press(root, widget, sequence: str) -> None:
    widget.focus_force()
    root.update()
    widget.event_generate(sequence, when="tail")
    root.update()


def test_shift_enter_message_arrives_as_one_with_its_line_break(make_client, tk_root):  # noqa: F811
    alice, bob = make_client("alice"), make_client("bob")
    alice.chats.open_with(bob.me)
    mine, theirs = window_of(tk_root, alice, bob), window_of(tk_root, bob, alice)
    mine.input.insert("end", "roses are red")
    press(tk_root, mine.input, "<Shift-Return>")
    mine.input.insert("end", "violets are blue")
    press(tk_root, mine.input, "<Return>")
    tk_wait(
        tk_root,
        lambda: ("peer", "roses are red\nviolets are blue") in theirs.shown(),
        what="one two-line message",
    )
    # Notices (the opening, the first meeting with alice's key) and one message.
    assert [side for side, _ in theirs.shown() if side != "notice"] == ["peer"]


def test_escape_closes_the_window_and_the_peer_sees_left(make_client, tk_root):  # noqa: F811
    alice, bob = make_client("alice"), make_client("bob")
    alice.chats.open_with(bob.me)
    mine, theirs = window_of(tk_root, alice, bob), window_of(tk_root, bob, alice)
    press(tk_root, mine.input, "<Escape>")
    assert mine.closed
    tk_wait(
        tk_root,
        lambda: ("notice", "alice left the chat") in theirs.shown(),
        what="bob told that alice left",
    )
    assert alice.chats.active_peers() == []


def test_a_chat_started_again_shows_the_earlier_conversation(make_client, tk_root):  # noqa: F811
    alice, bob = make_client("alice", close_delay=30.0), make_client("bob")
    alice.chats.open_with(bob.me)
    mine, theirs = window_of(tk_root, alice, bob), window_of(tk_root, bob, alice)
    mine.text_var.set("first time")
    mine.send()
    tk_wait(tk_root, lambda: ("peer", "first time") in theirs.shown(), what="the first chat")
    theirs.close()
    tk_wait(tk_root, lambda: ("notice", "bob left the chat") in mine.shown(), what="bob left")
    assert mine.closing

    # Bob starts again while alice's window is still closing: it stays, takes
    # the new chat, and the earlier conversation is still above.
    bob.chats.open_with(alice.me)
    theirs = window_of(tk_root, bob, alice)
    tk_wait(tk_root, lambda: not mine.closing, what="the closing called off")
    assert window_of(tk_root, alice, bob) is mine
    theirs.text_var.set("second time")
    theirs.send()
    tk_wait(tk_root, lambda: ("peer", "second time") in mine.shown(), what="the new chat")
    assert [t for s, t in mine.shown() if s in ("own", "peer")] == ["first time", "second time"]
    assert str(mine.input.cget("state")) == "normal"
    # Bob's new window shows the earlier conversation too.
    assert [t for s, t in theirs.shown() if s in ("own", "peer")] == [
        "first time",
        "second time",
    ]


def test_an_incoming_chat_does_not_take_the_keyboard(make_client, spawn, tk_root):  # noqa: F811
    bob, carol = make_client("bob"), make_client("carol")
    bob.chats.open_with(carol.me)
    typing = window_of(tk_root, bob, carol)
    typing.input.focus_force()
    tk_wait(tk_root, typing.has_focus, what="bob typing to carol")
    typing.input.insert("end", "half a sen")
    alice = spawn("alice")  # another client, in its own process, starts a chat with bob
    alice.choose("1")
    alice.expect("Chat with whom")
    alice.child.sendline(bob.me.id)
    incoming = tk_wait(
        tk_root,
        lambda: next(
            (w for w in bob.client.windows.open_windows() if "alice" in w.chat.title), None
        ),
        what="the window that popped up in bob's client",
    )
    tk_root.update()
    assert typing.has_focus() and not incoming.has_focus()
    assert incoming.shown()[0] == ("notice", "alice started a chat with you")
    typing.input.event_generate("<Key>", keysym="t", when="tail")
    tk_root.update()
    assert incoming.text_var.get() == ""

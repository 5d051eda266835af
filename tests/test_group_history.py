"""Long persistent-group histories: the newest first, older pages on scrolling up.

Real RabbitMQ streams and real windows, as in tests/test_groups.py.
"""

from __future__ import annotations

from chat.groups.paging import PAGE
from chat.transport.topology import Names
from chat.transport.wire import ChatMessage
from chat.trust.identity import Identity
from tests.support import tk_wait
from tests.test_groups import (  # noqa: F401  (members is a fixture)
    members,
    raw_publish,
    scroll_to_first,
    separator_at,
    texts,
)


def make_history(members, tk_root, namespace: str, group: str, count: int) -> None:  # noqa: F811
    """A persistent group holding ``count`` messages written by someone long gone."""
    setup = members("setup")
    setup.join(tk_root, group, kind="persistent")
    setup.close()  # gone for good
    writer = Identity.generate()  # no longer registered: judged by known peers alone
    bodies = [ChatMessage("wr1t", "writer", group, f"old {n}").encode(writer) for n in range(count)]
    raw_publish(Names(namespace).groups_exchange, group, bodies)


def join_late(members, tk_root, group: str):  # noqa: F811
    """Bob joins ``group`` now; returns his window once the separator is in."""
    _, window = members("bob").join(tk_root, group, kind="persistent")
    tk_wait(tk_root, lambda: separator_at(window) is not None, what="the separator", timeout=15)
    return window


def in_view(window, text: str) -> bool:
    index = window.history.search(text, "1.0", "end")
    return bool(index) and window.history.bbox(index) is not None


def test_a_long_history_opens_at_the_separator_with_the_newest_in_view(
    members,  # noqa: F811
    tk_root,
    namespace,
):
    make_history(members, tk_root, namespace, "deep", 300)
    window = join_late(members, tk_root, "deep")
    tk_root.update()
    shown = window.shown()
    cut = separator_at(window)
    assert shown[cut - 1] == ("peer", "old 299")
    assert shown[cut + 1][0] == "notice" and shown[cut + 1][1].startswith("You joined deep")
    tk_wait(tk_root, lambda: in_view(window, "old 299"), what="the newest message in view")
    assert in_view(window, "earlier messages above")
    assert len(texts(window)) < 300  # only the newest page was read


def test_scrolling_up_reaches_the_first_of_two_thousand_with_nothing_missing_or_twice(
    members,  # noqa: F811
    tk_root,
    namespace,
):
    make_history(members, tk_root, namespace, "archive", 2000)
    window = join_late(members, tk_root, "archive")
    first_page = texts(window)
    assert first_page == [f"old {n}" for n in range(2000 - len(first_page), 2000)]
    assert len(first_page) <= PAGE
    scroll_to_first(tk_root, window, "old 0", timeout=60)
    assert texts(window) == [f"old {n}" for n in range(2000)]
    cut = separator_at(window)
    assert [side for side, _ in window.shown()[:cut]] == ["peer"] * 2000
    # One run of one writer: one header, however many pages it came in.
    assert window.history.get("1.0", "end").count("writer · ") == 1
    # Nothing below the first message: scrolling up again asks for nothing more.
    window.history.yview_moveto(0)
    tk_root.update()
    assert texts(window)[:1] == ["old 0"] and len(texts(window)) == 2000


def test_comings_and_goings_at_the_end_do_not_leave_the_window_empty(
    members,  # noqa: F811
    tk_root,
    namespace,
):
    make_history(members, tk_root, namespace, "busy", 200)
    kinds = ["join", "leave"] * 80  # 160 notices: more than a page of them
    notices = [ChatMessage(f"v{n}", f"visitor{n}", "busy", "", kind=k) for n, k in enumerate(kinds)]
    visitor = Identity.generate()
    bodies = [m.encode(visitor) for m in notices]
    raw_publish(Names(namespace).groups_exchange, "busy", bodies)
    window = join_late(members, tk_root, "busy")
    tk_wait(tk_root, lambda: len(texts(window)) >= 50, what="a window's worth of messages")
    assert texts(window) == [f"old {n}" for n in range(200 - len(texts(window)), 200)]
    assert "visitor" not in window.history.get("1.0", "end")

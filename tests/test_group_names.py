"""Who is in a group, and what its name is: case-insensitive names, the member
list in the window, empty answers that go back, transient groups nobody is in.

Real RabbitMQ, Redis and windows; what is asserted is what the user sees: the
window's member list (its ChatLog), the terminal's sentences, the listing.
"""

from __future__ import annotations

import time

import tests.test_groups as test_groups
from chat.groups.manager import chat_key
from nameserver.expiring import ExpiringSet
from nameserver.keys import Keys
from nameserver.members import GroupMembers
from nameserver.registry import GroupRecord
from tests.support import tk_wait
from tests.test_groups import run_menu, send, texts

members = test_groups.members  # the fixture


def listed(member, group: str) -> tuple[str, ...]:
    return member.groups.membership(group).log.members


def test_the_member_list_follows_joins_leaves_and_the_name_server(members, tk_root):
    alice, bob, carol = members("alice"), members("bob"), members("carol")
    _, wa = alice.join(tk_root, "circle")
    tk_wait(tk_root, lambda: listed(alice, "circle") == ("alice",), what="alice alone")
    heard: list[tuple[str, ...]] = []
    log = alice.groups.membership("circle").log
    shown = log.listener

    def listener(event, what):
        if event == "members":
            heard.append(what)
        if shown is not None:
            shown(event, what)

    log.listener = listener
    bob.join(tk_root, "circle")
    tk_wait(tk_root, lambda: listed(alice, "circle") == ("alice", "bob"), what="bob joined")
    assert heard[-1] == ("alice", "bob")  # the window is told
    # carol comes later: she learns who was there before her from the name server.
    carol.join(tk_root, "circle", mode="subscribe")
    tk_wait(tk_root, lambda: listed(carol, "circle") == ("alice", "bob", "carol"), 10, "roster")
    tk_wait(tk_root, lambda: listed(alice, "circle") == ("alice", "bob", "carol"), what="carol")
    bob.window("circle").close()
    tk_wait(tk_root, lambda: listed(alice, "circle") == ("alice", "carol"), what="bob left")
    tk_wait(tk_root, lambda: listed(carol, "circle") == ("alice", "carol"), what="for carol too")
    assert ("notice", "bob left") in wa.shown()
    # What the window shows: its member line.
    tk_wait(tk_root, lambda: wa.members.names == ("alice", "carol"), what="alice's member line")
    assert "alice" in wa.members.text and "carol" in wa.members.text
    assert "bob" not in wa.members.text


def test_group_names_are_case_insensitive(members, tk_root, registry):
    alice, bob = members("alice"), members("bob")
    flow = run_menu(alice, ["Book-Club", "c", "p"], tk_root)
    tk_wait(tk_root, lambda: not flow.is_alive(), what="alice's menu flow", timeout=10)
    assert "Created the persistent group Book-Club." in alice.output()
    flow = run_menu(bob, ["book-CLUB", "c"], tk_root)
    tk_wait(tk_root, lambda: not flow.is_alive(), what="bob's menu flow", timeout=10)
    assert "Book-Club is a persistent group; joining it as it is." in bob.output()
    wa = tk_wait(tk_root, lambda: alice.window("book-club"), what="alice's window")
    wb = tk_wait(tk_root, lambda: bob.window("BOOK-club"), what="bob's window")
    assert wb.top.title() == wa.top.title() == "Group Book-Club · connected · persistent"
    send(tk_root, wb, "one club")
    tk_wait(tk_root, lambda: texts(wa) == ["one club"], what="the same group")
    assert [r.name for r in registry.list_groups()] == ["Book-Club"]
    assert bob.groups.joined() == ["Book-Club"]  # as discovery tells others
    assert chat_key("Book-Club") == chat_key("book-club")
    flow = run_menu(bob, ["BOOK-CLUB"], tk_root)
    tk_wait(tk_root, lambda: not flow.is_alive(), what="bob again", timeout=10)
    assert "is open already" in bob.output()


def test_an_empty_answer_goes_back_to_the_menu(members, tk_root, registry):
    alice = members("alice")
    flow = run_menu(alice, ["quiet", ""], tk_root)  # empty at [c/s]
    tk_wait(tk_root, lambda: not flow.is_alive(), what="back from [c/s]", timeout=10)
    flow = run_menu(alice, ["quiet", "c", ""], tk_root)  # empty at [t/p]
    tk_wait(tk_root, lambda: not flow.is_alive(), what="back from [t/p]", timeout=10)
    assert not flow.errors  # type: ignore[attr-defined]
    assert "not one of the choices" not in alice.output()
    assert alice.groups.joined() == []
    assert registry.get_group("quiet") is None  # nothing created
    assert alice.window("quiet") is None


def test_transient_groups_nobody_is_in_leave_the_listing(redis_conn, registry, namespace):
    keys = Keys(namespace)
    long_ago = time.time() - 600
    for name, kind in (("empty", "transient"), ("lived", "transient"), ("kept", "persistent")):
        registry.claim_group(GroupRecord(name, kind, "c1", "carol", long_ago))
    registry.claim_group(GroupRecord("fresh", "transient", "c1", "carol", time.time()))
    members = GroupMembers(redis_conn, keys, ttl=15)
    members.refresh("c1", ["lived"])
    GroupMembers(redis_conn, keys, ttl=-1).refresh("c2", ["empty"])  # expired already
    assert [r.name for r in registry.list_groups()] == ["fresh", "kept", "lived"]
    assert registry.get_group("empty") is None  # pruned: the next joiner creates it anew
    members.leave("c1", "lived")
    assert [r.name for r in registry.list_groups()] == ["fresh", "kept"]


def test_one_expiring_set_for_clients_and_members(redis_conn, registry, namespace):
    alice = registry.claim("alice", "127.0.0.1", 5000)
    index = ExpiringSet(redis_conn, Keys(namespace).clients, 15)
    assert index.live() == [alice.id] == registry.live_ids()
    ExpiringSet(redis_conn, Keys(namespace).clients, -1).add(["gone1234"])  # expired at once
    assert index.count() == 1
    assert registry.live_ids() == [alice.id]
    assert redis_conn.zscore(Keys(namespace).clients, "gone1234") is None  # pruned on read
    members = GroupMembers(redis_conn, Keys(namespace))
    members.refresh(alice.id, ["Mixed-Case"])
    assert members.of("mixed-case").live() == [alice.id]


def test_a_new_persistent_group_says_you_joined_once(members, tk_root):
    alice = members("alice")
    windows = [alice.join(tk_root, f"fresh-{n}", kind="persistent")[1] for n in range(4)]
    for window in windows:
        tk_wait(
            tk_root,
            lambda w=window: any(t.startswith("You joined") for s, t in w.shown()),
            what="the join said",
        )
        send(tk_root, window, "hello")  # once this is back, a second notice would be shown
        tk_wait(tk_root, lambda w=window: texts(w) == ["hello"], what="the first message")
        joined = [t for s, t in window.shown() if t.startswith("You joined")]
        assert joined == [f"You joined {window.top.title().split()[1]} (connected, persistent)."]

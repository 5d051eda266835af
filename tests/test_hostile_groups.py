"""Group chats against hostile input and lost server state.

A Redis of the test's own (on a free port) is flushed while a persistent group
is open; bodies that once killed the broker thread are published with a raw
pika client into a persistent group and onto the discovery exchange.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator

import pytest
import redis

import tests.test_groups as group_tests
from chat.transport.wire import ChatMessage
from chat.trust.identity import Identity
from nameserver.keys import Keys
from nameserver.registry import Registry
from tests.ownredis import OwnRedis
from tests.support import tk_wait, wait_for

members = group_tests.members  # the fixture, run against this module's Redis
run_menu, raw_publish, send, texts = (
    group_tests.run_menu,
    group_tests.raw_publish,
    group_tests.send,
    group_tests.texts,
)


@pytest.fixture
def redis_conn() -> Iterator[redis.Redis]:
    """A Redis server of this test's own: flushing it touches nobody else."""
    with OwnRedis() as own:
        yield own.connection


@pytest.fixture
def registry(redis_conn: redis.Redis, namespace: str) -> Registry:
    return Registry(redis_conn, Keys(namespace), ttl=15)


@pytest.fixture
def config(config):
    return dataclasses.replace(config, heartbeat_interval=0.3)


def _create(member, name: str, root) -> None:
    flow = run_menu(member, [name, "c", "p"], root)
    tk_wait(root, lambda: not flow.is_alive(), what="the menu flow", timeout=15)
    assert f"Created the persistent group {name}." in member.out.getvalue()


def test_flushall_while_a_persistent_group_is_open_keeps_its_kind(
    members, tk_root, registry, redis_conn
):
    alice = members("alice")
    _create(alice, "club", tk_root)
    redis_conn.flushall()
    assert registry.get_group("club") is None
    record = wait_for(lambda: registry.get_group("club"), what="the record written back")
    assert record.kind == "persistent"
    assert [g.name for g in registry.list_groups()] == ["club"]


def test_a_group_without_a_record_but_with_history_is_joined_as_persistent(
    members, tk_root, registry, redis_conn
):
    alice, bob = members("alice"), members("bob")
    _create(alice, "club", tk_root)
    window = tk_wait(tk_root, lambda: alice.window("club"), what="alice's window")
    send(tk_root, window, "kept for later")
    tk_wait(tk_root, lambda: "kept for later" in texts(window), what="the text back")
    alice.groups.close_all()  # nobody is left to write the record back
    redis_conn.flushall()
    flow = run_menu(bob, ["club", "s"], tk_root)  # no answer for "transient or persistent?"
    tk_wait(tk_root, lambda: not flow.is_alive(), what="bob's menu flow", timeout=15)
    assert "club is a persistent group; joining it as it is." in bob.out.getvalue()
    assert registry.get_group("club").kind == "persistent"
    theirs = tk_wait(tk_root, lambda: bob.window("club"), what="bob's window")
    tk_wait(tk_root, lambda: "kept for later" in texts(theirs), what="the history")


def test_nested_and_poisoned_bodies_in_a_persistent_group_leave_later_joiners_working(
    members, tk_root, namespace
):
    alice = members("alice")
    session, window = alice.join(tk_root, "den", kind="persistent")
    stream_exchange = session.feed.exchange

    def body(**fields) -> bytes:
        msg = ChatMessage("ev1l2345", "eve", "den", "x", id=fields.pop("id"))
        data = {**dataclasses.asdict(msg), "v": 1, **fields}
        return json.dumps(data).encode()

    bob_key = Identity.generate()  # bob is not registered: known peers judge his key
    before = [
        ChatMessage("b0b23456", "bob", "den", f"before {n}").encode(bob_key) for n in range(10)
    ]
    poison = [
        b"[" * 50_000 + b"]" * 50_000,
        body(id="nan", ts=math.nan),
        body(id="inf", ts=math.inf),
        body(id="big", ts=1e20),
        b'{"v":1,"text":"' + b"\xff" * 10 + b'"}',
    ]
    after = [ChatMessage("b0b23456", "bob", "den", f"after {n}").encode(bob_key) for n in range(10)]
    raw_publish(stream_exchange, "den", before + poison + after)
    want = [f"before {n}" for n in range(10)] + [f"after {n}" for n in range(10)]
    tk_wait(tk_root, lambda: texts(window) == want, what="alice's live messages")
    # A later joiner reads the same history, poison included, and still sees it all.
    carol = members("carol")
    _, theirs = carol.join(tk_root, "den", kind="persistent")
    tk_wait(tk_root, lambda: texts(theirs) == want, what="carol's history")
    assert group_tests.separator_at(theirs) is not None
    assert alice.client.broker._thread.is_alive() and carol.client.broker._thread.is_alive()
    send(tk_root, theirs, "still working")
    tk_wait(tk_root, lambda: "still working" in texts(window), what="a message after it all")


def test_back_in_contact_follows_lost_contact_with_the_name_server():
    from chat.heartbeat import Heartbeat

    said: list[str] = []
    with OwnRedis() as own:
        registry = Registry(own.connection, Keys("chat-test-back"), ttl=15)
        me = registry.claim("alice", "127.0.0.1", 1)
        beat = Heartbeat(registry, me, 0.1, on_trouble=said.append)
        own.stop()
        beat.beat()
        assert said and said[0].startswith("Lost contact with the name server")
        own.start()
        beat.beat()
    assert said[1:] == ["Back in contact with the name server."]

"""The name server against a real Redis: claims, TTL, heartbeat, look-ups, listing."""

from __future__ import annotations

import threading
import time

import pytest

from chat.front.listing import main as nameserver_main
from nameserver.keys import Keys
from nameserver.registry import (
    ID_ALPHABET,
    ID_LENGTH,
    ClientIdLost,
    ClientRecord,
    GroupRecord,
    Registry,
)
from tests.support import wait_for


def test_claim_registers_a_record_with_a_ttl(registry: Registry, redis_conn):
    me = registry.claim("alice", "127.0.0.1", 5000)
    assert len(me.id) == ID_LENGTH and set(me.id) <= set(ID_ALPHABET)
    assert registry.get(me.id) == me
    ttl = redis_conn.ttl(registry.keys.client(me.id))
    assert 0 < ttl <= registry.ttl
    assert [r.id for r in registry.list_clients()] == [me.id]


def test_two_claims_of_the_same_id_cannot_both_win(registry: Registry):
    record = ClientRecord("abcdefgh", "alice", "127.0.0.1", 1, time.time())
    rival = ClientRecord("abcdefgh", "mallory", "127.0.0.1", 2, time.time())
    barrier = threading.Barrier(2)
    wins: list[bool] = []

    def claim(r: ClientRecord) -> None:
        barrier.wait()
        wins.append(registry._claim(r))

    threads = [threading.Thread(target=claim, args=(r,)) for r in (record, rival)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False, True]
    assert registry.get("abcdefgh") in (record, rival)


def test_a_record_without_heartbeat_expires(redis_conn, namespace):
    short = Registry(redis_conn, Keys(namespace), ttl=1)
    me = short.claim("bob", "127.0.0.1", 5001)
    wait_for(lambda: short.get(me.id) is None, timeout=4, what="the record to expire")
    assert short.list_clients() == []
    assert redis_conn.zcard(short.keys.clients) == 0  # the index was pruned too


def test_heartbeat_keeps_a_record_alive_and_restores_it_after_a_flush(redis_conn, namespace):
    short = Registry(redis_conn, Keys(namespace), ttl=2)
    me = short.claim("carol", "127.0.0.1", 5002)
    assert short.heartbeat(me) is False
    redis_conn.delete(short.keys.client(me.id))  # as after a Redis restart or flush
    assert short.heartbeat(me) is True
    assert short.get(me.id) == me
    assert [r.id for r in short.list_clients()] == [me.id]


def test_heartbeat_reports_an_id_taken_by_someone_else(registry: Registry):
    me = registry.claim("dave", "127.0.0.1", 5003)
    registry.deregister(me.id)
    thief = ClientRecord(me.id, "eve", "127.0.0.1", 9, time.time())
    assert registry._claim(thief)
    with pytest.raises(ClientIdLost):
        registry.heartbeat(me)


def test_deregister_removes_record_and_index(registry: Registry, redis_conn):
    me = registry.claim("frank", "127.0.0.1", 5004)
    registry.deregister(me.id)
    assert registry.get(me.id) is None
    assert registry.list_clients() == []
    assert redis_conn.zscore(registry.keys.clients, me.id) is None


def test_find_by_id_prefix_and_username(registry: Registry):
    a = registry.claim("alice", "127.0.0.1", 1)
    b = registry.claim("Alice", "127.0.0.1", 2)
    c = registry.claim("bob", "127.0.0.1", 3)
    assert registry.find(a.id) == [a]
    assert registry.find(a.id.upper()) == [a]
    assert c in registry.find(c.id[:6])
    assert registry.find(c.id[:1]) == [r for r in (a, b, c) if r.id.startswith(c.id[:1])]
    assert {r.id for r in registry.find("alice")} == {a.id, b.id}
    assert registry.find("nobody") == []
    assert registry.find("   ") == []


def test_listing_skips_malformed_records(registry: Registry, redis_conn):
    good = registry.claim("grace", "127.0.0.1", 7)
    redis_conn.set(registry.keys.client("zzzzzzzz"), b"not json", ex=10)
    redis_conn.zadd(registry.keys.clients, {"zzzzzzzz": time.time() + 10})
    assert [r.id for r in registry.list_clients()] == [good.id]


def test_group_claim_is_once_and_keeps_the_first_kind(registry: Registry):
    first = GroupRecord("lobby", "persistent", "aaaaaaaa", "alice", time.time())
    second = GroupRecord("lobby", "transient", "bbbbbbbb", "bob", time.time())
    assert registry.claim_group(first) == (first, True)
    assert registry.claim_group(second) == (first, False)
    assert registry.list_groups() == [first]


def test_nameserver_list_prints_a_table(registry: Registry, namespace, capsys):
    me = registry.claim("heidi", "10.1.2.3", 4242)
    assert nameserver_main(["list", "--namespace", namespace]) == 0
    out = capsys.readouterr().out
    assert "1 client online" in out
    assert me.id in out and "heidi" in out and "10.1.2.3:4242" in out


def test_nameserver_list_says_when_redis_is_down(capsys):
    assert nameserver_main(["list", "--redis-url", "redis://127.0.0.1:1/0"]) == 1
    assert "./start-server.sh" in capsys.readouterr().err

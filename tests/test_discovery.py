"""Discover chats: the Redis way, the RabbitMQ event way, and the two compared.

Real Redis, real RabbitMQ, real client processes; clients in this process are
full responders and requesters on their own broker connections.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

import pika
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from chat.client import Client
from chat.config import Config
from chat.discovery import Discovery
from chat.discovery.lookup import look_up
from chat.discovery.requester import BROKER_DOWN, REPLY_TO
from chat.discovery.source import EventSource, look_all
from chat.discovery.view import Row, listing
from chat.errors import UserError
from chat.features import Description, Feature
from chat.front.menu import Menu, items_for
from chat.transport.topology import Names
from chat.transport.wire import BadMessage, DiscoveryAnswer, DiscoveryRequest
from nameserver.keys import Keys
from nameserver.registry import ClientRecord, GroupRecord, Registry
from tests.conftest import AMQP_URL
from tests.support import TestClient, rogue_responder, wait_for

#: Answers may take long on a busy test machine; the deadline is not what these tests check.
SLACK = {"CHAT_DISCOVERY_TIMEOUT": "2"}
#: Short liveness for the kill test: the record outlives its client by at most 3 s.
SHORT_TTL = {**SLACK, "CHAT_CLIENT_TTL": "3", "CHAT_HEARTBEAT_INTERVAL": "1"}


class FakeGroups:
    def __init__(self, joined: list[str] | None = None, block: threading.Event | None = None):
        self._joined = joined or []
        self.block = block
        self.joins: list[str] = []

    def joined(self) -> list[str]:
        if self.block is not None:
            self.block.wait(10)
        return list(self._joined)

    def join_interactive(self, name: str) -> None:
        self.joins.append(name)


class FakePrivate:
    def __init__(self, peers: list[tuple[str, str]] | None = None, refuse: str | None = None):
        self.peers = peers or []
        self.refuse = refuse
        self.opened: list[ClientRecord] = []

    def active_peers(self) -> list[tuple[str, str]]:
        return list(self.peers)

    def open_with(self, record: ClientRecord) -> None:
        if self.refuse:
            raise UserError(self.refuse)
        self.opened.append(record)


@pytest.fixture
def fast_config(config: Config) -> Config:
    return dataclasses.replace(config, discovery_timeout=1.5)


@pytest.fixture
def make_client(make_client, fast_config, redis_conn) -> Callable[..., TestClient]:
    """The shared fixture's clients, with discovery only, on brokers of their own."""
    return discovery_clients(make_client, fast_config)


def discovery_clients(
    make_client: Callable[..., TestClient], fast_config: Config
) -> Callable[..., TestClient]:
    """``make(name, groups=, private=, script=, started=, config=)`` over the shared fixture."""

    def make(
        name: str,
        groups: FakeGroups | None = None,
        private: FakePrivate | None = None,
        script: str = "",
        started: float | None = None,
        config: Config | None = None,
    ) -> TestClient:
        def features(client: Client) -> list[Feature]:
            def describe() -> Description:
                return Description(
                    groups.joined() if groups else [], private.active_peers() if private else []
                )

            return [Discovery(client, opener=private, joiner=groups, describe=describe)]

        client = make_client(
            name, gui=False, config=config or fast_config, make=features, started=started
        )
        client.term.inp = io.StringIO(script)
        return client

    return make


def output(client: TestClient) -> str:
    return client.term.out.getvalue()  # type: ignore[attr-defined]


def ids(records: list[ClientRecord]) -> set[str]:
    return {r.id for r in records}


# -- real client processes ---------------------------------------------------------


def test_three_clients_see_each_other_both_ways_with_their_parameters(spawn):
    procs = [spawn(name, env=SLACK) for name in ("alice", "bob", "carol")]
    alice = procs[0]

    alice.choose("Discover chats")
    alice.expect("Choose 1-3")
    alice.choose("2")
    you = {alice.name: r" \(you\)"}
    expected = {
        rf"answer from {p.name}{you.get(p.name, '')} \({p.id}\) at {p.address} after" for p in procs
    }
    while expected:  # in whatever order they arrive
        patterns = sorted(expected)
        expected.remove(patterns[alice.expect(patterns)])
    alice.expect("3 clients answered the discovery event")
    alice.expect("or press Enter to go back: ")
    alice.choose("")
    alice.choose("Discover chats")
    alice.expect("Choose 1-3")
    alice.choose("1")
    alice.expect("lists 3 live clients")
    alice.expect("or press Enter to go back: ")
    listing = alice.child.before
    assert f"alice (you)  {alice.id}  {alice.address}" in listing
    for proc in procs[1:]:
        assert f"{proc.name}  " in listing and f"{proc.id}  {proc.address}" in listing
    alice.choose("")
    alice.expect("Choose")

    bob = procs[1]
    bob.choose("Discover chats")
    bob.expect("Choose 1-3")
    bob.choose("3")
    bob.expect("IN REDIS  ANSWERED")
    bob.expect("Both ways found the same clients.")
    for proc in procs:
        assert f"{proc.id}  {proc.address}  yes       yes" in bob.child.before
    bob.expect("or press Enter to go back: ")
    bob.choose("")


def test_killed_client_is_gone_from_the_answers_at_once_and_from_redis_after_its_ttl(
    spawn, registry
):
    alice, bob, carol = (spawn(name, env=SHORT_TTL) for name in ("alice", "bob", "carol"))
    carol.kill()  # SIGKILL: no goodbye, no deregistration

    alice.choose("Discover chats")
    alice.expect("Choose 1-3")
    alice.choose("3")
    alice.expect("IN REDIS  ANSWERED")
    alice.expect("Only in Redis")
    table = alice.child.before
    assert f"{bob.id}  {bob.address}  yes       yes" in table
    assert f"{carol.id}  {carol.address}  yes       no" in table
    alice.expect(rf"\(registered, but did not answer\): carol \({carol.id}\) at {carol.address}")
    alice.expect("Expected difference: a client killed a moment ago stays in Redis")
    alice.expect("or press Enter to go back: ")
    alice.choose("")

    wait_for(
        lambda: carol.id not in ids(registry.list_clients()),
        timeout=10,
        what="carol's record to expire from Redis",
    )
    assert {alice.id, bob.id} <= ids(registry.list_clients())


# -- faults ---------------------------------------------------------------------------


def test_garbage_wrong_correlation_and_late_answers_are_never_shown(make_client, namespace, caplog):
    caplog.set_level(logging.WARNING, logger="chat.discovery")
    me = make_client("me")
    bob = make_client("bob")
    seen: list[tuple[str, str]] = []
    mallory = ClientRecord("mallory1", "mallory", "127.0.0.1", 4000, time.time())

    def answer(record: ClientRecord) -> bytes:
        return DiscoveryAnswer(record).encode()

    def on_request(channel, method, properties, body) -> None:
        seen.append((properties.reply_to, properties.correlation_id))
        right = pika.BasicProperties(correlation_id=properties.correlation_id)
        wrong = pika.BasicProperties(correlation_id="not-your-request")
        no_port = json.loads(answer(mallory))
        del no_port["client"]["port"]
        for body_, props in [
            (b"\x00 not json", right),
            (b'{"v": 1, "kind": "chat"}', right),
            (json.dumps(no_port).encode(), right),
            (answer(dataclasses.replace(mallory, name="wrongcid")), wrong),
        ]:
            channel.basic_publish("", properties.reply_to, body_, props)

    with rogue_responder(AMQP_URL, namespace, on_request) as rogue:
        result = me.discovery.events.ask(expected=Future())  # wait the whole time
        assert ids(result.clients) == {me.me.id, bob.me.id}
        assert result.dropped == 3
        found = listing(EventSource.sighting(result), me.me.id)
        text, rows = found.text, found.rows
        assert "mallory" not in text and "wrongcid" not in text
        assert len(rows) == 2

        # An answer that comes after the deadline is dropped as well.
        reply_to, correlation_id = seen[0]
        late = dataclasses.replace(mallory, name="latecomer")
        rogue.publish(
            "", reply_to, answer(late), pika.BasicProperties(correlation_id=correlation_id)
        )
        wait_for(
            lambda: "latecomer" in caplog.text, what="the late answer to be logged and dropped"
        )
    assert "malformed answer" in caplog.text
    assert "unknown or finished request 'not-your-request'" in caplog.text
    assert "mallory" not in output(me)


def test_malformed_requests_are_ignored_and_answering_goes_on(make_client, namespace, caplog):
    caplog.set_level(logging.WARNING, logger="chat.discovery")
    me = make_client("me")
    bob = make_client("bob")
    exchange = Names(namespace).discovery_exchange
    valid = DiscoveryRequest("someone", "someone")
    for body, props in [
        (b"garbage", valid.properties(REPLY_TO, "bad-1")),
        (b'{"v": 2, "kind": "discovery-request"}', valid.properties(REPLY_TO, "bad-2")),
        (valid.encode(), pika.BasicProperties(correlation_id="bad-3")),  # no reply_to
    ]:
        me.broker.publish(exchange, "", body, props)

    result = me.discovery.events.ask()

    assert ids(result.clients) == {me.me.id, bob.me.id}
    # Requests are handled in order, so the bad ones were already dealt with.
    wait_for(lambda: bob.discovery.responder.answered >= 1)
    assert bob.discovery.responder.answered == 1
    assert caplog.text.count("ignoring a malformed discovery request") == 6  # 3 each
    assert "unknown or finished request 'bad-" not in caplog.text


def test_the_wait_ends_as_soon_as_every_listed_client_has_answered(make_client, fast_config):
    patient = dataclasses.replace(fast_config, discovery_timeout=30)
    me = make_client("me", config=patient)
    bob, carol = make_client("bob"), make_client("carol")

    result = me.discovery.events.ask()
    shared, both = look_all(me.discovery.sources)

    everyone = {me.me.id, bob.me.id, carol.me.id}
    assert ids(result.clients) == everyone and ids(both.clients) == everyone
    assert ids(shared.clients) == everyone
    # Far from the 30 s deadline: the wait ended with the last expected answer.
    assert result.waited < 10 and both.took < 10, (result.waited, both.took)


def test_a_slow_client_does_not_hold_up_the_others(make_client, caplog):
    caplog.set_level(logging.WARNING, logger="chat.discovery")
    release = threading.Event()
    me = make_client("me")
    bob = make_client("bob", groups=FakeGroups(["lobby"]))
    make_client("slowpoke", groups=FakeGroups(["lobby"], block=release))
    try:
        result = me.discovery.events.ask()
    finally:
        release.set()
    assert ids(result.clients) == {me.me.id, bob.me.id}
    assert [c.name for c in result.groups()["lobby"]] == ["bob"]
    wait_for(lambda: "slowpoke" in caplog.text, what="the slow answer to be dropped as late")
    assert "after the deadline" in caplog.text or "finished request" in caplog.text


def test_rabbitmq_down_is_one_sentence_and_the_redis_way_still_works(make_client):
    me = make_client("me", script="Discover chats\n2\nDiscover chats\n3\n\nDiscover chats\n1\n\n")
    me.broker.close()

    with pytest.raises(EOFError):
        Menu(me.term, items_for(me.features)).run()

    shown = output(me)
    assert shown.count(BROKER_DOWN) == 2
    assert "DISCOVERY EVENT" in shown and "not sent" in shown
    assert "lists 1 live client and" in shown
    assert f"me (you)  {me.me.id}" in shown
    assert "Traceback" not in shown


def test_answering_and_asking_survive_a_reopened_channel(make_client):
    me = make_client("me")
    bob = make_client("bob")
    for client in (me, bob):  # a channel error makes the broker reopen the channel
        with pytest.raises(pika.exceptions.ChannelClosedByBroker):
            client.broker.publish("no-such-exchange", "", b"x")
        client.broker.call(lambda channel: None)  # runs once the setups have run again

    result = me.discovery.events.ask()

    assert ids(result.clients) == {me.me.id, bob.me.id}


def test_redis_down_is_one_sentence():
    nowhere = redis.Redis(port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    dead = Registry(nowhere, Keys("t-nowhere"))

    result = look_up(dead)

    assert result.error is not None
    assert result.error.startswith("The name server (Redis) is not answering right now")
    assert result.clients == [] and result.groups == []


# -- what the user sees and does ------------------------------------------------------


def test_answers_carry_open_groups_and_private_chats(make_client):
    me = make_client("me")
    make_client("bob", groups=FakeGroups(["lobby", "dev"]), private=FakePrivate([("c4", "carol")]))
    make_client("dave", groups=FakeGroups(["lobby"]))

    result = me.discovery.events.ask()
    found = listing(EventSource.sighting(result), me.me.id)
    text, rows = found.text, found.rows

    assert {g: [c.name for c in cs] for g, cs in result.groups().items()} == {
        "dev": ["bob"],
        "lobby": sorted(["bob", "dave"], key=[c.name for c in result.clients].index),
    }
    bob_line = next(line for line in text.splitlines() if "  bob  " in line)
    assert "lobby, dev" in bob_line and "carol" in bob_line
    assert "me (you)" in text
    assert rows[-2:] == [Row(group="dev"), Row(group="lobby")]


def test_a_row_number_starts_a_private_chat_or_joins_a_group(make_client, registry):
    now = time.time()
    private = FakePrivate()
    groups = FakeGroups()
    me = make_client(
        "me",
        groups=groups,
        private=private,
        script="1\n1\n9\nx\n2\n" + "1\n3\n" + "1\n\n",
        started=now - 10,
    )
    bob = make_client("bob", started=now)
    registry.claim_group(GroupRecord("lobby", "transient", bob.me.id, "bob", now))
    discovery = me.discovery

    discovery.run_menu()  # 1: via Redis; rows 1 me, 2 bob, 3 lobby
    assert private.opened == [bob.me]
    shown = output(me)
    assert "That is you; choose another client." in shown
    assert "There is no row '9'" in shown and "There is no row 'x'" in shown

    discovery.run_menu()
    assert groups.joins == ["lobby"]

    private.refuse = "bob is not answering; try again later."
    me.term.inp = io.StringIO("1\n2\n\n")
    discovery.run_menu()
    assert "bob is not answering; try again later." in output(me)

    me.discovery.joiner = None
    me.term.inp = io.StringIO("1\n3\n\n")
    discovery.run_menu()
    assert "Group chats are not available in this client." in output(me)


def test_bodies_decode_strictly():
    record = ClientRecord("abcd2345", "alice", "::1", 4000, 1795660800.5)
    answer = DiscoveryAnswer(record, ("lobby",), (("x", "bob"),), ts=1795660802.0)
    assert DiscoveryAnswer.decode(answer.encode()) == answer
    request = DiscoveryRequest("abcd2345", "alice", ts=1795660803.0)
    assert DiscoveryRequest.decode(request.encode()) == request

    good = json.loads(answer.encode())
    for broken in [
        {**good, "v": 2},
        {**good, "kind": "discovery-request"},
        {**good, "groups": "lobby"},
        {**good, "groups": [""]},
        {**good, "private_chats": [["x", "bob"]]},
        {**good, "client": {**good["client"], "port": "4000"}},
        {**good, "client": {**good["client"], "port": 70000}},
        {k: v for k, v in good.items() if k != "client"},
        {**good, "ts": 1e20},
        {**good, "client": {**good["client"], "started": 1.5}},
    ]:
        with pytest.raises(BadMessage):
            DiscoveryAnswer.decode(json.dumps(broken).encode())
    with pytest.raises(BadMessage):
        DiscoveryRequest.decode(answer.encode())


def test_nested_and_poisoned_bodies_on_the_discovery_exchange_break_nobody(make_client, namespace):
    me = make_client("me")
    bob = make_client("bob")
    exchange = Names(namespace).discovery_exchange
    deep = b"[" * 50_000 + b"]" * 50_000
    props = DiscoveryRequest("someone", "someone").properties(REPLY_TO, "deep-1")
    me.broker.publish(exchange, "", deep, props)

    poisoned = json.loads(DiscoveryAnswer(ClientRecord("p0is0ned", "x", "h", 1, 0)).encode())
    poisoned["client"]["started"] = float("nan")

    def on_request(channel, method, properties, body) -> None:
        reply = pika.BasicProperties(correlation_id=properties.correlation_id)
        for bad in (deep, json.dumps(poisoned).encode(), b'{"v":1,"ts":1e999}'):
            channel.basic_publish("", properties.reply_to, bad, reply)

    with rogue_responder(AMQP_URL, namespace, on_request):
        result = me.discovery.events.ask(expected=Future())  # wait the whole time
    assert ids(result.clients) == {me.me.id, bob.me.id}
    assert result.dropped == 3
    found = listing(EventSource.sighting(result), me.me.id)
    text, rows = found.text, found.rows
    assert len(rows) == 2 and "p0is0ned" not in text
    for client in (me, bob):
        assert client.broker._thread.is_alive()
    # Both still answer afterwards.
    assert ids(me.discovery.events.ask().clients) == {me.me.id, bob.me.id}

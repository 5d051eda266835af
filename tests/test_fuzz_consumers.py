"""Fuzzing every consumer of a running client: group, discovery, insults.

Most generated bodies go straight into the consumer callbacks (as the broker
thread would call them), a few hundred through the real broker. Afterwards
the client's threads are alive, its windows still draw, and a valid message
still arrives.
"""

from __future__ import annotations

from concurrent.futures import Future
from types import SimpleNamespace
from typing import Any

import pika
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tests.test_discovery as discovery_tests
import tests.test_groups as group_tests
import tests.test_insults as insult_tests
from chat.discovery.source import EventSource
from chat.discovery.view import listing
from chat.insults.channel import InsultChannel
from chat.transport.boundary import consumer
from chat.transport.broker import Broker
from chat.transport.topology import Names
from chat.transport.wire import ChatMessage, DiscoveryRequest
from tests.conftest import AMQP_URL
from tests.fuzzbodies import (
    FUZZ,
    FUZZ_SIGNER,
    answer_template,
    chat_template,
    hostile_bodies,
    request_template,
)
from tests.support import rogue_responder, tk_wait, wait_for

# The fixtures of the feature tests, used here as they are.
members = group_tests.members
fast_config = discovery_tests.fast_config
listeners = insult_tests.listeners

DELIVERY = SimpleNamespace(delivery_tag=1, redelivered=False)
properties = st.builds(
    pika.BasicProperties,
    reply_to=st.none() | st.text(max_size=300),
    correlation_id=st.none() | st.text(max_size=300),
)


def _alive(*brokers: Broker) -> None:
    for broker in brokers:
        assert broker._thread is not None and broker._thread.is_alive()


def test_group_consumer_survives_thousands_of_hostile_bodies(members, tk_root):
    alice, bob = members("alice"), members("bob")
    session, window = alice.join(tk_root, "fuzz")
    _, theirs = bob.join(tk_root, "fuzz")
    on_message = session.feed.on_delivery
    drawn = [0]

    @settings(FUZZ, max_examples=800)
    @given(hostile_bodies(chat_template(chat="fuzz"), FUZZ_SIGNER))
    def direct(body: bytes) -> None:
        on_message(None, DELIVERY, pika.BasicProperties(), body)
        drawn[0] += 1
        if drawn[0] % 10 == 0:
            tk_root.update()

    @settings(FUZZ, max_examples=4)
    @given(
        st.lists(hostile_bodies(chat_template(chat="fuzz"), FUZZ_SIGNER), min_size=50, max_size=50)
    )
    def through_the_broker(bodies: list[bytes]) -> None:
        group_tests.raw_publish(session.feed.exchange, "fuzz", bodies)

    direct()
    through_the_broker()
    group_tests.send(tk_root, theirs, "after the storm")
    tk_wait(
        tk_root,
        lambda: "after the storm" in group_tests.texts(window),
        timeout=30,
        what="a valid message after the hostile ones",
    )
    _alive(alice.client.broker, bob.client.broker)
    shown = window.history.get("1.0", "end")
    assert "\x1b" not in shown and "\u202e" not in shown
    assert window.top.winfo_exists()


@pytest.fixture
def discovery_client(make_client, fast_config, redis_conn) -> Any:
    """Clients with discovery only, as tests/test_discovery.py makes them."""
    return discovery_tests.discovery_clients(make_client, fast_config)


def test_discovery_responder_survives_hostile_requests(discovery_client, namespace):
    me, bob = discovery_client("me"), discovery_client("bob")
    responder = bob.discovery.responder
    on_request = consumer("discovery request")(responder.on_request)
    exchange = Names(namespace).discovery_exchange

    @settings(FUZZ, max_examples=400)
    @given(hostile_bodies(request_template()), properties)
    def direct(body: bytes, props: pika.BasicProperties) -> None:
        on_request(None, DELIVERY, props, body)

    @settings(FUZZ, max_examples=3)
    @given(st.lists(hostile_bodies(request_template()), min_size=40, max_size=40))
    def through_the_broker(bodies: list[bytes]) -> None:
        props = DiscoveryRequest("x", "x").properties("nobody-listens", "fuzz")
        me.broker.call(lambda ch: [ch.basic_publish(exchange, "", b, props) for b in bodies])

    direct()
    through_the_broker()
    _alive(me.broker, bob.broker)
    assert responder._thread.is_alive()
    result = me.discovery.events.ask()
    assert {c.id for c in result.clients} == {me.me.id, bob.me.id}


def test_discovery_requester_survives_hostile_answers(discovery_client, namespace):
    me, bob = discovery_client("me"), discovery_client("bob")
    pending: list[list[bytes]] = []

    def on_request(channel, method, props, body) -> None:
        reply = pika.BasicProperties(correlation_id=props.correlation_id)
        for bad in pending.pop() if pending else []:
            channel.basic_publish("", props.reply_to, bad, reply)

    @settings(FUZZ, max_examples=4)
    @given(st.lists(hostile_bodies(answer_template(), FUZZ_SIGNER), min_size=50, max_size=50))
    def answers(bodies: list[bytes]) -> None:
        pending.append(bodies)
        result = me.discovery.events.ask(expected=Future())  # every answer, not the first two
        assert {me.me.id, bob.me.id} <= {c.id for c in result.clients}
        text = listing(EventSource.sighting(result), me.me.id).text
        assert "\x1b" not in text

    with rogue_responder(AMQP_URL, namespace, on_request):
        answers()
    _alive(me.broker, bob.broker)


def test_insult_consumer_survives_hostile_bodies(listeners, namespace, broker):
    listener = listeners("c0").connect()
    queue = Names(namespace).insult_queue

    @settings(FUZZ, max_examples=5)
    @given(st.lists(hostile_bodies(chat_template("insults", "insult")), min_size=60, max_size=60))
    def through_the_broker(bodies: list[bytes]) -> None:
        props = pika.BasicProperties(delivery_mode=2)
        broker.call(lambda ch: [ch.basic_publish("", queue, b, props) for b in bodies])

    through_the_broker()
    sender = InsultChannel(broker, Names(namespace), "s0", "sender")
    insult_tests.send_all(sender, ["still standing"])
    wait_for(lambda: "still standing" in listener.texts(), timeout=30, what="the good insult")
    wait_for(
        lambda: insult_tests.queue_state(broker, namespace) == (0, 1),
        timeout=30,
        what="every hostile insult acked, none left in the queue",
    )
    _alive(listener.broker)


def test_the_generated_bodies_cover_deep_nesting_nan_and_bad_utf8():
    """The strategy really produces the cases the suite claims (a guard on the guard)."""
    seen = {"deep": False, "nan": False, "bad utf-8": False, "signed": False}

    @settings(FUZZ, max_examples=300)
    @given(hostile_bodies(chat_template(), FUZZ_SIGNER))
    def sample(body: bytes) -> None:
        seen["signed"] |= b'"sig": "' in body
        seen["deep"] |= body.startswith(b"[" * 9) or b'"deep":[[[[[[[[[' in body
        seen["nan"] |= b"NaN" in body or b"Infinity" in body
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            seen["bad utf-8"] = True

    sample()
    assert all(seen.values()), seen
    assert ChatMessage.decode(ChatMessage("a", "b", "c", "d").encode())

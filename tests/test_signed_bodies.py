"""Signed group messages, insults and discovery answers, checked by real receivers.

Real RabbitMQ and Redis, real clients (``tests.support.TestClient``) with
their windows; forgeries come from raw pika clients, as anyone who can reach
the broker could send them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from concurrent.futures import Future

import pika

import tests.test_groups as test_groups
from chat.discovery.source import EventSource
from chat.discovery.view import listing
from chat.groups.model import SEPARATOR
from chat.insults import KEY
from chat.insults.channel import CHANNEL_NAME, KIND
from chat.transport.topology import Names
from chat.transport.wire import ChatMessage, DiscoveryAnswer
from chat.trust.identity import Identity
from tests.conftest import AMQP_URL
from tests.support import rogue_responder, tk_wait, wait_for
from tests.test_groups import raw_publish, send, texts

members = test_groups.members  # the fixture


def forgeries(victim_id: str, victim_name: str, victim: Identity, chat: str, kind: str):
    """Bodies claiming to come from ``victim``: each must be dropped."""
    mallory = Identity.generate()

    def msg(text: str, name: str = victim_name) -> ChatMessage:
        return ChatMessage(victim_id, name, chat, text, kind=kind)

    tampered = json.loads(msg("signed, then changed").encode(victim))
    tampered["text"] = "tampered"
    return [
        msg("forged by another key").encode(mallory),
        msg("unsigned").encode(),
        json.dumps(tampered).encode(),
        msg("the victim's key under another name", name="mallory").encode(mallory),
    ]


FORGED_TEXTS = ("forged", "unsigned", "tampered", "victim")


def test_forged_and_unsigned_group_messages_are_dropped_and_the_window_goes_on(
    members,
    tk_root,
    namespace,
    caplog,
):
    caplog.set_level(logging.WARNING, logger="chat.groups")
    alice, bob = members("alice"), members("bob")
    _, wa = alice.join(tk_root, "signed")
    _, wb = bob.join(tk_root, "signed")
    bodies = forgeries(bob.id, "bob", bob.identity, "signed", "text")
    raw_publish(Names(namespace).groups_exchange, "signed", bodies)
    send(tk_root, wb, "the real bob")
    tk_wait(tk_root, lambda: texts(wa) == ["the real bob"], what="the real message")
    shown = wa.history.get("1.0", "end")
    assert not any(word in shown for word in FORGED_TEXTS)
    assert caplog.text.count("group signed: dropped a message") >= 2 * len(bodies)
    assert "forged: signed by another key" in caplog.text
    assert "the body is not signed" in caplog.text
    assert "the signature does not match" in caplog.text
    # Meeting bob is noted once, before his first message, and not for his join.
    notices = [t for side, t in wa.shown() if side == "notice"]
    assert sum(t.startswith("first meeting with bob (key ") for t in notices) == 1
    send(tk_root, wb, "again")
    tk_wait(tk_root, lambda: texts(wa)[-1:] == ["again"], what="the second message")
    notices = [t for side, t in wa.shown() if side == "notice"]
    assert sum(t.startswith("first meeting with bob") for t in notices) == 1


def test_a_changed_key_is_marked_beside_the_name(members, tk_root):
    alice, bob = members("alice"), members("bob")
    # Alice met a bob with another key before.
    alice.known_peers.accept("bob", Identity.generate().public_key_b64)
    _, wa = alice.join(tk_root, "changed")
    _, wb = bob.join(tk_root, "changed")
    send(tk_root, wb, "it is me")
    tk_wait(tk_root, lambda: texts(wa) == ["it is me"], what="bob's message")
    entry = next(e for e in alice.groups.membership("changed").log.entries if e.side == "peer")
    assert entry.warning.startswith("bob's key has changed since ")
    assert entry.warning.endswith("this may not be the bob you talked to")
    shown = wa.history.get("1.0", "end")
    assert "bob's key has changed since" in shown
    name_line = next(line for line in shown.splitlines() if line.startswith("bob · "))
    assert "⚠ bob's key has changed since" in name_line  # beside the name, above the text
    # The terminal says so once, for bob's join notice and his message together.
    assert alice.output().count("bob's key has changed since") == 1


def test_history_from_the_stream_is_checked_the_same_way(members, tk_root, namespace):
    old_writer, changed = Identity.generate(), Identity.generate()
    bob = members("bob")
    alice = members("alice")
    alice.known_peers.accept("carol", Identity.generate().public_key_b64)
    setup = members("setup")
    setup.join(tk_root, "kept", kind="persistent")
    setup.close()
    exchange = Names(namespace).groups_exchange
    history = [
        ChatMessage("gone0001", "dave", "kept", "from dave, long gone").encode(old_writer),
        ChatMessage("gone0002", "carol", "kept", "from carol, new key").encode(changed),
        ChatMessage("gone0003", "erin", "kept", "unsigned, long ago").encode(),
        *forgeries(bob.id, "bob", bob.identity, "kept", "text"),
        ChatMessage(bob.id, "bob", "kept", "from bob, registered").encode(bob.identity),
    ]
    raw_publish(exchange, "kept", history)
    _, wa = alice.join(tk_root, "kept", kind="persistent")
    tk_wait(tk_root, lambda: SEPARATOR in wa.history.get("1.0", "end"), what="the live point")
    assert texts(wa) == ["from dave, long gone", "from carol, new key", "from bob, registered"]
    log = alice.groups.membership("kept").log
    warnings = {e.text: e.warning for e in log.entries if e.side == "peer"}
    assert warnings["from dave, long gone"] == ""
    assert warnings["from carol, new key"].startswith("carol's key has changed since")
    assert warnings["from bob, registered"] == ""
    notices = [e.text for e in log.entries if e.side == "notice"]
    assert any(t.startswith("first meeting with dave") for t in notices)


def test_forged_and_unsigned_insults_are_dropped_and_the_channel_goes_on(
    make_client, namespace, tk_root, caplog
):
    caplog.set_level(logging.WARNING, logger="chat.insults")
    alice = make_client("alice", keys={"insults"})
    bob = make_client("bob", keys={"insults"})
    feature = alice.insults
    feature.run_menu()
    window = tk_wait(tk_root, lambda: alice.client.windows.window(KEY), what="the insult window")
    bodies = forgeries(bob.me.id, "bob", bob.identity, CHANNEL_NAME, KIND)
    raw_publish("", Names(namespace).insult_queue, bodies)
    channel = bob.insults.channel  # bob is not listening: alice gets it
    channel.send(channel.message("a real insult from bob")).result(10)
    tk_wait(
        tk_root,
        lambda: ("peer", "a real insult from bob") in window.shown(),
        what="the real insult",
    )
    peers = [text for side, text in window.shown() if side == "peer"]
    assert peers == ["a real insult from bob"]
    assert caplog.text.count("dropped an insult") == len(bodies)
    assert "forged: signed by another key" in caplog.text


def test_forged_discovery_answers_are_not_listed(make_client, namespace, caplog):
    caplog.set_level(logging.WARNING, logger="chat.discovery")
    me = make_client("me", gui=False)
    bob = make_client("bob", gui=False)
    mallory = Identity.generate()

    def on_request(channel, method, properties, body) -> None:
        props = pika.BasicProperties(correlation_id=properties.correlation_id)
        as_bob = DiscoveryAnswer(bob.me, ("forged-group",))
        tampered = json.loads(DiscoveryAnswer(bob.me).encode(bob.identity))
        tampered["groups"] = ["tampered-group"]
        for forged in [
            as_bob.encode(mallory),  # bob's record, another key signs
            dataclasses.replace(
                as_bob, client=dataclasses.replace(bob.me, key=mallory.public_key_b64)
            ).encode(mallory),
            as_bob.encode(),  # unsigned
            json.dumps(tampered).encode(),
        ]:
            channel.basic_publish("", properties.reply_to, forged, props)

    with rogue_responder(AMQP_URL, namespace, on_request):
        result = me.discovery.events.ask(expected=Future())  # wait the whole time
    assert {a.answer.client.id for a in result.answers} == {me.me.id, bob.me.id}
    assert result.dropped == 4
    text = listing(EventSource.sighting(result), me.me.id).text
    assert "forged-group" not in text and "tampered-group" not in text
    assert "key changed" not in text
    assert caplog.text.count("forged: signed by another key") >= 1
    assert "the body is not signed" in caplog.text


def test_a_changed_key_is_flagged_in_the_discovery_listing_and_said_once(make_client):
    me = make_client("me", gui=False)
    bob = make_client("bob", gui=False)
    me.known_peers.accept("bob", Identity.generate().public_key_b64)
    me.type("2", "")
    me.discovery.run_menu()
    out = me.output()
    assert "bob (key changed)" in out
    assert out.count("bob's key has changed since") == 1
    assert "me (you) (key changed)" not in out and "me (key changed)" not in out
    wait_for(lambda: bob.discovery.responder.answered >= 1, what="bob answered")

"""A group's feed recovers by itself and never waits on a slow name server.

Real RabbitMQ, real Redis (the shared one, or one of the test's own that it
stops), real windows: what is asserted is what each member's window shows.
"""

from __future__ import annotations

import os
import signal
import threading
from concurrent.futures import Future

import pika.exceptions
import redis

import tests.test_groups as test_groups
from chat.groups import conversation as conversation_module
from chat.groups.model import SENDING
from chat.transport.topology import Names
from chat.transport.wire import ChatMessage
from chat.trust.identity import Identity
from chat.windows.binding import BACK, LOST
from nameserver.keys import Keys
from nameserver.registry import Registry
from tests.ownredis import OwnRedis
from tests.support import tk_wait
from tests.test_groups import Member, messages, raw_publish, send, texts

members = test_groups.members  # the fixture


def close_stream_channel(member: Member, group: str) -> None:
    """Make the broker close the member's stream channel (a channel error on it), as
    RabbitMQ does at ``consumer_timeout``; the connection and other channels stay up."""
    feed = member.groups.membership(group).feed

    def provoke(_channel) -> None:
        own = feed._stream_channel
        assert own is not None and own.is_open
        try:
            own.queue_declare("no-such-queue-here", passive=True)
        except pika.exceptions.ChannelClosedByBroker as exc:
            assert exc.reply_code == 404

    member.client.broker.call(provoke)


def test_a_stream_channel_the_broker_closes_is_consumed_again_without_gaps(members, tk_root):
    alice, bob = members("alice"), members("bob")
    _, wa = alice.join(tk_root, "mend", kind="persistent")
    _, wb = bob.join(tk_root, "mend", kind="persistent")
    send(tk_root, wa, "before")
    tk_wait(tk_root, lambda: texts(wb) == ["before"], what="the first message")

    close_stream_channel(bob, "mend")
    tk_wait(tk_root, lambda: ("notice", LOST) in wb.shown(), what="bob is told it is lost")
    # Sent while bob's feed is down: alice's, and bob's own (his connection is up).
    send(tk_root, wa, "while down")
    send(tk_root, wb, "bob while down")
    tk_wait(tk_root, lambda: ("notice", BACK) in wb.shown(), 10, "bob is told it is back")
    send(tk_root, wa, "after")
    want = ["before", "while down", "bob while down", "after"]
    tk_wait(tk_root, lambda: sorted(texts(wb)) == sorted(want), 10, "all of it, once")
    tk_wait(tk_root, lambda: sorted(texts(wa)) == sorted(want), 10, "alice has it all")
    assert texts(wb)[0] == "before" and texts(wb)[-1] == "after"
    # bob's own message came back through the new consumer: sent, not "Sending…".
    log = bob.groups.membership("mend").log
    statuses = lambda: {e.text: e.status for e in log.entries if e.side == "own"}  # noqa: E731
    tk_wait(tk_root, lambda: statuses() == {"bob while down": "sent"}, what="marked sent")
    assert "  …" not in wb.history.get("1.0", "end")  # no "sending" mark shown
    assert messages(wb).count(("own", "bob while down")) == 1
    assert ("notice", LOST) not in wa.shown()  # alice's feed never went down
    assert bob.client.broker.connected


def test_a_stalled_name_server_does_not_delay_another_groups_messages(config, namespace, tk_root):
    """The name server stops answering (SIGSTOP) while one group's message waits
    for its sender's record; another group's messages go on in under a second."""
    made: list[Member] = []
    with OwnRedis() as own:
        slow_redis = redis.Redis(port=own.port, socket_timeout=10)
        registry = Registry(slow_redis, Keys(namespace), ttl=15)
        try:
            alice = Member(config, registry, "alice", root=tk_root, keys={"groups"})
            made.append(alice)
            _, slow = alice.join(tk_root, "slow")
            _, quick = alice.join(tk_root, "quick")
            verifier = alice.client.verifier
            asked = threading.Event()
            lookup = verifier._lookup

            def watched(client_id: str):
                if client_id == "zz999999":
                    asked.set()
                return lookup(client_id)

            verifier._lookup = watched
            stranger = ChatMessage("zz999999", "zed", "slow", "from a stranger")
            assert own.process is not None
            os.kill(own.process.pid, signal.SIGSTOP)
            try:
                raw_publish(
                    Names(namespace).groups_exchange,
                    "slow",
                    [stranger.encode(Identity.generate())],
                )
                tk_wait(tk_root, asked.is_set, what="the stranger's record asked for")
                send(tk_root, quick, "not held up")
                tk_wait(tk_root, lambda: texts(quick) == ["not held up"], 1.0, "quick, within 1 s")
                tk_wait(tk_root, lambda: "…" not in quick.history.get("1.0", "end"), 1.0, "sent")
                assert texts(slow) == []  # its check still waits on the stopped server
            finally:
                os.kill(own.process.pid, signal.SIGCONT)
            tk_wait(tk_root, lambda: texts(slow) == ["from a stranger"], 15, "the slow one too")
        finally:
            for member in made:
                member.close()
            slow_redis.close()


def test_a_message_never_confirmed_is_marked_not_delivered_at_the_deadline(
    members, tk_root, monkeypatch
):
    """No own message stays "Sending…": a publish the broker never answers
    (here: held back before it leaves) is marked not delivered at the deadline."""
    monkeypatch.setattr(conversation_module, "SEND_DEADLINE", 1.0)
    alice = members("alice")
    membership, wa = alice.join(tk_root, "stuck", kind="persistent")
    held: list[Future[None]] = []

    def never_answered(_body, _properties) -> Future[None]:
        held.append(Future())
        return held[-1]

    monkeypatch.setattr(membership.feed, "publish", never_answered)
    send(tk_root, wa, "into the fog")
    tk_wait(tk_root, lambda: wa.status.cget("text") == SENDING, what="the window says sending")
    assert messages(wa) == []  # a message enters the log when it comes back, or fails
    tk_wait(tk_root, lambda: "not delivered" in wa.history.get("1.0", "end"), 5, "the mark")
    assert messages(wa) == [("own", "into the fog")]
    assert wa.status.cget("text") == ""
    assert held and not held[0].done()

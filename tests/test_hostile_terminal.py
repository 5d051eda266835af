"""Escape sequences in every remote name reach a real client's terminal inert.

A real client runs in a pseudo-terminal. Names holding "clear the screen",
"turn red", "retitle the terminal" and a right-to-left override arrive from
everywhere another client can put them: the private-chat hello, client and
group records in Redis, discovery answers. The raw bytes never reach the
terminal; the escaped forms do.
"""

from __future__ import annotations

import io
import json
import time

import pika

from chat.transport.wire import DiscoveryAnswer
from tests.conftest import AMQP_URL
from tests.rawcaller import RawCall, signed_record
from tests.support import rogue_responder, wait_for

EVIL = "\x1b[2J\x1b[31mev\x1b]0;owned\x07il\u202e"
RAW = ["\x1b[2J", "\x1b[31m", "\x1b]0;", "\u202e", "\x07"]


def test_escape_sequences_in_remote_names_never_reach_the_terminal(spawn, registry, namespace):
    bob = spawn("bob")
    seen = io.StringIO()
    bob.child.logfile_read = seen

    # Redis: a client record and a group record with hostile names.
    now = time.time()
    evil_client, evil_identity, _ = signed_record("ev1l2345", EVIL, 4000, host=EVIL)
    registry.redis.set(registry.keys.client(evil_client.id), evil_client.to_json(), ex=60)
    registry.redis.zadd(registry.keys.clients, {evil_client.id: now + 60})
    group = {"name": EVIL, "kind": "persistent", "creator_id": EVIL, "creator_name": EVIL}
    registry.redis.set(registry.keys.group(EVIL), json.dumps({**group, "created": now}))
    registry.redis.sadd(registry.keys.groups, EVIL)

    # Discovery: a rogue client answers every request with hostile names.
    answer = DiscoveryAnswer(evil_client, (EVIL,), ((EVIL, EVIL),))

    def on_request(channel, method, props, body) -> None:
        reply = pika.BasicProperties(correlation_id=props.correlation_id)
        channel.basic_publish("", props.reply_to, answer.encode(), reply)

    call: RawCall | None = None
    try:
        with rogue_responder(AMQP_URL, namespace, on_request):
            bob.choose("3")
            bob.expect("Choose 1-3")
            bob.child.sendline("3")  # both ways, side by side
            bob.expect("row number")
            bob.child.sendline("")
            bob.expect("Choose")

            # The private-chat hello, on a stream opened just now: one opened
            # earlier would have been cut off by the hello deadline meanwhile.
            call = RawCall(registry.get(bob.id))
            call.handshake(evil_identity, evil_client)
            bob.expect("started a private chat with you")
    finally:
        if call is not None:
            call.close()
    wait_for(lambda: "\\x1b[2J" in seen.getvalue(), what="the escaped name on the terminal")
    shown = seen.getvalue()
    for raw in RAW:
        assert raw not in shown, f"{raw!r} reached the terminal"
    assert shown.count("\\u202e") >= 3  # the hello, the Redis listing, the answers
    bob.choose("Exit")
    assert bob.exit_status() == 0

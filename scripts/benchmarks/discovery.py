"""Discovery: reading the Redis name server, and one discovery event answered by many clients."""

from __future__ import annotations

import time

import pika

from benchmarks.common import AMQP_URL, REDIS_URL, Result, median, namespace, percentile
from chat.discovery.lookup import look_up
from chat.discovery.requester import Requester
from chat.discovery.responder import Responder
from chat.transport.broker import Broker
from chat.transport.topology import Names
from nameserver.connect import connect
from nameserver.keys import Keys
from nameserver.registry import ClientRecord, GroupRecord, Registry

CLIENTS = 1000
GROUPS = 100
RESPONDERS = 50
ROUNDS = 30


def redis_way() -> list[Result]:
    """List 1,000 live clients and 100 groups, the way the menu does (4 round trips)."""
    ns = namespace()
    connection = connect(REDIS_URL)
    registry = Registry(connection, Keys(ns), ttl=300)
    try:
        now = time.time()
        for n in range(CLIENTS):
            registry.claim(f"user{n}", "10.0.0.1", 40000 + n, started=now)
        for n in range(GROUPS):
            registry.claim_group(GroupRecord(f"group{n}", "transient", "x", "user0", now))
        times = []
        for _ in range(ROUNDS):
            result = look_up(registry)
            assert len(result.clients) == CLIENTS and len(result.groups) == GROUPS, result
            times.append(result.took * 1000)
    finally:
        keys = list(connection.scan_iter(match=Keys(ns).pattern, count=1000))
        if keys:
            connection.delete(*keys)
        connection.close()
    p95 = percentile(times, 95)
    label = f"{CLIENTS} clients + {GROUPS} groups"
    return [
        Result("discovery-redis", f"{label}, median", median(times), "ms"),
        Result("discovery-redis", f"{label}, p95", p95, "ms", "<= 30 ms", p95 <= 30),
    ]


def event_way() -> list[Result]:
    """One request, 50 live responders (each on its own broker connection and thread,
    all in this process); the time until the 50th answer is in."""
    names = Names(namespace())
    brokers: list[Broker] = []
    responders: list[Responder] = []
    try:
        for n in range(RESPONDERS):
            broker = Broker(AMQP_URL, name=f"distchat bench responder {n}")
            broker.start()
            brokers.append(broker)
            record = ClientRecord(f"r{n:07d}", f"user{n}", "10.0.0.1", 40000 + n, time.time())
            responder = Responder(broker, names, record, lambda: (["lobby"], []))
            responder.start()
            responders.append(responder)
        asker = Broker(AMQP_URL, name="distchat bench requester")
        asker.start()
        brokers.append(asker)
        me = ClientRecord("asker000", "asker", "10.0.0.2", 40000, time.time())
        requester = Requester(asker, names, me)
        requester.start()
        requester.discover(2.0, enough=RESPONDERS)  # warm-up
        all_in, first = [], []
        for _ in range(ROUNDS):
            result = requester.discover(2.0, enough=RESPONDERS)
            assert len(result.answers) == RESPONDERS, (len(result.answers), result.error)
            all_in.append(result.answers[-1].after * 1000)
            first.append(result.answers[0].after * 1000)
    finally:
        for responder in responders:
            responder.stop()
        for broker in brokers:
            broker.close()
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        connection.channel().exchange_delete(names.discovery_exchange)
        connection.close()
    p95 = percentile(all_in, 95)
    label = f"{RESPONDERS} responders"
    return [
        Result("discovery-events", f"{label}, first answer, median", median(first), "ms"),
        Result("discovery-events", f"{label}, all answers in, median", median(all_in), "ms"),
        Result(
            "discovery-events", f"{label}, all answers in, p95", p95, "ms", "<= 500 ms", p95 <= 500
        ),
    ]


SCENARIOS = {"discovery-redis": redis_way, "discovery-events": event_way}

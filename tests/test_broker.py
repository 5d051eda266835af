"""The broker thread against a real RabbitMQ: calls, setups, channel errors, reconnects."""

from __future__ import annotations

import subprocess
import threading
import uuid
from concurrent.futures import Future

import pika
import pika.exceptions
import pytest

from chat.transport.broker import Broker, BrokerUnavailable, RetryLater
from tests.conftest import AMQP_URL
from tests.support import wait_for


def _consume_into(queue: str, got: list[bytes], done: threading.Event | None = None):
    def setup(channel) -> None:
        channel.queue_declare(queue, exclusive=True, auto_delete=True)

        def on_message(ch, method, _props, body) -> None:
            got.append(body)
            ch.basic_ack(method.delivery_tag)

        channel.basic_consume(queue, on_message)

    return setup


def test_publish_from_other_threads_reaches_a_consumer(broker: Broker, namespace: str):
    queue = f"{namespace}.q"
    got: list[bytes] = []
    broker.add_setup(_consume_into(queue, got))

    def sender(n: int) -> None:
        for i in range(50):
            broker.publish("", queue, f"{n}-{i}".encode())

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_for(lambda: len(got) == 200, what="200 messages")
    for n in range(4):  # each sender's messages arrive in its order
        mine = [b for b in got if b.startswith(f"{n}-".encode())]
        assert mine == [f"{n}-{i}".encode() for i in range(50)]


def test_a_channel_error_is_reported_and_setups_come_back(broker: Broker, namespace: str):
    queue = f"{namespace}.q"
    got: list[bytes] = []
    broker.add_setup(_consume_into(queue, got))
    with pytest.raises(pika.exceptions.ChannelClosedByBroker):
        broker.call(lambda ch: ch.queue_declare(f"{namespace}.missing", passive=True))
    # The channel was reopened and the consumer set up again on it.
    wait_for(lambda: broker.connected, what="channel back")
    broker.publish("", queue, b"after")
    wait_for(lambda: got == [b"after"], what="delivery after the channel error")


def _close_connection(name: str) -> None:
    out = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "pid", "client_properties"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    pids = [line.split("\t")[0] for line in out.splitlines() if name in line]
    assert pids, f"no connection named {name}"
    for pid in pids:
        subprocess.run(
            ["rabbitmqctl", "close_connection", pid, "test"],
            check=True,
            capture_output=True,
            timeout=30,
        )


def test_reconnects_after_the_connection_is_closed_and_tells_listeners(namespace: str):
    name = f"distchat-test-{uuid.uuid4().hex[:8]}"
    events: list[str] = []
    broker = Broker(AMQP_URL, name=name)
    broker.add_listener(lambda: events.append("lost"), lambda: events.append("back"))
    broker.start()
    try:
        queue = f"{namespace}.q"
        got: list[bytes] = []
        broker.add_setup(_consume_into(queue, got))
        _close_connection(name)
        wait_for(lambda: events == ["lost", "back"], timeout=15, what="lost then back")
        broker.publish("", queue, b"again")
        wait_for(lambda: got == [b"again"], what="delivery after the reconnect")
    finally:
        broker.close()


def test_a_cancelled_subscription_neither_runs_again_nor_hears_the_connection(namespace: str):
    name = f"distchat-test-{uuid.uuid4().hex[:8]}"
    broker = Broker(AMQP_URL, name=name)
    broker.start()
    try:
        runs: list[str] = []
        events: list[str] = []
        kept = broker.add_setup(
            lambda ch: runs.append("kept"),
            on_lost=lambda: events.append("kept lost"),
            on_back=lambda: events.append("kept back"),
        )
        dropped = broker.add_setup(
            lambda ch: runs.append("dropped"),
            on_lost=lambda: events.append("dropped lost"),
            on_back=lambda: events.append("dropped back"),
        )
        assert runs == ["kept", "dropped"] and kept.active and dropped.active
        dropped.cancel()
        dropped.cancel()  # idempotent
        assert not dropped.active and kept.active

        _close_connection(name)
        wait_for(lambda: events == ["kept lost", "kept back"], timeout=15, what="lost then back")
        broker.call(lambda ch: None)  # the setups have run again by now
        assert runs == ["kept", "dropped", "kept"]
    finally:
        broker.close()


def test_work_handed_over_while_a_reconnect_fails_is_failed_not_forgotten(namespace: str):
    """A send reaches the new connection while the setups run after a reconnect,
    and that connection drops before they are done: the send must fail (its
    window marks it not delivered), not wait for an answer that never comes."""
    name = f"distchat-test-{uuid.uuid4().hex[:8]}"
    broker = Broker(AMQP_URL, name=name)
    broker.start()
    try:
        handed: list[Future[None]] = []
        runs = {"count": 0}

        def setup(channel) -> None:
            runs["count"] += 1
            if runs["count"] != 2:
                return
            sender = threading.Thread(target=lambda: handed.append(broker.submit(lambda ch: None)))
            sender.start()
            sender.join()
            raise pika.exceptions.StreamLostError("lost while running the setups")

        broker.add_setup(setup)
        _close_connection(name)
        wait_for(lambda: handed, timeout=15, what="a send during the setups")
        with pytest.raises(BrokerUnavailable):
            handed[0].result(timeout=10)
        wait_for(lambda: runs["count"] >= 3 and broker.connected, timeout=15, what="back")
    finally:
        broker.close()


def test_unreachable_broker_is_one_clear_error():
    broker = Broker("amqp://guest:guest@127.0.0.1:1/%2F")
    with pytest.raises(
        BrokerUnavailable, match=r"RabbitMQ is not answering at amqp://guest:\*\*\*@"
    ):
        broker.start()


def test_calls_fail_fast_after_close(broker: Broker):
    broker.close()
    with pytest.raises(BrokerUnavailable):
        broker.publish("", "nowhere", b"x")


def test_bare_pika_sees_our_persistent_publish(broker: Broker, namespace: str):
    queue = f"{namespace}.durable"
    broker.call(lambda ch: ch.queue_declare(queue, durable=True))
    broker.publish("", queue, b"kept", pika.BasicProperties(delivery_mode=2))
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        _method, _props, body = channel.basic_get(queue, auto_ack=True)
        assert body == b"kept"
        channel.queue_delete(queue)
    finally:
        connection.close()


def test_a_setup_that_is_not_possible_yet_is_retried_after_a_reconnect(namespace: str):
    name = f"distchat-test-{uuid.uuid4().hex[:8]}"
    broker = Broker(AMQP_URL, name=name)
    broker.start()
    try:
        queue = f"{namespace}.q"
        got: list[bytes] = []
        consume = _consume_into(queue, got)
        refusals = {"left": 0}
        served: list[int] = []

        def setup(channel) -> None:
            if refusals["left"]:
                refusals["left"] -= 1
                raise RetryLater("queue still starting")
            consume(channel)
            served.append(1)

        broker.add_setup(setup)
        refusals["left"] = 2  # the next two runs (after the reconnect) are refused
        _close_connection(name)
        wait_for(lambda: len(served) == 2, timeout=15, what="the setup served after two refusals")
        broker.publish("", queue, b"served")
        wait_for(lambda: got == [b"served"], what="delivery after the retried setup")
    finally:
        broker.close()


def test_a_shared_channel_the_broker_closes_while_idle_is_said_and_reopened(namespace: str):
    """The broker closes the channel later, on its own (here: an acknowledgement
    of a delivery it never made, 406), while no call is made on it: pika only
    wakes the broker thread. The listeners hear lost then back, and consumers
    work again."""
    name = f"distchat-test-{uuid.uuid4().hex[:8]}"
    events: list[str] = []
    broker = Broker(AMQP_URL, name=name)
    broker.add_listener(lambda: events.append("lost"), lambda: events.append("back"))
    broker.start()
    try:
        queue = f"{namespace}.q"
        got: list[bytes] = []
        broker.add_setup(_consume_into(queue, got))
        broker.call(lambda ch: ch.basic_ack(999_999))  # returns; the close comes after
        wait_for(lambda: events == ["lost", "back"], timeout=10, what="lost then back")
        assert broker.connected
        broker.publish("", queue, b"after")
        wait_for(lambda: got == [b"after"], what="delivery on the reopened channel")
    finally:
        broker.close()

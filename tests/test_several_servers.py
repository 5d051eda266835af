"""Several broker URLs and Sentinel URLs: configuration, parsing, and moving to a live node."""

from __future__ import annotations

from pathlib import Path

import pika.exceptions
import pytest

from chat.address import detect_advertise_host
from chat.config import ConfigError, load
from chat.transport.broker import Broker, BrokerRefused, BrokerUnavailable
from nameserver.connect import SentinelTarget, parse_sentinel_url
from tests.conftest import AMQP_URL

#: Nothing listens on port 1: a node that is down.
DEAD = "amqp://guest:guest@127.0.0.1:1/%2F"


def test_several_broker_urls_from_a_list_the_environment_or_a_flag(tmp_path: Path):
    file = tmp_path / "c.yaml"
    file.write_text("amqp_url:\n  - amqp://a:5672/%2F\n  - amqp://b:5673/%2F\n")
    assert load(file, env={}).amqp_urls == ("amqp://a:5672/%2F", "amqp://b:5673/%2F")
    env = {"CHAT_AMQP_URL": "amqp://a/, amqp://b:5/"}
    assert load(None, env=env).amqp_urls == ("amqp://a/", "amqp://b:5/")
    flag = load(None, env={}, overrides={"amqp_url": "amqp://x/,amqps://y/"})
    assert flag.amqp_urls == ("amqp://x/", "amqps://y/")
    assert load(None, env={}).amqp_urls == ("amqp://guest:guest@127.0.0.1:5672/%2F",)


@pytest.mark.parametrize(
    "raw, says",
    [
        ("amqp://a/,http://b/", "must start with amqp://, not 'http://b/'"),
        (" , ", "names no URL"),
        ("amqp://a:port/", "bad port"),
    ],
)
def test_each_broker_url_is_checked(raw: str, says: str):
    with pytest.raises(ConfigError, match=says) as info:
        load(None, env={"CHAT_AMQP_URL": raw})
    assert "environment variable CHAT_AMQP_URL" in str(info.value)


def test_a_list_of_something_else_is_refused(tmp_path: Path):
    file = tmp_path / "c.yaml"
    file.write_text("amqp_url:\n  - 5672\n")
    with pytest.raises(ConfigError, match="a URL or a list of URLs"):
        load(file, env={})


def test_sentinel_urls():
    url = "redis+sentinel://:s%40cret@h1:26379,h2,[::1]:26380/mymaster/2"
    assert parse_sentinel_url(url) == SentinelTarget(
        (("h1", 26379), ("h2", 26379), ("::1", 26380)), "mymaster", 2, "s@cret"
    )
    assert parse_sentinel_url("redis+sentinel://h1:1/m").db == 0
    config = load(None, env={"CHAT_REDIS_URL": "redis+sentinel://h1:26379/mymaster/0"})
    assert config.redis_url.startswith("redis+sentinel://")
    assert detect_advertise_host("redis+sentinel://127.0.0.1:26379/m/0") == "127.0.0.1"


@pytest.mark.parametrize(
    "raw, says",
    [
        ("redis+sentinel:///mymaster/0", "at least one host"),
        ("redis+sentinel://h1:26379", "ends with /SERVICE"),
        ("redis+sentinel://h1:26379/m/zero", "not a number"),
        ("redis+sentinel://h1:99999/m", "no valid port"),
        ("http://h1/", "must start with redis://"),
    ],
)
def test_bad_name_server_urls_get_a_sentence(raw: str, says: str):
    with pytest.raises(ConfigError, match=says):
        load(None, env={"CHAT_REDIS_URL": raw})


def test_the_broker_skips_a_dead_node_and_says_where_it_is():
    broker = Broker([DEAD, AMQP_URL], name="distchat tests rotation")
    broker.start()
    try:
        assert broker.connected
        assert broker.url == AMQP_URL
        assert broker.node.endswith("(node 2 of 2)")
        assert broker.call(lambda channel: channel.is_open)
    finally:
        broker.close()


def test_when_every_node_is_down_the_error_names_them_all():
    broker = Broker(f"{DEAD},amqp://guest:secret@127.0.0.1:2/%2F", name="distchat tests down")
    with pytest.raises(BrokerUnavailable) as info:
        broker.start()
    message = str(info.value)
    assert "127.0.0.1:1" in message and "127.0.0.1:2" in message
    assert "secret" not in message


def test_a_refused_login_on_a_list_of_nodes_names_the_node_and_hides_the_password():
    refused = AMQP_URL.replace("guest:guest@", "guest:s3cr3t-wrong@", 1)
    assert refused != AMQP_URL, "the test needs the broker URL's user and password"
    broker = Broker([DEAD, refused], name="distchat tests refused")
    with pytest.raises(BrokerRefused) as info:
        broker.start()
    message = str(info.value)
    assert message.startswith("RabbitMQ refused the user 'guest' at amqp://guest:***@")
    assert "(node 2 of 2)" in message and "check the user name and password" in message
    assert "s3cr3t-wrong" not in message


def test_a_send_racing_a_dropped_connection_fails_once_with_a_sentence():
    """The connection drops between handing work over and pika refusing it: the
    broker thread fails the pending work, and the sender must not fail it again
    (that raised InvalidStateError into the window that was sending)."""
    broker = Broker(AMQP_URL, name="distchat tests race")

    class Dropping:
        """Stands in for a pika connection at the instant it is lost (not reachable
        on purpose with a real one: the window is a few microseconds)."""

        def add_callback_threadsafe(self, _callback):
            broker._fail_pending()  # what the broker thread does when the connection drops
            raise pika.exceptions.ConnectionWrongStateError("closed")

    broker._connection = Dropping()  # type: ignore[assignment]
    future = broker.submit(lambda channel: None)
    with pytest.raises(BrokerUnavailable, match="lost"):
        future.result(timeout=1)

"""The Redis-versus-RabbitMQ comparison, run small: each side does what docs/report.md says.

Runs the benchmark's code (``scripts/benchmarks/redis_vs_rabbitmq.py`` and the
``delivery`` and ``logs`` modules beside it) with small sizes.
Redis is always a ``redis-server`` of the test's own on a free port (so it
can be reconfigured and killed); RabbitMQ is the shared broker, which is
never restarted here: the survival of a durable stream across a RabbitMQ
restart is measured by the benchmark (``redis_vs_rabbitmq_restart``) on a
node of its own, and tested by
``tests/test_groups.py::test_broker_restart_keeps_history_and_members_carry_on``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from benchmarks import delivery, logs
from benchmarks.members import Target
from benchmarks.servers import RedisServer

from tests.conftest import AMQP_URL

#: Away for 0.5 s after 1/4 of 3 s of sending: time to reconnect even on a loaded machine.
SMALL = delivery.FanoutSize(members=6, processes=2, messages=120, rate=40.0, away=0.5)


@pytest.fixture(scope="module")
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer("none", port=0)
    yield server
    server.close()


@pytest.fixture(params=["redis", "amqp"])
def target(
    request: pytest.FixtureRequest, own_redis: RedisServer, namespace: str
) -> Iterator[Target]:
    ns = namespace
    if request.param == "redis":
        yield Target("redis", own_redis.url, ns)
        return
    target = Target("amqp", AMQP_URL, ns)
    yield target
    logs.cleanup_amqp(target)


def test_fanout_members_away(target: Target) -> None:
    """Every member gets every message; one that stops reading gets it all late;
    one that reconnects gets nothing of what was sent while it was gone."""
    run = delivery.fanout(target, SMALL)

    assert len(run.latencies) == run.expected == SMALL.members * SMALL.messages

    paused = run.paused
    assert paused.during, "nothing was sent while the member was not reading"
    assert paused.received == list(range(SMALL.messages))  # all of it, in order
    assert max(paused.latencies) >= SMALL.away / 2  # ... held while it did not read

    rejoined = run.rejoined
    assert rejoined.during and rejoined.after
    assert rejoined.got(rejoined.during) == 0  # the gap is gone on both systems
    assert rejoined.got(rejoined.after) == len(rejoined.after)
    assert rejoined.received == sorted(rejoined.received)


def test_slow_subscriber_in_a_burst(target: Target, own_redis: RedisServer) -> None:
    """Past the output buffer limit Redis drops the subscriber; RabbitMQ queues for it."""
    if target.kind == "redis":
        delivery.output_buffer_limit(own_redis.url, "1mb")
    count = 256  # 16 MB of 64 KB messages: more than the socket buffers and the limit
    got = delivery.burst(target, count, 64 * 1024, pause=0.5)
    if target.kind == "redis":
        assert got.disconnected
        assert got.received < count
    else:
        assert not got.disconnected
        assert got.received == count


def test_history_replays_everything_in_order(target: Target) -> None:
    run = logs.history(target, 500)
    assert run.replayed == list(range(500))


@pytest.mark.parametrize(
    ("persistence", "how", "survive"),
    [
        ("none", "kill", False),
        ("none", "stop", False),
        ("rdb", "kill", False),  # no snapshot point reached yet
        ("rdb", "stop", True),  # a clean shutdown writes the snapshot
        ("aof", "kill", True),  # written to the file before the reply: a process crash loses none
        ("aof", "stop", True),
    ],
)
def test_redis_stream_across_a_restart(persistence: str, how: str, survive: bool) -> None:
    count = 300
    assert logs.redis_survivors(persistence, how, count) == (count if survive else 0)

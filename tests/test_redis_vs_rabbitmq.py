"""The Redis-versus-RabbitMQ comparison, run small: each side does what docs/report.md says.

Runs the code of ``scripts/benchmarks/redis_vs_rabbitmq.py`` with small sizes.
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

from benchmarks import redis_vs_rabbitmq as bench
from benchmarks.servers import RedisServer

from tests.conftest import AMQP_URL

SMALL = bench.FanoutSize(members=6, processes=2, messages=80, rate=40.0, away=0.5)


@pytest.fixture(scope="module")
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer("none", port=0)
    yield server
    server.close()


@pytest.fixture(params=["redis", "amqp"])
def target(
    request: pytest.FixtureRequest, own_redis: RedisServer, namespace: str
) -> Iterator[bench.Target]:
    ns = namespace
    if request.param == "redis":
        yield bench.Target("redis", own_redis.url, ns)
        return
    target = bench.Target("amqp", AMQP_URL, ns)
    yield target
    bench._cleanup_amqp(target)


def test_fanout_members_away(target: bench.Target) -> None:
    """Every member gets every message; one that stops reading gets it all late;
    one that reconnects gets nothing of what was sent while it was gone."""
    run = bench.fanout(target, SMALL)

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


def test_slow_subscriber_in_a_burst(target: bench.Target, own_redis: RedisServer) -> None:
    """Past the output buffer limit Redis drops the subscriber; RabbitMQ queues for it."""
    if target.kind == "redis":
        bench.output_buffer_limit(own_redis.url, "1mb")
    count = 256  # 16 MB of 64 KB messages: more than the socket buffers and the limit
    got = bench.burst(target, count, 64 * 1024, pause=0.5)
    if target.kind == "redis":
        assert got.disconnected
        assert got.received < count
    else:
        assert not got.disconnected
        assert got.received == count


def test_history_replays_everything_in_order(target: bench.Target) -> None:
    run = bench.history(target, 500)
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
    assert bench.redis_survivors(persistence, how, count) == (count if survive else 0)

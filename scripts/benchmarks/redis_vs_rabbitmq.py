"""Redis beside RabbitMQ for group chats: the same workloads on both, in one run.

- ``redis-vs-rabbitmq-fanout``: a paced group chat to 50 members, Redis
  pub/sub beside a RabbitMQ topic exchange with one exclusive queue per
  member (declared by :mod:`chat.groups.amqp`, as the client does): delivered
  count, p50 and p99; what a member that stops reading for 2 s receives, what
  one that disconnects and reconnects after 2 s receives; and what a
  subscriber that stops reading during a large burst receives (Redis
  disconnects it past ``client-output-buffer-limit``).
- ``redis-vs-rabbitmq-history``: 10,000 messages appended, then read from the
  start by a late joiner: Redis Streams (``XADD``, paged ``XRANGE``) beside a
  RabbitMQ stream (declared and consumed by :mod:`chat.groups.amqp`).
- ``redis-vs-rabbitmq-restart``: how many of N appended messages survive a
  server restart: Redis without persistence, with its default RDB snapshots,
  and with AOF (``appendfsync everysec``), beside a durable RabbitMQ stream;
  each killed (SIGKILL) and stopped cleanly.

Redis always runs as a ``redis-server`` of our own (:mod:`benchmarks.servers`),
so its settings can be changed and it can be killed. RabbitMQ is the shared
broker for the first two, and a node of our own for the restarts. Every size
is a parameter, so ``tests/test_redis_vs_rabbitmq.py`` runs the same code small.
"""

from __future__ import annotations

from benchmarks.common import AMQP_URL, Result, median, namespace, percentile
from benchmarks.delivery import FULL, Away, FanoutSize, burst, fanout
from benchmarks.logs import amqp_survivors, cleanup_amqp, history, redis_survivors
from benchmarks.members import Target
from benchmarks.servers import RabbitNode, RedisServer, free_port

#: Ports of this benchmark's own servers when run from scripts/bench.py.
REDIS_PORTS = range(6420, 6440)
AMQP_PORTS = range(5720, 5740)
DIST_OFFSET = 20000  # the Erlang distribution port sits 20,000 above the AMQP port

# -- the scenarios ------------------------------------------------------------------------


def _own_redis(persistence: str) -> RedisServer:
    return RedisServer(persistence, free_port(REDIS_PORTS))


def _away_results(scenario: str, system: str, record: Away, size: FanoutSize) -> list[Result]:
    what = f"{system} {size.away:.0f} s"
    lateness = max(record.latencies, default=0.0)
    ordered = record.received == sorted(record.received)
    return [
        Result(
            scenario,
            f"{what}: got",
            len(set(record.received)),
            "msgs",
            f"of {size.messages}" + ("" if ordered else ", OUT OF ORDER"),
        ),
        Result(
            scenario,
            f"{what}: sent before / got",
            record.got(record.before),
            "msgs",
            f"of {len(record.before)}",
        ),
        Result(
            scenario,
            f"{what}: sent while away / got",
            record.got(record.during),
            "msgs",
            f"of {len(record.during)}",
        ),
        Result(
            scenario,
            f"{what}: sent after / got",
            record.got(record.after),
            "msgs",
            f"of {len(record.after)}",
        ),
        Result(scenario, f"{what}: latest arrival", lateness * 1000, "ms"),
    ]


def fanout_scenario(size: FanoutSize = FULL, burst_mb: int = 64) -> list[Result]:
    scenario = "redis-vs-rabbitmq-fanout"
    server = _own_redis("none")
    targets = {
        "Redis pub/sub": Target("redis", server.url, namespace()),
        "RabbitMQ exclusive queues": Target("amqp", AMQP_URL, namespace()),
    }
    results: list[Result] = []
    try:
        for system, target in targets.items():
            run = fanout(target, size)
            ms = [s * 1000 for s in run.latencies]
            what = f"{system}, {size.members} members, {size.rate:.0f} msg/s"
            results += [
                Result(scenario, f"{what}: delivered", len(ms), "msgs", f"of {run.expected}"),
                Result(scenario, f"{what}: p50", median(ms), "ms"),
                Result(scenario, f"{what}: p99", percentile(ms, 99), "ms"),
            ]
            results += _away_results(scenario, f"{system}, stopped reading", run.paused, size)
            results += _away_results(scenario, f"{system}, reconnecting", run.rejoined, size)
            count = burst_mb * 1024 // 64
            got = burst(target, count, 64 * 1024)
            results.append(
                Result(
                    scenario,
                    f"{system}, stopped reading during a {burst_mb} MB burst: got",
                    got.received,
                    "msgs",
                    f"of {got.sent}" + (", disconnected by the server" if got.disconnected else ""),
                )
            )
    finally:
        server.close()
        cleanup_amqp(targets["RabbitMQ exclusive queues"])
    return results


def history_scenario(count: int = 10_000) -> list[Result]:
    scenario = "redis-vs-rabbitmq-history"
    server = _own_redis("aof")
    targets = {
        "Redis Streams (AOF everysec)": Target("redis", server.url, namespace()),
        "RabbitMQ stream": Target("amqp", AMQP_URL, namespace()),
    }
    results: list[Result] = []
    try:
        for system, target in targets.items():
            run = history(target, count)
            whole = run.replayed == list(range(count))
            results += [
                Result(
                    scenario, f"{system}: append, one at a time, answered", run.append_rate, "msg/s"
                ),
                Result(
                    scenario,
                    f"{system}: replay {count:,} from the start",
                    run.replay,
                    "s",
                    "all, in order" if whole else "INCOMPLETE",
                    whole,
                ),
            ]
    finally:
        server.close()
        cleanup_amqp(targets["RabbitMQ stream"])
    return results


def restart_scenario(count: int = 10_000) -> list[Result]:
    scenario = "redis-vs-rabbitmq-restart"
    results: list[Result] = []
    for persistence in ("none", "rdb", "aof"):
        for how in ("kill", "stop"):
            left = redis_survivors(persistence, how, count, free_port(REDIS_PORTS))
            results.append(
                Result(
                    scenario,
                    f"Redis stream, persistence {persistence}, {how}",
                    left,
                    "msgs",
                    f"of {count}",
                )
            )
    port = free_port(AMQP_PORTS)
    node = RabbitNode(f"report-bench-{port}", port, port + DIST_OFFSET)
    try:
        for how in ("stop", "kill"):  # a killed node may leave its streams down: last
            left, seconds = amqp_survivors(node, how, count)
            note = f"of {count}" if left is not None else "stream not served within 120 s"
            results += [
                Result(scenario, f"RabbitMQ durable stream, {how}", left or 0.0, "msgs", note),
                Result(
                    scenario, f"RabbitMQ durable stream, {how}: back up to all read", seconds, "s"
                ),
            ]
    finally:
        node.close()
    return results


SCENARIOS = {
    "redis-vs-rabbitmq-fanout": fanout_scenario,
    "redis-vs-rabbitmq-history": history_scenario,
    "redis-vs-rabbitmq-restart": restart_scenario,
}

"""Cluster figures: failover time, and group fan-out and send rate beside a single node.

- ``cluster-failover``: a member of a persistent group on node k; the node is
  stopped (``rabbitmqctl stop_app``); measured from the stop until the
  member's first message after it is confirmed (the member tries again every
  20 ms while it is disconnected, as an impatient user would). Five rounds,
  each on the next node, the stopped node started again between rounds.
- ``cluster-groups``: the fan-out and send-rate measures of
  :mod:`benchmarks.groups`, run once against the cluster and once against the
  single node (``CHAT_AMQP_URL``), in the same run, in child processes whose
  environment names the servers.

- ``sentinel-failover``: the Redis primary is killed (SIGKILL); measured from
  the kill until the Sentinels name the replica as primary, and until a
  write through the client's ``redis+sentinel://`` connection succeeds.
  Three rounds; the killed server is started again (as a replica) between
  rounds and the next round kills whichever server is primary then.

The cluster is started by ``start-server.sh --cluster`` on free ports and
stopped by PID at the end.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import redis
import redis.sentinel
from localcluster import LocalCluster

from benchmarks.common import Result, median, namespace
from benchmarks.groups import Headless
from chat.config import Config
from chat.groups.session import GroupSession
from nameserver.connect import connect

ROUNDS = 5
HERE = Path(__file__).resolve().parent


def _started() -> LocalCluster:
    cluster = LocalCluster(f"cluster-b{uuid.uuid4().hex[:6]}")
    try:
        cluster.start()
    except Exception:
        cluster.stop()
        raise
    return cluster


def _ctl(cluster: LocalCluster, node: int, *args: str) -> None:
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    cookie = cluster.record()["cookie"]
    subprocess.run(
        [ctl, "--erlang-cookie", cookie, "-n", cluster.node_name(node), *args],
        check=True,
        capture_output=True,
        timeout=120,
    )


def _one_failover(cluster: LocalCluster, node: int) -> tuple[float, float]:
    """Seconds from the stop command, and from the node closing the connection,
    to the first confirmed message."""
    urls = cluster.amqp_urls[node - 1 :] + cluster.amqp_urls[: node - 1]
    config = Config(
        redis_url=cluster.redis_url, amqp_url=",".join(urls), namespace=namespace(), log_dir="/tmp"
    )
    connection = connect(config.redis_url)
    member = Headless(config, connection, "failover")
    try:
        session = GroupSession(member.client, "failover", "connect", "persistent")
        session.start()
        assert member.broker.url == urls[0]
        lost: list[float] = []
        member.broker.add_listener(on_lost=lambda: lost.append(time.perf_counter()))
        stopping = threading.Thread(target=_ctl, args=(cluster, node, "stop_app"))
        started = time.perf_counter()
        stopping.start()
        # Let the stop begin: a message confirmed before it is not a failover.
        while member.broker.connected and time.perf_counter() - started < 30:
            time.sleep(0.005)
        n = 0
        while time.perf_counter() - started < 60:
            n += 1
            text = f"after the stop {n}"
            if member.on_ui(lambda text=text: session.send(text)) is not None:
                time.sleep(0.02)  # not connected yet: the text stays in the box
                continue
            status = _wait_status(member, session, text)
            if status == "sent":
                confirmed = time.perf_counter()
                break
        else:
            raise RuntimeError("no message was confirmed within 60 s of the stop")
        stopping.join(60)
        member.on_ui(session.close)
        return confirmed - started, confirmed - (lost[0] if lost else started)
    finally:
        member.close()
        connection.close()
        _ctl(cluster, node, "start_app")


def _wait_status(member: Headless, session: GroupSession, text: str) -> str:
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline:
        status = member.on_ui(
            lambda: next((e.status for e in session.log.entries if e.text == text), "sending")
        )
        if status != "sending":
            return status
        time.sleep(0.005)
    return "timeout"


def failover() -> list[Result]:
    cluster = _started()
    try:
        rounds = [_one_failover(cluster, 1 + k % 3) for k in range(ROUNDS)]
    finally:
        cluster.stop()
    from_command = [r[0] for r in rounds]
    from_drop = [r[1] for r in rounds]
    best = median(from_command)
    return [
        Result(
            "cluster-failover",
            f"stop_app run -> first confirmed message, median of {ROUNDS}",
            best,
            "s",
            "<= 5 s",
            best <= 5,
        ),
        Result("cluster-failover", f"stop_app run: slowest of {ROUNDS}", max(from_command), "s"),
        Result(
            "cluster-failover",
            f"node closed the connection -> first confirmed, median of {ROUNDS}",
            median(from_drop),
            "s",
        ),
        Result("cluster-failover", f"connection closed: slowest of {ROUNDS}", max(from_drop), "s"),
    ]


_CHILD = """
import dataclasses, json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from benchmarks import groups
results = groups.fanout() + groups.send_rate()
print(json.dumps([dataclasses.asdict(r) for r in results]))
"""


def _groups_figures(env: dict[str, str]) -> list[Result]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(HERE.parent), str(HERE.parent.parent)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return [Result(**row) for row in json.loads(done.stdout.strip().splitlines()[-1])]


def groups_side_by_side() -> list[Result]:
    single = _groups_figures({})
    cluster = _started()
    try:
        env = {"CHAT_AMQP_URL": ",".join(cluster.amqp_urls), "CHAT_REDIS_URL": cluster.redis_url}
        on_cluster = _groups_figures(env)
    finally:
        cluster.stop()
    results = []
    for label, rows in (("single node", single), ("3-node cluster", on_cluster)):
        for row in rows:
            results.append(
                dataclasses.replace(row, scenario="cluster-groups", metric=f"{label}: {row.metric}")
            )
    return results


SERVICE = "distchat"  # the Sentinel service name start-server.sh --cluster uses


def _one_promotion(cluster: LocalCluster) -> tuple[float, float]:
    """Seconds from killing the primary to its replacement named, and to a write."""
    sentinels = redis.sentinel.Sentinel([("127.0.0.1", p) for p in cluster.sentinel_ports()])
    port = sentinels.discover_master(SERVICE)[1]
    primary = 1 if port == cluster.redis_port(1) else 2
    connection = connect(cluster.redis_url)
    key = f"bench:{uuid.uuid4().hex}"
    connection.set(key, "before", ex=60)
    killed = cluster.kill_redis(primary)
    promoted = wrote = None
    while promoted is None and time.monotonic() - killed < 60:
        try:
            if sentinels.discover_master(SERVICE)[1] != port:
                promoted = time.monotonic()
        except redis.sentinel.MasterNotFoundError:  # down, not replaced yet
            pass
        time.sleep(0.01)
    while promoted is not None and wrote is None and time.monotonic() - killed < 60:
        try:
            connection.set(key, "after", ex=60)  # the client's own retries included
            wrote = time.monotonic()
        except redis.RedisError:
            time.sleep(0.01)
    connection.close()
    if promoted is None or wrote is None:
        raise RuntimeError("no new primary within 60 s of the kill")
    cluster.start()  # the killed server comes back as a replica of the new primary
    return promoted - killed, wrote - killed


def sentinel_failover() -> list[Result]:
    cluster = _started()
    try:
        rounds = [_one_promotion(cluster) for _ in range(3)]
    finally:
        cluster.stop()
    named, written = [r[0] for r in rounds], [r[1] for r in rounds]
    return [
        Result(
            "sentinel-failover", "kill -> replica named primary, median of 3", median(named), "s"
        ),
        Result("sentinel-failover", "kill -> replica named primary, slowest", max(named), "s"),
        Result(
            "sentinel-failover", "kill -> first write succeeds, median of 3", median(written), "s"
        ),
        Result("sentinel-failover", "kill -> first write succeeds, slowest", max(written), "s"),
    ]


SCENARIOS = {
    "cluster-failover": failover,
    "cluster-groups": groups_side_by_side,
    "sentinel-failover": sentinel_failover,
}

"""Start-up time, idle cost of a client, and listing clients from the name server."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pexpect

from benchmarks.common import REDIS_URL, Result, median, namespace
from nameserver.connect import connect
from nameserver.keys import Keys
from nameserver.registry import ClientRecord, Registry, new_client_id

ROOT = Path(__file__).resolve().parents[2]


def _spawn(ns: str, name: str) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable,
        ["-m", "chat.app", "--name", name, "--namespace", ns, "--log-dir", "/tmp/distchat-bench"],
        cwd=str(ROOT),
        encoding="utf-8",
        timeout=20,
    )


def _cleanup(ns: str) -> None:
    connection = connect(REDIS_URL)
    keys = list(connection.scan_iter(match=Keys(ns).pattern, count=1000))
    if keys:
        connection.delete(*keys)


def startup(runs: int = 7) -> list[Result]:
    """Process start to the menu prompt, median of several runs."""
    ns = namespace()
    times = []
    for n in range(runs):
        started = time.perf_counter()
        child = _spawn(ns, f"bench{n}")
        child.expect("Choose")
        times.append(time.perf_counter() - started)
        child.sendline(str(1_000))  # not a choice; then end of input
        child.sendeof()
        child.expect(pexpect.EOF)
        child.close()
    _cleanup(ns)
    value = median(times)
    return [
        Result(
            "startup",
            f"client start to menu (median of {runs})",
            value,
            "s",
            "<= 1.5 s",
            value <= 1.5,
        )
    ]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def idle(seconds: float = 20.0) -> list[Result]:
    """Memory and CPU of a client sitting at the menu (heartbeats included)."""
    ns = namespace()
    child = _spawn(ns, "idle")
    child.expect("Choose")
    time.sleep(2)  # let start-up work settle before measuring the idle state
    cpu0, t0 = _cpu_seconds(child.pid), time.monotonic()
    time.sleep(seconds)
    cpu = (_cpu_seconds(child.pid) - cpu0) / (time.monotonic() - t0) * 100
    rss = _rss_mb(child.pid)
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    _cleanup(ns)
    return [
        Result("idle", "resident memory at the menu", rss, "MB", "<= 80 MB", rss <= 80),
        Result(
            "idle", f"CPU at the menu over {seconds:.0f} s", cpu, "% of a core", "< 1 %", cpu < 1
        ),
    ]


def listing(count: int = 1000, runs: int = 30) -> list[Result]:
    """Listing ``count`` live clients from the name server, median of several runs."""
    ns = namespace()
    connection = connect(REDIS_URL)
    registry = Registry(connection, Keys(ns), ttl=120)
    pipe = connection.pipeline(transaction=False)
    expiry = time.time() + 120
    for n in range(count):
        record = ClientRecord(new_client_id(), f"user{n}", "10.0.0.1", 40000 + n, time.time())
        pipe.set(registry.keys.client(record.id), record.to_json(), ex=120)
        pipe.zadd(registry.keys.clients, {record.id: expiry})
    pipe.execute()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        found = registry.list_clients()
        times.append((time.perf_counter() - started) * 1000)
    assert len(found) == count, len(found)
    _cleanup(ns)
    value = median(times)
    return [
        Result(
            "listing",
            f"list {count} live clients (median of {runs})",
            value,
            "ms",
            "<= 30 ms",
            value <= 30,
        )
    ]


SCENARIOS = {"startup": startup, "idle": idle, "listing": listing}

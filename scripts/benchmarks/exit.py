"""How long a client takes to leave cleanly, for each way it can end.

A real client process in a pseudo-terminal, with a private chat open to a
client in this process, is ended by Ctrl-C, SIGTERM, SIGHUP or by closing its
terminal. Measured from the signal: its record gone from Redis, and the peer
told goodbye (not a lost connection). Target: 1 s.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pexpect

from benchmarks.common import AMQP_URL, REDIS_URL, Result, median, namespace
from benchmarks.foundation import _cleanup, _spawn
from chat.config import Config
from nameserver.connect import connect
from nameserver.keys import Keys
from nameserver.registry import Registry
from tests.support import TestClient, wait_for

RUNS = 3


def _end(child: pexpect.spawn, how: str) -> None:
    if how == "terminal closed":
        child.ptyproc.fileobj.close()
    else:
        child.kill(getattr(signal, how))


def _one(ns: str, registry: Registry, peer: TestClient, how: str, n: int) -> tuple[float, float]:
    child = _spawn(ns, f"leaver{n}")
    child.expect(r"\(ID (\w+)\)")
    client_id = child.match.group(1)
    child.expect("Choose")
    peer.private.open_with(registry.get(client_id))
    conversation = peer.private._chats[client_id]
    started = time.perf_counter()
    _end(child, how)
    gone = _timed(lambda: registry.get(client_id) is None, started)
    told = _timed(lambda: conversation.session.done.is_set(), started)
    if conversation.session._goodbye_seen is not True:
        raise RuntimeError(f"{how}: the peer saw a lost connection, not a goodbye")
    wait_for(lambda: not child.isalive(), timeout=10, what="the client to exit")
    return gone, told


def _timed(condition: Callable[[], bool], started: float) -> float:
    wait_for(condition, timeout=10, what="the clean exit")
    return time.perf_counter() - started


def _storm(ns: str, registry: Registry, peers: list[TestClient]) -> float:
    child = _spawn(ns, "stormed")
    child.expect(r"\(ID (\w+)\)")
    client_id = child.match.group(1)
    child.expect("Choose")
    sessions = []
    for peer in peers:
        peer.private.open_with(registry.get(client_id))
        sessions.append(peer.private._chats[client_id].session)
    for n in range(300):  # a backlog in every window
        for session in sessions:
            session.send(f"message {n}")
    started = time.perf_counter()
    for _ in range(200):
        try:
            os.kill(child.pid, signal.SIGINT)
        except ProcessLookupError:
            break
    wait_for(lambda: not child.isalive(), timeout=10, what="the client to exit")
    return time.perf_counter() - started


def exit_times() -> list[Result]:
    ns = namespace()
    config = Config(redis_url=REDIS_URL, amqp_url=AMQP_URL, namespace=ns, log_dir="/tmp")
    registry = Registry(connect(REDIS_URL), Keys(ns))
    peer = TestClient(config, registry, "peer", keys={"private"})
    results = []
    try:
        for how in ("SIGINT", "SIGTERM", "SIGHUP", "terminal closed"):
            runs = [_one(ns, registry, peer, how, n) for n in range(RUNS)]
            gone = median([g for g, _ in runs])
            told = median([t for _, t in runs])
            results += [
                Result(
                    "exit", f"{how}: record gone (median of {RUNS})", gone, "s", "<= 1 s", gone <= 1
                ),
                Result(
                    "exit",
                    f"{how}: peer told goodbye (median of {RUNS})",
                    told,
                    "s",
                    "<= 1 s",
                    told <= 1,
                ),
            ]
        peers = [peer] + [
            TestClient(config, registry, f"peer{n}", keys={"private"}) for n in range(2)
        ]
        try:
            storm = median([_storm(ns, registry, peers) for _ in range(RUNS)])
        finally:
            for other in peers[1:]:
                other.close()
        results.append(
            Result(
                "exit",
                f"200 Ctrl-C while chatting: gone (median of {RUNS})",
                storm,
                "s",
                "<= 1 s",
                storm <= 1,
            )
        )
    finally:
        peer.close()
        _cleanup(ns)
    return results


SCENARIOS = {"exit": exit_times}

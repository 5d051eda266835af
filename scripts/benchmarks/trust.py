"""Cost of signatures: signing bodies, verifying a 10,000-message history, and
verifying what a window shows when joining a group that holds it (the newest
pages only, see ``chat/groups/paging.py``)."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from benchmarks.common import Result
from chat.groups import paging
from chat.transport.wire import ChatMessage, decode_object
from chat.trust import signing
from chat.trust.identity import Identity
from chat.trust.known_peers import KnownPeers
from chat.trust.verifier import Verifier

HISTORY = 10_000


def _history(senders: list[Identity]) -> list[bytes]:
    bodies = []
    for n in range(HISTORY):
        message = ChatMessage(
            sender_id=f"sender{n % len(senders):02d}",
            sender_name=f"user{n % len(senders)}",
            chat="lobby",
            text=f"message number {n}: " + "lorem ipsum " * 6,
        )
        signed = signing.sign(senders[n % len(senders)], json.loads(message.encode()))
        bodies.append(json.dumps(signed, ensure_ascii=False).encode("utf-8"))
    return bodies


def _edge(bodies: list[bytes], verifier: Verifier) -> None:
    """What a receiver does with each body: the wire edge's parse, then the verifier."""
    for body in bodies:
        fields = decode_object(body)
        verdict = verifier.check(fields, fields["sender_id"], fields["sender_name"])
        assert verdict.ok


def _edge_cpu(bodies: list[bytes]) -> float:
    """CPU of :func:`_edge` with a fresh known-peers database (every sender a first
    meeting), senders not registered."""
    with tempfile.TemporaryDirectory() as tmp:
        peers = KnownPeers(Path(tmp) / "known.db")
        try:
            started = time.process_time()
            _edge(bodies, Verifier(lambda _id: None, peers))
            return time.process_time() - started
        finally:
            peers.close()


def _pages_at_join() -> int:
    """Pages a joiner reads before going live: until FIRST_SCREEN texts are shown
    (every body here is a text)."""
    return -(-paging.FIRST_SCREEN // paging.PAGE)


def verify_history(runs: int = 3) -> list[Result]:
    """CPU time to parse and verify a persistent group's history of 10,000 bodies."""
    senders = [Identity.generate() for _ in range(20)]
    bodies = _history(senders)
    best_verify = best_raw = best_sign = best_edge = best_join = float("inf")
    pages = _pages_at_join()
    shown = pages * paging.PAGE
    for _ in range(runs):
        started = time.process_time()
        checked = [signing.verify(json.loads(body)) for body in bodies]
        best_verify = min(best_verify, time.process_time() - started)
        assert all(check.ok for check in checked)
        # What a receiver does: the wire edge's parse, then the verifier (signature,
        # name server look-up cached per sender, known peers), senders not registered.
        best_edge = min(best_edge, _edge_cpu(bodies))
        # Joining with paged history: only the newest pages are read and verified.
        best_join = min(best_join, _edge_cpu(bodies[-shown:]))
        # The yardstick: bare Ed25519 verifications of the same count.
        data = b"x" * 200
        signature = senders[0].sign(data)
        key = senders[0].public_key_b64
        started = time.process_time()
        for _ in range(HISTORY):
            signing.verify_signature(key, signature, data)
        best_raw = min(best_raw, time.process_time() - started)
        fields = json.loads(bodies[0])
        started = time.process_time()
        for _ in range(HISTORY):
            signing.sign(senders[0], fields)
        best_sign = min(best_sign, time.process_time() - started)
    return [
        Result(
            "verify-history",
            f"parse + verify {HISTORY:,} signed bodies, CPU (best of {runs})",
            best_verify,
            "s",
            "<= 0.5 s",
            best_verify <= 0.5,
        ),
        Result(
            "verify-history",
            f"wire edge + verifier (known peers) x {HISTORY:,}, CPU (best of {runs})",
            best_edge,
            "s",
            "<= 0.5 s",
            best_edge <= 0.5,
        ),
        Result(
            "verify-history",
            f"joining a {HISTORY:,}-message group: wire edge + verifier on the newest "
            f"{pages} page(s) ({shown} bodies), CPU (best of {runs})",
            best_join * 1e3,
            "ms",
            "<= 500 ms",
            best_join <= 0.5,
        ),
        Result(
            "verify-history", f"bare Ed25519 verify x {HISTORY:,}, CPU", best_raw, "s", "measured"
        ),
        Result(
            "verify-history",
            "sign one body, CPU",
            best_sign / HISTORY * 1e6,
            "µs",
            "measured",
        ),
    ]


SCENARIOS = {"verify-history": verify_history}

"""Cost of signatures: signing bodies, and verifying a 10,000-message history."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from benchmarks.common import Result
from chat import signing
from chat.identity import Identity
from chat.known_peers import KnownPeers
from chat.trust import Verifier
from chat.wire import ChatMessage, decode_object

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


def verify_history(runs: int = 3) -> list[Result]:
    """CPU time to parse and verify a persistent group's history of 10,000 bodies."""
    senders = [Identity.generate() for _ in range(20)]
    bodies = _history(senders)
    best_verify = best_raw = best_sign = best_edge = float("inf")
    for _ in range(runs):
        started = time.process_time()
        checked = [signing.verify(json.loads(body)) for body in bodies]
        best_verify = min(best_verify, time.process_time() - started)
        assert all(check.ok for check in checked)
        # What a receiver does: the wire edge's parse, then the verifier (signature,
        # name server look-up cached per sender, known peers), senders not registered.
        with tempfile.TemporaryDirectory() as tmp:
            peers = KnownPeers(Path(tmp) / "known.db")
            verifier = Verifier(lambda _id: None, peers)
            started = time.process_time()
            for body in bodies:
                fields = decode_object(body)
                verdict = verifier.check(fields, fields["sender_id"], fields["sender_name"])
            best_edge = min(best_edge, time.process_time() - started)
            assert verdict.ok
            peers.close()
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
            "verify_history",
            f"parse + verify {HISTORY:,} signed bodies, CPU (best of {runs})",
            best_verify,
            "s",
            "<= 0.5 s",
            best_verify <= 0.5,
        ),
        Result(
            "verify_history",
            f"wire edge + verifier (known peers) x {HISTORY:,}, CPU (best of {runs})",
            best_edge,
            "s",
            "<= 0.5 s",
            best_edge <= 0.5,
        ),
        Result(
            "verify_history", f"bare Ed25519 verify x {HISTORY:,}, CPU", best_raw, "s", "measured"
        ),
        Result(
            "verify_history",
            "sign one body, CPU",
            best_sign / HISTORY * 1e6,
            "µs",
            "measured",
        ),
    ]


SCENARIOS = {"verify_history": verify_history}

"""What every scenario returns, and the settings they share."""

from __future__ import annotations

import os
import statistics
import uuid
from dataclasses import dataclass

REDIS_URL = os.environ.get("CHAT_REDIS_URL", "redis://127.0.0.1:6379/0")
#: Every broker node given (a cluster's, comma-separated) ...
AMQP_URLS = os.environ.get("CHAT_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F").split(",")
#: ... and the first, for bare pika.
AMQP_URL = AMQP_URLS[0]


def amqp_urls(shift: int = 0) -> list[str]:
    """The broker nodes starting with the ``shift``-th, so clients spread over a cluster."""
    k = shift % len(AMQP_URLS)
    return AMQP_URLS[k:] + AMQP_URLS[:k]


@dataclass
class Result:
    """One measured figure and the target it is held to (None: measured only)."""

    scenario: str
    metric: str
    value: float
    unit: str
    target: str = ""
    ok: bool | None = None


def namespace() -> str:
    """A fresh namespace so a benchmark never meets real users' data."""
    return f"bench-{uuid.uuid4().hex[:8]}"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def median(values: list[float]) -> float:
    return statistics.median(values)

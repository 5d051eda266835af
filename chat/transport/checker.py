"""A worker thread that decodes and verifies what a consumer received, in order.

Signature checks may wait on Redis (a sender's record, 5 s timeout, retried)
and SQLite (known peers); the broker thread serves every consumer of the
client and must never wait on them. Each open group, and the insult channel,
has a worker of its own, so a stall in one consumer's checks never holds up
another, and one consumer's messages keep their order.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Job = Callable[[], None]


class Checker:
    """A thread running jobs one after another, in the order they were handed in.

    Args:
        name: the thread's name (for the log).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._stopped = threading.Event()
        self._thread.start()

    def put(self, job: Job) -> None:
        """Run ``job`` after the jobs handed in before it (any thread)."""
        if not self._stopped.is_set():
            self._jobs.put(job)

    def idle(self) -> bool:
        """True when no job waits (the worker thread asks it after each job)."""
        return self._jobs.empty()

    def stop(self) -> None:
        """Run no more jobs; the thread ends after the one it runs (any thread, idempotent)."""
        if not self._stopped.is_set():
            self._stopped.set()
            self._jobs.put(None)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None or self._stopped.is_set():
                return
            try:
                job()
            except Exception:
                log.exception("%s: a check failed", self.name)

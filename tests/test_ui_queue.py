"""The UI queue's wake-up pipe under a busy worker thread (no display needed)."""

from __future__ import annotations

import select
import threading
import time

from chat.front.ui import UiQueue


def test_a_busy_worker_never_leaves_calls_stranded():
    """Posts racing with drains must always leave a wake-up byte for the next drain."""
    calls = UiQueue()
    done: list[int] = []
    total = 50_000

    def worker() -> None:
        for n in range(total):
            calls.post(done.append, n)

    thread = threading.Thread(target=worker)
    thread.start()
    deadline = time.monotonic() + 10
    try:
        # The main loop's part: sleep until the pipe is readable, then drain.
        while len(done) < total:
            assert time.monotonic() < deadline, f"stranded after {len(done)} of {total} calls"
            readable, _, _ = select.select([calls.read_fd], [], [], 1.0)
            if readable:
                calls.drain()
        assert done == list(range(total))
    finally:
        thread.join()
        calls.close()

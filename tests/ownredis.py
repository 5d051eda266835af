"""A redis-server of a test's own, on a free port, for tests that flush or stop it."""

from __future__ import annotations

import shutil
import socket
import subprocess

import pytest
import redis

from tests.support import wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OwnRedis:
    """Starts on entering, stops (by its PID) on leaving; :meth:`stop` and
    :meth:`start` again keep the port, as a restarted server does."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.connection = redis.Redis(port=self.port, socket_timeout=2)

    def start(self) -> None:
        server = shutil.which("redis-server")
        if server is None:
            pytest.fail("redis-server is not installed")
        self.process = subprocess.Popen(
            [server, "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        wait_for(self._answers, what="the test's own redis-server")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def _answers(self) -> bool:
        try:
            return bool(self.connection.ping())
        except redis.ConnectionError:
            return False

    def __enter__(self) -> OwnRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.connection.close()
        self.stop()

"""Private Redis and RabbitMQ servers for measurements that stop or reconfigure a server.

The shared servers (Redis on 6379, RabbitMQ on 5672) serve everyone on the
machine and are never restarted, flushed or reconfigured here. Anything that
kills a server runs one of these instead: a ``redis-server`` or a RabbitMQ
node of our own, in a temporary directory, on a port given by the caller or
picked free by the kernel, stopped by its process ID.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import ClassVar

import pika
import pika.exceptions
import redis

#: Where Debian's package keeps the scripts that run as the calling user (the
#: ones in /usr/sbin switch to the ``rabbitmq`` user first).
RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")


def free_port(candidates: Iterable[int] | None = None) -> int:
    """A TCP port nothing listens on: the first free one of ``candidates``, or any."""
    for port in candidates if candidates is not None else [0]:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError(f"no free port among {candidates}")


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout:.0f} s")
        time.sleep(0.05)


class RedisServer:
    """A ``redis-server`` of our own; ``restart`` keeps its directory and settings.

    Args:
        persistence: ``none`` (no RDB, no AOF), ``rdb`` (Redis's default
            snapshot points) or ``aof`` (``appendonly yes``, ``appendfsync
            everysec``, no RDB).
        port: the port, or 0 for any free one.
    """

    PERSISTENCE: ClassVar[dict[str, list[str]]] = {
        "none": ["--save", "", "--appendonly", "no"],
        "rdb": ["--appendonly", "no"],
        "aof": ["--save", "", "--appendonly", "yes", "--appendfsync", "everysec"],
    }

    def __init__(self, persistence: str = "none", port: int = 0) -> None:
        self.persistence = persistence
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"bench-redis-{self.port}-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--dir", str(self.dir), *self.PERSISTENCE[self.persistence]]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        connection = redis.Redis(port=self.port, socket_connect_timeout=0.5)

        def answers() -> bool:
            try:
                return bool(connection.ping())
            except redis.exceptions.RedisError:
                return False

        try:
            _wait(answers, 20, f"redis-server on port {self.port} did not answer")
        finally:
            connection.close()

    def halt(self, how: str) -> None:
        """``kill`` (SIGKILL: a crash) or ``stop`` (SIGTERM: Redis shuts down cleanly)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL if how == "kill" else signal.SIGTERM)
        self.process.wait(30)

    def restart(self, how: str) -> None:
        self.halt(how)
        self.start()

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class RabbitNode:
    """A RabbitMQ node of our own (its own name, ports, data and log directories).

    No plugins, so it never reaches for the management ports others use.
    ``start`` waits until an AMQP connection opens. ``advanced`` is the text of
    an Erlang-term ``advanced.config`` (settings ``rabbitmq.conf`` lacks, such
    as ``channel_tick_interval``); empty by default.
    """

    def __init__(self, name: str, port: int, dist_port: int, advanced: str = "") -> None:
        self.node = f"{name}@localhost"
        self.port = port
        self.base = Path(tempfile.mkdtemp(prefix=f"bench-rabbit-{port}-"))
        (self.base / "enabled_plugins").write_text("")
        (self.base / "rabbitmq-env.conf").write_text("")
        (self.base / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{port}\n")
        (self.base / "advanced.config").write_text(advanced or "[].\n")
        self.env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(port),
            "RABBITMQ_DIST_PORT": str(dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_PID_FILE": str(self.base / "node.pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(self.base / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.base / "advanced.config"),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def _bin(self, name: str) -> str:
        own = RABBITMQ_BIN / name
        return str(own) if own.exists() else name

    def ctl(self, *args: str) -> str:
        """``rabbitmqctl -q -n NODE ARGS...`` against this node; its output."""
        done = subprocess.run(
            [self._bin("rabbitmqctl"), "-q", "-n", self.node, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    def start(self) -> None:
        with open(self.base / "server.out", "ab") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                [self._bin("rabbitmq-server")], env=self.env, stdout=log, stderr=log
            )
        parameters = pika.URLParameters(self.url + "?connection_attempts=1&socket_timeout=1")

        def answers() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"RabbitMQ node {self.node} exited; see {self.base}/log")
            try:
                pika.BlockingConnection(parameters).close()
                return True
            except pika.exceptions.AMQPError:
                return False

        _wait(answers, 120, f"RabbitMQ node {self.node} did not open")

    def _beam_pid(self) -> int:
        return int((self.base / "node.pid").read_text().strip())

    def halt(self, how: str) -> None:
        """``kill`` (SIGKILL of the Erlang VM: a crash) or ``stop`` (``rabbitmqctl stop``)."""
        assert self.process is not None
        if how == "kill":
            os.kill(self._beam_pid(), signal.SIGKILL)
        else:
            subprocess.run(
                [self._bin("rabbitmqctl"), "-n", self.node, "stop"],
                env=self.env,
                check=True,
                capture_output=True,
                timeout=120,
            )
        self.process.wait(60)

    def restart(self, how: str) -> None:
        self.halt(how)
        self.start()

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.kill(self._beam_pid(), signal.SIGKILL)
            except (OSError, ValueError):
                self.process.kill()
            self.process.wait(30)
        shutil.rmtree(self.base, ignore_errors=True)

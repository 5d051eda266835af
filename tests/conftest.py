"""Fixtures: a real Redis and RabbitMQ, a unique namespace per test, a real Tk display."""

from __future__ import annotations

import dataclasses
import gc
import os
import subprocess
import uuid

# Tests fork client processes (pexpect) while gRPC threads run in this process;
# gRPC's fork handlers can then crash the child before it execs. The children
# exec a fresh interpreter anyway, so they need no fork support. Must be set
# before anything imports grpc.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from chat.config import Config
from chat.transport.broker import Broker
from nameserver.connect import connect
from nameserver.keys import Keys
from nameserver.registry import Registry
from tests.support import ClientProcess, TestClient

REDIS_URL = os.environ.get("CHAT_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("CHAT_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
#: Every test namespace starts with this, so leftovers on the broker are easy to find.
TEST_PREFIX = "t-"
#: Namespaces handed out in this test run: only their leftovers are deleted at the
#: end, never the names of a test run that is still going on elsewhere.
USED_NAMESPACES: set[str] = set()


@pytest.fixture
def namespace() -> str:
    """A fresh namespace: Redis keys and broker names no other test shares."""
    name = f"{TEST_PREFIX}{uuid.uuid4().hex[:10]}"
    USED_NAMESPACES.add(name)
    return name


@pytest.fixture
def redis_conn(namespace: str) -> Iterator[redis.Redis]:
    connection = connect(REDIS_URL)
    connection.ping()
    yield connection
    keys = list(connection.scan_iter(match=Keys(namespace).pattern, count=1000))
    if keys:
        connection.delete(*keys)
    connection.close()


@pytest.fixture
def registry(redis_conn: redis.Redis, namespace: str) -> Registry:
    return Registry(redis_conn, Keys(namespace), ttl=15)


@pytest.fixture
def config(namespace: str, tmp_path: Path) -> Config:
    return Config(
        redis_url=REDIS_URL,
        amqp_url=AMQP_URL,
        namespace=namespace,
        log_dir=str(tmp_path / "logs"),
        state_dir=str(tmp_path / "state"),
        advertise_host="127.0.0.1",
    )


@pytest.fixture
def broker() -> Iterator[Broker]:
    b = Broker(AMQP_URL, name="distchat tests")
    b.start()
    yield b
    b.close()


@pytest.fixture(scope="session")
def tk_root():
    """The test process's hidden Tk root on the real (or virtual) display."""
    import tkinter

    if not os.environ.get("DISPLAY"):
        if os.environ.get("CI"):
            pytest.fail("DISPLAY is not set: scripts/test.sh starts Xvfb for the GUI tests")
        pytest.skip("no DISPLAY (run through scripts/test.sh, which starts Xvfb)")
    root = tkinter.Tk()
    root.withdraw()
    yield root
    root.destroy()


@pytest.fixture
def make_client(config: Config, registry: Registry, request: pytest.FixtureRequest) -> Iterator:
    """Real clients in the test process (:class:`tests.support.TestClient`), closed afterwards.

    The one way tests make in-process clients; a module that wants a client
    of its own kind wraps this fixture rather than copying it.
    ``make_client(name, gui=True, config=None, cls=TestClient, settings=None, **kw)``:
    with ``gui`` the UI queue runs on the test's Tk root and windows open for
    real; ``cls`` is a subclass of :class:`TestClient` with the helpers a
    module wants; ``settings`` replaces fields of the test's configuration;
    ``kw`` goes to the client (``keys``, ``make``, ``drain``, ``started``).
    """
    made: list[TestClient] = []
    roots: list[object] = []

    def make(
        name: str,
        gui: bool = True,
        config: Config | None = None,
        cls: type[TestClient] = TestClient,
        settings: dict[str, Any] | None = None,
        **kw: Any,
    ) -> Any:
        root = request.getfixturevalue("tk_root") if gui else None
        if root is not None:
            roots.append(root)
        own = config or default
        if settings:
            own = dataclasses.replace(own, **settings)
        client = cls(own, registry, name, root=root, **kw)
        made.append(client)
        return client

    default = config
    yield make
    for client in made:
        client.close()
    for root in roots[:1]:
        root.update()  # type: ignore[attr-defined]
    # Closed windows can sit in reference cycles; free them here, on the Tk
    # thread, not later from a gRPC or broker thread's garbage collection.
    made.clear()
    gc.collect()


@pytest.fixture
def spawn(namespace: str, tmp_path: Path) -> Iterator:
    """Start real client processes in this test's namespace; all are killed afterwards."""
    started: list[ClientProcess] = []

    def start(
        name: str, *extra: str, ready: bool = True, env: dict[str, str] | None = None
    ) -> ClientProcess:
        # Identities and known peers go to this test's own state directory.
        env = {"CHAT_STATE_DIR": str(tmp_path / "state"), **(env or {})}
        proc = ClientProcess(
            name, namespace, tmp_path / "logs", "--advertise-host", "127.0.0.1", *extra, env=env
        )
        started.append(proc)
        if ready:
            proc.wait_ready()
        return proc

    yield start
    for proc in started:
        proc.kill()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that starts client processes (the ``spawn`` fixture) is a ``process`` test."""
    for item in items:
        if "spawn" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.process)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Delete what this run's tests left on the broker (names in their namespaces)."""
    for kind in ("queues", "exchanges"):
        try:
            out = subprocess.run(
                ["rabbitmqctl", "-q", f"list_{kind}", "name"],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            return
        names = [n for n in out.split() if n.split(".", 1)[0] in USED_NAMESPACES]
        if not names:
            continue
        import pika
        import pika.exceptions

        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        for name in names:
            channel = connection.channel()
            try:
                if kind == "queues":
                    channel.queue_delete(name)
                else:
                    channel.exchange_delete(name)
                channel.close()
            except pika.exceptions.ChannelClosedByBroker:
                pass  # gone meanwhile, or an exclusive queue of a live connection
        connection.close()

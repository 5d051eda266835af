"""Helpers the tests and benchmarks share: waiting with a deadline, the one test
client (:class:`TestClient`, a real client inside the test process), and real
client processes driven through a pseudo-terminal (:class:`ClientProcess`)."""

from __future__ import annotations

import contextlib
import io
import os
import re
import select
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pexpect

from chat.client import Client
from chat.config import Config
from chat.features import Feature
from chat.front.terminal import Terminal
from chat.front.ui import UiQueue
from chat.private.auth import vouch
from chat.transport.broker import Broker
from chat.transport.rpc import create_server
from chat.transport.topology import Names
from chat.trust.identity import Identity
from chat.trust.known_peers import KnownPeers
from chat.trust.tls import generate as generate_tls
from chat.wiring import ALL, build_features, close_all
from nameserver.registry import ClientRecord, Registry

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def wait_for(
    condition: Callable[[], T],
    timeout: float = 5.0,
    what: str = "condition",
    step: Callable[[], Any] | None = None,
) -> T:
    """Return the first truthy value of ``condition()``, or fail after ``timeout`` seconds.

    ``step`` runs between checks (e.g. ``root.update`` to let Tk process events);
    without it the wait sleeps briefly between checks.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        if step is not None:
            step()
        time.sleep(0.005)


def tk_wait(
    root: Any, condition: Callable[[], T], timeout: float = 5.0, what: str = "condition"
) -> T:
    """Like :func:`wait_for`, processing Tk events (and so the UI queue) meanwhile."""
    return wait_for(condition, timeout, what, step=root.update)


@contextlib.contextmanager
def rogue_responder(
    amqp_url: str, namespace: str, on_request: Callable[..., Any]
) -> Iterator[Broker]:
    """Some other AMQP client on the discovery exchange, not a chat client:
    ``on_request(channel, method, properties, body)`` sees every discovery
    request (on the rogue's broker thread) and may answer it with anything."""
    exchange = Names(namespace).discovery_exchange

    def setup(channel: Any) -> None:
        channel.exchange_declare(exchange, "fanout", durable=True)
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(queue, exchange)
        channel.basic_consume(queue, on_request, auto_ack=True)

    rogue = Broker(amqp_url, name="distchat tests rogue")
    rogue.start()
    try:
        rogue.add_setup(setup)
        yield rogue
    finally:
        rogue.close()


class ClientProcess:
    """A real client started the way a user does, driven through a pseudo-terminal."""

    def __init__(
        self,
        name: str,
        namespace: str,
        log_dir: Path,
        *extra: str,
        env: dict[str, str] | None = None,
        timeout: float = 15,
    ) -> None:
        self.name = name
        args = ["-m", "chat.app", "--namespace", namespace, "--log-dir", str(log_dir), *extra]
        if name:
            args += ["--name", name]
        self.child = pexpect.spawn(
            sys.executable,
            args,
            cwd=str(ROOT),
            env={**os.environ, **(env or {})},
            encoding="utf-8",
            timeout=timeout,
            dimensions=(50, 200),
        )
        self.id: str | None = None

    def wait_ready(self) -> str:
        self.child.expect(rf"You are {re.escape(self.name)} \(ID (\w+)\) at (\S+)")
        self.id = self.child.match.group(1)
        self.address = self.child.match.group(2)
        self.child.expect("Choose")
        return self.id

    def choose(self, label_or_number: str) -> None:
        self.child.sendline(label_or_number)

    def expect(self, pattern: str, timeout: float | None = None) -> Any:
        return self.child.expect(pattern, timeout=timeout if timeout is not None else -1)

    def exit_status(self, timeout: float = 15) -> int | None:
        self.child.expect(pexpect.EOF, timeout=timeout)
        self.child.close()
        return self.child.exitstatus

    def kill(self) -> None:
        if self.child.isalive():
            self.child.kill(9)
            self.child.close(force=True)


class Script(io.StringIO):
    """Terminal input typed in advance, one line per answer."""

    def __init__(self, *lines: str) -> None:
        super().__init__("".join(line + "\n" for line in lines))


class TestClient:
    """A real client in the test process, built the way the app builds one.

    It has its own name-server record, broker connection, gRPC server (on
    port 0) and UI queue, and the real features from ``chat.wiring`` (all of
    them, or those named in ``keys``; or whatever ``make`` builds). The UI
    queue is drained by the Tk ``root`` when one is given (windows open for
    real, through a window host of its own), or by a thread of its own with
    ``drain=True`` (no windows), or not at all. The terminal is a script:
    :meth:`type` gives it lines.
    """

    __test__ = False  # a helper, not a test class

    def __init__(
        self,
        config: Config,
        registry: Registry,
        name: str,
        root: Any = None,
        keys: Collection[str] = ALL,
        make: Callable[[Client], list[Feature]] | None = None,
        drain: bool = False,
        ui: UiQueue | None = None,
        started: float | None = None,
    ) -> None:
        self.out = io.StringIO()
        self.term = Terminal(out=self.out, inp=Script())
        self.ui = ui if ui is not None else UiQueue()
        self.pump: Any = None
        self._draining = False
        if root is not None:
            from chat.windows.pump import Pump

            self.pump = Pump(root, self.ui)
        elif drain:
            self._draining = True
            threading.Thread(target=self._drain, name=f"ui {name}", daemon=True).start()
        self.broker = Broker(config.amqp_url, name=f"distchat tests {name}")
        self.broker.start()
        self.tls = generate_tls()
        self.server, port = create_server(
            "127.0.0.1:0",
            config.keepalive_seconds,
            max_message_bytes=config.max_message_bytes,
            tls=self.tls,
        )
        self.registry = registry
        self.identity = Identity.load_or_create(config.state_path, name)
        self.known_peers = KnownPeers.for_identity(config.state_path, self.identity)
        self.me: ClientRecord = registry.claim(
            name,
            "127.0.0.1",
            port,
            started=started,
            key=self.identity.public_key_b64,
            cert=self.tls.cert_pem.decode("ascii"),
            cert_sig=vouch(self.identity, self.tls.fingerprint),
        )
        self.client = Client(
            config,
            registry,
            self.broker,
            self.ui,
            self.term,
            self.me,
            root=root,
            server=self.server,
            identity=self.identity,
            known_peers=self.known_peers,
        )
        if root is not None:
            from chat.windows.host import TkWindowHost

            self.client.windows = TkWindowHost(root, max_bytes=config.max_message_bytes)
        self.features = make(self.client) if make is not None else build_features(self.client, keys)
        for feature in self.features:
            feature.start()
        self.server.start()
        self._closed = False

    def feature(self, key: str) -> Any:
        """The feature with ``key`` (typed loosely: tests reach into it)."""
        return next(f for f in self.features if f.key == key)

    @property
    def private(self) -> Any:
        return self.feature("private")

    @property
    def groups(self) -> Any:
        return self.feature("groups")

    @property
    def discovery(self) -> Any:
        return self.feature("discovery")

    @property
    def insults(self) -> Any:
        return self.feature("insults")

    def on_ui(self, fn: Callable[[], T], timeout: float = 20.0) -> T:
        """Run ``fn`` on this client's UI thread and return its result (or raise its error).

        The UI queue must be drained (``drain=True`` or a Tk ``root``).
        """
        done = threading.Event()
        box: list[Any] = []

        def call() -> None:
            try:
                box.append(fn())
            except BaseException as exc:
                box.append(exc)
            finally:
                done.set()

        self.ui.post(call)
        if not done.wait(timeout):
            raise AssertionError(f"the UI thread did not answer within {timeout} s")
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    def type(self, *lines: str) -> None:
        """What the user types next at the prompts."""
        self.term.inp = Script(*lines)

    def output(self) -> str:
        return self.out.getvalue()

    def _drain(self) -> None:
        while self._draining:
            try:
                readable, _, _ = select.select([self.ui.read_fd], [], [], 0.2)
            except (OSError, ValueError):  # closed meanwhile
                return
            if readable and self._draining:
                self.ui.drain()

    def close(self) -> None:
        """Exit as the app does: features closed in reverse order, then the connections."""
        if self._closed:
            return
        self._closed = True
        close_all(self.features)
        if self.client.windows is not None:
            self.client.windows.close_all()
        self.server.stop(None)
        self._draining = False
        if self.pump is not None:
            self.pump.stop()
        self.broker.close()
        self.ui.close()
        try:
            self.registry.deregister(self.me.id)
        except Exception:
            pass


def come_back(root: Any, window: Any) -> None:
    """The user comes back to a chat ``window``: a click on it, and the keyboard in it.

    An ended chat counts down to closing only then.
    """
    window.frame.event_generate("<ButtonPress-1>", x=2, y=2)
    window.top.focus_force()
    root.update()  # the FocusIn events run
    tk_wait(root, window.has_focus, what="the keyboard in the window")

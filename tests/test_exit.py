"""Every way a real client ends runs the same clean shutdown: goodbyes, deregistration.

Real client processes in pseudo-terminals, with test clients in this process as
their private-chat peers (real gRPC, real windows).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import pexpect
import pytest

from nameserver.registry import Registry
from tests.support import tk_wait, wait_for


def close_terminal(child: pexpect.spawn) -> None:
    """Close the terminal as a window manager does: the client gets SIGHUP, writes EIO."""
    child.ptyproc.fileobj.close()


def wait_exit(child: pexpect.spawn, timeout: float = 10) -> int | None:
    """The exit status, once the process has ended (without reading its terminal)."""
    wait_for(lambda: not child.isalive(), timeout=timeout, what="the client to exit")
    return child.exitstatus


@pytest.mark.parametrize("how", ["SIGHUP", "terminal closed", "SIGTERM"])
def test_hangup_and_terminate_say_goodbye_and_deregister(
    how, spawn, make_client, registry: Registry, tk_root
):
    bob = spawn("bob")
    peer = make_client("peer", keys={"private"})
    peer.private.open_with(registry.get(bob.id))
    bob.expect("started a private chat with you")
    conversation = peer.private._chats[bob.id]

    started = time.monotonic()
    if how == "terminal closed":
        close_terminal(bob.child)
    else:
        bob.child.kill(getattr(signal, how))
    wait_for(lambda: registry.get(bob.id) is None, timeout=5, what="bob's record gone")
    gone_after = time.monotonic() - started

    # The peer was told goodbye: it shows that bob left, not that the connection broke.
    tk_wait(tk_root, lambda: conversation.ending is not None, what="the end at the peer")
    assert conversation.ending == "goodbye"
    assert wait_exit(bob.child) == 0
    assert gone_after < 3.0, f"the record went only after {gone_after:.2f} s"


def test_ctrl_c_at_the_username_prompt_ends_the_line_and_the_client(spawn):
    client = spawn("", ready=False)
    client.expect("Username: ")
    client.child.sendintr()
    client.expect("Goodbye.")
    assert client.child.before.endswith("\n")  # not on the prompt's line
    assert client.exit_status() == 0


def test_ctrl_c_at_the_menu_prompt_ends_the_line_before_goodbye(spawn, registry: Registry):
    client = spawn("bob")
    client.child.sendintr()
    client.expect("Goodbye, bob.")
    assert client.child.before.endswith("1-5: \r\n")  # the prompt's line was ended
    assert client.exit_status() == 0
    assert registry.get(client.id) is None


def test_a_storm_of_ctrl_c_while_messages_flow_never_hangs(
    spawn, make_client, registry: Registry, tk_root
):
    bob = spawn("bob")
    peers = [make_client(f"peer{n}", keys={"private"}) for n in range(3)]
    for peer in peers:
        peer.private.open_with(registry.get(bob.id))
    sessions = [peer.private._chats[bob.id].session for peer in peers]
    flowing = threading.Event()
    stop = threading.Event()

    def chatter(session) -> None:
        n = 0
        while not stop.is_set() and session.send(f"message {n}") is not None:
            n += 1
            if n == 50:
                flowing.set()
            time.sleep(0.001)

    threads = [threading.Thread(target=chatter, args=(s,), daemon=True) for s in sessions]
    for thread in threads:
        thread.start()
    try:
        flowing.wait(10)
        started = time.monotonic()
        for _ in range(200):
            try:
                os.kill(bob.child.pid, signal.SIGINT)
            except ProcessLookupError:
                break  # already gone
        status = wait_exit(bob.child, timeout=15)
        took = time.monotonic() - started
    finally:
        stop.set()
    assert status in (0, 130)  # clean, or forced by a later Ctrl-C
    assert took < 5.0, f"exited only after {took:.2f} s"


def test_a_second_ctrl_c_leaves_at_once_with_a_sentence(spawn):
    client = spawn("carol")
    # The first starts the clean shutdown, the second cuts it short.
    client.child.kill(signal.SIGINT)
    client.child.kill(signal.SIGINT)
    index = client.child.expect(["Interrupted again", "Goodbye, carol."])
    status = client.exit_status()
    # Two signals sent at once may arrive as one; then the clean path ran.
    assert (index, status) in ((0, 130), (1, 0))


class Proxy:
    """A TCP relay to a real server that the test can cut, as if the server went away."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # cut
            server = socket.create_connection(self.upstream)
            with self.lock:
                self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """The server is gone: no new connections, and every open one breaks."""
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept(); close alone does not
        self.listener.close()
        with self.lock:
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()


@pytest.mark.parametrize("gone", ["redis", "rabbitmq"])
def test_a_server_gone_at_exit_does_not_hold_the_client_up(
    gone, spawn, make_client, registry: Registry, tk_root
):
    from tests.conftest import AMQP_URL, REDIS_URL

    url = REDIS_URL if gone == "redis" else AMQP_URL
    parts = urlsplit(url)
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 0)
    relayed = urlunsplit(
        parts._replace(netloc=parts.netloc.replace(f":{parts.port}", f":{proxy.port}"))
    )
    flag = "--redis-url" if gone == "redis" else "--amqp-url"
    bob = spawn("bob", flag, relayed)
    peer = make_client("peer", keys={"private"})
    peer.private.open_with(registry.get(bob.id))
    bob.expect("started a private chat with you")
    conversation = peer.private._chats[bob.id]

    proxy.cut()
    started = time.monotonic()
    bob.child.kill(signal.SIGTERM)
    assert wait_exit(bob.child) == 0
    took = time.monotonic() - started
    tk_wait(tk_root, lambda: conversation.ending is not None, what="the end at the peer")
    assert conversation.ending == "goodbye"
    assert took < 5.0, f"the client took {took:.2f} s to leave"

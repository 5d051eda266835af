"""Start one chat client: check the back end, register, run the menu and the windows.

Threads (see docs/architecture.md): the main thread owns Tk and drains the UI
queue; the menu reads the terminal on its own thread; gRPC serves private
chats on its pool; the broker thread owns the RabbitMQ connection; the
heartbeat thread keeps the registration alive.

Every way the client ends (Exit, end of input, Ctrl-C, SIGTERM, SIGHUP, the
window manager) runs the one :meth:`App.shutdown`. Signal handlers take no
lock: they set a plain flag and write a byte to the UI queue's wake-up pipe;
the main thread sees the flag when it wakes. A second Ctrl-C leaves at once.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import redis

try:  # terminal modes, restored at exit; Unix only
    import termios
except ImportError:  # pragma: no cover - Windows
    termios = None  # type: ignore[assignment]

from chat import __version__
from chat.address import resolve_hosts
from chat.client import Client
from chat.config import Config, ConfigError, load
from chat.features import Feature
from chat.front.menu import Menu, items_for
from chat.front.terminal import Terminal
from chat.front.ui import UiQueue
from chat.heartbeat import Heartbeat
from chat.logsetup import setup_logging
from chat.names import check_username
from chat.private.auth import vouch
from chat.transport.broker import Broker, BrokerRefused, BrokerUnavailable
from chat.transport.rpc import create_server
from chat.trust.identity import Identity, IdentityError
from chat.trust.known_peers import KnownPeers
from chat.trust.tls import generate as generate_tls
from chat.wiring import build_features, close_all
from nameserver.connect import connect as connect_redis
from nameserver.connect import redact as redact_redis
from nameserver.keys import Keys
from nameserver.registry import ClientRecord, Registry

log = logging.getLogger(__name__)

#: The signals that end the client cleanly (SIGHUP: the terminal was closed).
ENDING_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
#: What a second Ctrl-C writes before the client leaves at once.
FORCED = b"\nInterrupted again: leaving at once, without goodbyes.\n"
#: Longest wait for Redis at exit: the registration then expires by itself.
DEREGISTER_WAIT = 0.5

SERVER_HINT = "Start the back end with ./start-server.sh (see README, Troubleshooting)."


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="start-client.sh",
        description="A distributed chat client: private chats, group chats, discovery, insults.",
    )
    parser.add_argument("--name", help="username (asked for when not given)")
    parser.add_argument("--config", metavar="FILE", help="YAML settings file (default config.yaml)")
    parser.add_argument(
        "--redis-url",
        help="name server, e.g. redis://host:6379/0 or redis+sentinel://h1:26379,h2:26379/mymaster/0",
    )
    parser.add_argument(
        "--amqp-url",
        help="broker, e.g. amqp://guest:guest@host:5672/%%2F; a cluster's nodes comma-separated",
    )
    parser.add_argument("--namespace", help="prefix of every Redis key and broker name")
    parser.add_argument("--advertise-host", help="host other clients use to reach this one")
    parser.add_argument("--bind-host", help="interface the private-chat server listens on")
    parser.add_argument("--grpc-port", type=int, help="port of the private-chat server (0: any)")
    parser.add_argument("--log-dir", help="folder for this client's log file")
    parser.add_argument(
        "--identity",
        metavar="FILE",
        help="key file to use as your identity (default: per username)",
    )
    parser.add_argument(
        "--verbose", action="store_const", const=True, help="also show the log on the terminal"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(argv)


def open_display() -> Any:
    """The hidden Tk root, or a sentence saying why there is no display."""
    import tkinter

    try:
        root = tkinter.Tk(className="distchat")
    except tkinter.TclError as exc:
        raise RuntimeError(
            f"Chat windows need a graphical display, and none could be opened ({exc}). "
            "Run the client from a desktop session, or start a virtual display first: "
            "Xvfb :99 & export DISPLAY=:99"
        ) from None
    root.withdraw()
    _drop_tk_input_hook()
    return root


def _drop_tk_input_hook() -> None:
    """Stop Tk from running inside the menu thread's ``input()``.

    Creating a Tk root installs ``PyOS_InputHook`` so that an interactive
    prompt keeps windows alive. Here the main thread runs the real main loop,
    and the hook would make the menu thread spin in Tcl at 50 Hz while it
    waits at a prompt, with the main thread's state, from the wrong thread.
    """
    import ctypes

    try:
        ctypes.c_void_p.in_dll(ctypes.pythonapi, "PyOS_InputHook").value = None
    except (AttributeError, ValueError, OSError):
        log.warning("could not remove Tk's input hook; the prompt may cost some CPU")


def load_identity(config: Config, username: str) -> tuple[Identity, KnownPeers]:
    """This user's key pair and known peers, or a sentence (RuntimeError) saying why not."""
    try:
        if config.identity_file:
            identity = Identity.from_file(Path(os.path.expanduser(config.identity_file)))
        else:
            identity = Identity.load_or_create(config.state_path, username)
        return identity, KnownPeers.for_identity(config.state_path, identity)
    except IdentityError as exc:
        raise RuntimeError(str(exc)) from None


def ask_username(term: Terminal, given: str | None) -> str:
    if given is not None:
        try:
            return check_username(given)
        except ValueError as exc:
            term.say(f"{exc} Please choose another.")
    while True:
        try:
            return check_username(term.ask("Username: "))
        except ValueError as exc:
            term.say(str(exc))


class Interrupted(BaseException):
    """A signal asked the client to end while it was still starting."""


class App:
    """One client's life: start, serve, shut down exactly once."""

    def __init__(self, config: Config, term: Terminal) -> None:
        self.config = config
        self.term = term
        self.ui = UiQueue()
        self.ui.on_wake = self._check_quit
        self.root: Any = None
        self.client: Client | None = None
        self.features: list[Feature] = []
        self.registry: Registry | None = None
        self.me: ClientRecord | None = None
        self.heartbeat: Heartbeat | None = None
        self.server: Any = None
        self.broker: Broker | None = None
        self.saved_tty: Any = None
        # Plain values, written by signal handlers: no lock may be taken there.
        self._quit = False
        self._starting = True
        self._shut_down = False

    # -- start ---------------------------------------------------------------

    def connect_redis(self) -> redis.Redis:
        connection = connect_redis(self.config.redis_url)
        try:
            connection.ping()
        except redis.RedisError as exc:
            where = redact_redis(self.config.redis_url)
            raise RuntimeError(
                f"The name server (Redis) is not answering at {where} ({exc}). {SERVER_HINT}"
            ) from None
        return connection

    def start(self, name: str | None) -> Client:
        config = self.config
        self.root = open_display()
        connection = self.connect_redis()
        self.broker = Broker(config.amqp_urls, name=f"distchat pid {os.getpid()}")
        try:
            self.broker.start()
        except BrokerRefused as exc:
            raise RuntimeError(f"{exc}.") from None
        except BrokerUnavailable as exc:
            raise RuntimeError(f"{exc}. {SERVER_HINT}") from None
        host, bind = resolve_hosts(config.advertise_host, config.bind_host, config.redis_url)
        tls = generate_tls()
        try:
            self.server, port = create_server(
                f"{bind}:{config.grpc_port}",
                config.keepalive_seconds,
                max_message_bytes=config.max_message_bytes,
                tls=tls,
            )
        except (OSError, RuntimeError) as exc:
            raise RuntimeError(
                f"Cannot listen for private chats on {bind}:{config.grpc_port} ({exc}). "
                "Choose another port with --grpc-port, or 0 for any free one."
            ) from None
        username = ask_username(self.term, name)
        registry = self.registry = Registry(
            connection, Keys(config.namespace), ttl=config.client_ttl
        )
        identity, known_peers = load_identity(config, username)
        me = self.me = registry.claim(
            username,
            host,
            port,
            key=identity.public_key_b64,
            cert=tls.cert_pem.decode("ascii"),
            cert_sig=vouch(identity, tls.fingerprint),
        )
        client = Client(
            config,
            registry,
            self.broker,
            self.ui,
            self.term,
            me,
            root=self.root,
            server=self.server,
            identity=identity,
            known_peers=known_peers,
        )
        from chat.windows.host import TkWindowHost

        client.windows = TkWindowHost(
            self.root, notify=config.notify, max_bytes=config.max_message_bytes
        )
        self.client = client
        self.features = build_features(client)
        for feature in self.features:
            feature.start()
        self.server.start()
        self.heartbeat = Heartbeat(
            registry,
            me,
            config.heartbeat_interval,
            on_restored=lambda: log.info("registration restored"),
            on_trouble=self.term.notify,
        )
        self.heartbeat.start()
        self._starting = False  # from now on a signal only sets the flag
        log.info("client %s (%s) ready at %s", me.id, me.name, me.address)
        return client

    # -- run -----------------------------------------------------------------

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        """Signal handler (main thread): a flag and a wake-up byte, no locks.

        While starting (e.g. at the Username prompt) it raises
        :class:`Interrupted` instead, which unwinds the start. A second
        Ctrl-C leaves at once.
        """
        if self._quit:
            if signum == signal.SIGINT:
                self.force_exit()
            return
        self._quit = True
        try:
            os.write(self.ui.wake_fd, b"!")
        except OSError:
            pass
        if self._starting and not self._shut_down:
            raise Interrupted(signum)

    def force_exit(self) -> None:
        """Leave now: one sentence with ``os.write``, the terminal put back, no clean-up."""
        _restore_tty(self.saved_tty)
        try:
            os.write(2, FORCED)
        except OSError:
            pass
        os._exit(130)

    def request_quit(self) -> None:
        """Ask the main thread to end the client (menu thread, window manager)."""
        self._quit = True
        self.ui.post(self._check_quit)

    def _check_quit(self) -> None:
        """Main thread, on every wake-up of the UI queue: end the main loop when asked."""
        if self._quit and self.root is not None:
            self.root.quit()

    def _menu_thread(self) -> None:
        assert self.client is not None
        try:
            Menu(self.term, items_for(self.features)).run()
        except EOFError:
            self.term.say("")
            log.info("end of input at the menu")
        except Exception:
            log.exception("the menu failed")
        finally:
            self.request_quit()

    def run(self) -> None:
        from chat.windows.pump import Pump

        pump = Pump(self.root, self.ui)
        self.root.protocol("WM_DELETE_WINDOW", self.request_quit)
        threading.Thread(target=self._menu_thread, name="menu", daemon=True).start()
        if not self._quit:
            self.root.mainloop()
        pump.stop()

    # -- stop ----------------------------------------------------------------

    def shutdown(self) -> None:
        """Goodbyes, leaving groups, deregistering; then the server, broker and Tk close.

        The same for every way the client ends, and quick even when Redis or
        RabbitMQ is gone: Redis is given :data:`DEREGISTER_WAIT` (the record
        expires by itself otherwise), and every feature bounds its own waits.
        """
        if self._shut_down:
            return
        self._shut_down = True
        self._quit = True
        started = time.monotonic()
        leaving = threading.Thread(target=self._deregister, name="deregister", daemon=True)
        leaving.start()
        close_all(self.features)
        if self.client is not None and self.client.windows is not None:
            self.client.windows.close_all()
        leaving.join(max(0.0, DEREGISTER_WAIT - (time.monotonic() - started)))
        if self.server is not None:
            self.server.stop(grace=0.2)
        if self.broker is not None:
            self.broker.close(timeout=0.5)
        if self.root is not None:
            with contextlib.suppress(Exception):
                self.root.destroy()
            self.root = None
        log.info("shut down in %.3f s", time.monotonic() - started)

    def _deregister(self) -> None:
        """Stop the heartbeat (so it cannot register again), then remove the record."""
        if self.heartbeat is not None:
            self.heartbeat.stop()
        if self.registry is not None and self.me is not None:
            try:
                self.registry.deregister(self.me.id)
            except redis.RedisError as exc:
                log.warning("could not deregister (the record expires by itself): %s", exc)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    overrides = {
        "redis_url": args.redis_url,
        "amqp_url": args.amqp_url,
        "namespace": args.namespace,
        "advertise_host": args.advertise_host,
        "bind_host": args.bind_host,
        "grpc_port": args.grpc_port,
        "log_dir": args.log_dir,
        "identity_file": args.identity,
        "verbose": args.verbose,
    }
    try:
        config = load(args.config, overrides=overrides)
    except ConfigError as exc:
        print(f"Configuration error: {exc}.", file=sys.stderr)
        return 1
    log_file = setup_logging(config.log_path, config.verbose)
    term = Terminal()
    app = App(config, term)
    app.saved_tty = _save_tty()
    # A signal must wake Tk's event loop, which sleeps in C: the C-level
    # handler writes to the UI pipe, and the Python handler sets a flag.
    signal.set_wakeup_fd(app.ui.wake_fd, warn_on_full_buffer=False)
    for signum in ENDING_SIGNALS:
        signal.signal(signum, app.on_signal)
    started = time.perf_counter()
    try:
        client = app.start(args.name)
    except (EOFError, Interrupted):
        term.say("")
        term.say("Goodbye.")
        app.shutdown()
        return 0
    except RuntimeError as exc:
        log.error("start failed: %s", exc)
        term.error(str(exc))
        app.shutdown()
        return 1
    except (redis.RedisError, BrokerUnavailable) as exc:
        log.exception("start failed")
        term.error(f"Could not start: {exc}. {SERVER_HINT}")
        app.shutdown()
        return 1
    log.info("started in %.3f s", time.perf_counter() - started)
    me = client.me
    term.say(f"You are {me.name} (ID {me.id}) at {me.address}")
    term.say(f"Log: {log_file}")
    try:
        app.run()
    finally:
        term.end_line()
        app.shutdown()
        _restore_tty(app.saved_tty)
    term.say(f"Goodbye, {me.name}.")
    term.close()
    return 0


def _save_tty() -> Any:
    if termios is None:
        return None
    try:
        return termios.tcgetattr(sys.stdin.fileno())
    except Exception:
        return None


def _restore_tty(saved: Any) -> None:
    """Put the terminal back as found: the menu thread may be inside readline.

    Also called from a signal handler (a second Ctrl-C): no import, no lock.
    """
    if saved is None or termios is None:
        return
    try:
        termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)
    except Exception:
        pass


if __name__ == "__main__":
    sys.exit(main())

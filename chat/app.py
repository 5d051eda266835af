"""Start one chat client: check the back end, register, run the menu and the windows.

Threads (see docs/architecture.md): the main thread owns Tk and drains the UI
queue; the menu reads the terminal on its own thread; gRPC serves private
chats on its pool; the broker thread owns the RabbitMQ connection; the
heartbeat thread keeps the registration alive.
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
from collections.abc import Callable
from typing import Any

import redis

from chat import __version__, private
from chat.address import resolve_hosts
from chat.broker import Broker, BrokerUnavailable
from chat.client import Client
from chat.config import Config, ConfigError, load
from chat.discovery import start as start_discovery
from chat.groups import start as start_groups
from chat.heartbeat import Heartbeat
from chat.insults import start as start_insults
from chat.logsetup import setup_logging
from chat.menu import Menu
from chat.names import check_username
from chat.rpc import create_server
from chat.terminal import Terminal
from chat.ui import UiQueue
from nameserver.connect import connect as connect_redis
from nameserver.connect import redact as redact_redis
from nameserver.keys import Keys
from nameserver.registry import Registry

log = logging.getLogger(__name__)

#: Called once the client is registered, before its gRPC server starts; each
#: feature attaches itself here (servicers, broker setups, exit hooks).
STARTERS: list[Callable[[Client], None]] = [
    private.start,
    start_groups,
    start_discovery,
    start_insults,
]

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


class App:
    """One client's life: start, serve, shut down exactly once."""

    def __init__(self, config: Config, term: Terminal) -> None:
        self.config = config
        self.term = term
        self.ui = UiQueue()
        self.root: Any = None
        self.client: Client | None = None
        self.heartbeat: Heartbeat | None = None
        self.server: Any = None
        self.broker: Broker | None = None
        self._quit_requested = threading.Event()

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
        except BrokerUnavailable as exc:
            raise RuntimeError(f"{exc}. {SERVER_HINT}") from None
        host, bind = resolve_hosts(config.advertise_host, config.bind_host, config.redis_url)
        try:
            self.server, port = create_server(
                f"{bind}:{config.grpc_port}", config.keepalive_seconds
            )
        except (OSError, RuntimeError) as exc:
            raise RuntimeError(
                f"Cannot listen for private chats on {bind}:{config.grpc_port} ({exc}). "
                "Choose another port with --grpc-port, or 0 for any free one."
            ) from None
        username = ask_username(self.term, name)
        registry = Registry(connection, Keys(config.namespace), ttl=config.client_ttl)
        me = registry.claim(username, host, port)
        client = Client(
            config, connection, registry, self.broker, self.ui, self.term, me, root=self.root
        )
        client.features["server"] = self.server
        self.client = client
        for starter in STARTERS:
            starter(client)
        self.server.start()
        self.heartbeat = Heartbeat(
            registry,
            me,
            config.heartbeat_interval,
            on_restored=lambda: log.info("registration restored"),
            on_trouble=self.term.notify,
        )
        self.heartbeat.start()
        log.info("client %s (%s) ready at %s", me.id, me.name, me.address)
        return client

    # -- run -----------------------------------------------------------------

    def request_quit(self) -> None:
        """Ask the main thread to end the client; safe from any thread or a signal handler."""
        if not self._quit_requested.is_set():
            self._quit_requested.set()
            self.ui.post(self.root.quit)

    def _menu_thread(self) -> None:
        assert self.client is not None
        try:
            Menu(self.client).run()
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
        self.root.mainloop()
        pump.stop()

    # -- stop ----------------------------------------------------------------

    def shutdown(self) -> None:
        """Close windows and chats, deregister, close the server and the broker."""
        if self.client is not None:
            self.client.run_exit_hooks()
        if self.heartbeat is not None:
            self.heartbeat.stop()
        if self.client is not None:
            with contextlib.suppress(redis.RedisError):
                self.client.registry.deregister(self.client.me.id)
        if self.server is not None:
            self.server.stop(grace=1).wait(2)
        if self.broker is not None:
            self.broker.close()
        if self.root is not None:
            with contextlib.suppress(Exception):
                self.root.destroy()
            self.root = None


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
    saved_tty = _save_tty()
    # A signal must wake Tk's event loop, which sleeps in C: the C-level
    # handler writes to the UI pipe, and the Python handler then asks to quit.
    signal.set_wakeup_fd(app.ui.wake_fd, warn_on_full_buffer=False)
    signal.signal(signal.SIGINT, lambda *_: app.request_quit())
    signal.signal(signal.SIGTERM, lambda *_: app.request_quit())
    started = time.perf_counter()
    try:
        client = app.start(args.name)
    except EOFError:
        term.say("")
        term.say("Goodbye.")
        app.shutdown()
        return 0
    except RuntimeError as exc:
        log.error("start failed: %s", exc)
        print(str(exc), file=sys.stderr)
        app.shutdown()
        return 1
    except (redis.RedisError, BrokerUnavailable) as exc:
        log.exception("start failed")
        print(f"Could not start: {exc}. {SERVER_HINT}", file=sys.stderr)
        app.shutdown()
        return 1
    log.info("started in %.3f s", time.perf_counter() - started)
    me = client.me
    term.say(f"You are {me.name} (ID {me.id}) at {me.address}")
    term.say(f"Log: {log_file}")
    try:
        app.run()
    finally:
        app.shutdown()
        _restore_tty(saved_tty)
    term.say(f"Goodbye, {me.name}.")
    return 0


def _save_tty() -> Any:
    try:
        import termios

        return termios.tcgetattr(sys.stdin.fileno())
    except Exception:
        return None


def _restore_tty(saved: Any) -> None:
    """Put the terminal back as found: the menu thread may be inside readline."""
    if saved is None:
        return
    try:
        import termios

        termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)
    except Exception:
        pass


if __name__ == "__main__":
    sys.exit(main())

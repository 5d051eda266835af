"""The command line and the terminal of a starting client: flags, the username, terminal modes."""

from __future__ import annotations

import argparse
import sys
from typing import Any

try:  # terminal modes, restored at exit; Unix only
    import termios
except ImportError:  # pragma: no cover - Windows
    termios = None  # type: ignore[assignment]

from chat import __version__
from chat.front.ask import Invalid, ask_until
from chat.front.terminal import Terminal
from chat.names import check_username


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


def ask_username(term: Terminal, given: str | None) -> str:
    if given is not None:
        try:
            return check_username(given)
        except ValueError as exc:
            term.say(f"{exc} Please choose another.")

    def check(answer: str) -> str:
        try:
            return check_username(answer)
        except ValueError as exc:
            raise Invalid(str(exc)) from None

    username = ask_until(
        term, "Username: ", check, back=False, empty="A username needs at least one character."
    )
    assert username is not None  # an empty answer is asked again
    return username


def save_tty() -> Any:
    if termios is None:
        return None
    try:
        return termios.tcgetattr(sys.stdin.fileno())
    except Exception:
        return None


def restore_tty(saved: Any) -> None:
    """Put the terminal back as found: the menu thread may be inside readline.

    Also called from a signal handler (a second Ctrl-C): no import, no lock.
    """
    if saved is None or termios is None:
        return
    try:
        termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)
    except Exception:
        pass

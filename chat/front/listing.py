"""``python -m chat.front.listing list``: print the live clients and group chats."""

from __future__ import annotations

import argparse
import os
import sys

import redis

from chat.front.tables import clients_table, groups_table, terminal_width
from nameserver.connect import connect, redact
from nameserver.keys import Keys
from nameserver.registry import Registry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chat.front.listing", description=__doc__)
    parser.add_argument("command", choices=["list"], help="what to do")
    parser.add_argument(
        "--redis-url", default=os.environ.get("CHAT_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--namespace", default=os.environ.get("CHAT_NAMESPACE", "chat"))
    args = parser.parse_args(argv)
    try:
        connection = connect(args.redis_url)
    except ValueError as exc:
        print(f"Cannot use the name server URL {redact(args.redis_url)}: {exc}.", file=sys.stderr)
        return 1
    registry = Registry(connection, Keys(args.namespace))
    try:
        clients = registry.list_clients()
        groups = registry.list_groups()
    except redis.RedisError as exc:
        print(f"Cannot read the name server at {redact(args.redis_url)}: {exc}.", file=sys.stderr)
        print("Is it running? Start it with ./start-server.sh", file=sys.stderr)
        return 1
    print(f"{len(clients)} client{'' if len(clients) == 1 else 's'} online")
    if clients:
        print(clients_table(clients, width=terminal_width()))
    print(f"\n{len(groups)} group chat(s)")
    if groups:
        print(groups_table(groups, width=terminal_width()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

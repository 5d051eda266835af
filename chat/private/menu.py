"""Menu item "Private chat": ask whom to talk to, look them up, open the chat."""

from __future__ import annotations

import logging

import redis

from chat.client import Client
from chat.errors import UserError
from chat.features import PrivateChatOpener
from chat.front.ask import Number
from chat.front.tables import clients_table
from chat.front.terminal import Terminal
from chat.private.auth import KeyChanged
from chat.textsafe import name as safe
from nameserver.registry import ClientRecord

log = logging.getLogger(__name__)

PROMPT = "Chat with whom? Client ID, start of an ID, or username (empty: back): "


def run(client: Client, chats: PrivateChatOpener) -> None:
    """Ask for a peer on the terminal and open a private chat with them."""
    term = client.term
    query = term.ask(PROMPT).strip()
    if not query:
        return
    try:
        matches = client.registry.find(query)
    except redis.RedisError:
        log.exception("looking up %r failed", query)
        raise UserError(
            "The name server is not answering right now; try again in a moment."
        ) from None
    if not matches:
        raise UserError(
            f"Nobody online has the ID or username {query!r}. "
            "Discover chats (menu 3) lists who is online."
        )
    record = matches[0] if len(matches) == 1 else pick(term, query, matches, client.me.id)
    if record is None:
        return
    try:
        chats.open_with(record)
    except KeyChanged as exc:
        term.say(str(exc))
        answer = term.ask("Type 'trust' to accept the new key and connect (Enter: back): ")
        if answer.strip().lower() != "trust" or client.known_peers is None:
            return
        client.known_peers.accept(record.name, record.key)
        log.warning("the user accepted a new key for %r", record.name)
        chats.open_with(record)
    term.say(f"Your chat with {safe(record.name)} ({safe(record.id)}) is in its own window.")


def pick(
    term: Terminal, query: str, matches: list[ClientRecord], own_id: str
) -> ClientRecord | None:
    """Ask which of several matching clients is meant; None goes back to the menu."""
    count = len(matches)
    term.say(f"{query!r} matches {count} clients online:")
    term.say(clients_table(matches, own_id=own_id, numbered=True))
    number = Number(term, f"Which one? 1-{count} (empty: back): ", count).ask()
    return None if number is None else matches[number - 1]

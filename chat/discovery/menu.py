"""The "Discover chats" menu: pick a way, see the listing, act on a row. Menu thread only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chat.client import Client
from chat.discovery.compare import compare
from chat.discovery.requester import Answered
from chat.discovery.view import Row, answer_line, compare_listing, events_listing, redis_listing
from chat.errors import UserError

if TYPE_CHECKING:
    from chat.discovery.service import Discovery

WAYS = """Discover chats:
  1. Via the Redis name server (shared memory)
  2. Via a RabbitMQ discovery event (every client answers)
  3. Compare both"""


def discover_chats(client: Client, discovery: Discovery) -> None:
    term = client.term
    own_id = client.me.id
    term.say(WAYS)
    while True:
        way = term.ask("Choose 1-3 (Enter: back): ").strip()
        if not way:
            return
        if way in ("1", "2", "3"):
            break
        term.say(f"{way!r} is not one of the choices. Type 1, 2 or 3, or press Enter to go back.")

    def show(answered: Answered) -> None:  # printed as each answer arrives
        term.say(answer_line(answered, own_id))

    if way == "1":
        shared = discovery.via_redis()
        if shared.error:
            raise UserError(shared.error)
        text, rows = redis_listing(shared, own_id)
    elif way == "2":
        term.say(f"Asking every connected client (for {client.config.discovery_timeout:g} s) ...")
        events = discovery.via_events(show)
        if events.error:
            raise UserError(events.error)
        text, rows = events_listing(events, own_id)
    else:
        term.say(
            "Reading Redis and asking every connected client "
            f"(for {client.config.discovery_timeout:g} s) at the same time ..."
        )
        shared, events = discovery.both(show)
        text, rows = compare_listing(
            shared, events, compare(shared, events), own_id, client.config.client_ttl
        )
    term.say(text)
    act(client, discovery, rows)


def act(client: Client, discovery: Discovery, rows: list[Row]) -> None:
    """Ask for a row number and start a private chat or join a group; Enter goes back."""
    if not rows:
        return
    term = client.term
    count = len(rows)
    while True:
        answer = term.ask(
            f"Type a row number (1-{count}) to chat with that client or join that group, "
            "or press Enter to go back: "
        ).strip()
        if not answer:
            return
        if not answer.isdigit() or not 1 <= int(answer) <= count:
            term.say(
                f"There is no row {answer!r}. Type a number from 1 to {count}, or press Enter."
            )
            continue
        try:
            open_row(client, discovery, rows[int(answer) - 1])
            return
        except UserError as exc:
            term.say(str(exc))


def open_row(client: Client, discovery: Discovery, row: Row) -> None:
    """Start a private chat with the row's client, or join the row's group.

    Raises:
        UserError: that is the user's own row, the feature is missing, or it refused.
    """
    if row.client is not None:
        if row.client.id == client.me.id:
            raise UserError("That is you; choose another client.")
        if discovery.opener is None:
            raise UserError("Private chats are not available in this client.")
        discovery.opener.open_with(row.client)
    elif row.group is not None:
        if discovery.joiner is None:
            raise UserError("Group chats are not available in this client.")
        discovery.joiner.join_interactive(row.group)

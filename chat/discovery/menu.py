"""The "Discover chats" menu: pick a way, see the listing, act on a row. Menu thread only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chat.client import Client
from chat.discovery.compare import compare
from chat.discovery.requester import Answered
from chat.discovery.view import Row, answer_line, compare_listing, events_listing, redis_listing
from chat.errors import UserError
from chat.front.ask import Invalid, Number

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
    way = Number(term, "Choose 1-3 (Enter: back): ", 3).ask()
    if way is None:
        return

    def show(answered: Answered) -> None:  # printed as each answer arrives
        term.say(answer_line(answered, own_id))

    if way == 1:
        shared = discovery.via_redis()
        if shared.error:
            raise UserError(shared.error)
        text, rows = redis_listing(shared, own_id)
    elif way == 2:
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
    _RowQuery(client, discovery, rows).ask()


class _RowQuery(Number):
    """A row number, accepted once its chat opened (or its group was joined)."""

    def __init__(self, client: Client, discovery: Discovery, rows: list[Row]) -> None:
        super().__init__(
            client.term,
            f"Type a row number (1-{len(rows)}) to chat with that client or join that group, "
            "or press Enter to go back: ",
            len(rows),
            what="row",
        )
        self.client, self.discovery, self.rows = client, discovery, rows

    def check(self, answer: str) -> int:
        number = super().check(answer)
        try:
            open_row(self.client, self.discovery, self.rows[number - 1])
        except UserError as exc:
            raise Invalid(str(exc)) from None
        return number


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

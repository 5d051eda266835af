"""The "Discover chats" menu: pick a source (or all), see the listing, act on a row.

Menu thread only. It is given the sources and what acts on a row (the
private-chat opener, the group joiner), never the feature.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from chat.discovery.compare import compare
from chat.discovery.source import Source, look_all
from chat.discovery.view import ALL_GROUPS, Listing, Row, compare_listing, listing
from chat.errors import UserError
from chat.features import GroupJoiner, PrivateChatOpener
from chat.front.ask import Invalid, Number
from chat.front.terminal import Terminal


def ways(sources: Sequence[Source]) -> str:
    """The choices: each source, then (with more than one) all of them compared."""
    lines = ["Discover chats:"]
    lines += [f"  {n}. {s.label}" for n, s in enumerate(sources, 1)]
    if len(sources) > 1:
        lines.append(f"  {len(sources) + 1}. Compare {'both' if len(sources) == 2 else 'all'}")
    return "\n".join(lines)


def discover_chats(
    term: Terminal,
    own_id: str,
    sources: Sequence[Source],
    opener: PrivateChatOpener | None = None,
    joiner: GroupJoiner | None = None,
) -> None:
    """Ask which way to look, show what it found, and act on the row the user picks."""
    choices = len(sources) + (1 if len(sources) > 1 else 0)
    term.say(ways(sources))
    way = Number(term, f"Choose 1-{choices} (Enter: back): ", choices).ask()
    if way is None:
        return
    width = term.table_width()

    def show(line: str) -> None:  # printed as each answer arrives
        term.say(line)

    if way <= len(sources):
        source = sources[way - 1]
        intro = source.intro()
        if intro:
            term.say(intro)
        sighting = source.look(show)
        if sighting.error:
            raise UserError(sighting.error)
        found = listing(sighting, own_id, width)
    else:
        term.say("Looking every way at the same time.")
        for intro in (s.intro() for s in sources):
            if intro:
                term.say(intro)
        sightings = look_all(sources, show)
        found = compare_listing(sources, sightings, compare(sightings), own_id, width)
    term.say(found.text)
    act(term, own_id, found, opener, joiner)


def act(
    term: Terminal,
    own_id: str,
    found: Listing,
    opener: PrivateChatOpener | None,
    joiner: GroupJoiner | None,
) -> None:
    """Ask for a row number and start a private chat or join a group; Enter goes back."""
    if found.rows:
        _RowQuery(term, found, lambda row: open_row(own_id, row, opener, joiner)).ask()


class _RowQuery(Number):
    """A row number, accepted once its chat opened (or its group was joined)."""

    def __init__(self, term: Terminal, found: Listing, act: Callable[[Row], None]) -> None:
        more = f", `{ALL_GROUPS}` to list every group" if found.all_groups else ""
        super().__init__(
            term,
            f"Type a row number (1-{len(found.rows)}) to chat with that client or join that "
            f"group{more}, or press Enter to go back: ",
            len(found.rows),
            what="row",
        )
        self.found, self.act = found, act

    def check(self, answer: str) -> int:
        if self.found.all_groups and answer.casefold() == ALL_GROUPS:
            self.term.say(self.found.all_groups)
            raise Invalid("")  # asked again, below the whole list
        number = super().check(answer)
        try:
            self.act(self.found.rows[number - 1])
        except UserError as exc:
            raise Invalid(str(exc)) from None
        return number


def open_row(
    own_id: str,
    row: Row,
    opener: PrivateChatOpener | None,
    joiner: GroupJoiner | None,
) -> None:
    """Start a private chat with the row's client, or join the row's group.

    Raises:
        UserError: that is the user's own row, the feature is missing, or it refused.
    """
    if row.client is not None:
        if row.client.id == own_id:
            raise UserError("That is you; choose another client.")
        if opener is None:
            raise UserError("Private chats are not available in this client.")
        opener.open_with(row.client)
    elif row.group is not None:
        if joiner is None:
            raise UserError("Group chats are not available in this client.")
        joiner.join_interactive(row.group)

"""What the user sees: numbered tables of clients and groups, as plain text.

One listing serves every source (:func:`listing`), one comparison any number
of them (:func:`compare_listing`). Each returns its text and its rows in
display order, so the menu can turn the number the user types into a client
to chat with or a group to join. Rows are numbered clients first, then
groups, in the same order in every view: clients by when they came online
(then ID), groups by name. Tables fit ``width`` columns; a long list of
groups is cut at ``groups_shown`` rows (the rest keep their numbers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chat.discovery.compare import Comparison
from chat.discovery.source import GroupSeen, Sighting, Source, ms, who
from chat.front.tables import WIDTH, since, table
from chat.textsafe import name as safe
from nameserver.registry import ClientRecord, in_order


@dataclass(frozen=True)
class Row:
    """A numbered row: a client (to chat with) or a group (to join)."""

    client: ClientRecord | None = None
    group: str | None = None


@dataclass
class Listing:
    """The text to show, the rows it numbers, and the groups left out of the text."""

    text: str
    rows: list[Row]
    #: The table of every group, when the text shows only the first ones.
    all_groups: str | None = None


#: Marks a client whose username came with another key than the one known for it.
KEY_CHANGED = "key changed"
#: Groups listed before "and N more"; at 80x24 the clients stay on screen.
GROUPS_SHOWN = 10
#: What the user types at the row prompt to see every group.
ALL_GROUPS = "groups"


def display_name(record: ClientRecord, own_id: str | None, flagged: Sequence[str]) -> str:
    """The NAME cell: the name, "(you)", and the key-changed flag."""
    text = f"{record.name} (you)" if record.id == own_id else record.name
    return f"{text} ({KEY_CHANGED})" if record.id in flagged else text


def names_of(records: Sequence[ClientRecord], own_id: str | None = None) -> str:
    return ", ".join(
        f"{safe(r.name)} (you)" if r.id == own_id else safe(r.name) for r in in_order(records)
    )


def listing(
    sighting: Sighting,
    own_id: str | None = None,
    width: int = WIDTH,
    groups_shown: int | None = GROUPS_SHOWN,
) -> Listing:
    """One source's sighting: its summary, its clients, then its groups."""
    lines = [sighting.summary]
    rows = [Row(client=c) for c in sighting.clients]
    if sighting.clients:
        lines += ["", _clients(sighting, own_id, width)]
    shown, all_groups = _groups(sighting.groups, len(rows) + 1, own_id, width, groups_shown)
    lines += shown
    rows += [Row(group=g.name) for g in sighting.groups]
    return Listing("\n".join(lines), rows, all_groups)


def _clients(sighting: Sighting, own_id: str | None, width: int) -> str:
    headers = ["#", "NAME", "ID", "ADDRESS", "ONLINE SINCE"]
    chats = sighting.open_chats
    if chats is not None:  # what each has open: lists, cut first to fit
        headers = ["#", "NAME", "ID", "ADDRESS", "SINCE", "GROUPS", "CHATS WITH"]
    body = []
    for n, c in enumerate(sighting.clients, 1):
        row: list[object] = [
            n,
            display_name(c, own_id, list(sighting.warnings)),
            c.id,
            c.address,
            since(c.started),
        ]
        if chats is not None:
            has = chats.get(c.id)
            row += [
                ", ".join(has.groups) if has and has.groups else "-",
                ", ".join(has.private_with) if has and has.private_with else "-",
            ]
        body.append(row)
    return table(headers, body, width, give=(5, 6) if chats is not None else ())


def _groups(
    groups: Sequence[GroupSeen],
    start: int,
    own_id: str | None,
    width: int,
    shown: int | None,
) -> tuple[list[str], str | None]:
    """The lines of the groups table (cut at ``shown`` rows) and, when cut, the whole table."""
    if not groups:
        return [], None
    described = any(g.kind is not None for g in groups)
    opened = any(g.open_in for g in groups)
    headers = ["#", "GROUP"]
    if described:
        headers += ["KIND", "CREATED BY", "CREATED"]
    if opened or not described:
        headers += ["OPEN IN"]
    body = []
    for n, g in enumerate(groups, start):
        row: list[object] = [n, g.name]
        if described:
            created = since(g.created) if g.created is not None else "-"
            row += [g.kind or "-", g.creator or "-", created]
        if opened or not described:
            row += [names_of(g.open_in, own_id) or "-"]
        body.append(row)
    give = [headers.index(h) for h in ("OPEN IN", "CREATED BY") if h in headers]
    whole = table(headers, body, width, give)
    if shown is None or len(groups) <= shown:
        return ["", whole], None
    more = len(groups) - shown
    return [
        "",
        table(headers, body[:shown], width, give),
        f"and {more} more: type `{ALL_GROUPS}` to list them all",
    ], whole


def compare_listing(
    sources: Sequence[Source],
    sightings: Sequence[Sighting],
    comparison: Comparison,
    own_id: str | None = None,
    width: int = WIDTH,
    groups_shown: int | None = GROUPS_SHOWN,
) -> Listing:
    """Every source's sighting side by side, then who some sources missed, and why."""
    headings = [s.heading for s in sources]
    took = [
        src.failed if s.error else s.timing or ms(s.took)
        for src, s in zip(sources, sightings, strict=True)
    ]
    summary = table(
        ["", *(s.title for s in sources)],
        [
            ["clients", *(len(s.clients) for s in sightings)],
            ["group chats", *(len(s.groups) for s in sightings)],
            ["took", *took],
        ],
        width,
    )
    lines = [_all_ways(len(sources)) + ", asked at the same time:", "", summary]
    rows: list[Row] = []
    flagged = [i for s in sightings for i in s.warnings]
    if comparison.clients:
        body = []
        for n, seen in enumerate(comparison.clients, 1):
            c = seen.record
            yes = ["yes" if s else "no" for s in seen.seen]
            body.append([n, display_name(c, own_id, flagged), c.id, c.address, *yes])
            rows.append(Row(client=c))
        lines += ["", table(["#", "NAME", "ID", "ADDRESS", *headings], body, width)]
    all_groups = None
    if comparison.groups:
        body = []
        for n, g in enumerate(comparison.groups, len(rows) + 1):
            yes = ["yes" if s else "no" for s in g.seen]
            body.append([n, g.name, *yes, names_of(g.open_in, own_id) or "-"])
            rows.append(Row(group=g.name))
        headers = ["#", "GROUP", *headings, "OPEN IN (ANSWERS)"]
        give = [len(headers) - 1]
        whole = table(headers, body, width, give)
        if groups_shown is not None and len(body) > groups_shown:
            more = len(body) - groups_shown
            lines += [
                "",
                table(headers, body[:groups_shown], width, give),
                f"and {more} more: type `{ALL_GROUPS}` to list them all",
            ]
            all_groups = whole
        else:
            lines += ["", whole]
    lines.append("")
    lines += differences(sources, comparison, own_id)
    lines += [c for c in (s.caveat() for s in sources) if c]
    lines += [s.error for s in sightings if s.error]
    return Listing("\n".join(lines), rows, all_groups)


def _all_ways(count: int) -> str:
    return "Both ways" if count == 2 else f"All {count} ways"


def differences(
    sources: Sequence[Source], comparison: Comparison, own_id: str | None = None
) -> list[str]:
    """A sentence for each source that alone saw some clients or groups."""
    lines = []
    if comparison.same_clients:
        lines.append(f"{_all_ways(len(sources))} found the same clients.")
    for i, source in enumerate(sources):
        only = comparison.clients_only_in(i)
        if only:
            lines.append(f"{source.only_here}: " + "; ".join(who(c, own_id) for c in only))
    partly = comparison.clients_partly_seen()
    if partly:
        lines.append(
            "Seen by some ways only: "
            + "; ".join(
                who(c.record, own_id)
                + " ("
                + ", ".join(s.heading for s, yes in zip(sources, c.seen, strict=True) if yes)
                + ")"
                for c in partly
            )
        )
    for i, source in enumerate(sources):
        groups = comparison.groups_only_in(i)
        if groups:
            lines.append(f"{source.groups_only_here}: " + ", ".join(safe(g) for g in groups))
    return lines

"""What the user sees: numbered tables of clients and groups, as plain text.

Every listing returns its text and its rows in display order, so the menu can
turn the number the user types into a client to chat with or a group to join.
Rows are numbered clients first, then groups, in the same order in every
view: clients by when they came online (then ID), groups by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chat.discovery.compare import Comparison
from chat.discovery.lookup import RedisResult
from chat.discovery.requester import Answered, EventResult
from chat.front.tables import clients_table, groups_table, since, table
from chat.textsafe import name as safe
from nameserver.registry import ClientRecord


@dataclass(frozen=True)
class Row:
    """A numbered row: a client (to chat with) or a group (to join)."""

    client: ClientRecord | None = None
    group: str | None = None


Listing = tuple[str, list[Row]]

#: Marks a client whose username came with another key than the one known for it.
KEY_CHANGED = "key changed"


def in_order(records: Sequence[ClientRecord]) -> list[ClientRecord]:
    """Clients in the order every view shows them: online longest first, then by ID."""
    return sorted(records, key=lambda r: (r.started, r.id))


def count(n: int, thing: str) -> str:
    """'1 live client', '3 live clients'."""
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"


def who(record: ClientRecord, own_id: str | None = None) -> str:
    you = " (you)" if record.id == own_id else ""
    return f"{safe(record.name)}{you} ({safe(record.id)}) at {safe(record.address)}"


def display_name(record: ClientRecord, own_id: str | None, flagged: set[str]) -> str:
    """The NAME cell: the name, "(you)", and the key-changed flag."""
    text = f"{record.name} (you)" if record.id == own_id else record.name
    return f"{text} ({KEY_CHANGED})" if record.id in flagged else text


def flagged_ids(result: EventResult) -> set[str]:
    """IDs of the clients whose answers came with a changed key."""
    return {a.answer.client.id for a in result.answers if a.warning}


def names_of(records: Sequence[ClientRecord], own_id: str | None = None) -> str:
    return ", ".join(
        f"{safe(r.name)} (you)" if r.id == own_id else safe(r.name) for r in in_order(records)
    )


def answer_line(answered: Answered, own_id: str | None = None) -> str:
    """One line per answer, printed as it arrives."""
    return f"  answer from {who(answered.answer.client, own_id)} after {ms(answered.after)}"


def redis_listing(result: RedisResult, own_id: str | None = None) -> Listing:
    clients = in_order(result.clients)
    groups = sorted(result.groups, key=lambda g: g.name)
    lines = [
        f"The name server (Redis) lists {count(len(clients), 'live client')} and "
        f"{count(len(groups), 'group chat')}, read in {ms(result.took)}."
    ]
    rows = [Row(client=c) for c in clients]
    if clients:
        lines += ["", clients_table(clients, own_id=own_id, numbered=True)]
    if groups:
        lines += ["", groups_table(groups, numbered=True, start=len(rows) + 1)]
        rows += [Row(group=g.name) for g in groups]
    return "\n".join(lines), rows


def events_listing(result: EventResult, own_id: str | None = None) -> Listing:
    last = result.last_answer
    answers = sorted(result.answers, key=lambda a: (a.answer.client.started, a.answer.client.id))
    lines = [
        f"{count(len(answers), 'client')} answered the discovery event"
        + (f", the last after {ms(last)}" if last is not None else "")
        + f" (waited {ms(result.waited)})."
    ]
    rows = [Row(client=a.answer.client) for a in answers]
    flagged = flagged_ids(result)
    if answers:
        body = []
        for n, a in enumerate(answers, 1):
            c = a.answer.client
            body.append(
                [
                    n,
                    display_name(c, own_id, flagged),
                    c.id,
                    c.address,
                    since(c.started),
                    ", ".join(a.answer.groups) or "-",
                    ", ".join(name for _, name in a.answer.private_chats) or "-",
                ]
            )
        headers = [
            "#",
            "NAME",
            "ID",
            "ADDRESS",
            "ONLINE SINCE",
            "GROUPS OPEN",
            "PRIVATE CHATS WITH",
        ]
        lines += ["", table(headers, body)]
    groups = result.groups()
    if groups:
        start = len(rows) + 1
        body = [
            [n, g, names_of(members, own_id)]
            for n, (g, members) in enumerate(groups.items(), start)
        ]
        lines += ["", table(["#", "GROUP", "OPEN IN"], body)]
        rows += [Row(group=g) for g in groups]
    return "\n".join(lines), rows


def compare_listing(
    shared: RedisResult,
    events: EventResult,
    comparison: Comparison,
    own_id: str | None = None,
    ttl: int | None = None,
) -> Listing:
    redis_took = shared.error or ms(shared.took)
    if events.error:
        event_took = "not sent"
    else:
        last = events.last_answer
        event_took = (f"last answer after {ms(last)}, " if last is not None else "") + (
            f"waited {ms(events.waited)}"
        )
    summary = table(
        ["", "REDIS NAME SERVER", "DISCOVERY EVENT"],
        [
            ["clients", len(shared.clients), len(events.answers)],
            ["group chats", len(shared.groups), len(events.groups())],
            ["took", redis_took, event_took],
        ],
    )
    lines = ["Both ways, asked at the same time:", "", summary]
    rows: list[Row] = []
    flagged = flagged_ids(events)
    if comparison.clients:
        body = []
        for n, seen in enumerate(comparison.clients, 1):
            c = seen.record
            body.append(
                [
                    n,
                    display_name(c, own_id, flagged),
                    c.id,
                    c.address,
                    "yes" if seen.in_redis else "no",
                    "yes" if seen.answered else "no",
                ]
            )
            rows.append(Row(client=c))
        lines += ["", table(["#", "NAME", "ID", "ADDRESS", "IN REDIS", "ANSWERED"], body)]
    if comparison.groups:
        body = []
        for n, g in enumerate(comparison.groups, len(rows) + 1):
            body.append(
                [n, g.name, "yes" if g.in_redis else "no", names_of(g.open_in, own_id) or "-"]
            )
            rows.append(Row(group=g.name))
        lines += ["", table(["#", "GROUP", "IN REDIS", "OPEN IN (ANSWERS)"], body)]
    lines.append("")
    lines += _differences(comparison, own_id)
    within = f" (within {ttl} s)" if ttl else ""
    lines.append(
        "Expected difference: a client killed a moment ago stays in Redis until its "
        f"registration expires{within} but no longer answers events; Redis also keeps "
        "group chats that nobody has open."
    )
    for error in (shared.error, events.error):
        if error:
            lines.append(error)
    return "\n".join(lines), rows


def _differences(comparison: Comparison, own_id: str | None) -> list[str]:
    only_redis = comparison.clients_only_in_redis
    only_events = comparison.clients_only_answering
    if not only_redis and not only_events:
        lines = ["Both ways found the same clients."]
    else:
        lines = []
        if only_redis:
            lines.append(
                "Only in Redis (registered, but did not answer): "
                + "; ".join(who(c, own_id) for c in only_redis)
            )
        if only_events:
            lines.append(
                "Only in the answers (not in Redis): "
                + "; ".join(who(c, own_id) for c in only_events)
            )
    if comparison.groups_only_in_redis:
        lines.append(
            "Group chats only in Redis (nobody has them open): "
            + ", ".join(safe(g) for g in comparison.groups_only_in_redis)
        )
    if comparison.groups_only_answering:
        lines.append(
            "Group chats open but not in Redis: "
            + ", ".join(safe(g) for g in comparison.groups_only_answering)
        )
    return lines

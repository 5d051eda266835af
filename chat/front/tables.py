"""Plain-text tables of name-server records, for the terminal."""

from __future__ import annotations

import time
from collections.abc import Sequence

from chat.textsafe import for_terminal
from nameserver.registry import ClientRecord, GroupRecord

#: Longest cell shown; records come from other clients, through Redis.
CELL_CHARS = 120


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns separated by two spaces, with a header rule."""
    cells = [[str(c) for c in headers]] + [
        [for_terminal(c, CELL_CHARS) for c in row] for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def since(epoch: float, now: float | None = None) -> str:
    """'HH:MM' for today, else 'YYYY-MM-DD HH:MM', in local time."""
    now = time.time() if now is None else now
    try:
        return _since(epoch, now)
    except (OverflowError, OSError, ValueError):  # a record written by a broken clock
        return "?"


def _since(epoch: float, now: float) -> str:
    fmt = (
        "%H:%M"
        if time.strftime("%Y%m%d", time.localtime(epoch))
        == time.strftime("%Y%m%d", time.localtime(now))
        else "%Y-%m-%d %H:%M"
    )
    return time.strftime(fmt, time.localtime(epoch))


def clients_table(
    records: Sequence[ClientRecord], own_id: str | None = None, numbered: bool = False
) -> str:
    headers = (["#"] if numbered else []) + ["NAME", "ID", "ADDRESS", "ONLINE SINCE"]
    rows = []
    for n, r in enumerate(records, 1):
        name = f"{r.name} (you)" if r.id == own_id else r.name
        rows.append(([n] if numbered else []) + [name, r.id, r.address, since(r.started)])
    return table(headers, rows)


def groups_table(records: Sequence[GroupRecord], numbered: bool = False, start: int = 1) -> str:
    headers = (["#"] if numbered else []) + ["GROUP", "KIND", "CREATED BY", "CREATED"]
    rows = [
        ([n] if numbered else [])
        + [g.name, g.kind, f"{g.creator_name} ({g.creator_id})", since(g.created)]
        for n, g in enumerate(records, start)
    ]
    return table(headers, rows)

"""Plain-text tables of name-server records, for the terminal.

A table fits the terminal's width (:data:`WIDTH` columns when it is not
known): when a row would not fit, the widest columns are narrowed and their
cells cut with "…", so a row never wraps.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Sequence

from chat.textsafe import ELLIPSIS, for_terminal
from nameserver.registry import ClientRecord, GroupRecord

#: Longest cell shown; records come from other clients, through Redis.
CELL_CHARS = 120
#: The width a table fits when the terminal's is not known.
WIDTH = 80
#: A column is never narrowed below this.
NARROWEST = 4
GAP = "  "


def terminal_width() -> int:
    """Standard output's width when it is a terminal, else :data:`WIDTH`."""
    try:
        if sys.stdout.isatty():
            return shutil.get_terminal_size((WIDTH, 24)).columns
    except (AttributeError, ValueError, OSError):
        pass
    return WIDTH


def fit(
    widths: Sequence[int], width: int, floors: Sequence[int], give: Sequence[int] = ()
) -> list[int]:
    """Column widths whose row fits ``width``.

    The columns in ``give`` (lists, which read well cut) give way first, down
    to their ``floors`` (their headers); then the widest of all, down to their
    floors; then, only if still needed, headers are cut too.
    """
    widths = list(widths)
    everyone = range(len(widths))
    for columns, floor in ((give, floors), (everyone, floors), (everyone, None)):
        while sum(widths) + len(GAP) * (len(widths) - 1) > width:
            lowest = [NARROWEST if floor is None else max(NARROWEST, floor[i]) for i in everyone]
            can = [i for i in columns if widths[i] > lowest[i]]
            if not can:
                break
            widths[max(can, key=lambda i: widths[i])] -= 1
    return widths


def cut(text: str, width: int) -> str:
    """``text`` in at most ``width`` columns, ending in "…" when cut."""
    return text if len(text) <= width else text[: width - 1] + ELLIPSIS


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    width: int | None = WIDTH,
    give: Sequence[int] = (),
) -> str:
    """Left-aligned columns separated by two spaces, with a header rule, within ``width``.

    Cells too wide are cut with "…"; the columns in ``give`` are cut first (:func:`fit`).
    """
    cells = [[str(c) for c in headers]] + [
        [for_terminal(c, CELL_CHARS) for c in row] for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    if width is not None:
        widths = fit(widths, width, [len(h) for h in cells[0]], give)
    lines = [
        GAP.join(cut(c, w).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]
    lines.insert(1, GAP.join("-" * w for w in widths))
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
    records: Sequence[ClientRecord],
    own_id: str | None = None,
    numbered: bool = False,
    width: int | None = WIDTH,
) -> str:
    headers = (["#"] if numbered else []) + ["NAME", "ID", "ADDRESS", "ONLINE SINCE"]
    rows = []
    for n, r in enumerate(records, 1):
        name = f"{r.name} (you)" if r.id == own_id else r.name
        rows.append(([n] if numbered else []) + [name, r.id, r.address, since(r.started)])
    return table(headers, rows, width)


def groups_table(
    records: Sequence[GroupRecord],
    numbered: bool = False,
    start: int = 1,
    width: int | None = WIDTH,
) -> str:
    headers = (["#"] if numbered else []) + ["GROUP", "KIND", "CREATED BY", "CREATED"]
    rows = [
        ([n] if numbered else [])
        + [g.name, g.kind, f"{g.creator_name} ({g.creator_id})", since(g.created)]
        for n, g in enumerate(records, start)
    ]
    return table(headers, rows, width)

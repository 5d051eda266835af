"""What a group chat is, as plain values: names, modes, kinds, window titles.

No tkinter and no broker here, so the menu, the conversation and the tests share
one definition of a valid group name.
"""

from __future__ import annotations

import re
from typing import Literal

from chat.windows.binding import BACK
from nameserver.keys import canonical_group
from nameserver.registry import GroupKind

Mode = Literal["connect", "subscribe"]
Kind = GroupKind  # the name server's one group-kind type

#: The one spelling of a group name in keys, routing keys and queue names.
canonical = canonical_group

# What a group window says.
SEPARATOR = "earlier messages above · live from here"
BACK_TRANSIENT = f"{BACK} Messages sent meanwhile were missed."
NOT_CONNECTED = (
    "Not connected to the chat server right now, so nothing was sent. "
    "Send it again once the window says the connection is back."
)
SENDING = "Sending…"
READ_ONLY = "You subscribed to this group: it is read only."
#: Seconds an own message may stay "Sending…": by then it is marked failed when
#: the broker never confirmed it, and sent when it did (its copy back was lost).
SEND_DEADLINE = 10.0

MAX_GROUP_NAME = 64
_NAME = re.compile(r"[A-Za-z0-9._-]+")
#: RabbitMQ's units for ``x-max-age``: years, months, days, hours, minutes, seconds.
_MAX_AGE = re.compile(r"[1-9][0-9]*[YMDhms]")


def check_group_name(raw: str) -> str:
    """Return the group name to use, or raise ``ValueError`` with a sentence for the user.

    A group name is 1 to 64 characters: letters a-z or A-Z, digits, ``-``,
    ``_`` and ``.``; surrounding spaces are ignored.
    """
    name = raw.strip()
    if not name:
        raise ValueError("A group name needs at least one character.")
    if len(name) > MAX_GROUP_NAME:
        raise ValueError(
            f"A group name can have at most {MAX_GROUP_NAME} characters, not {len(name)}."
        )
    if not _NAME.fullmatch(name):
        bad = next(ch for ch in name if not _NAME.fullmatch(ch))
        raise ValueError(
            f"A group name cannot contain {bad!r}: use letters a-z, digits, '-', '_' and '.'."
        )
    return name


def check_max_age(value: str) -> str:
    """``value`` when RabbitMQ accepts it as ``x-max-age`` (e.g. ``30D``, ``12h``)."""
    if not _MAX_AGE.fullmatch(value):
        raise ValueError(
            f"group_max_age {value!r} is not a RabbitMQ age such as 30D, 12h or 90m "
            "(units Y, M, D, h, m, s)."
        )
    return value


def mode_label(mode: Mode) -> str:
    return "connected" if mode == "connect" else "subscribed"


def window_title(name: str, mode: Mode, kind: Kind) -> str:
    """``Group NAME · connected|subscribed · persistent|transient``."""
    return f"Group {name} · {mode_label(mode)} · {kind}"


def parse_mode(answer: str) -> Mode | None:
    word = answer.strip().casefold()
    if word in {"c", "connect", "1"}:
        return "connect"
    if word in {"s", "subscribe", "2"}:
        return "subscribe"
    return None


def parse_kind(answer: str) -> Kind | None:
    word = answer.strip().casefold()
    if word in {"t", "transient", "1"}:
        return "transient"
    if word in {"p", "persistent", "2"}:
        return "persistent"
    return None

"""The checks of one record field: every string and time read from Redis or the wire.

The name server's records (:mod:`nameserver.registry`) and the client's
message bodies (``chat.transport.wire``) hold their fields to these same
rules, so a field that one side accepts the other does too.
"""

from __future__ import annotations

#: Times outside [2000-01-01, 2100-01-01) are not from a working clock (records and bodies).
TIME_MIN = 946_684_800.0
TIME_MAX = 4_102_444_800.0


def string_field(data: dict, key: str, limit: int, empty: bool = False) -> str:
    """A string field (:func:`check_string`); one that may be empty may also be missing,
    any other missing one is a ``KeyError``."""
    return check_string(data.get(key, "") if empty else data[key], key, limit, empty)


def check_string(value: object, key: str, limit: int, empty: bool = False) -> str:
    """``value`` as a field's string, or ``ValueError`` when it is not a string, is empty
    (unless allowed), too long, or not writable as UTF-8 (a lone surrogate)."""
    if not isinstance(value, str):
        raise ValueError(f"field {key!r} must be a string")
    if not value and not empty:
        raise ValueError(f"field {key!r} is empty")
    if len(value) > limit:
        raise ValueError(f"field {key!r} is too long")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"field {key!r} holds a lone surrogate") from None
    return value


def check_time(value: object, key: str = "time") -> float:
    """A Unix time from a working clock (years 2000 to 2099), else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"field {key!r} must be a number")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"field {key!r} is out of range") from None
    if not TIME_MIN <= number < TIME_MAX:  # false for NaN, too
        raise ValueError(f"field {key!r} is not a time between the years 2000 and 2100")
    return number


def time_field(data: dict, key: str) -> float:
    """A time field (:func:`check_time`); ``KeyError`` when it is missing."""
    return check_time(data[key], key)

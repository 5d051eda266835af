"""Validation of what users type as names."""

from __future__ import annotations

import unicodedata

MAX_USERNAME = 32


def check_username(raw: str) -> str:
    """Return the username to use, or raise ``ValueError`` with a sentence for the user.

    A username is 1 to 32 printable characters after trimming surrounding
    spaces; control and other non-printable characters are refused.
    """
    name = raw.strip()
    if not name:
        raise ValueError("A username needs at least one character.")
    if len(name) > MAX_USERNAME:
        raise ValueError(f"A username can have at most {MAX_USERNAME} characters, not {len(name)}.")
    for ch in name:
        if not ch.isprintable() or unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"}:
            raise ValueError(f"A username cannot contain the character {ch!r}.")
    return name

"""Name colours: each person's colour comes from their username, and one window keeps them apart.

A name's preferred colour is chosen by a hash of the casefolded username
(BLAKE2b, so it is the same in every run and on every client, unlike
Python's ``hash()``). In one window, a name whose preferred colour another
name already has takes the next free one, so two people never share a colour
while the palette has one to spare. No tkinter here.
"""

from __future__ import annotations

import hashlib

#: Sender name colours, each with a contrast of at least 4.5:1 on the white history page.
PALETTE = (
    "#1a73e8",  # blue
    "#c5221f",  # red
    "#188038",  # green
    "#a142f4",  # violet
    "#b06000",  # orange
    "#007b83",  # teal
    "#b3127c",  # magenta
    "#5f6368",  # grey
    "#3949ab",  # indigo
    "#827717",  # olive
    "#6a1b9a",  # deep purple
    "#0d47a1",  # navy
    "#4e342e",  # brown
    "#33691e",  # moss
    "#c2185b",  # crimson
    "#006064",  # deep cyan
)


def preferred(name: str) -> int:
    """The palette index a username prefers, the same in every run and client."""
    digest = hashlib.blake2b(name.casefold().encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % len(PALETTE)


def colour_of(name: str) -> str:
    """The preferred colour of a username."""
    return PALETTE[preferred(name)]


def tag(index: int) -> str:
    """The name of the Text tag that draws in ``PALETTE[index]``."""
    return f"c{index}"


class ColourBook:
    """The colours given out in one window: a name keeps the colour it got first."""

    def __init__(self) -> None:
        self._given: dict[str, int] = {}
        self._used: set[int] = set()

    def index_for(self, name: str) -> int:
        """The palette index of ``name`` in this window (assigned on first use)."""
        key = name.casefold()
        index = self._given.get(key)
        if index is not None:
            return index
        want = preferred(name)
        index = want
        if len(self._used) < len(PALETTE):
            while index in self._used:
                index = (index + 1) % len(PALETTE)
        self._given[key] = index
        self._used.add(index)
        return index

    def colour_for(self, name: str) -> str:
        return PALETTE[self.index_for(name)]

    def tag_for(self, name: str) -> str:
        return tag(self.index_for(name))

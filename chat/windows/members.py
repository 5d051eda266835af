"""The member line of a group window: "4 here: alice, bob, carol, dave", cut with "…" to fit.

Shown under the title bar once the chat's log knows who is there
(:meth:`chat.history.ChatLog.set_members`); a log that never learnt it shows
no line. Main thread only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from tkinter import ttk
from typing import Any

from chat.textsafe import ELLIPSIS


def line(names: Sequence[str], fits: Callable[[str], bool]) -> str:
    """The member line for ``names``, with as many names as ``fits`` allows, then "…"."""
    if not names:
        return "No one here"
    head = f"{len(names)} here: "
    whole = head + ", ".join(names)
    if fits(whole):
        return whole
    # The longest start of the list that fits with the ellipsis after it.
    low, high = 0, len(names) - 1
    while low < high:
        mid = (low + high + 1) // 2
        if fits(head + ", ".join([*names[:mid], ELLIPSIS])):
            low = mid
        else:
            high = mid - 1
    if low:
        return head + ", ".join([*names[:low], ELLIPSIS])
    # Not even one name fits whole: cut the first one.
    first = names[0]
    while first and not fits(head + first + ELLIPSIS):
        first = first[:-1]
    return head + first + ELLIPSIS


class MemberLine:
    """A label in a chat window's frame that shows who is in the chat."""

    def __init__(self, parent: Any, font: Any, row: int) -> None:
        self.label = ttk.Label(parent, text="", style="Members.TLabel", font=font, anchor="w")
        self._font = font
        self._row = row
        self._names: tuple[str, ...] | None = None
        self._width = 0

    @property
    def names(self) -> tuple[str, ...] | None:
        """The names shown, or None while no line is shown."""
        return self._names

    def show(self, names: Sequence[str] | None) -> None:
        """Show ``names`` (None: no line at all)."""
        self._names = None if names is None else tuple(names)
        if self._names is None:
            self.label.grid_remove()
            return
        self.label.grid(row=self._row, column=0, columnspan=2, sticky="ew", pady=(0, 6))
        self._fit()

    def resized(self, width: int) -> None:
        self._width = width
        if self._names is not None:
            self._fit()

    def _fit(self) -> None:
        assert self._names is not None
        width = self._width or self.label.winfo_width()
        room = max(60, width - 4)
        self.label.configure(text=line(self._names, lambda t: self._font.measure(t) <= room))

    @property
    def text(self) -> str:
        return str(self.label.cget("text")) if self._names is not None else ""

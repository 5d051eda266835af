"""The numbered menu, run on its own thread; it never touches Tk.

The items come from the features (``chat.features.Feature.label`` and
``run_menu``), in the order the app lists them, then Exit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chat.errors import UserError
from chat.features import Feature
from chat.front.terminal import Terminal

log = logging.getLogger(__name__)

__all__ = ["Menu", "MenuItem", "UserError", "items_for"]


@dataclass(frozen=True)
class MenuItem:
    label: str
    run: Callable[[], None] | None  # None ends the client


def items_for(features: Sequence[Feature]) -> list[MenuItem]:
    """One item per feature that has a label, in order, then Exit."""
    items = [MenuItem(f.label, f.run_menu) for f in features if f.label]
    items.append(MenuItem("Exit", None))
    return items


def _or_list(labels: list[str]) -> str:
    return ", ".join(labels[:-1]) + f" or {labels[-1]}" if len(labels) > 1 else labels[0]


class Menu:
    """Shows the menu, reads a choice, runs it; re-prompts on anything else."""

    def __init__(self, term: Terminal, items: list[MenuItem]) -> None:
        self.term = term
        self.items = items

    def render(self) -> str:
        lines = ["", "What would you like to do?"]
        lines += [f"  {n}. {item.label}" for n, item in enumerate(self.items, 1)]
        return "\n".join(lines)

    def match(self, answer: str) -> MenuItem | str:
        """The item ``answer`` names (its number, or any unambiguous start of its
        name, in any case), else a sentence saying why not."""
        count = len(self.items)
        answer = answer.strip()
        if answer.isdigit() and 1 <= int(answer) <= count:
            return self.items[int(answer) - 1]
        wanted = " ".join(answer.casefold().split())
        if wanted:
            exact = [i for i in self.items if i.label.casefold() == wanted]
            found = exact or [i for i in self.items if i.label.casefold().startswith(wanted)]
            if len(found) == 1:
                return found[0]
            if found:
                return (
                    f"{answer!r} could be {_or_list([i.label for i in found])}; "
                    "type more of the name, or its number."
                )
        return f"{answer!r} is not on the menu. Type a number from 1 to {count}, or a name."

    def choose(self) -> MenuItem:
        """Ask until the answer names an item."""
        count = len(self.items)
        while True:
            answer = self.term.ask(f"Choose 1-{count}: ")
            if not answer.strip():
                continue
            found = self.match(answer)
            if isinstance(found, MenuItem):
                return found
            self.term.say(found)

    def run(self) -> None:
        """Loop until Exit; raises ``EOFError`` when input ends."""
        term = self.term
        while True:
            term.say(self.render())
            item = self.choose()
            if item.run is None:
                return
            try:
                item.run()
            except UserError as exc:
                term.say(str(exc))
            except EOFError:
                raise
            except Exception:
                log.exception("menu item %r failed", item.label)
                term.say(
                    f"Sorry, {item.label.lower()} failed unexpectedly; details are in the log."
                )

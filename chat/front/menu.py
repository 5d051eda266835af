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
from chat.front.ask import Invalid, ask_until
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

    def __init__(
        self,
        term: Terminal,
        items: list[MenuItem],
        open_chats: Callable[[], int] = lambda: 0,
    ) -> None:
        """
        Args:
            term: where the menu is shown and read.
            items: the entries, Exit last.
            open_chats: how many chats are open right now; Exit asks before ending them.
        """
        self.term = term
        self.items = items
        self.open_chats = open_chats

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

        def check(answer: str) -> MenuItem:
            found = self.match(answer)
            if isinstance(found, MenuItem):
                return found
            raise Invalid(found)

        item = ask_until(self.term, f"Choose 1-{len(self.items)}: ", check, back=False)
        assert item is not None  # an empty answer is asked again
        return item

    def leave(self) -> bool:
        """Whether Exit may end the client: asked only while chats are open.

        Only a "y" or "yes" leaves; anything else (Enter) goes back to the menu.
        End of input at the question still raises ``EOFError`` (leaves at once).
        """
        try:
            count = self.open_chats()
        except Exception:
            log.exception("could not count the open chats")
            count = 0
        if count <= 0:
            return True
        chats = "1 open chat" if count == 1 else f"{count} open chats"
        answer = self.term.ask(f"Leave {chats}? [y/N] ").strip().casefold()
        return answer in ("y", "yes")

    def run(self) -> None:
        """Loop until Exit; raises ``EOFError`` when input ends."""
        term = self.term
        while True:
            term.say(self.render())
            item = self.choose()
            if item.run is None:
                if self.leave():
                    return
                continue
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

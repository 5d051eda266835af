"""The numbered menu, run on its own thread; it never touches Tk."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from chat.client import Client

log = logging.getLogger(__name__)


class UserError(Exception):
    """Something the user asked for that cannot be done; the message is for them."""


@dataclass(frozen=True)
class MenuItem:
    label: str
    run: Callable[[Client], None] | None  # None ends the client


def default_items() -> list[MenuItem]:
    """The menu in order. Each feature adds its entry here."""
    from chat.insults import open_channel
    from chat.private.menu import run as private_chat

    return [
        MenuItem("Private chat", private_chat),
        MenuItem("Group chat", lambda client: client.features["groups"].run_menu()),
        MenuItem("Discover chats", lambda client: client.features["discovery"].run_menu()),
        MenuItem("Insult channel", open_channel),
        MenuItem("Exit", None),
    ]


class Menu:
    """Shows the menu, reads a choice, runs it; re-prompts on anything else."""

    def __init__(self, client: Client, items: list[MenuItem] | None = None) -> None:
        self.client = client
        self.items = items if items is not None else default_items()

    def render(self) -> str:
        lines = ["", "What would you like to do?"]
        lines += [f"  {n}. {item.label}" for n, item in enumerate(self.items, 1)]
        return "\n".join(lines)

    def choose(self) -> MenuItem:
        """Ask until the answer is one of the numbers (or an item's name)."""
        term = self.client.term
        count = len(self.items)
        while True:
            answer = term.ask(f"Choose 1-{count}: ").strip()
            if answer.isdigit() and 1 <= int(answer) <= count:
                return self.items[int(answer) - 1]
            for item in self.items:
                if answer and item.label.casefold() == answer.casefold():
                    return item
            if answer:
                term.say(f"{answer!r} is not on the menu. Type a number from 1 to {count}.")

    def run(self) -> None:
        """Loop until Exit; raises ``EOFError`` when input ends."""
        term = self.client.term
        while True:
            term.say(self.render())
            item = self.choose()
            if item.run is None:
                return
            try:
                item.run(self.client)
            except UserError as exc:
                term.say(str(exc))
            except EOFError:
                raise
            except Exception:
                log.exception("menu item %r failed", item.label)
                term.say(
                    f"Sorry, {item.label.lower()} failed unexpectedly; details are in the log."
                )

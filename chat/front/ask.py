"""Asking on the terminal until the answer is valid (menu thread only).

One template for every prompt loop, as idlelib's ``Query`` is: :class:`Query`
asks, hands the answer to :meth:`Query.check`, says the check's sentence and
asks again, and returns what the check made of the answer. A subclass (or
:func:`ask_until` with a function) overrides only the check. An empty answer
goes back (``None``) where the query allows it; elsewhere it is asked again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from chat.front.terminal import Terminal

T = TypeVar("T")

__all__ = ["Invalid", "Number", "Query", "ask_until"]


class Invalid(ValueError):
    """The answer cannot be used; the message is the sentence the user reads."""


class Query(Generic[T]):
    """Ask ``prompt`` until :meth:`check` accepts the answer.

    Args:
        term: the terminal to ask on.
        prompt: the prompt, shown again after every refusal.
        back: an empty answer returns None (goes back); otherwise it is asked again.
        empty: said before asking again when an empty answer cannot go back.
    """

    def __init__(
        self, term: Terminal, prompt: str, back: bool = True, empty: str | None = None
    ) -> None:
        self.term = term
        self.prompt = prompt
        self.back = back
        self.empty = empty

    def check(self, answer: str) -> T:
        """What the (stripped, non-empty) answer means; raise :class:`Invalid` to ask again."""
        raise NotImplementedError

    def ask(self) -> T | None:
        """The checked answer, or None when the user went back; ``EOFError`` at end of input."""
        while True:
            answer = self.term.ask(self.prompt).strip()
            if not answer:
                if self.back:
                    return None
                if self.empty:
                    self.term.say(self.empty)
                continue
            try:
                return self.check(answer)
            except Invalid as exc:
                if str(exc):  # an empty sentence: the check said what it had to
                    self.term.say(str(exc))


class Number(Query[int]):
    """A number from 1 to ``count``; the refusal names the range and the way back."""

    def __init__(
        self, term: Terminal, prompt: str, count: int, back: bool = True, what: str = "choice"
    ) -> None:
        super().__init__(term, prompt, back)
        self.count = count
        self.what = what

    def check(self, answer: str) -> int:
        if answer.isdigit() and 1 <= int(answer) <= self.count:
            return int(answer)
        back = ", or press Enter to go back" if self.back else ""
        raise Invalid(
            f"There is no {self.what} {answer!r}. Type a number from 1 to {self.count}{back}."
        )


class _Checked(Query[T]):
    def __init__(
        self,
        term: Terminal,
        prompt: str,
        check: Callable[[str], T],
        back: bool,
        empty: str | None,
    ) -> None:
        super().__init__(term, prompt, back, empty)
        self._check = check

    def check(self, answer: str) -> T:
        return self._check(answer)


def ask_until(
    term: Terminal,
    prompt: str,
    check: Callable[[str], T],
    back: bool = True,
    empty: str | None = None,
) -> T | None:
    """:class:`Query` with ``check`` as its check."""
    return _Checked(term, prompt, check, back, empty).ask()

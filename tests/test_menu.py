"""The terminal menu: numbers and names (any unambiguous start, any case), and wrapping."""

from __future__ import annotations

import io

import pytest

from chat.errors import UserError
from chat.front.menu import Menu, MenuItem
from chat.front.terminal import Terminal, wrap
from tests.support import Script


def make_menu(*labels: str) -> tuple[Menu, list[str], io.StringIO]:
    ran: list[str] = []
    items = [MenuItem(label, lambda label=label: ran.append(label)) for label in labels]
    items.append(MenuItem("Exit", None))
    out = io.StringIO()
    return Menu(Terminal(out=out, inp=Script()), items), ran, out


@pytest.mark.parametrize(
    ("answer", "label"),
    [
        ("1", "Private chat"),
        ("priv", "Private chat"),
        ("PRIVATE CHAT", "Private chat"),
        ("  group  ", "Group chat"),
        ("discover", "Discover chats"),
        ("d", "Discover chats"),
        ("exit", "Exit"),
        ("E", "Exit"),
    ],
)
def test_a_number_or_any_start_of_a_name_chooses_an_item(answer, label):
    menu, _, _ = make_menu("Private chat", "Group chat", "Discover chats", "Insult channel")
    found = menu.match(answer)
    assert isinstance(found, MenuItem) and found.label == label


def test_an_ambiguous_start_names_the_candidates():
    menu, _, _ = make_menu("Private chat", "Print the log")
    assert menu.match("pri") == (
        "'pri' could be Private chat or Print the log; type more of the name, or its number."
    )
    assert isinstance(menu.match("priv"), MenuItem)
    assert "is not on the menu" in menu.match("zz")  # type: ignore[operator]
    assert "is not on the menu" in menu.match("9")  # type: ignore[operator]


def test_the_menu_runs_what_was_chosen_and_tells_the_user_errors():
    menu, ran, out = make_menu("Private chat", "Group chat")

    def refuse() -> None:
        raise UserError("Nobody is online.")

    menu.items[1] = MenuItem("Group chat", refuse)
    menu.term.inp = Script("pr", "nonsense", "GROUP", "ex")
    menu.run()
    assert ran == ["Private chat"]
    said = out.getvalue()
    assert "'nonsense' is not on the menu" in said
    assert "Nobody is online." in said


def test_long_sentences_wrap_at_words_and_tables_stay_whole():
    sentence = "Only in Redis (registered, but did not answer): " + "; ".join(
        f"user{n} (abcd{n:04d}) at 10.0.0.{n}:4000" for n in range(4)
    )
    wrapped = wrap(sentence, 40)
    assert all(len(line) <= 40 for line in wrapped.splitlines())
    assert " ".join(wrapped.split()) == " ".join(sentence.split())  # nothing lost or cut
    row = "1  alice (you)  abcd2345  127.0.0.1:40000  12:00  " + "x" * 60
    assert wrap(row, 40) == row
    indented = "  answer from " + "word " * 20
    assert all(line.startswith("  ") for line in wrap(indented, 30).splitlines())


def test_the_terminal_wraps_to_its_width():
    out = io.StringIO()
    Terminal(out=out, width=30).say("a fairly long sentence that does not fit in thirty columns")
    assert all(len(line) <= 30 for line in out.getvalue().splitlines())

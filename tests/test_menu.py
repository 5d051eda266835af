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


def test_exit_with_chats_open_asks_first_and_enter_stays():
    menu, ran, out = make_menu("Private chat")
    open_now = [3]
    menu.open_chats = lambda: open_now[0]
    menu.term.inp = Script("exit", "", "exit", "n", "1", "e", "yes")
    menu.run()  # returns only after the "yes"
    said = out.getvalue()
    assert said.count("Leave 3 open chats? [y/N] ") == 3
    assert ran == ["Private chat"]  # the menu went on after Enter and "n"
    open_now[0] = 1
    menu.term.inp = Script("e", "y")
    menu.run()
    assert "Leave 1 open chat? [y/N] " in out.getvalue()


def test_exit_with_no_chat_open_asks_nothing_and_the_question_ends_with_input():
    menu, _, out = make_menu("Private chat")
    menu.term.inp = Script("exit")
    menu.run()
    assert "Leave" not in out.getvalue()
    menu.open_chats = lambda: 2
    menu.term.inp = Script("exit")  # end of input at the question: leave at once
    with pytest.raises(EOFError):
        menu.run()


def test_the_ask_helper_checks_until_valid_and_enter_goes_back():
    from chat.front.ask import Invalid, Number, ask_until

    out = io.StringIO()
    term = Terminal(out=out, inp=Script("x", "7", "2"))
    assert Number(term, "Pick 1-3: ", 3, what="row").ask() == 2
    assert out.getvalue().count("There is no row") == 2
    assert "Type a number from 1 to 3, or press Enter to go back." in out.getvalue()
    term.inp = Script("")
    assert Number(term, "Pick 1-3: ", 3).ask() is None

    def even(answer: str) -> int:
        if int(answer) % 2:
            raise Invalid(f"{answer} is odd.")
        return int(answer)

    term.inp = Script("", "3", "4")
    assert ask_until(term, "Even: ", even, back=False, empty="Say something.") == 4
    assert "Say something." in out.getvalue() and "3 is odd." in out.getvalue()


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


def test_tables_fit_80_columns_and_long_group_lists_give_way_to_the_clients():
    from chat.discovery.lookup import RedisResult
    from chat.discovery.source import NameServerSource
    from chat.discovery.view import listing
    from nameserver.registry import ClientRecord, GroupRecord

    now = 1_800_000_000.0
    long_name = "Bartholomew-" + "x" * 60
    clients = [
        ClientRecord("aaaa2345", long_name, "fe80::1234:5678:9abc:def0", 40000, now),
        ClientRecord("bbbb2345", "bob", "127.0.0.1", 40001, now + 1),
    ]
    groups = [
        GroupRecord(f"group-{n:02d}-{'y' * 50}", "persistent", "aaaa2345", long_name, now)
        for n in range(47)
    ]
    found = listing(NameServerSource.sighting(RedisResult(clients, groups)), "bbbb2345")
    lines = found.text.splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    assert "Bartholomew-xx" in found.text and "…" in found.text and "bob (you)" in found.text
    # The clients come first, and only ten groups before the pointer to the rest.
    assert found.text.index("bob (you)") < found.text.index("group-00")
    assert "group-09" in found.text and "group-10" not in found.text
    assert lines[-1] == "and 37 more: type `groups` to list them all"
    assert len(lines) <= 24 - 1  # the prompt's line still fits an 80x24 terminal
    assert len(found.rows) == 49 and found.rows[-1].group == groups[-1].name
    assert found.all_groups is not None and "group-46" in found.all_groups
    assert max(len(line) for line in found.all_groups.splitlines()) <= 80
    # A wider terminal shows more of each name, and a row never wraps there either.
    wide = listing(NameServerSource.sighting(RedisResult(clients, groups)), None, width=200)
    assert long_name in wide.text
    assert max(len(line) for line in wide.text.splitlines()) <= 200


def test_typing_groups_at_the_row_prompt_lists_every_group():
    from chat.discovery.menu import act
    from chat.discovery.view import Listing, Row

    out = io.StringIO()
    term = Terminal(out=out, inp=Script("groups", ""))
    found = Listing("short", [Row(group=f"g{n}") for n in range(12)], all_groups="g0 ... g11")
    act(term, "me", found, None, None)
    said = out.getvalue()
    assert "`groups` to list every group" in said and "g0 ... g11" in said

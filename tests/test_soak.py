"""The compressed day in short: four client processes through a broker restart, a
Redis restart and a killed client; nothing lost, duplicated, stuck or dead.

The full day is ``scripts/bench.py soak`` (8 clients, 10 minutes). The checks
that judge it are tried first on made-up reports, so they are known to fail
when something is lost, shown twice, stuck or dead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from benchmarks import soak
from benchmarks.soak_check import SENDING, check, dead_windows

NAMES = {"a1": "ann", "b1": "bob", "c1": "cat"}


def chat(key: str, entries: list, kind: str = "persistent", joined_at: float = 0.0, **kw):
    return {
        "key": key,
        "kind": kind,
        "joined_at": joined_at,
        "entries": entries,
        "open": True,
        "shown": [e[2] for e in entries],
        "status_line": "",
        **kw,
    }


def report(client_id: str, chats: list, sent: list, back_at: float = 0.0) -> dict:
    return {
        "id": client_id,
        "name": NAMES[client_id],
        "at": 100.0,
        "back_at": back_at,
        "refused": 0,
        "sent": [{"text": t, "key": k, "at": at} for t, k, at in sent],
        "chats": chats,
    }


def test_a_confirmed_message_a_member_lacks_is_lost_and_one_shown_twice_is_duplicated():
    ann = report(
        "a1",
        [chat("group:book", [["own", "a1", "hi", "sent"], ["own", "a1", "again", "sent"]])],
        [("hi", "group:book", 10.0), ("again", "group:book", 11.0)],
    )
    bob = report("b1", [chat("group:book", [["peer", "a1", "hi", "sent"]] * 2)], [])
    found = check([ann, bob], [], NAMES)
    assert found.confirmed["group:book"] == 2
    assert found.lost["group:book"] == 1  # "again"
    assert found.duplicated["group:book"] == 1  # "hi" twice
    assert any("never got 'again'" in e for e in found.examples)


def test_only_members_there_throughout_must_have_a_message():
    ann = report(
        "a1",
        [chat("group:lunch", [["own", "a1", "early", "sent"]], kind="transient")],
        [("early", "group:lunch", 10.0)],
    )
    late = report("b1", [chat("group:lunch", [], kind="transient", joined_at=20.0)], [])
    away = report("c1", [chat("group:lunch", [], kind="transient")], [], back_at=30.0)
    assert not check([ann, late, away], [], NAMES).lost
    # Persistent: a reconnect loses nothing, so it does not excuse a gap.
    ann["chats"][0]["kind"] = away["chats"][0]["kind"] = "persistent"
    assert check([ann, away], [], NAMES).lost["group:lunch"] == 1


def test_a_private_message_the_peer_acknowledged_must_be_in_its_log():
    ann = report(
        "a1",
        [chat("private:b1", [["own", "a1", "psst", "sent"], ["own", "a1", "lost?", "failed"]])],
        [("psst", "private:b1", 10.0), ("lost?", "private:b1", 11.0)],
    )
    bob = report("b1", [chat("private:a1", [])], [])
    found = check([ann, bob], [], NAMES)
    assert found.lost == {"private:ann-bob": 1}  # the failed one was never promised
    # A peer killed since (no final report) is not asked.
    assert not check([ann], [], NAMES).lost


def test_messages_of_a_killed_client_count_from_its_last_report():
    killed = report(
        "c1",
        [chat("group:ops", [["own", "c1", "last words", "sent"]])],
        [("last words", "group:ops", 5.0)],
    )
    bob = report("b1", [chat("group:ops", [])], [])
    assert check([bob], [killed], NAMES).lost["group:ops"] == 1


def test_sending_at_the_end_is_stuck():
    ann = report("a1", [chat("group:book", [["own", "a1", "hm", "sending"]])], [])
    assert check([ann], [], NAMES).stuck.total() == 1
    ann["chats"][0]["entries"][0][3] = "sent"
    ann["chats"][0]["status_line"] = SENDING
    assert check([ann], [], NAMES).stuck.total() == 1


def test_a_group_message_that_never_came_back_to_its_sender_is_stuck():
    ann = report(
        "a1", [chat("group:ops", [], joined_at=5.0)], [("lost in the post", "group:ops", 9.0)]
    )
    assert check([ann], [], NAMES).stuck.total() == 1
    ann["chats"][0]["joined_at"] = 10.0  # sent in an earlier membership, since left
    assert check([ann], [], NAMES).stuck.total() == 0


def test_a_window_whose_consumer_died_is_dead_though_no_send_was_confirmed():
    # Both members' consumers died: their own messages never come back, but
    # the windows took them and said nothing failed.
    texts = {"a1": "roll ann group:ops", "b1": "roll bob group:ops"}
    ann = report("a1", [chat("group:ops", [])], [(texts["a1"], "group:ops", 50.0)])
    bob = report("b1", [chat("group:ops", [])], [(texts["b1"], "group:ops", 50.0)])
    roll = {"a1": ["group:ops"], "b1": ["group:ops"]}
    assert dead_windows([ann, bob], roll, "roll") == [
        "ann: group:ops (from ann)",
        "ann: group:ops (from bob)",
        "bob: group:ops (from ann)",
        "bob: group:ops (from bob)",
    ]


def test_an_open_window_without_a_peers_roll_call_is_dead():
    text = "roll ann group:book"
    ann = report(
        "a1", [chat("group:book", [["own", "a1", text, "sent"]])], [(text, "group:book", 50.0)]
    )
    bob = report("b1", [chat("group:book", [["peer", "a1", text, "sent"]])], [])
    bob["chats"][0]["shown"] = []  # in the log, but not in the window
    roll = {"a1": ["group:book"]}
    assert dead_windows([ann, bob], roll, "roll") == ["bob: group:book (from ann)"]
    bob["chats"][0]["shown"] = ["ann · " + text]
    assert dead_windows([ann, bob], roll, "roll") == []


@pytest.mark.soak
@pytest.mark.cluster
@pytest.mark.process
@pytest.mark.timeout(420)
def test_a_short_day_loses_nothing_and_leaves_no_window_dead_or_stuck():
    if not os.environ.get("DISPLAY"):
        pytest.skip("no DISPLAY (run through scripts/test.sh, which starts Xvfb)")
    outcome = soak.run(clients=4, minutes=1.0, log=print)
    for row in soak.results(outcome):
        print(f"{row.metric}: {row.value} {row.unit}")
    f = outcome.findings
    assert not outcome.failures, outcome.failures
    assert set(outcome.events) == {
        "broker stop/start",
        "everyone idle past consumer_timeout (lunch)",
        "Redis stop/start",
        "client killed and started again",
    }
    # The day happened: every group carried messages, and private chats did.
    assert all(f.confirmed[f"group:{g}"] > 0 for g in soak.GROUPS), f.confirmed
    assert sum(n for c, n in f.confirmed.items() if c.startswith("private:")) > 10
    problems = [*f.examples, *outcome.dead]
    assert outcome.dead == [], problems
    for what in (f.stuck, f.lost, f.duplicated):
        assert {chat: n for chat, n in what.items() if n} == {}, problems

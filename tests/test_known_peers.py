"""Trust on first use: first meetings, known keys, changed keys and what the user is told."""

from __future__ import annotations

import os
import stat
import threading
import time

import pytest

from chat.trust.identity import Identity
from chat.trust.known_peers import KnownPeers, Trust, day, together


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


NOV_12 = time.mktime((2026, 11, 12, 10, 30, 0, 0, 0, -1))


@pytest.fixture
def clock() -> Clock:
    return Clock(NOV_12)


@pytest.fixture
def peers(tmp_path, clock) -> KnownPeers:
    store = KnownPeers(tmp_path / "known.db", clock=clock)
    yield store
    store.close()


def _key() -> str:
    return Identity.generate().public_key_b64


def test_first_meeting_then_known(peers, clock):
    bob = _key()
    first = peers.check("bob", bob)
    assert first.trust is Trust.NEW and first.first_seen == NOV_12
    clock.now += 3600
    again = peers.check("bob", bob)
    assert again.trust is Trust.KNOWN and again.first_seen == NOV_12
    assert again.sentence() is None


def test_new_sentence_shows_the_key_fingerprint(peers):
    bob = Identity.generate()
    check = peers.check("bob", bob.public_key_b64)
    assert check.sentence() == f"first meeting with bob (key {bob.fingerprint})"


def test_a_changed_key_is_reported_and_not_remembered(peers, clock):
    old, new = _key(), _key()
    peers.check("bob", old)
    clock.now += 86_400 * 3
    changed = peers.check("bob", new)
    assert changed.trust is Trust.CHANGED
    assert changed.known_key == old and changed.key == new and changed.first_seen == NOV_12
    assert changed.sentence(now=clock.now) == (
        "bob's key has changed since 12 Nov: this may not be the bob you talked to"
    )
    # Still changed next time: the old key stays until the user accepts the new one.
    assert peers.check("bob", new).trust is Trust.CHANGED
    assert peers.check("bob", old).trust is Trust.KNOWN
    assert peers.known_key("bob") == old


def test_accepting_a_new_key_makes_it_the_known_one(peers, clock):
    old, new = _key(), _key()
    peers.check("bob", old)
    clock.now += 100
    peers.accept("bob", new)
    check = peers.check("bob", new)
    assert check.trust is Trust.KNOWN and check.first_seen == NOV_12 + 100
    assert peers.check("bob", old).trust is Trust.CHANGED


def test_day_names_the_year_only_when_it_is_another_one():
    assert day(NOV_12, now=NOV_12) == "12 Nov"
    assert day(NOV_12, now=NOV_12 + 86_400 * 365) == "12 Nov 2026"


def test_what_is_known_survives_a_restart(tmp_path, clock):
    alice = Identity.load_or_create(tmp_path, "alice")
    bob = _key()
    store = KnownPeers.for_identity(tmp_path, alice)
    store.check("bob", bob)
    store.close()
    path = tmp_path / "known_peers" / f"{alice.file_stem}.db"
    assert store.path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for extra in path.parent.glob(path.name + "-*"):  # the WAL files
        assert stat.S_IMODE(extra.stat().st_mode) == 0o600
    again = KnownPeers.for_identity(tmp_path, alice)
    try:
        assert again.check("bob", bob).trust is Trust.KNOWN
        assert again.check("bob", _key()).trust is Trust.CHANGED
    finally:
        again.close()


def test_each_own_identity_has_its_own_store(tmp_path):
    alice, carol = Identity.generate(), Identity.generate()
    bob = _key()
    first = KnownPeers.for_identity(tmp_path, alice)
    second = KnownPeers.for_identity(tmp_path, carol)
    try:
        first.check("bob", bob)
        assert second.check("bob", _key()).trust is Trust.NEW
    finally:
        first.close()
        second.close()


def test_the_number_of_usernames_is_bounded_least_recent_out(tmp_path, clock):
    store = KnownPeers(tmp_path / "small.db", clock=clock, max_peers=3)
    try:
        keys = {name: _key() for name in ["a", "b", "c", "d"]}
        for name in ["a", "b", "c"]:
            clock.now += 100
            store.check(name, keys[name])
        clock.now += 100
        store.check("a", keys["a"])  # "a" seen again: now "b" is the least recent
        clock.now += 100
        store.check("d", keys["d"])
        assert len(store) == 3
        assert store.known_key("b") is None
        assert store.known_key("a") == keys["a"]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("username", "key"),
    [("", "x"), ("x" * 300, None), (None, None), ("bob", "not a key"), ("bob", 5)],
)
def test_malformed_values_are_refused(peers, username, key):
    if key is None:
        key = _key()
    with pytest.raises(ValueError):
        peers.check(username, key)


def test_many_threads_meeting_one_name_agree_on_one_first_key(tmp_path):
    store = KnownPeers(tmp_path / "race.db")
    keys = [_key() for _ in range(8)]
    results: list[Trust] = []
    barrier = threading.Barrier(len(keys))

    def meet(key: str) -> None:
        barrier.wait()
        results.append(store.check("bob", key).trust)

    threads = [threading.Thread(target=meet, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert sorted(t.value for t in results) == ["changed"] * 7 + ["new"]
        assert store.known_key("bob") in keys
    finally:
        store.close()


def test_two_processes_share_one_store(tmp_path):
    """A second client with the same identity sees the first one's peers."""
    path = tmp_path / "shared.db"
    first, second = KnownPeers(path), KnownPeers(path)
    try:
        bob = _key()
        first.check("bob", bob)
        assert second.check("bob", bob).trust is Trust.KNOWN
        assert second.check("bob", _key()).trust is Trust.CHANGED
    finally:
        first.close()
        second.close()
    assert os.path.exists(path)


def test_first_meetings_said_at_once_collapse_into_one_line_with_every_key():
    alice, bob, dana = (
        f"first meeting with {n} (key {n[0] * 4})" for n in ("alice", "bob", "dana")
    )
    changed = "erin's key has changed since 1 Jan: this may not be the erin you talked to"
    assert together([alice, bob, changed, dana, bob]) == [
        "first meeting with alice (key aaaa), bob (key bbbb) and dana (key dddd)",
        changed,
    ]
    assert together([alice, bob]) == ["first meeting with alice (key aaaa) and bob (key bbbb)"]
    assert together([alice, alice]) == [alice]
    assert together([]) == []

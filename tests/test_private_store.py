"""Private history on disk: kept per peer key, bounded, deletable, private, thread-safe."""

from __future__ import annotations

import stat
import threading

import pytest

from chat.private.store import PrivateHistory, StoredMessage
from chat.trust.identity import Identity


def _msg(n: int, direction: str = "in", text: str | None = None, who: str = "bob") -> StoredMessage:
    return StoredMessage(direction, f"id{n:05d}", who, text or f"message {n}", 1795660800.0 + n)


@pytest.fixture
def bob() -> str:
    return Identity.generate().public_key_b64


@pytest.fixture
def history(tmp_path):
    store = PrivateHistory(tmp_path / "history.db")
    yield store
    store.close()


def test_a_conversation_comes_back_after_a_restart(tmp_path, bob):
    alice = Identity.load_or_create(tmp_path, "alice")
    store = PrivateHistory.for_identity(tmp_path, alice)
    store.append("bob", bob, _msg(1, "out", "hi bob", who="alice"))
    store.append("bob", bob, _msg(2, "in", "hi alice ✓"))
    store.close()
    path = tmp_path / "history" / f"{alice.file_stem}.db"
    assert store.path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for extra in path.parent.glob(path.name + "-*"):
        assert stat.S_IMODE(extra.stat().st_mode) == 0o600
    again = PrivateHistory.for_identity(tmp_path, Identity.load_or_create(tmp_path, "alice"))
    try:
        assert [(m.direction, m.username, m.text) for m in again.recent(bob)] == [
            ("out", "alice", "hi bob"),
            ("in", "bob", "hi alice ✓"),
        ]
    finally:
        again.close()


def test_another_key_under_the_same_name_sees_nothing_of_the_old_history(history, bob):
    history.append("bob", bob, _msg(1, text="a secret for the real bob"))
    impostor = Identity.generate().public_key_b64
    assert history.recent(impostor) == []
    history.append("bob", impostor, _msg(1, text="hello from the new bob"))
    assert [m.text for m in history.recent(impostor)] == ["hello from the new bob"]
    assert [m.text for m in history.recent(bob)] == ["a secret for the real bob"]


def test_recent_returns_the_latest_oldest_first(history, bob):
    history.append_many("bob", bob, [_msg(n) for n in range(50)])
    assert [m.message_id for m in history.recent(bob, limit=3)] == ["id00047", "id00048", "id00049"]
    assert history.recent(bob, limit=0) == []


def test_a_message_kept_twice_is_stored_once(history, bob):
    assert history.append("bob", bob, _msg(1))
    assert not history.append("bob", bob, _msg(1))
    assert history.append("bob", bob, _msg(1, "out"))  # the same ID the other way is another one
    assert history.count(bob) == 2


def test_each_peer_keeps_at_most_the_bound_oldest_pruned(tmp_path, bob):
    store = PrivateHistory(tmp_path / "small.db", max_per_peer=100)
    other = Identity.generate().public_key_b64
    try:
        store.append("carol", other, _msg(0))
        for start in range(0, 250, 25):
            store.append_many("bob", bob, [_msg(n) for n in range(start, start + 25)])
        store.append("bob", bob, _msg(250))
        kept = store.recent(bob, limit=1000)
        assert len(kept) == 100 and store.count(bob) == 100
        assert kept[0].message_id == "id00151" and kept[-1].message_id == "id00250"
        assert store.count(other) == 1  # another peer's history is not touched
    finally:
        store.close()


def test_delete_peer_and_delete_all_leave_no_text_behind(tmp_path, bob):
    store = PrivateHistory(tmp_path / "h.db")
    carol = Identity.generate().public_key_b64
    try:
        store.append_many("bob", bob, [_msg(n, text=f"BOBSECRET{n}") for n in range(20)])
        store.append("carol", carol, _msg(1, text="CAROLSECRET"))
        assert store.delete_peer(bob) == 20
        assert store.recent(bob) == [] and store.count(bob) == 0
        assert [m.text for m in store.recent(carol)] == ["CAROLSECRET"]
        assert store.delete_peer(bob) == 0
        store.delete_all()
        assert store.recent(carol) == []
    finally:
        store.close()
    on_disk = b"".join(p.read_bytes() for p in tmp_path.glob("h.db*"))
    assert b"BOBSECRET" not in on_disk and b"CAROLSECRET" not in on_disk


@pytest.mark.parametrize(
    ("username", "key", "message"),
    [
        ("", "KEY", _msg(1)),
        ("bob", "not a key", _msg(1)),
        ("bob", "KEY", StoredMessage("sideways", "id", "bob", "x", 1.0)),  # type: ignore[arg-type]
        ("bob", "KEY", StoredMessage("in", "", "bob", "x", 1.0)),
        ("bob", "KEY", StoredMessage("in", "id", "bob", "x" * 70_000, 1.0)),
    ],
)
def test_malformed_values_write_nothing(history, bob, username, key, message):
    key = bob if key == "KEY" else key
    with pytest.raises(ValueError):
        history.append_many(username, key, [_msg(0), message])
    assert history.count(bob) == 0


def test_several_threads_append_at_once(history, bob):
    barrier = threading.Barrier(4)

    def write(offset: int) -> None:
        barrier.wait()
        for n in range(offset, offset + 100):
            history.append("bob", bob, _msg(n))

    threads = [threading.Thread(target=write, args=(k * 100,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert history.count(bob) == 400
    assert len({m.message_id for m in history.recent(bob, limit=1000)}) == 400

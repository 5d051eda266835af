"""What the soak found, from the clients' reports: plain data in, counts out.

A report is what :mod:`benchmarks.soak_agent` answers to ``report``: the
client's ID, every chat it has (log entries, window text, status line), the
messages it sent (text, chat key, time), when each group membership began and
when its broker connection last came back.

- **Lost**: a message confirmed to its sender (status ``sent``) that a member
  who was in the chat throughout does not have. Throughout means: the
  membership open at the end began before the message was sent, and for a
  transient group also after the member's last reconnect (a transient group
  delivers from the moment you are connected; its window says what was
  missed). A private chat's peer must have every message it acknowledged.
- **Duplicated**: the same message twice in one chat's log.
- **Stuck**: an own message still "sending" at the end, a group message the
  window took that never came back into it, or a window whose status line
  still says "Sending…".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

Report = dict[str, Any]
SENDING = "Sending…"


@dataclass
class Message:
    sender: str  # the sender's client ID
    text: str
    key: str  # the chat, as the sender names it
    at: float
    status: str  # sent, sending, failed, or "gone" (the sender left the chat since)


@dataclass
class Findings:
    lost: Counter[str] = field(default_factory=Counter)  # chat -> count
    duplicated: Counter[str] = field(default_factory=Counter)
    confirmed: Counter[str] = field(default_factory=Counter)
    stuck: Counter[str] = field(default_factory=Counter)  # chat -> count
    examples: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if len(self.examples) < 20:
            self.examples.append(text)


def chat_name(key: str, names: dict[str, str], sender: str = "") -> str:
    """``group:book`` stays; a private chat is named by its two people, sorted."""
    if key.startswith("group:"):
        return key
    pair = sorted([names.get(sender, sender), names.get(key.split(":", 1)[1], key)])
    return f"private:{pair[0]}-{pair[1]}"


def messages(report: Report) -> list[Message]:
    """Every message ``report``'s client sent, with its status in the sender's own log."""
    status: dict[str, str] = {}
    for chat in report["chats"]:
        for side, _sender, text, state in chat["entries"]:
            if side == "own":
                status[text] = state
    return [
        Message(report["id"], s["text"], s["key"], s["at"], status.get(s["text"], "gone"))
        for s in report["sent"]
    ]


def _texts(chat: dict[str, Any]) -> Counter[str]:
    return Counter(text for _side, _sender, text, _status in chat["entries"])


def _group_start(chat: dict[str, Any], report: Report) -> float:
    start = chat.get("joined_at")
    if start is None:  # not joined through the soak: it cannot say since when
        start = report["at"]
    if chat["kind"] == "transient":
        start = max(start, report.get("back_at") or 0.0)
    return start


def check(finals: list[Report], earlier: list[Report], names: dict[str, str]) -> Findings:
    """Lost, duplicated and stuck messages; ``earlier`` are reports of killed clients.

    ``names`` maps client IDs (every incarnation) to usernames.
    """
    found = Findings()
    by_id = {r["id"]: r for r in finals}
    for report in finals:
        for chat in report["chats"]:
            where = chat_name(chat["key"], names, report["id"])
            for text, n in _texts(chat).items():
                if n > 1:
                    found.duplicated[where] += n - 1
                    found.note(f"{report['name']} shows {text!r} {n} times in {where}")
            stuck = sum(1 for e in chat["entries"] if e[0] == "own" and e[3] == "sending")
            if chat["open"] and chat["status_line"] == SENDING:
                stuck = max(stuck, 1)
            if stuck:
                found.stuck[where] += stuck
                found.note(f"{report['name']}: {stuck} stuck at Sending… in {where}")
    for report in finals:
        for key, text in _never_back(report):
            found.stuck[key] += 1
            found.note(f"{report['name']}: {text!r} never came back to its window in {key}")
    for report in finals + earlier:
        for msg in messages(report):
            if msg.status != "sent":
                continue
            where = chat_name(msg.key, names, msg.sender)
            found.confirmed[where] += 1
            for receiver, chat in _receivers(msg, by_id, finals):
                if _texts(chat)[msg.text] == 0:
                    found.lost[where] += 1
                    found.note(f"{receiver['name']} never got {msg.text!r} in {where}")
    return found


def _never_back(report: Report) -> list[tuple[str, str]]:
    """Group messages the window took that never entered its log: the window
    still says "Sending…" for them (a consumer that died, for one)."""
    chats = {c["key"]: c for c in report["chats"]}
    gone = []
    for msg in messages(report):
        chat = chats.get(msg.key)
        if msg.status == "gone" and chat is not None and _joined(chat) < msg.at:
            gone.append((msg.key, msg.text))
    return gone


def _joined(chat: dict[str, Any]) -> float:
    joined = chat.get("joined_at")
    return 0.0 if joined is None else joined


def _receivers(
    msg: Message, by_id: dict[str, Report], finals: list[Report]
) -> list[tuple[Report, dict[str, Any]]]:
    """The (report, chat) of everyone who must have ``msg``."""
    found = []
    if msg.key.startswith("group:"):
        for report in finals:
            for chat in report["chats"]:
                if chat["key"] == msg.key and _group_start(chat, report) < msg.at:
                    found.append((report, chat))
        return found
    peer = by_id.get(msg.key.split(":", 1)[1])  # None: the peer was killed since
    if peer is not None:
        chat = next((c for c in peer["chats"] if c["key"] == f"private:{msg.sender}"), None)
        found.append((peer, chat or {"entries": []}))
    return found


def dead_windows(finals: list[Report], roll: dict[str, list[str]], prefix: str) -> list[str]:
    """Open windows missing a confirmed roll-call message of a peer who is in the chat.

    ``roll`` maps a sender's ID to the chat keys it sent ``prefix ... key`` in;
    only confirmed ones count. Returns "who: chat (from whom)" per dead window.
    """
    by_id = {r["id"]: r for r in finals}
    dead = set()
    for sender_id, keys in roll.items():
        sender = by_id.get(sender_id)
        if sender is None:
            continue
        # Taken by the window and never said to have failed: in the chat for all
        # the sender was told (a message that never came back is stuck, too).
        confirmed = {m.text: m for m in messages(sender) if m.status in ("sent", "gone")}
        for key in keys:
            msg = confirmed.get(f"{prefix} {sender['name']} {key}")
            if msg is None:
                continue
            for receiver, chat in _receivers(msg, by_id, finals):
                if chat.get("open") and not any(msg.text in shown for shown in chat["shown"]):
                    dead.add(f"{receiver['name']}: {chat['key']} (from {sender['name']})")
    return sorted(dead)

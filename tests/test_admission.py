"""The private-chat server's admission counts, with a clock the test moves."""

from __future__ import annotations

import threading

from chat.transport import admission
from chat.transport.admission import Admission, remote_address


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_peer_strings_give_the_remote_address():
    assert remote_address("ipv4:10.1.2.3:5678") == "10.1.2.3"
    assert remote_address("ipv6:[::1]:5678") == "::1"
    assert remote_address("unix:/tmp/x") == "unix:/tmp/x"


def test_a_flood_from_one_address_cuts_off_its_oldest_waiting_streams():
    gate = Admission(hello_deadline=60)
    cut: list[int] = []
    tokens = [
        gate.waiting("10.0.0.1", lambda n=n: cut.append(n))
        for n in range(admission.WAITING_PER_ADDRESS + 3)
    ]
    assert cut == [0, 1, 2]
    other = gate.waiting("10.0.0.2", lambda: cut.append(-1))
    assert gate.said_hello(other) and gate.said_hello(tokens[-1])
    assert not gate.said_hello(tokens[0])  # cut off already: its hello comes too late


def test_a_caller_without_a_hello_is_cut_off_at_the_deadline():
    gate = Admission(hello_deadline=0.2)
    cut = threading.Event()
    token = gate.waiting("10.0.0.1", cut.set)
    quick = gate.waiting("10.0.0.1", lambda: None)
    assert gate.said_hello(quick)
    assert cut.wait(5)
    assert not gate.said_hello(token)
    assert gate.cut_off == 1


def test_open_chats_are_capped_per_address_in_all_and_per_minute():
    clock = Clock()
    gate = Admission(clock=clock)
    for _ in range(admission.CHATS_PER_ADDRESS):
        assert gate.open_chat("10.0.0.1") is None
    assert "from your address" in gate.open_chat("10.0.0.1")
    clock.now += 61
    others = [f"10.0.1.{n}" for n in range(admission.CHATS_TOTAL - admission.CHATS_PER_ADDRESS)]
    for address in others:
        assert gate.open_chat(address) is None
    assert "too many chats open" in gate.open_chat("10.0.9.9")
    gate.close_chat("10.0.0.1")
    clock.now += 61
    assert gate.open_chat("10.0.0.1") is None  # a closed chat frees its place
    for address in others + ["10.0.0.1"] * admission.CHATS_PER_ADDRESS:
        gate.close_chat(address)
    clock.now += 61
    for n in range(admission.OPENED_PER_MINUTE):
        assert gate.open_chat(f"10.0.2.{n}") is None
        gate.close_chat(f"10.0.2.{n}")
    assert "in the last minute" in gate.open_chat("10.0.3.1")
    clock.now += 61
    assert gate.open_chat("10.0.3.1") is None
    assert gate.refused == 3

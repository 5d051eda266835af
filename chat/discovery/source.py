"""Ways to discover chats, each behind one :class:`Source`; what each finds is a :class:`Sighting`.

A source looks once and returns a sighting: the clients it saw, the group
chats it saw, how long it took, a sentence when it failed, and warnings about
single clients (a changed key). The menu, the listing and the comparison work
on sightings only, so they hold for any number of sources. Two exist:

- :class:`NameServerSource`: read the Redis name server (shared memory).
- :class:`EventSource`: send a RabbitMQ discovery event that every client answers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from chat.discovery.lookup import RedisResult, look_up
from chat.discovery.requester import Answered, EventResult, Requester
from chat.textsafe import name as safe
from nameserver.registry import ClientRecord, Registry, in_order, order

T = TypeVar("T")

#: Called with a line to show while a source is still looking (an answer arrived).
Say = Callable[[str], None]


@dataclass(frozen=True)
class GroupSeen:
    """One group chat as a source saw it.

    Attributes:
        name: the group's name.
        kind: "persistent" or "transient", where the source knows it.
        creator: "name (ID)" of whoever created it, where the source knows it.
        created: when it was created (Unix seconds), where the source knows it.
        open_in: the clients that said they have it open.
    """

    name: str
    kind: str | None = None
    creator: str | None = None
    created: float | None = None
    open_in: tuple[ClientRecord, ...] = ()


@dataclass(frozen=True)
class OpenChats:
    """What one client said it has open."""

    groups: tuple[str, ...] = ()
    private_with: tuple[str, ...] = ()


@dataclass
class Sighting:
    """What one source found, once.

    Attributes:
        summary: one sentence saying what was found and how fast.
        clients: the clients seen, in the order every view uses (online longest first).
        groups: the group chats seen, by name.
        took: seconds the look took (for an event: the whole wait).
        error: a sentence for the user when the source could not look.
        warnings: client ID -> why to doubt that client (its key changed).
        open_chats: client ID -> what it has open, for sources that ask the clients.
        timing: how long it took, in words, when more than ``took`` is worth saying.
    """

    summary: str = ""
    clients: list[ClientRecord] = field(default_factory=list)
    groups: list[GroupSeen] = field(default_factory=list)
    took: float = 0.0
    error: str | None = None
    warnings: dict[str, str] = field(default_factory=dict)
    open_chats: dict[str, OpenChats] | None = None
    timing: str = ""


class Source(Protocol):
    """One way to discover chats.

    Attributes:
        label: the menu line ("Via the Redis name server (shared memory)").
        title: its column in a comparison's summary ("REDIS NAME SERVER").
        failed: that column's word for a look that failed ("not sent").
        heading: its column in a comparison's table of clients ("IN REDIS").
        only_here: the sentence start for clients only this source saw.
        groups_only_here: the sentence start for group chats only this source saw.
        lists_clients: its clients are the ones the other sources expect to hear from.
    """

    label: str
    title: str
    failed: str
    heading: str
    only_here: str
    groups_only_here: str
    lists_clients: bool

    def intro(self) -> str | None:
        """What to say before looking (for a look that takes a while), or None."""
        ...

    def look(self, say: Say | None = None, expected: Future[set[str]] | None = None) -> Sighting:
        """Look once; never raises for server trouble (the sighting's ``error`` says it).

        Args:
            say: called with a line as each partial result arrives.
            expected: the client IDs to hear from, once known; the look may end early.
        """
        ...

    def caveat(self) -> str | None:
        """Why this source may disagree with the others, said under a comparison."""
        ...


def count(n: int, thing: str) -> str:
    """'1 live client', '3 live clients'."""
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"


def who(record: ClientRecord, own_id: str | None = None) -> str:
    you = " (you)" if record.id == own_id else ""
    return f"{safe(record.name)}{you} ({safe(record.id)}) at {safe(record.address)}"


class NameServerSource:
    """Read the live clients and group chats from the Redis name server."""

    label = "Via the Redis name server (shared memory)"
    title = "REDIS NAME SERVER"
    failed = "not read"
    heading = "IN REDIS"
    only_here = "Only in Redis (registered, but did not answer)"
    groups_only_here = "Group chats only in Redis (nobody has them open)"
    lists_clients = True

    def __init__(self, registry: Registry, ttl: int | None = None) -> None:
        self.registry = registry
        self.ttl = ttl

    def intro(self) -> str | None:
        return None

    def look(self, say: Say | None = None, expected: Future[set[str]] | None = None) -> Sighting:
        return self.sighting(look_up(self.registry))

    @staticmethod
    def sighting(result: RedisResult) -> Sighting:
        clients = in_order(result.clients)
        groups = sorted(result.groups, key=lambda g: g.name)
        return Sighting(
            summary=(
                f"The name server (Redis) lists {count(len(clients), 'live client')} and "
                f"{count(len(groups), 'group chat')}, read in {ms(result.took)}."
            ),
            clients=clients,
            groups=[
                GroupSeen(g.name, g.kind, f"{g.creator_name} ({g.creator_id})", g.created)
                for g in groups
            ],
            took=result.took,
            error=result.error,
        )

    def caveat(self) -> str | None:
        within = f" (within {self.ttl} s)" if self.ttl else ""
        return (
            "Expected difference: a client killed a moment ago stays in Redis until its "
            f"registration expires{within} but no longer answers events; Redis also keeps "
            "group chats that nobody has open."
        )


class EventSource:
    """Send one discovery event over RabbitMQ and collect the answers until a deadline."""

    label = "Via a RabbitMQ discovery event (every client answers)"
    title = "DISCOVERY EVENT"
    failed = "not sent"
    heading = "ANSWERED"
    only_here = "Only in the answers (not in Redis)"
    groups_only_here = "Group chats open but not in Redis"
    lists_clients = False

    def __init__(
        self,
        requester: Requester,
        timeout: float,
        own_id: str | None = None,
        listed: Callable[[], set[str]] | None = None,
    ) -> None:
        """
        Args:
            requester: sends the event and collects the answers.
            timeout: the longest wait for answers, in seconds.
            own_id: this client's ID (marked "(you)" in the answer lines).
            listed: the IDs expected to answer when the caller gives none.
        """
        self.requester = requester
        self.timeout = timeout
        self.own_id = own_id
        self.listed = listed

    def intro(self) -> str | None:
        return f"Asking every connected client (for {self.timeout:g} s) ..."

    def ask(
        self,
        on_answer: Callable[[Answered], None] | None = None,
        expected: Future[set[str]] | None = None,
    ) -> EventResult:
        """The raw answers; without ``expected``, ``listed`` (run now) names who should answer."""
        if expected is None and self.listed is not None:
            expected = in_background(self.listed, "discovery-listed")
        return self.requester.discover(self.timeout, on_answer, expected)

    def look(self, say: Say | None = None, expected: Future[set[str]] | None = None) -> Sighting:
        def on_answer(answered: Answered) -> None:
            if say is not None:
                say(answer_line(answered, self.own_id))

        return self.sighting(self.ask(on_answer, expected))

    @staticmethod
    def sighting(result: EventResult) -> Sighting:
        answers = sorted(result.answers, key=lambda a: order(a.answer.client))
        last = result.last_answer
        return Sighting(
            summary=(
                f"{count(len(answers), 'client')} answered the discovery event"
                + (f", the last after {ms(last)}" if last is not None else "")
                + f" (waited {ms(result.waited)})."
            ),
            clients=[a.answer.client for a in answers],
            groups=[GroupSeen(name, open_in=tuple(c)) for name, c in result.groups().items()],
            took=result.waited,
            error=result.error,
            timing=(f"last answer after {ms(last)}, " if last is not None else "")
            + f"waited {ms(result.waited)}",
            warnings={a.answer.client.id: a.warning for a in answers if a.warning},
            open_chats={
                a.answer.client.id: OpenChats(
                    tuple(a.answer.groups), tuple(n for _, n in a.answer.private_chats)
                )
                for a in answers
            },
        )

    def caveat(self) -> str | None:
        return None


def answer_line(answered: Answered, own_id: str | None = None) -> str:
    """One line per answer, printed as it arrives."""
    return f"  answer from {who(answered.answer.client, own_id)} after {ms(answered.after)}"


def in_background(fn: Callable[[], T], name: str) -> Future[T]:
    """Run ``fn`` on a thread of its own; its result (or exception) arrives in the future."""
    done: Future[T] = Future()

    def run() -> None:
        try:
            done.set_result(fn())
        except BaseException as exc:
            done.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return done


def look_all(sources: Sequence[Source], say: Say | None = None) -> list[Sighting]:
    """Every source at the same time; one sighting per source, in the sources' order.

    Sources that list the clients (the name server) look on threads of their
    own; the first to finish tells the others whom to expect, so a wait for
    answers ends as soon as every listed client has answered.
    """
    listing = [i for i, s in enumerate(sources) if s.lists_clients]
    found: dict[int, Future[Sighting]] = {
        i: in_background(sources[i].look, f"discovery-look-{i}") for i in listing
    }
    expected: Future[set[str]] | None = None
    if listing:
        expected = Future()
        first = found[listing[0]]

        def on_listed(done: Future[Sighting]) -> None:
            sighting = done.exception() or done.result()
            if isinstance(sighting, Sighting) and sighting.error is None:
                expected.set_result({c.id for c in sighting.clients})
            else:
                expected.set_exception(RuntimeError("no list of clients"))

        first.add_done_callback(on_listed)
    here = {
        i: source.look(say, expected)
        for i, source in enumerate(sources)
        if not source.lists_clients
    }
    return [here[i] if i in here else found[i].result() for i in range(len(sources))]

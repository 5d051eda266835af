"""A compressed day: clients chat for minutes through a broker restart, a Redis
restart and a killed client, and nothing may be lost, stuck or dead at the end.

``soak`` (``scripts/bench.py soak [--minutes N]``, 10 minutes by default):
8 real clients, each a process of its own with real Tk windows
(:mod:`benchmarks.soak_agent`), against a Redis and a RabbitMQ node of the
benchmark's own. Every client sends into one of its open chats every 1 to 4 s,
as a person types. Meanwhile private chats and group memberships open and
close (a ring of private chats and two memberships per client stay all day,
so every chat has people in it throughout), and, at 25 %, 30 %, 50 % and
70 % of the time: the broker is stopped and started; everyone idles (lunch)
for twice the broker's ``consumer_timeout``, compressed like the day (30
minutes of 8 hours, checked every second instead of every minute); Redis
is stopped and started (no persistence: the name server comes back empty and
the clients register again); one client is killed with SIGKILL and started
again.

At the end every client sends a roll call into each of its chats. Reported,
each held to its limit: dead windows (an open window that did not show a
peer's roll call: 0), messages stuck at "Sending…" (0), messages confirmed to
the sender but lost or shown twice by a member in the chat throughout (0 per
chat; see :mod:`benchmarks.soak_check`), and each client's RSS and CPU after
a warm-up and at the end (RSS growth <= 10 %).
"""

from __future__ import annotations

import random
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.agents import Agent, AgentError, Sample, cpu_percent
from benchmarks.common import Result
from benchmarks.servers import RabbitNode, RedisServer, free_port
from benchmarks.soak_check import Findings, check, dead_windows

#: Minutes of the full run; ``scripts/bench.py soak --minutes N`` sets it.
MINUTES = 10.0
#: Groups of the day, and whether they keep a history.
GROUPS = {"book": "persistent", "ops": "persistent", "lunch": "transient", "random": "transient"}
#: RabbitMQ's default consumer_timeout (s), and the working day the soak compresses (min).
CONSUMER_TIMEOUT, DAY = 1800.0, 480.0
TICK = 1  # s: how often our node checks consumer_timeout (RabbitMQ's default: 60)
RSS_GROWTH_LIMIT = 10.0  # per cent, after the warm-up
SETTLE = 45.0  # seconds the last messages get to be confirmed before they count as stuck
ROLL = "roll call from"


@dataclass
class Outcome:
    """Everything the soak measured; ``ok`` when every limit held."""

    clients: int
    minutes: float
    findings: Findings
    dead: list[str]
    rows: list[dict[str, object]] = field(default_factory=list)  # per client
    events: dict[str, float] = field(default_factory=dict)  # drill -> seconds
    actions: int = 0
    refused: int = 0
    sends_refused: int = 0  # typed while a chat could not take it: a sentence said why
    failures: list[str] = field(default_factory=list)  # drills that could not be done
    workdir: str = ""

    @property
    def ok(self) -> bool:
        f = self.findings
        growth_ok = all(r["ok"] is not False for r in self.rows)
        return (
            not (self.dead or f.stuck.total() or f.lost.total() or f.duplicated.total())
            and growth_ok
        )


class Soak:
    """The day's schedule, run against servers of its own."""

    def __init__(
        self,
        clients: int,
        minutes: float,
        seed: int = 1,
        log: Callable[[str], None] = print,
        lunch: bool = True,
    ) -> None:
        self.n = clients
        self.seconds = minutes * 60
        self.minutes = minutes
        self.rng = random.Random(seed)
        self.say = log
        self.workdir = Path(tempfile.mkdtemp(prefix="soak-"))
        self.redis = RedisServer("none", free_port())
        port = free_port()
        # The broker's patience is compressed like the day: a delivery left
        # unacknowledged for 30 minutes of a working day (8 hours) ends its channel.
        self.consumer_timeout = max(5.0, CONSUMER_TIMEOUT * minutes / DAY)
        # Checked every second (the channel tick) rather than every minute.
        advanced = (
            f"[{{rabbit, [{{consumer_timeout, {int(self.consumer_timeout * 1000)}}}, "
            f"{{channel_tick_interval, {TICK * 1000}}}]}}].\n"
        )
        self.rabbit = RabbitNode(f"soak-{uuid.uuid4().hex[:6]}", port, free_port(), advanced)
        self.servers = {
            "namespace": f"soak-{uuid.uuid4().hex[:6]}",
            "redis": self.redis.url,
            "amqp": self.rabbit.url,
        }
        self.agents: list[Agent] = []
        self.killed: list[dict] = []  # the last reports of killed clients
        self.names: dict[str, str] = {}  # every client ID ever -> name
        self.memberships: set[tuple[int, str]] = set()  # (agent, group) left open all day
        self.warm: dict[str, Sample | None] = {}
        self.events: dict[str, float] = {}
        self.actions = 0
        self.refused = 0
        self.failures: list[str] = []
        self.lunch = lunch
        self._quiet = threading.Event()  # set over lunch: nobody acts
        self._drill: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- people ----------------------------------------------------------------

    def _start_agent(self, k: int) -> Agent:
        agent = Agent(f"user{k}", self.workdir, self.servers, seed=k * 7919 + len(self.names))
        return agent

    def _ready(self, agent: Agent) -> None:
        agent.wait_ready()
        self.names[agent.id] = agent.name

    def _attempt(self, agent: Agent, op: str, **args: object) -> bool:
        """A user's action; refused ones (a sentence, e.g. while a server is down) are counted."""
        self.actions += 1
        try:
            agent.call(op, **args)
            return True
        except AgentError as exc:
            self.refused += 1
            self.say(f"  {agent.name} {op} {args}: {exc}")
            return False

    def _settle_in(self, k: int) -> None:
        """Client k's all-day chats: two groups and a private chat with the next client."""
        agent = self.agents[k]
        names = list(GROUPS)
        for j, group in enumerate((names[k % 4], names[(k + 1) % 4])):
            mode = "subscribe" if j == 1 and k % 2 else "connect"
            if self._attempt(agent, "join", group=group, mode=mode, kind=GROUPS[group]):
                self.memberships.add((k, group))

    def _ring(self, k: int) -> None:
        peer = self.agents[(k + 1) % self.n]
        if peer is not self.agents[k]:
            self._attempt(self.agents[k], "private", peer=peer.id)

    # -- the day ------------------------------------------------------------------

    def run(self) -> Outcome:
        try:
            return self._day()
        finally:
            for agent in self.agents:
                agent.quit()
            self.rabbit.close()
            self.redis.close()

    def _day(self) -> Outcome:
        self.agents = [self._start_agent(k) for k in range(self.n)]
        for agent in self.agents:
            self._ready(agent)
        for k in range(self.n):
            self._settle_in(k)
        for k in range(self.n):
            self._ring(k)
        for agent in self.agents:
            agent.call("traffic", on=True)
        begin = time.monotonic()
        drills = [
            (0.25, "broker stop/start", self._broker_restart),
            (0.3, "everyone idle past consumer_timeout (lunch)", self._lunch),
            (0.5, "Redis stop/start", self._redis_restart),
            (0.7, "client killed and started again", self._kill_one),
        ]
        warm_up, late = 0.15 * self.seconds, 0.85 * self.seconds
        sampled = {"warm": False, "late": False}
        step = max(2.0, self.seconds / 100)
        while (now := time.monotonic() - begin) < self.seconds:
            if not sampled["warm"] and now >= warm_up:
                sampled["warm"] = True
                self.warm = {a.name: a.take_sample() for a in self.agents}
            if not sampled["late"] and now >= late:
                sampled["late"] = True
                for agent in self.agents:
                    agent.take_sample()
            if drills and now >= drills[0][0] * self.seconds and not self._drilling():
                _, what, drill = drills.pop(0)
                self.say(f"{now:6.0f} s  {what}")
                self._drill = threading.Thread(target=self._timed, args=(what, drill), daemon=True)
                self._drill.start()
            if not self._quiet.is_set():
                self._churn()
            # The pace of the day: a person's next action, not a wait for a condition.
            time.sleep(max(0.0, step - ((time.monotonic() - begin) - now)))
        if self._drill is not None:
            self._drill.join(300)
        return self._evening()

    def _drilling(self) -> bool:
        return self._drill is not None and self._drill.is_alive()

    def _timed(self, what: str, drill: Callable[[], None]) -> None:
        """Run a drill (on a thread of its own: the day goes on meanwhile) and time it."""
        started = time.monotonic()
        try:
            drill()
        except Exception as exc:  # reported as a failed drill, the day goes on
            self.failures.append(f"{what}: {exc!r}")
            return
        self.events[what] = time.monotonic() - started

    def _churn(self) -> None:
        """One random action: open or close a private chat, join or leave a group."""
        k = self.rng.randrange(self.n)
        agent = self.agents[k]
        choice = self.rng.random()
        if choice < 0.3:
            peer = self.agents[self.rng.randrange(self.n)]
            if peer is not agent and peer is not self.agents[(k + 1) % self.n]:
                self._attempt(agent, "private", peer=peer.id)
        elif choice < 0.5:
            peer = self.agents[self.rng.randrange(self.n)]
            ring = {self.agents[(k + 1) % self.n], self.agents[(k - 1) % self.n]}
            if peer is not agent and peer not in ring:
                self._attempt(agent, "close_private", peer=peer.id)
        else:
            group = self.rng.choice(list(GROUPS))
            if (k, group) in self.memberships:
                return
            if choice < 0.75:
                mode = self.rng.choice(["connect", "connect", "subscribe"])
                self._attempt(agent, "join", group=group, mode=mode, kind=GROUPS[group])
            else:
                self._attempt(agent, "leave", group=group)

    def _lunch(self) -> None:
        """Nobody types and nothing opens or closes for twice the broker's consumer_timeout."""
        if not self.lunch:
            return
        self._quiet.set()
        try:
            for agent in self.agents:
                agent.call("traffic", on=False)
            time.sleep(2 * self.consumer_timeout + 2 * TICK)  # the idle hour itself
            for agent in self.agents:
                agent.call("traffic", on=True)
        finally:
            self._quiet.clear()

    def _broker_restart(self) -> None:
        self.rabbit.restart("stop")

    def _redis_restart(self) -> None:
        self.redis.restart("stop")

    def _kill_one(self) -> None:
        k = self.n - 1
        victim = self.agents[k]
        # Quiet first, so its last report holds everything it was told was sent.
        victim.call("traffic", on=False)
        self._settled([victim])
        self.killed.append(victim.call("report"))
        victim.kill()
        replacement = self._start_agent(k)
        self.agents[k] = replacement
        self._ready(replacement)
        self.memberships = {(j, g) for j, g in self.memberships if j != k}
        self._settle_in(k)
        self._ring(k)
        self._ring((k - 1) % self.n)
        replacement.call("traffic", on=True)

    def _settled(self, agents: list[Agent], timeout: float = SETTLE) -> list[dict]:
        """Reports once no message is on its way any more (or at the deadline)."""
        deadline = time.monotonic() + timeout
        while True:
            reports = [a.call("report") for a in agents]
            busy = [
                r["name"]
                for r in reports
                for c in r["chats"]
                if any(e[0] == "own" and e[3] == "sending" for e in c["entries"])
            ]
            if not busy or time.monotonic() > deadline:
                return reports
            time.sleep(0.25)  # the reports come from other processes: asked again, briefly

    def _evening(self) -> Outcome:
        for agent in self.agents:
            agent.call("traffic", on=False)
        self._settled(self.agents)
        roll = {a.id: a.call("send_all", text=f"{ROLL} {a.name}") for a in self.agents}
        finals = self._settled(self.agents)
        expected = sum(len(keys) for keys in roll.values())
        deadline = time.monotonic() + 30
        while (dead := dead_windows(finals, roll, ROLL)) and time.monotonic() < deadline:
            time.sleep(0.25)
            finals = [a.call("report") for a in self.agents]
        ended = {a.name: a.take_sample() for a in self.agents}
        self.say(f"roll call: {expected} messages, {len(dead)} dead windows")
        findings = check(finals, self.killed, self.names)
        rows = [self._row(agent, ended[agent.name]) for agent in self.agents]
        return Outcome(
            clients=self.n,
            minutes=self.minutes,
            findings=findings,
            dead=dead,
            rows=rows,
            events=self.events,
            actions=self.actions,
            refused=self.refused,
            sends_refused=sum(r["refused"] for r in finals + self.killed),
            failures=self.failures,
            workdir=str(self.workdir),
        )

    def _row(self, agent: Agent, end: Sample | None) -> dict[str, object]:
        start = self.warm.get(agent.name)
        first = agent.samples[0]
        late = agent.samples[-2] if len(agent.samples) > 2 else first
        restarted = not any(s is start for s in agent.samples)
        base = first if restarted or start is None else start
        if end is None:  # gone before the end: a crash the other figures show
            end = agent.samples[-1]
        growth = 100 * (end.rss_mb - base.rss_mb) / base.rss_mb
        return {
            "name": agent.name,
            "restarted": restarted,
            "rss_start": base.rss_mb,
            "rss_end": end.rss_mb,
            "growth": growth,
            "cpu_start": cpu_percent(first, base) if not restarted else float("nan"),
            "cpu_end": cpu_percent(late, end),
            # A client started again late in the day has had no warm-up: measured only.
            "ok": None if restarted else growth <= RSS_GROWTH_LIMIT,
        }


def run(
    clients: int = 8,
    minutes: float | None = None,
    seed: int = 1,
    log: Callable[[str], None] = print,
    lunch: bool = True,
) -> Outcome:
    """Run the day (``MINUTES`` long unless ``minutes`` is given) and return what it found."""
    soak = Soak(clients, MINUTES if minutes is None else minutes, seed, log, lunch)
    outcome = soak.run()
    outcome.workdir = str(soak.workdir)
    return outcome


def results(outcome: Outcome) -> list[Result]:
    """The figures, one table row each."""
    s = f"soak ({outcome.clients} clients, {outcome.minutes:g} min)"
    f = outcome.findings
    rows = [
        Result(s, "messages confirmed to their senders", sum(f.confirmed.values()), "msgs"),
        Result(s, f"user actions ({outcome.refused} refused with a sentence)", outcome.actions, ""),
        Result(s, "messages refused with a sentence (server down)", outcome.sends_refused, "msgs"),
        Result(
            s, "drills that could not be done", len(outcome.failures), "", "0", not outcome.failures
        ),
        Result(s, "dead windows", len(outcome.dead), "", "0", not outcome.dead),
        Result(s, 'stuck at "Sending…" at the end', f.stuck.total(), "msgs", "0", not f.stuck),
    ]
    for what, seconds in outcome.events.items():
        rows.append(Result(s, f"{what}: done in", seconds, "s"))
    chats = sorted(set(f.confirmed) | set(f.lost) | set(f.duplicated))
    groups = [c for c in chats if c.startswith("group:")]
    for chat in groups:
        bad = f.lost[chat] + f.duplicated[chat]
        metric = (
            f"{chat}: lost {f.lost[chat]}, duplicated {f.duplicated[chat]} of {f.confirmed[chat]}"
        )
        rows.append(Result(s, metric, bad, "msgs", "0", bad == 0))
    private = [c for c in chats if not c.startswith("group:")]
    lost = sum(f.lost[c] for c in private)
    dup = sum(f.duplicated[c] for c in private)
    total = sum(f.confirmed[c] for c in private)
    metric = f"{len(private)} private chats: lost {lost}, duplicated {dup} of {total}"
    rows.append(Result(s, metric, lost + dup, "msgs", "0", lost + dup == 0))
    for chat in private:
        if f.lost[chat] or f.duplicated[chat]:
            metric = f"{chat}: lost {f.lost[chat]}, duplicated {f.duplicated[chat]}"
            rows.append(Result(s, metric, f.lost[chat] + f.duplicated[chat], "msgs", "0", False))
    for row in outcome.rows:
        label = " (started again)" if row["restarted"] else ""
        metric = (
            f"{row['name']}{label} RSS {row['rss_start']:.0f}->{row['rss_end']:.0f} MB,"
            f" CPU {row['cpu_start']:.1f}->{row['cpu_end']:.1f} %: RSS growth"
        )
        target = "measured only" if row["ok"] is None else f"<= {RSS_GROWTH_LIMIT:g} %"
        rows.append(Result(s, metric, row["growth"], "%", target, row["ok"]))  # type: ignore[arg-type]
    return rows


def soak() -> list[Result]:
    import logging
    import sys

    # Our own nodes refuse connections while they start; pika logs each refusal.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    outcome = run(log=lambda line: print(line, file=sys.stderr, flush=True))
    for example in outcome.failures + outcome.findings.examples + outcome.dead:
        print(f"  {example}", file=sys.stderr)
    if outcome.ok:
        shutil.rmtree(outcome.workdir, ignore_errors=True)
    else:
        print(f"soak: the clients' logs are in {outcome.workdir}", file=sys.stderr)
    return results(outcome)


SCENARIOS = {"soak": soak}

"""Random sequences of events against a small world, with the desk's invariants checked after
every step.

The world: three queues (one needs French at level 2, one needs networking at level 3), five
agents with different skills and queues, topics that route and prioritise. A sequence starts,
now and then, from a restart (``Restored``), then the shift (each agent Ready, Away or not
signed in), then 10 to 30 steps (action, x, y): the action says what happens (a tap, an agent
accepting, a transfer, the clock moving on) and x and y pick who it happens to, mostly someone it
makes sense for and now and then someone it does not (a closed ticket, somebody else's offer, a
session that does not exist). Timers are fired the way the shell fires them: the clock moves on
and every due timer fires, in due order, each carrying its own time.

Invariants, checked after every event the desk takes (a refused event must leave it unchanged):
no customer lost or duplicated; no customer offered to two agents; no agent with two offers or
two sessions; an agent is never offered outside their queues and skills; first come, first
served within a priority level; every ticket ends in exactly one terminal state; a ticket whose
page never connected (joining) is never offered, and a tap leaves no queue with more of them
than ``max_joining``. Along with them,
the bookkeeping behind those: lines, pools and sessions agree with tickets and agents.

10 000 sequences run on every CI run, the same ones each time (``derandomize``): about 30 s of
CPU on one core.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from tests.unit.desk_invariants import check_invariants
from videoassist.desk import (
    DISPOSITIONS,
    AgentAway,
    AgentProfile,
    AgentReady,
    AgentSignedIn,
    AgentSignedOut,
    AgentState,
    AnnounceDue,
    CallbackRequested,
    CancelTimer,
    ConfigChanged,
    CustomerCancelled,
    CustomerLeft,
    CustomerReturned,
    CustomerTapped,
    Desk,
    DeskConfig,
    DeskError,
    DrainStarted,
    HungUp,
    MediaFailed,
    Notify,
    OfferAccepted,
    OfferDeclined,
    QueueConfig,
    Restored,
    RestoredTicket,
    SetTimer,
    TicketState,
    TopicRoute,
    TransferRequested,
    WrapUpDone,
)
from videoassist.desk.events import Effect, Event
from videoassist.desk.model import Ticket

A = AgentState
T = TicketState

# --------------------------------------------------------------------------- the world

CONFIG = DeskConfig(
    queues={
        "general": QueueConfig(
            "general", strategy="least_occupied", ring_timeout=25.0, wrap_up_limit=30.0
        ),
        "sales": QueueConfig(
            "sales",
            skills={"french": 2},
            strategy="round_robin",
            ring_timeout=25.0,
            wrap_up_limit=20.0,
            max_wait=60.0,
            overflow_to="general",
            max_length=3,
        ),
        "tech": QueueConfig(
            "tech",
            skills={"network": 3},
            strategy="best_skill",
            ring_timeout=25.0,
            wrap_up_limit=40.0,
            max_wait=120.0,
            max_missed=2,
            priority_aging=1.0,
        ),
    },
    topics={
        "router": TopicRoute("router", "tech"),
        "upgrade": TopicRoute("upgrade", "sales", priority=1),
        "outage": TopicRoute("outage", "tech", priority=5),
    },
    agents={
        "a1": AgentProfile("a1", queues=frozenset({"general"})),
        "a2": AgentProfile("a2", {"french": 3}, frozenset({"sales", "general"})),
        "a3": AgentProfile("a3", {"network": 3}, frozenset({"tech"})),
        # In tech, but one level short of its networking: never offered tech customers.
        "a4": AgentProfile("a4", {"network": 2, "french": 2}, frozenset({"tech", "sales"})),
        # In sales, but one level short of its French: never offered sales customers.
        "a5": AgentProfile(
            "a5", {"network": 5, "french": 1}, frozenset({"general", "tech", "sales"})
        ),
    },
    customer_grace=30.0,
    reoffer_after=15.0,
    callback_join_timeout=40.0,
    join_window=10.0,
    max_joining=2,  # small, so that taps push out tickets still joining
)

# An admin reshuffles: other strategies, no aging, a4 trained up to tech, a1 added to sales.
RESHUFFLED = replace(
    CONFIG,
    queues={
        **CONFIG.queues,
        "general": replace(CONFIG.queues["general"], strategy="round_robin", max_missed=2),
        "tech": replace(CONFIG.queues["tech"], strategy="longest_idle", priority_aging=0.0),
    },
    agents={
        **CONFIG.agents,
        "a1": AgentProfile("a1", {"french": 2}, frozenset({"general", "sales"})),
        "a4": AgentProfile("a4", {"network": 3, "french": 2}, frozenset({"tech", "sales"})),
    },
)

# Sales is closed down: refused while sales still has customers.
WITHOUT_SALES = DeskConfig(
    queues={q: c for q, c in CONFIG.queues.items() if q != "sales"},
    topics={t: r for t, r in CONFIG.topics.items() if r.queue_id != "sales"},
    agents={a: replace(p, queues=p.queues - {"sales"}) for a, p in CONFIG.agents.items()},
    customer_grace=CONFIG.customer_grace,
    reoffer_after=CONFIG.reoffer_after,
    callback_join_timeout=CONFIG.callback_join_timeout,
    join_window=CONFIG.join_window,
    max_joining=CONFIG.max_joining,
)

CONFIGS = (CONFIG, RESHUFFLED, WITHOUT_SALES)
AGENTS = ("a1", "a2", "a3", "a4", "a5")
TOPICS = ("", "router", "upgrade", "outage", "billing")
PRIORITIES = (0, 0, 0, 1, 3)
DEVICES = (None, None, "d1", "d2", "d3")  # one open ticket per device
AWAY_REASONS = ("away", "break", "meeting", "training")
QUEUE_IDS = ("general", "sales", "tech", "nowhere")
ADVANCES = (0.5, 1.0, 2.0, 5.0, 12.0, 31.0, 65.0)
START = 1_700_000_000.0

# --------------------------------------------------------------------------- the sequences

# Weighted by repetition: the common things happen more often.
ACTIONS = (
    "announce",  # first, so that shrinking turns the steps that do not matter into this
    *["tap"] * 4,
    "tap_again",
    "cancel",
    "drop",
    "drop",
    "come_back",
    "callback",
    "sign_in",
    *["ready"] * 3,
    "away",
    "sign_out",
    *["accept"] * 6,
    "decline",
    *["hang_up"] * 3,
    *["wrap_up"] * 2,
    *["blind_transfer"] * 2,
    *["warm_transfer"] * 2,
    "media_failed",
    *["wait"] * 3,
    "reconfigure",
    "restore",
    "drain",
)
SHIFT_START = st.sampled_from(("ready", "ready", "away", "offline"))
MIN_STEPS = 10
STEPS_PER_SEQUENCE = 30
# A sequence is drawn as bytes, three to a step: one draw per sequence instead of three per step
# keeps Hypothesis's own bookkeeping from costing more than the desk. ``decode`` reads them.
STEPS = st.binary(min_size=3 * MIN_STEPS, max_size=3 * STEPS_PER_SEQUENCE)


def decode(raw: bytes) -> list[tuple[str, int, int]]:
    """Three bytes to a step: (action, x, y), with x and y below 32."""
    return [
        (ACTIONS[raw[i] % len(ACTIONS)], raw[i + 1] % 32, raw[i + 2] % 32)
        for i in range(0, len(raw) - 2, 3)
    ]


class World:
    """The desk and what a shell keeps around it: the clock, the timers, the tickets tapped."""

    def __init__(self) -> None:
        session_ids = itertools.count(1)
        self.desk = Desk(new_id=lambda: f"s{next(session_ids)}", config=CONFIG)
        self.now = START
        self.ticket_ids = itertools.count(1)
        self.timers: dict[str, tuple[float, int, Event]] = {}
        self.timer_order = itertools.count()
        self.tapped: list[str] = []
        self.terminal: dict[str, TicketState] = {}

    def open_desk(self, shift: list[str]) -> None:
        """The shift starts: each agent signs in and says Ready, signs in only, or stays out."""
        for agent_id, start in zip(AGENTS, shift, strict=True):
            if start != "offline":
                self.send(AgentSignedIn(agent_id, agent_id.upper(), self.tick()))
            if start == "ready":
                self.send(AgentReady(agent_id, self.tick()))

    # ------------------------------------------------------------------ sending

    def send(self, event: Event, *, from_timer: bool = False) -> None:
        note(repr(event))
        # Timers and announcements are never refused (a refusal fails the test below), so only
        # the events that may be refused pay for a picture of the desk before them.
        before = None if from_timer or isinstance(event, AnnounceDue) else fingerprint(self.desk)
        try:
            effects = self.desk.handle(event)
        except DeskError as exc:
            assert before is not None, f"{event!r} was refused: {exc!r}"
            assert fingerprint(self.desk) == before, f"refused {event!r} but changed the desk"
            return
        if isinstance(event, CustomerTapped):
            self.tapped.append(event.ticket_id)
            queue_id = self.desk.tickets[event.ticket_id].queue_id
            joining = [t for t in self.desk.tickets.values() if t.state is T.JOINING]
            assert sum(t.queue_id == queue_id for t in joining) <= self.desk.config.max_joining
        elif isinstance(event, Restored):
            self.tapped.extend(t.id for t in event.tickets)
        self.keep_timers(effects)
        # The desk keeps its pending timers itself (a node taking it over arms them again):
        # they are exactly the ones its effects asked for and that have not fired.
        pending = {key: timer.event for key, timer in self.desk.timers.items()}
        assert pending == {key: ev for key, (_, _, ev) in self.timers.items()}
        check_offers(self.desk, effects, event.at)
        check_invariants(self)

    def keep_timers(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, SetTimer):
                self.timers[effect.key] = (effect.at, next(self.timer_order), effect.event)
            elif isinstance(effect, CancelTimer):
                self.timers.pop(effect.key, None)

    def advance(self, seconds: float) -> None:
        """The clock moves on; every timer due by then fires, in due order."""
        until = self.now + seconds
        while self.timers:
            key, (at, _, event) = min(self.timers.items(), key=lambda item: item[1][:2])
            if at > until:
                break
            del self.timers[key]
            self.now = max(self.now, at)
            self.send(event, from_timer=True)
        self.now = until

    def tick(self) -> float:
        """Time for the next event: a little later than the last one."""
        self.now += 0.25
        return self.now

    # ------------------------------------------------------------------ picking

    def pick_ticket(self, x: int, y: int) -> str:
        """Mostly an open ticket; now and then any ticket ever tapped, or one never tapped."""
        open_ids = sorted(self.desk.tickets)
        if open_ids and y % 5:
            return open_ids[x % len(open_ids)]
        every = [*self.tapped, "t-never"]
        return every[x % len(every)]

    def pick_session(self, x: int) -> str:
        sessions = sorted(self.desk.sessions)
        return sessions[x % len(sessions)] if sessions else "s-never"

    def pick_live_session(self, x: int, y: int) -> str:
        """Mostly a live session; now and then one in wrap-up, or one that never was."""
        live = sorted(s.id for s in self.desk.sessions.values() if s.ended_at is None)
        return live[x % len(live)] if live and y % 5 else self.pick_session(x)

    def pick_agent(self, x: int, y: int, *states: AgentState) -> str:
        """Mostly an agent in one of ``states``; now and then any agent at all."""
        fitting = [a for a in AGENTS if self.desk.agent_state(a) in states]
        return fitting[x % len(fitting)] if fitting and y % 5 else AGENTS[x % len(AGENTS)]

    # ------------------------------------------------------------------ actions

    def do(self, action: str, x: int, y: int) -> None:
        getattr(self, f"do_{action}")(x, y)

    def do_tap(self, x: int, y: int) -> None:
        """A tap; mostly its page connects at once (the join), now and then never (a ghost)
        or later (``come_back``)."""
        ticket_id = f"t{next(self.ticket_ids)}"
        self.send(
            CustomerTapped(
                ticket_id,
                self.tick(),
                topic=TOPICS[x % len(TOPICS)],
                priority=PRIORITIES[y % len(PRIORITIES)],
                callback=y % 4 == 0,
                device_id=DEVICES[(x + y) % len(DEVICES)],
            )
        )
        if x % 3 and ticket_id in self.desk.tickets:
            self.send(CustomerReturned(ticket_id, self.tick()))

    def do_tap_again(self, x: int, y: int) -> None:
        if self.tapped:
            self.send(CustomerTapped(self.tapped[x % len(self.tapped)], self.tick()))

    def do_cancel(self, x: int, y: int) -> None:
        self.send(CustomerCancelled(self.pick_ticket(x, y), self.tick()))

    def do_drop(self, x: int, y: int) -> None:
        self.send(CustomerLeft(self.pick_ticket(x, y), self.tick()))

    def do_come_back(self, x: int, y: int) -> None:
        away = sorted(t.id for t in self.desk.tickets.values() if not t.connected)
        ticket_id = away[x % len(away)] if away and y % 5 else self.pick_ticket(x, y)
        self.send(CustomerReturned(ticket_id, self.tick()))

    def do_callback(self, x: int, y: int) -> None:
        self.send(CallbackRequested(self.pick_ticket(x, y), self.tick()))

    def do_sign_in(self, x: int, y: int) -> None:
        agent_id = self.pick_agent(x, y, A.OFFLINE)
        self.send(AgentSignedIn(agent_id, agent_id.upper(), self.tick()))

    def do_ready(self, x: int, y: int) -> None:
        self.send(AgentReady(self.pick_agent(x, y, A.AWAY), self.tick()))

    def do_away(self, x: int, y: int) -> None:
        reason = AWAY_REASONS[y % len(AWAY_REASONS)]
        agent_id = self.pick_agent(x, y, A.READY, A.OFFERED)
        self.send(AgentAway(agent_id, self.tick(), reason=reason))

    def do_sign_out(self, x: int, y: int) -> None:
        self.send(AgentSignedOut(AGENTS[x % len(AGENTS)], self.tick()))

    def offered_pair(self, x: int, y: int) -> tuple[str, str]:
        """Mostly an agent and the ticket offered to them; now and then a wrong pair."""
        offered = sorted(a.id for a in self.desk.agents.values() if a.state is A.OFFERED)
        if offered and y % 4:
            agent_id = offered[x % len(offered)]
            ticket_id = self.desk.agents[agent_id].ticket_id
            assert ticket_id is not None
            return agent_id, ticket_id
        return AGENTS[x % len(AGENTS)], self.pick_ticket(x, y)

    def do_accept(self, x: int, y: int) -> None:
        agent_id, ticket_id = self.offered_pair(x, y)
        self.send(OfferAccepted(agent_id, ticket_id, self.tick()))

    def do_decline(self, x: int, y: int) -> None:
        agent_id, ticket_id = self.offered_pair(x, y)
        self.send(OfferDeclined(agent_id, ticket_id, self.tick()))

    def do_hang_up(self, x: int, y: int) -> None:
        session_id = self.pick_live_session(x, y)
        session = self.desk.sessions.get(session_id)
        if y % 2:
            by_id = session.ticket_id if session and y % 7 else self.pick_ticket(x, y)
            self.send(HungUp(session_id, "customer", by_id, self.tick()))
        else:
            by_id = session.agent_id if session and y % 7 else AGENTS[y % len(AGENTS)]
            self.send(HungUp(session_id, "agent", by_id, self.tick()))

    def do_wrap_up(self, x: int, y: int) -> None:
        agent_id = self.pick_agent(x, y, A.WRAP_UP)
        agent = self.desk.agents.get(agent_id)
        session_id = agent.session_id if agent and agent.session_id and y % 5 else None
        disposition = DISPOSITIONS[y % len(DISPOSITIONS)] if y % 9 else "sort of"
        self.send(
            WrapUpDone(agent_id, session_id or self.pick_session(y), disposition, "", self.tick())
        )

    def transfer_from(self, x: int) -> tuple[str, str]:
        busy = sorted(a.id for a in self.desk.agents.values() if a.state is A.BUSY)
        if busy and x % 5:
            agent_id = busy[x % len(busy)]
            session_id = self.desk.agents[agent_id].session_id
            assert session_id is not None
            return agent_id, session_id
        return AGENTS[x % len(AGENTS)], self.pick_session(x)

    def do_blind_transfer(self, x: int, y: int) -> None:
        agent_id, session_id = self.transfer_from(x)
        queue_id = QUEUE_IDS[y % len(QUEUE_IDS)]
        self.send(TransferRequested(session_id, agent_id, self.tick(), queue_id=queue_id))

    def do_warm_transfer(self, x: int, y: int) -> None:
        agent_id, session_id = self.transfer_from(x)
        ready = sorted(a.id for a in self.desk.agents.values() if a.state is A.READY)
        to_agent_id = ready[y % len(ready)] if ready and y % 5 else AGENTS[y % len(AGENTS)]
        self.send(TransferRequested(session_id, agent_id, self.tick(), to_agent_id=to_agent_id))

    def do_media_failed(self, x: int, y: int) -> None:
        session = self.desk.sessions.get(self.pick_live_session(x, y))
        call_id = session.call_id if session else "s-never"
        self.send(MediaFailed(call_id, self.tick(), detail="ice failed"))

    def do_wait(self, x: int, y: int) -> None:
        self.advance(ADVANCES[x % len(ADVANCES)])

    def do_announce(self, x: int, y: int) -> None:
        self.send(AnnounceDue(self.tick()))

    def do_reconfigure(self, x: int, y: int) -> None:
        self.send(ConfigChanged(CONFIGS[x % len(CONFIGS)], self.tick()))

    def do_restore(self, x: int, y: int) -> None:
        """Start-up after a restart; refused unless the desk is still empty."""
        tickets = tuple(
            RestoredTicket(
                f"r{n}-{x}",
                TOPICS[(x + n) % len(TOPICS)],
                "",
                QUEUE_IDS[(x + n) % len(QUEUE_IDS)],  # "nowhere" goes to the default queue
                PRIORITIES[(y + n) % len(PRIORITIES)],
                START - 100.0 + n * (y % 3),  # ties in queued_at now and then
                callback=(y + n) % 3 == 0,
                device_id=DEVICES[(x + n) % len(DEVICES)],  # distinct for distinct n
                line_since=START - 50.0 + n if y % 2 else None,
                joined=(x + y + n) % 4 != 0,
            )
            for n in range(x % 4)
        )
        states = {agent_id: ("ready", "away")[(y >> n) & 1] for n, agent_id in enumerate(AGENTS)}
        self.send(Restored(tickets, states, self.tick()))

    def do_drain(self, x: int, y: int) -> None:
        if x % 4 == 0:  # rarely: everything after it is refused or wound down
            self.send(DrainStarted(self.tick()))


# --------------------------------------------------------------------------- the invariants


def fingerprint(desk: Desk) -> tuple[Any, ...]:
    """What a refused event must leave as it was: ``dump()`` and the state behind it."""
    return (
        desk.dump(),
        [
            (
                t.id,
                t.state,
                t.queue_id,
                t.priority,
                t.callback,
                t.connected,
                t.offer and (t.offer.agent_id, t.offer.offer_id, t.offer.transfer_from),
                dict(t.skip),
                t.session_id,
                t.call_id,
            )
            for t in desk.tickets.values()
        ],
        [
            (a.id, a.state, a.away_reason, a.ticket_id, a.session_id, a.missed, a.seq, a.profile)
            for a in desk.agents.values()
        ],
        dict(desk.sessions),  # the rows are frozen: a copy of the dict is a snapshot
        {q: dict(members) for q, members in desk.routing.waiting.items()},
        {q: line.ordered() for q, line in desk.routing.lines.items()},
        {q: pool.ordered() for q, pool in desk.routing.pools.items()},
        len(desk.closed),
        desk.config,
    )


def offerable_to(ticket: Ticket, agent_id: str, at: float) -> bool:
    return (
        ticket.state is T.QUEUED
        and (ticket.connected or ticket.callback)
        and ticket.skip.get(agent_id, -math.inf) <= at
    )


def check_offers(desk: Desk, effects: list[Effect], at: float) -> None:
    """Every offer rung by this event: to the right agent, in the right order."""
    offered: set[str] = set()
    for effect in effects:
        if not (isinstance(effect, Notify) and effect.event == "offer"):
            continue
        agent_id, data = effect.target_id, effect.data
        ticket_id = data["ticket_id"]
        assert isinstance(ticket_id, str)
        assert agent_id not in offered, f"{agent_id} was offered two customers at once"
        offered.add(agent_id)
        agent = desk.agents[agent_id]
        assert agent.state is A.OFFERED and agent.ticket_id == ticket_id
        ticket = desk.tickets[ticket_id]
        assert ticket.offer is not None and ticket.offer.agent_id == agent_id
        if data["transfer"]:
            continue  # a warm transfer names its agent
        assert not desk.draining, "an offer was made while draining"
        queue_id = data["queue_id"]
        assert queue_id == ticket.queue_id
        assert isinstance(queue_id, str)
        assert desk.config.eligible(agent.profile, queue_id), (
            f"{agent_id} was offered {ticket_id} of {queue_id}, outside their queues or skills"
        )
        assert agent.profile == desk.config.profile(agent_id)
        for other in desk.tickets.values():
            if (
                other.queue_id == ticket.queue_id
                and other.priority == ticket.priority
                and (other.queued_at, other.seq) < (ticket.queued_at, ticket.seq)
                and offerable_to(other, agent_id, at)
            ):
                raise AssertionError(
                    f"{agent_id} was offered {ticket_id} while {other.id}, of the same queue "
                    "and priority and there first, waited for them"
                )


# --------------------------------------------------------------------------- the test


@settings(
    max_examples=10_000,
    deadline=None,
    derandomize=True,  # the same sequences on every run, so CI failures reproduce
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    restart=st.none() | st.tuples(st.integers(0, 31), st.integers(0, 31)),
    shift=st.lists(SHIFT_START, min_size=len(AGENTS), max_size=len(AGENTS)),
    raw_steps=STEPS,
)
def test_random_sequences_of_events_keep_every_invariant(
    restart: tuple[int, int] | None, shift: list[str], raw_steps: bytes
) -> None:
    steps = decode(raw_steps)
    note(f"steps: {steps}")
    world = World()
    check_invariants(world)
    if restart is not None:  # the desk starts from what the store kept before a restart
        world.do_restore(*restart)
    world.open_desk(shift)
    for action, x, y in steps:
        world.do(action, x, y)
    world.advance(3600.0)  # every timer left fires: the desk winds down to a quiet state

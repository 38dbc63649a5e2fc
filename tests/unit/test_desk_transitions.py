"""Walk AGENT_TRANSITIONS and TICKET_TRANSITIONS: every (state, trigger) pair against a real Desk.

For each pair the subject is put into the state with legal events only, then sent the event that
produces the trigger. A pair in the table must land in the table's state (the few pairs of the
table that no event reaches are listed, with what the desk does instead). A pair outside it must
either be refused with a DeskError that leaves the desk exactly as it was, be ignored (no effects,
nothing changed), or be a trigger that no event can produce in that state; which of these the
desk does is written down below, pair by pair, so that a change of behaviour shows up as a
failing case. One modifier has its own list: while the desk drains for a shutdown, a customer's
dropped connection ("leave") is the server going away, and is written down for every state.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from tests.unit.desk_helpers import desk_config, make_desk, snapshot
from videoassist.desk import (
    AgentAway,
    AgentForcedOut,
    AgentReady,
    AgentSentAway,
    AgentSignedIn,
    AgentSignedOut,
    AgentState,
    ConfigChanged,
    CustomerCancelled,
    CustomerGraceExpired,
    CustomerLeft,
    CustomerReturned,
    CustomerTapped,
    Desk,
    DeskError,
    DrainStarted,
    HungUp,
    IllegalTransition,
    JoinWindowExpired,
    NotAllowed,
    OfferAccepted,
    OfferDeclined,
    OfferTimedOut,
    QueueConfig,
    SetTimer,
    TicketMoved,
    TicketReprioritized,
    TicketState,
    TopicRoute,
    TransferRequested,
    UnknownSubject,
    WrapUpDone,
)
from videoassist.desk.desk import (
    AGENT_TRANSITIONS,
    AGENT_TRIGGERS,
    TICKET_TRANSITIONS,
    TICKET_TRIGGERS,
)
from videoassist.desk.events import Effect, Event

A = AgentState
T = TicketState

SUBJECT_AGENT = "a1"
SUBJECT_TICKET = "t1"
NO_SUCH_SESSION = "s-none"
SUPERVISOR = ("u9", "sue")  # who the supervisor actions are by
OTHER_QUEUE = "billing"  # where a blind transfer sends the customer

# --------------------------------------------------------------------------- a desk to drive


class World:
    """A desk plus the bookkeeping a shell would keep: a clock, ticket ids and fired timers."""

    def __init__(self) -> None:
        queues = (QueueConfig("general"), QueueConfig(OTHER_QUEUE))
        self.desk: Desk = make_desk(desk_config(*queues, topics=(TopicRoute("router", "general"),)))
        self._clock = itertools.count(1)
        self._ticket_ids = itertools.count(1)
        self.timers: list[OfferTimedOut] = []

    def at(self) -> float:
        return float(next(self._clock))

    def new_ticket_id(self) -> str:
        return f"t{next(self._ticket_ids)}"

    def send(self, event: Event) -> list[Effect]:
        effects = self.desk.handle(event)
        for effect in effects:
            if isinstance(effect, SetTimer) and isinstance(effect.event, OfferTimedOut):
                self.timers.append(effect.event)
        return effects

    # Legal moves, used to build the states. Each one is an event a real client could send.

    def sign_in(self, agent_id: str = SUBJECT_AGENT) -> None:
        self.send(AgentSignedIn(agent_id, agent_id.upper(), self.at()))

    def sign_out(self, agent_id: str = SUBJECT_AGENT) -> None:
        self.send(AgentSignedOut(agent_id, self.at()))

    def ready(self, agent_id: str = SUBJECT_AGENT) -> None:
        self.send(AgentReady(agent_id, self.at()))

    def tap(self) -> str:
        """A customer taps and their page connects (joins): only then can they be offered."""
        ticket_id = self.ghost_tap()
        self.send(CustomerReturned(ticket_id, self.at()))
        return ticket_id

    def ghost_tap(self) -> str:
        """A tap whose page has not connected (yet)."""
        ticket_id = self.new_ticket_id()
        self.send(CustomerTapped(ticket_id, self.at(), topic="router"))
        return ticket_id

    def accept(self, agent_id: str = SUBJECT_AGENT) -> None:
        ticket_id = self.desk.agents[agent_id].ticket_id
        assert ticket_id is not None
        self.send(OfferAccepted(agent_id, ticket_id, self.at()))

    def customer_hangs_up(self, ticket_id: str) -> None:
        session_id = self.desk.tickets[ticket_id].session_id
        assert session_id is not None
        self.send(HungUp(session_id, "customer", ticket_id, self.at()))


# --------------------------------------------------------------------------- what may happen


@dataclass(frozen=True)
class Attempt:
    """The event that produces a trigger, and what the desk looks like when it did not."""

    event: Event
    not_produced: Callable[[Desk], bool] = lambda desk: True


@dataclass(frozen=True)
class Raises:
    """Refused with this error.

    An IllegalTransition names a subject (``about``: "agent" or "ticket") and, when the subject
    is not the one walked, its own trigger (``as_trigger``).
    """

    error: type[DeskError]
    about: str = ""
    as_trigger: str | None = None


@dataclass(frozen=True)
class Ignored:
    """Accepted as stale: no effects, nothing changed."""


@dataclass(frozen=True)
class NotProduced:
    """The event is handled, but it does not reach the subject in this state."""


@dataclass(frozen=True)
class Becomes:
    """The event produces another trigger in this state (a customer leaving a live call ends it)."""

    trigger: str


Outcome = Raises | Ignored | NotProduced | Becomes


def pairs(trigger: str, *states: Any) -> list[tuple[Any, str]]:
    return [(state, trigger) for state in states]


@dataclass(frozen=True)
class Walk:
    """One transition table and what it takes to walk it against a real desk."""

    states: type[AgentState] | type[TicketState]
    triggers: frozenset[str]
    transitions: dict[tuple[Any, str], Any]
    outside: dict[tuple[Any, str], Outcome]  # every pair not in the table, and what happens
    builders: dict[Any, Callable[[], World]]  # a world with the subject in that state
    producers: dict[str, Callable[[World], Attempt]]  # the event that produces the trigger
    current: Callable[[Desk], Any]  # the subject's state
    unreached: dict[tuple[Any, str], Outcome] = field(default_factory=dict)

    def world_in(self, state: Any) -> World:
        world = self.builders[state]()
        assert self.current(world.desk) is state
        return world

    def move_in_the_table(self, state: Any, trigger: str) -> None:
        world = self.world_in(state)
        world.send(self.producers[trigger](world).event)
        assert self.current(world.desk) is self.transitions[(state, trigger)]

    def move_off_the_table(self, state: Any, trigger: str, outcome: Outcome) -> None:
        """A pair outside the table, or one in it that no event produces: ``outcome`` holds."""
        world = self.world_in(state)
        attempt = self.producers[trigger](world)
        assert self.current(world.desk) is state, "setup moved the subject"
        before = snapshot(world.desk)
        match outcome:
            case Raises(error, about, as_trigger):
                with pytest.raises(DeskError) as info:
                    world.desk.handle(attempt.event)
                assert type(info.value) is error
                if error is IllegalTransition:
                    err = info.value
                    assert isinstance(err, IllegalTransition)
                    assert err.trigger == (as_trigger or trigger)
                    assert err.subject.split()[0] == about
                    if about == ("agent" if isinstance(state, AgentState) else "ticket"):
                        assert err.state == state.value
                assert snapshot(world.desk) == before, "a refused event changed the desk"
            case Ignored():
                assert world.desk.handle(attempt.event) == []
                assert snapshot(world.desk) == before, "an ignored event changed the desk"
            case NotProduced():
                world.desk.handle(attempt.event)
                assert self.current(world.desk) is state
                assert attempt.not_produced(world.desk)
            case Becomes(other):
                world.desk.handle(attempt.event)
                assert self.current(world.desk) is self.transitions[(state, other)]

    def check_every_pair_is_walked_exactly_once(self) -> None:
        everything = set(itertools.product(self.states, self.triggers))
        allowed = set(self.transitions)
        outside = set(self.outside)
        assert not allowed & outside, f"listed both ways: {sorted(allowed & outside)}"
        assert allowed | outside == everything, (
            f"not walked: {sorted(everything - allowed - outside)}; "
            f"not real: {sorted((allowed | outside) - everything)}"
        )
        assert set(self.unreached) <= allowed
        assert set(self.builders) == set(self.states)
        assert set(self.producers) == self.triggers


# --------------------------------------------------------------------------- agents

# Each builder leaves the subject agent in its state with nobody waiting.


def agent_offline() -> World:
    world = World()
    world.sign_in()
    world.sign_out()
    return world


def agent_away() -> World:
    world = World()
    world.sign_in()
    return world


def agent_ready() -> World:
    world = agent_away()
    world.ready()
    return world


def agent_offered() -> World:
    world = agent_ready()
    world.tap()
    return world


def agent_busy() -> World:
    world = agent_offered()
    world.accept()
    return world


def agent_wrap_up() -> World:
    world = agent_busy()
    ticket_id = world.desk.agents[SUBJECT_AGENT].ticket_id
    assert ticket_id is not None
    world.customer_hangs_up(ticket_id)
    return world


AGENT_BUILDERS: dict[AgentState, Callable[[], World]] = {
    A.OFFLINE: agent_offline,
    A.AWAY: agent_away,
    A.READY: agent_ready,
    A.OFFERED: agent_offered,
    A.BUSY: agent_busy,
    A.WRAP_UP: agent_wrap_up,
}


def waiting_ticket_not_offered_to_subject(world: World) -> str:
    """A customer who waits and whom the desk will not offer to the subject agent."""
    ticket_id = world.tap()
    if world.desk.agents[SUBJECT_AGENT].ticket_id == ticket_id:
        # The subject was ready and got it; by declining, it waits for somebody else.
        world.send(OfferDeclined(SUBJECT_AGENT, ticket_id, world.at()))
    assert world.desk.ticket_state(ticket_id) is T.QUEUED
    return ticket_id


def subjects_ticket(world: World) -> str:
    """The ticket offered to or live with the subject agent, else one merely waiting."""
    return world.desk.agents[SUBJECT_AGENT].ticket_id or waiting_ticket_not_offered_to_subject(
        world
    )


def subjects_session(world: World) -> str:
    return world.desk.agents[SUBJECT_AGENT].session_id or NO_SUCH_SESSION


def produce_agent_sign_in(world: World) -> Attempt:
    return Attempt(AgentSignedIn(SUBJECT_AGENT, "Ada", world.at()))


def produce_agent_sign_out(world: World) -> Attempt:
    return Attempt(AgentSignedOut(SUBJECT_AGENT, world.at()))


def produce_agent_ready(world: World) -> Attempt:
    return Attempt(AgentReady(SUBJECT_AGENT, world.at()))


def produce_agent_away(world: World) -> Attempt:
    return Attempt(AgentAway(SUBJECT_AGENT, world.at(), reason="lunch"))


def produce_agent_offer(world: World) -> Attempt:
    """A customer who tapped joins (their page connects); only a ready agent is offered them.
    The tap alone offers nobody: ``TestGhostTaps`` below."""
    ticket_id = world.ghost_tap()
    return Attempt(
        CustomerReturned(ticket_id, world.at()),
        not_produced=lambda desk: desk.ticket_state(ticket_id) is T.QUEUED,
    )


def produce_agent_accept(world: World) -> Attempt:
    return Attempt(OfferAccepted(SUBJECT_AGENT, subjects_ticket(world), world.at()))


def produce_agent_decline(world: World) -> Attempt:
    return Attempt(OfferDeclined(SUBJECT_AGENT, subjects_ticket(world), world.at()))


def produce_agent_withdraw(world: World) -> Attempt:
    """The customer cancels; that withdraws an offer only from the agent it is offered to."""
    ticket_id = subjects_ticket(world)
    return Attempt(
        CustomerCancelled(ticket_id, world.at()),
        not_produced=lambda desk: desk.ticket_state(ticket_id) is T.CANCELLED,
    )


def produce_agent_timeout(world: World) -> Attempt:
    """The ring timer of the subject's latest offer fires (made up if it never had one).

    With the default ``max_missed`` of 1, one unanswered offer is enough to set the agent Away.
    """
    if world.desk.agent_state(SUBJECT_AGENT) is A.OFFERED:
        ticket_id = subjects_ticket(world)
    else:
        # A ready agent gets (and declines) this customer: that leaves a stale timer behind.
        ticket_id = waiting_ticket_not_offered_to_subject(world)
    mine = [timer for timer in world.timers if timer.agent_id == SUBJECT_AGENT]
    if mine:
        return Attempt(mine[-1])
    return Attempt(OfferTimedOut(SUBJECT_AGENT, ticket_id, offer_id=0, at=world.at()))


def produce_agent_miss(world: World) -> Attempt:
    """The same ring timer, once the admin allows two misses in a row before Away (RONA)."""
    config = world.desk.config
    queues = {q: replace(c, max_missed=2) for q, c in config.queues.items()}
    world.send(ConfigChanged(replace(config, queues=queues), world.at()))
    return produce_agent_timeout(world)


def produce_agent_end(world: World) -> Attempt:
    return Attempt(HungUp(subjects_session(world), "agent", SUBJECT_AGENT, world.at()))


def produce_agent_wrap_up(world: World) -> Attempt:
    return Attempt(
        WrapUpDone(SUBJECT_AGENT, subjects_session(world), "resolved", "rebooted", world.at())
    )


def produce_agent_sent_away(world: World) -> Attempt:
    return Attempt(AgentSentAway(SUBJECT_AGENT, *SUPERVISOR, world.at(), reason="meeting"))


def produce_agent_forced_out(world: World) -> Attempt:
    return Attempt(AgentForcedOut(SUBJECT_AGENT, *SUPERVISOR, world.at()))


AGENT_PRODUCERS: dict[str, Callable[[World], Attempt]] = {
    "sent_away": produce_agent_sent_away,
    "forced_out": produce_agent_forced_out,
    "sign_in": produce_agent_sign_in,
    "sign_out": produce_agent_sign_out,
    "ready": produce_agent_ready,
    "away": produce_agent_away,
    "offer": produce_agent_offer,
    "accept": produce_agent_accept,
    "decline": produce_agent_decline,
    "withdraw": produce_agent_withdraw,
    "miss": produce_agent_miss,
    "timeout": produce_agent_timeout,
    "end": produce_agent_end,
    "wrap_up": produce_agent_wrap_up,
}

# Every pair AGENT_TRANSITIONS leaves out, and what the desk does instead.
AGENT_OUTSIDE_THE_TABLE: dict[tuple[AgentState, str], Outcome] = {
    **dict.fromkeys(
        pairs("sign_in", A.READY, A.OFFERED, A.BUSY, A.WRAP_UP, A.AWAY),
        Raises(IllegalTransition, "agent"),
    ),
    **dict.fromkeys(pairs("sign_out", A.OFFLINE), Raises(IllegalTransition, "agent")),
    **dict.fromkeys(
        pairs("ready", A.OFFLINE, A.OFFERED, A.BUSY, A.WRAP_UP),
        Raises(IllegalTransition, "agent"),
    ),
    **dict.fromkeys(
        pairs("away", A.OFFLINE, A.BUSY, A.WRAP_UP), Raises(IllegalTransition, "agent")
    ),
    # Only a ready agent is offered a customer; the customer waits instead.
    **dict.fromkeys(pairs("offer", A.OFFLINE, A.OFFERED, A.BUSY, A.WRAP_UP, A.AWAY), NotProduced()),
    # The desk checks that the ticket is offered to this agent before it looks at states.
    **dict.fromkeys(
        pairs("accept", A.OFFLINE, A.READY, A.BUSY, A.WRAP_UP, A.AWAY), Raises(NotAllowed)
    ),
    **dict.fromkeys(
        pairs("decline", A.OFFLINE, A.READY, A.BUSY, A.WRAP_UP, A.AWAY), Raises(NotAllowed)
    ),
    # Nothing is offered to the agent, so a customer cancelling cannot withdraw anything...
    **dict.fromkeys(pairs("withdraw", A.OFFLINE, A.READY, A.WRAP_UP, A.AWAY), NotProduced()),
    # ...and a busy agent's customer is live, past cancelling.
    (A.BUSY, "withdraw"): Raises(IllegalTransition, "ticket", as_trigger="cancel"),
    # A ring timer for an offer the agent no longer holds lost a race: stale, not an error.
    **dict.fromkeys(pairs("timeout", A.OFFLINE, A.READY, A.BUSY, A.WRAP_UP, A.AWAY), Ignored()),
    **dict.fromkeys(pairs("miss", A.OFFLINE, A.READY, A.BUSY, A.WRAP_UP, A.AWAY), Ignored()),
    # Without a session there is nothing to hang up or wrap up.
    **dict.fromkeys(pairs("end", A.OFFLINE, A.READY, A.OFFERED, A.AWAY), Raises(UnknownSubject)),
    # The wrapping-up session is already over; its ticket cannot end twice.
    (A.WRAP_UP, "end"): Raises(IllegalTransition, "ticket"),
    **dict.fromkeys(
        pairs("wrap_up", A.OFFLINE, A.READY, A.OFFERED, A.AWAY), Raises(UnknownSubject)
    ),
    (A.BUSY, "wrap_up"): Raises(IllegalTransition, "agent"),
    # A supervisor cannot send away an agent who is in a call or wrapping one up (the call
    # matters more; they can sign them out), nor one who is not signed in...
    **dict.fromkeys(
        pairs("sent_away", A.OFFLINE, A.BUSY, A.WRAP_UP), Raises(IllegalTransition, "agent")
    ),
    # ...and an agent who is signed out already cannot be signed out again.
    (A.OFFLINE, "forced_out"): Raises(IllegalTransition, "agent"),
}


def _id(value: Any) -> str:
    return value.value if isinstance(value, AgentState | TicketState) else str(value)


AGENTS = Walk(
    AgentState,
    frozenset(AGENT_TRIGGERS),
    AGENT_TRANSITIONS,
    AGENT_OUTSIDE_THE_TABLE,
    AGENT_BUILDERS,
    AGENT_PRODUCERS,
    lambda desk: desk.agent_state(SUBJECT_AGENT),
)


class TestAgentTable:
    @pytest.mark.parametrize(("state", "trigger"), sorted(AGENT_TRANSITIONS), ids=_id)
    def test_a_move_in_the_table_lands_in_the_tables_state(
        self, state: AgentState, trigger: str
    ) -> None:
        AGENTS.move_in_the_table(state, trigger)

    @pytest.mark.parametrize(("state", "trigger"), sorted(AGENT_OUTSIDE_THE_TABLE), ids=_id)
    def test_a_move_outside_the_table_is_refused_ignored_or_cannot_happen(
        self, state: AgentState, trigger: str
    ) -> None:
        AGENTS.move_off_the_table(state, trigger, AGENT_OUTSIDE_THE_TABLE[(state, trigger)])

    def test_every_state_and_trigger_pair_is_walked_exactly_once(self) -> None:
        AGENTS.check_every_pair_is_walked_exactly_once()


# --------------------------------------------------------------------------- tickets

# Each builder leaves the subject ticket in its state, with agent a1 signed in.


def ticket_joining() -> World:
    """Tapped; the customer's page has not connected."""
    world = World()
    world.sign_in()
    assert world.ghost_tap() == SUBJECT_TICKET
    return world


def ticket_queued() -> World:
    world = World()
    world.sign_in()
    assert world.tap() == SUBJECT_TICKET
    return world


def ticket_offered() -> World:
    world = World()
    world.sign_in()
    world.ready()
    assert world.tap() == SUBJECT_TICKET
    return world


def ticket_live() -> World:
    world = ticket_offered()
    world.accept()
    return world


def ticket_cancelled() -> World:
    world = ticket_queued()
    world.send(CustomerCancelled(SUBJECT_TICKET, world.at()))
    return world


def ticket_abandoned() -> World:
    """The customer dropped and did not come back within the grace period."""
    world = ticket_queued()
    world.send(CustomerLeft(SUBJECT_TICKET, world.at()))
    world.send(CustomerGraceExpired(SUBJECT_TICKET, world.at()))
    return world


def ticket_ended() -> World:
    """Ended by the customer; the agent has not wrapped the session up yet."""
    world = ticket_live()
    world.customer_hangs_up(SUBJECT_TICKET)
    return world


TICKET_BUILDERS: dict[TicketState, Callable[[], World]] = {
    T.JOINING: ticket_joining,
    T.QUEUED: ticket_queued,
    T.OFFERED: ticket_offered,
    T.LIVE: ticket_live,
    T.CANCELLED: ticket_cancelled,
    T.ABANDONED: ticket_abandoned,
    T.ENDED: ticket_ended,
}


def subject_ticket_session(world: World) -> str:
    ticket = world.desk.tickets.get(SUBJECT_TICKET) or world.desk.closed[SUBJECT_TICKET]
    return ticket.session_id or NO_SUCH_SESSION


def produce_ticket_offer(world: World) -> Attempt:
    """Another agent becomes ready; only a queued ticket is offered to them."""
    world.sign_in("a2")
    return Attempt(
        AgentReady("a2", world.at()),
        not_produced=lambda desk: desk.agent_state("a2") is A.READY,
    )


def produce_ticket_cancel(world: World) -> Attempt:
    return Attempt(CustomerCancelled(SUBJECT_TICKET, world.at()))


def produce_ticket_leave(world: World) -> Attempt:
    """The customer's connection drops. A queued customer keeps their place for the grace
    period, so for them the trigger is the grace timer firing after the drop. A joining
    customer has no connection to drop: for them it is the join window running out."""
    if world.desk.ticket_state(SUBJECT_TICKET) is T.JOINING:
        return Attempt(JoinWindowExpired(SUBJECT_TICKET, world.at()))
    if world.desk.ticket_state(SUBJECT_TICKET) is T.QUEUED:
        world.send(CustomerLeft(SUBJECT_TICKET, world.at()))
        return Attempt(CustomerGraceExpired(SUBJECT_TICKET, world.at()))
    return Attempt(CustomerLeft(SUBJECT_TICKET, world.at()))


def produce_ticket_join(world: World) -> Attempt:
    """The customer's page connects."""
    return Attempt(CustomerReturned(SUBJECT_TICKET, world.at()))


def produce_ticket_accept(world: World) -> Attempt:
    return Attempt(OfferAccepted(SUBJECT_AGENT, SUBJECT_TICKET, world.at()))


def produce_ticket_requeue(world: World) -> Attempt:
    return Attempt(OfferDeclined(SUBJECT_AGENT, SUBJECT_TICKET, world.at()))


def produce_ticket_end(world: World) -> Attempt:
    session_id = subject_ticket_session(world)
    return Attempt(HungUp(session_id, "customer", SUBJECT_TICKET, world.at()))


def produce_ticket_transfer(world: World) -> Attempt:
    """The agent of the ticket's session sends the customer to another queue (blind)."""
    session_id = subject_ticket_session(world)
    return Attempt(TransferRequested(session_id, SUBJECT_AGENT, world.at(), queue_id=OTHER_QUEUE))


def produce_ticket_move(world: World) -> Attempt:
    return Attempt(TicketMoved(SUBJECT_TICKET, OTHER_QUEUE, *SUPERVISOR, world.at()))


def produce_ticket_reprioritize(world: World) -> Attempt:
    return Attempt(TicketReprioritized(SUBJECT_TICKET, 7, *SUPERVISOR, world.at()))


TICKET_PRODUCERS: dict[str, Callable[[World], Attempt]] = {
    "move": produce_ticket_move,
    "reprioritize": produce_ticket_reprioritize,
    "offer": produce_ticket_offer,
    "cancel": produce_ticket_cancel,
    "leave": produce_ticket_leave,
    "join": produce_ticket_join,
    "accept": produce_ticket_accept,
    "requeue": produce_ticket_requeue,
    "end": produce_ticket_end,
    "transfer": produce_ticket_transfer,
}

# Pairs TICKET_TRANSITIONS has that no event produces, and what the desk does instead. The
# coverage test keeps this list honest: a pair that becomes reachable must move to the table.
TICKET_TABLE_UNREACHED: dict[tuple[TicketState, str], Outcome] = {
    # A customer who drops while offered goes back to the line first, to keep their place for
    # the grace period; only the grace timer of a queued ticket abandons it.
    (T.OFFERED, "leave"): Becomes("requeue"),
}

# Every pair TICKET_TRANSITIONS leaves out, and what the desk does instead.
TICKET_OUTSIDE_THE_TABLE: dict[tuple[TicketState, str], Outcome] = {
    # Only a queued ticket is offered to an agent who becomes ready: never one still joining.
    **dict.fromkeys(
        pairs("offer", T.JOINING, T.OFFERED, T.LIVE, T.CANCELLED, T.ABANDONED, T.ENDED),
        NotProduced(),
    ),
    # A customer who is connected already connecting again (a second tab, a reload that beat
    # the old socket's close) changes nothing...
    **dict.fromkeys(pairs("join", T.QUEUED, T.OFFERED, T.LIVE), Ignored()),
    # ...and a closed ticket cannot be joined.
    **dict.fromkeys(
        pairs("join", T.CANCELLED, T.ABANDONED, T.ENDED), Raises(IllegalTransition, "ticket")
    ),
    **dict.fromkeys(
        pairs("cancel", T.LIVE, T.CANCELLED, T.ABANDONED, T.ENDED),
        Raises(IllegalTransition, "ticket"),
    ),
    # A customer who leaves a live call ends it (with call_resume_window set the call waits for
    # them instead: tests/unit/test_call_resume.py)...
    (T.LIVE, "leave"): Becomes("end"),
    # ...and a connection that drops after the ticket closed is nothing new.
    **dict.fromkeys(pairs("leave", T.CANCELLED, T.ABANDONED, T.ENDED), Ignored()),
    # Accept and decline are checked against the current offer before any state.
    **dict.fromkeys(
        pairs("accept", T.JOINING, T.QUEUED, T.LIVE, T.CANCELLED, T.ABANDONED, T.ENDED),
        Raises(NotAllowed),
    ),
    **dict.fromkeys(
        pairs("requeue", T.JOINING, T.QUEUED, T.LIVE, T.CANCELLED, T.ABANDONED, T.ENDED),
        Raises(NotAllowed),
    ),
    # A ticket that never had a session has nothing to hang up or transfer.
    **dict.fromkeys(
        pairs("end", T.JOINING, T.QUEUED, T.OFFERED, T.CANCELLED, T.ABANDONED),
        Raises(UnknownSubject),
    ),
    (T.ENDED, "end"): Raises(IllegalTransition, "ticket"),
    **dict.fromkeys(
        pairs("transfer", T.JOINING, T.QUEUED, T.OFFERED, T.CANCELLED, T.ABANDONED),
        Raises(UnknownSubject),
    ),
    # The session is over (in wrap-up): there is nothing left to hand on.
    (T.ENDED, "transfer"): Raises(IllegalTransition, "session"),
    # A supervisor moves and reprioritizes customers who wait; a live call is the agent's to
    # transfer, and a closed ticket is gone.
    **dict.fromkeys(
        pairs("move", T.LIVE, T.CANCELLED, T.ABANDONED, T.ENDED),
        Raises(IllegalTransition, "ticket"),
    ),
    **dict.fromkeys(
        pairs("reprioritize", T.LIVE, T.CANCELLED, T.ABANDONED, T.ENDED),
        Raises(IllegalTransition, "ticket"),
    ),
}


TICKETS = Walk(
    TicketState,
    frozenset(TICKET_TRIGGERS),
    TICKET_TRANSITIONS,
    TICKET_OUTSIDE_THE_TABLE,
    TICKET_BUILDERS,
    TICKET_PRODUCERS,
    lambda desk: desk.ticket_state(SUBJECT_TICKET),
    unreached=TICKET_TABLE_UNREACHED,
)


class TestTicketTable:
    @pytest.mark.parametrize(
        ("state", "trigger"), sorted(set(TICKET_TRANSITIONS) - set(TICKET_TABLE_UNREACHED)), ids=_id
    )
    def test_a_move_in_the_table_lands_in_the_tables_state(
        self, state: TicketState, trigger: str
    ) -> None:
        TICKETS.move_in_the_table(state, trigger)

    @pytest.mark.parametrize(("state", "trigger"), sorted(TICKET_TABLE_UNREACHED), ids=_id)
    def test_a_move_in_the_table_that_no_event_produces_does_what_is_written_instead(
        self, state: TicketState, trigger: str
    ) -> None:
        TICKETS.move_off_the_table(state, trigger, TICKET_TABLE_UNREACHED[(state, trigger)])

    @pytest.mark.parametrize(("state", "trigger"), sorted(TICKET_OUTSIDE_THE_TABLE), ids=_id)
    def test_a_move_outside_the_table_is_refused_ignored_or_cannot_happen(
        self, state: TicketState, trigger: str
    ) -> None:
        TICKETS.move_off_the_table(state, trigger, TICKET_OUTSIDE_THE_TABLE[(state, trigger)])

    def test_every_state_and_trigger_pair_is_walked_exactly_once(self) -> None:
        TICKETS.check_every_pair_is_walked_exactly_once()


# --------------------------------------------------------------------------- while draining

# A shutdown drops every customer's connection. While the desk drains, that is the server going
# away, not the customer leaving: what a CustomerLeft does then, for a ticket in each state
# before the drain began.
TICKET_LEAVE_WHILE_DRAINING: dict[TicketState, Outcome] = {
    # It has no connection to lose; it is restored as joining, with a fresh join window.
    T.JOINING: Ignored(),
    # The ticket keeps its place and its connection flag, for the next process to restore.
    T.QUEUED: Ignored(),
    # The offer rings on (nobody can accept while draining) and runs out as usual.
    T.OFFERED: Ignored(),
    # The drain itself ended the call; the drop that follows is not a second ending.
    T.LIVE: Ignored(),
    **dict.fromkeys((T.CANCELLED, T.ABANDONED, T.ENDED), Ignored()),
}


class TestTicketWhileDraining:
    @pytest.mark.parametrize(
        ("state", "outcome"), sorted(TICKET_LEAVE_WHILE_DRAINING.items()), ids=_id
    )
    def test_a_customer_dropping_while_the_desk_drains_is_not_leaving(
        self, state: TicketState, outcome: Outcome
    ) -> None:
        world = TICKET_BUILDERS[state]()
        world.send(DrainStarted(world.at()))
        before = snapshot(world.desk)
        assert isinstance(outcome, Ignored), "only Ignored is written down so far"
        assert world.desk.handle(CustomerLeft(SUBJECT_TICKET, world.at())) == []
        assert snapshot(world.desk) == before, "an ignored event changed the desk"

    def test_every_ticket_state_is_written_down(self) -> None:
        assert set(TICKET_LEAVE_WHILE_DRAINING) == set(TicketState)

"""The desk: who is waiting, who can answer, and what happens next.

Rules of this module (read these before changing it):

* Everything that decides a customer's or an agent's fate lives here. The shells (service,
  gateway, media, store) only turn the outside world into events and carry out effects.
* ``Desk.handle(event)`` is the only way in. It validates everything an event needs *before*
  changing anything: an event that is not allowed raises a ``DeskError`` and leaves the desk as
  it was. Stale timers are not errors; they return no effects.
* Agent and ticket lifecycles are data (``AGENT_TRANSITIONS``, ``TICKET_TRANSITIONS``); a move
  not in the table raises ``IllegalTransition`` naming the subject, the state and the trigger.
* No clock, no ids from nowhere: time comes in ``event.at``, session ids from the injected
  ``new_id`` callable. No I/O imports (a test enforces it).

Theory of operation (walking skeleton): one FIFO queue. After every event the desk matches the
oldest waiting ticket with the longest-idle ready agent and offers it, one agent at a time, with
a ring timeout. An unanswered offer (RONA) puts the ticket back at its place at the head of the
queue and the agent Away (reason ``missed_offer``). A declined offer goes to another agent: the
decliner is not asked again for the same ticket.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from videoassist.desk.errors import (
    DeskError,
    IllegalTransition,
    NotAllowed,
    Refused,
    UnknownSubject,
)
from videoassist.desk.estimate import WaitEstimator
from videoassist.desk.events import (
    DISPOSITIONS,
    AgentAway,
    AgentReady,
    AgentSignedIn,
    AgentSignedOut,
    CancelTimer,
    CustomerCancelled,
    CustomerLeft,
    CustomerTapped,
    DrainStarted,
    Effect,
    Event,
    HungUp,
    MediaFailed,
    Notify,
    OfferAccepted,
    OfferDeclined,
    OfferTimedOut,
    SaveSession,
    SaveTicket,
    SessionRow,
    SetTimer,
    StartMedia,
    StopMedia,
    TicketRow,
    WrapUpDone,
)


class AgentState(StrEnum):
    OFFLINE = "offline"
    READY = "ready"
    OFFERED = "offered"
    BUSY = "busy"
    WRAP_UP = "wrap_up"
    AWAY = "away"


class TicketState(StrEnum):
    QUEUED = "queued"
    OFFERED = "offered"
    LIVE = "live"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"
    ENDED = "ended"


TERMINAL_TICKET_STATES = frozenset(
    {TicketState.CANCELLED, TicketState.ABANDONED, TicketState.ENDED}
)

A = AgentState
T = TicketState

# (state, trigger) -> next state. Anything absent is illegal.
AGENT_TRANSITIONS: dict[tuple[AgentState, str], AgentState] = {
    (A.OFFLINE, "sign_in"): A.AWAY,
    (A.AWAY, "ready"): A.READY,
    (A.AWAY, "away"): A.AWAY,
    (A.AWAY, "sign_out"): A.OFFLINE,
    (A.READY, "ready"): A.READY,
    (A.READY, "away"): A.AWAY,
    (A.READY, "offer"): A.OFFERED,
    (A.READY, "sign_out"): A.OFFLINE,
    (A.OFFERED, "accept"): A.BUSY,
    (A.OFFERED, "decline"): A.READY,
    (A.OFFERED, "withdraw"): A.READY,
    (A.OFFERED, "timeout"): A.AWAY,
    (A.OFFERED, "away"): A.AWAY,
    (A.OFFERED, "sign_out"): A.OFFLINE,
    (A.BUSY, "end"): A.WRAP_UP,
    (A.BUSY, "sign_out"): A.OFFLINE,
    (A.WRAP_UP, "wrap_up"): A.READY,
    (A.WRAP_UP, "sign_out"): A.OFFLINE,
}
AGENT_TRIGGERS = frozenset(trigger for _, trigger in AGENT_TRANSITIONS)

TICKET_TRANSITIONS: dict[tuple[TicketState, str], TicketState] = {
    (T.QUEUED, "offer"): T.OFFERED,
    (T.QUEUED, "cancel"): T.CANCELLED,
    (T.QUEUED, "leave"): T.ABANDONED,
    (T.OFFERED, "accept"): T.LIVE,
    (T.OFFERED, "requeue"): T.QUEUED,
    (T.OFFERED, "cancel"): T.CANCELLED,
    (T.OFFERED, "leave"): T.ABANDONED,
    (T.LIVE, "end"): T.ENDED,
}
TICKET_TRIGGERS = frozenset(trigger for _, trigger in TICKET_TRANSITIONS)


@dataclass(slots=True)
class Offer:
    agent_id: str
    offer_id: int
    expires_at: float


@dataclass(slots=True)
class Ticket:
    id: str
    topic: str
    description: str
    queued_at: float
    state: TicketState = TicketState.QUEUED
    offer: Offer | None = None
    declined_by: set[str] = field(default_factory=set)
    session_id: str | None = None
    ended_at: float | None = None
    end_reason: str | None = None

    def row(self) -> TicketRow:
        return TicketRow(
            id=self.id,
            topic=self.topic,
            description=self.description,
            status=self.state.value,
            queued_at=self.queued_at,
            ended_at=self.ended_at,
            end_reason=self.end_reason,
        )


@dataclass(slots=True)
class Agent:
    id: str
    name: str
    state: AgentState = AgentState.OFFLINE
    state_since: float = 0.0
    away_reason: str | None = None
    ticket_id: str | None = None  # offered or live ticket
    session_id: str | None = None  # live or wrapping-up session


def _next(table: dict[tuple[Any, str], Any], subject: str, state: Any, trigger: str) -> Any:
    try:
        return table[(state, trigger)]
    except KeyError:
        raise IllegalTransition(subject, state.value, trigger) from None


class Desk:
    def __init__(
        self,
        *,
        new_id: Callable[[], str],
        ring_timeout: float = 20.0,
        estimator: WaitEstimator | None = None,
        closed_limit: int = 10_000,
    ) -> None:
        self._new_id = new_id
        self.ring_timeout = ring_timeout
        self.estimator = estimator or WaitEstimator()
        self.tickets: dict[str, Ticket] = {}  # open tickets
        # Recently closed tickets, kept so late events get a precise answer; bounded so a
        # long-running desk does not grow without end (the store has them all).
        self.closed: OrderedDict[str, Ticket] = OrderedDict()
        self.closed_limit = closed_limit
        self.queue: list[str] = []  # waiting ticket ids (queued or offered), oldest first
        self.agents: dict[str, Agent] = {}
        self.sessions: dict[str, SessionRow] = {}  # live or wrapping-up sessions
        self.draining = False
        self._offer_seq = 0
        self._shown: dict[str, tuple[int, float | None, int]] = {}  # what each customer last saw

    # ------------------------------------------------------------------ entry point

    def handle(self, event: Event) -> list[Effect]:
        handler = self._handlers.get(type(event))
        if handler is None:
            raise TypeError(f"not a desk event: {event!r}")
        effects: list[Effect] = []
        handler(self, event, effects)
        self._match(event.at, effects)
        self._announce_queue(effects)
        return effects

    # ------------------------------------------------------------------ queries (read-only)

    def agent_state(self, agent_id: str) -> AgentState:
        agent = self.agents.get(agent_id)
        return agent.state if agent else AgentState.OFFLINE

    def ticket_state(self, ticket_id: str) -> TicketState | None:
        ticket = self.tickets.get(ticket_id) or self.closed.get(ticket_id)
        return ticket.state if ticket else None

    def staffed(self) -> int:
        return sum(1 for a in self.agents.values() if a.state not in (A.OFFLINE, A.AWAY))

    def position(self, ticket_id: str) -> int | None:
        try:
            return self.queue.index(ticket_id) + 1
        except ValueError:
            return None

    def dump(self) -> dict[str, Any]:
        """A serializable picture of the desk, for debugging and tests."""
        return {
            "queue": list(self.queue),
            "draining": self.draining,
            "agents": {a.id: a.state.value for a in self.agents.values()},
            "tickets": {t.id: t.state.value for t in self.tickets.values()},
            "closed": len(self.closed),
            "sessions": sorted(self.sessions),
        }

    # ------------------------------------------------------------------ customers

    def _on_tapped(self, ev: CustomerTapped, out: list[Effect]) -> None:
        if self.draining:
            raise Refused("the service is restarting; please try again in a minute")
        known = self.tickets.get(ev.ticket_id) or self.closed.get(ev.ticket_id)
        if known is not None:
            raise IllegalTransition(f"ticket {ev.ticket_id}", known.state.value, "tap")
        ticket = Ticket(ev.ticket_id, ev.topic, ev.description, queued_at=ev.at)
        self.tickets[ticket.id] = ticket
        self.queue.append(ticket.id)
        out.append(SaveTicket(ticket.row()))

    def _on_cancelled(self, ev: CustomerCancelled, out: list[Effect]) -> None:
        self._close_waiting(ev.ticket_id, "cancel", "cancelled", ev.at, out)

    def _on_left(self, ev: CustomerLeft, out: list[Effect]) -> None:
        ticket = self._ticket(ev.ticket_id)
        if ticket.state is T.LIVE:
            assert ticket.session_id is not None
            self._end_session(ticket.session_id, "customer_disconnected", ev.at, out)
        elif ticket.state not in TERMINAL_TICKET_STATES:
            self._close_waiting(ev.ticket_id, "leave", "customer_left", ev.at, out)

    def _close_waiting(
        self, ticket_id: str, trigger: str, reason: str, at: float, out: list[Effect]
    ) -> None:
        ticket = self._ticket(ticket_id)
        new_state = _next(TICKET_TRANSITIONS, f"ticket {ticket_id}", ticket.state, trigger)
        if ticket.offer is not None:
            self._withdraw_offer(ticket, "withdraw", at, out)
            out.append(CancelTimer(_offer_timer(ticket.id)))
            out.append(
                Notify("agent", ticket.offer.agent_id, "offer_withdrawn", {"ticket_id": ticket.id})
            )
            ticket.offer = None
        ticket.state = new_state
        ticket.ended_at = at
        ticket.end_reason = reason
        self.queue.remove(ticket_id)
        self._shown.pop(ticket_id, None)
        self._retire(ticket)
        out.append(SaveTicket(ticket.row()))
        out.append(Notify("customer", ticket_id, "closed", {"reason": reason}))

    # ------------------------------------------------------------------ agents

    def _on_signed_in(self, ev: AgentSignedIn, out: list[Effect]) -> None:
        agent = self.agents.get(ev.agent_id) or Agent(ev.agent_id, ev.name)
        state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, "sign_in")
        agent.name = ev.name
        self.agents[agent.id] = agent
        self._set_agent(agent, state, ev.at, out, reason="signed_in")

    def _on_signed_out(self, ev: AgentSignedOut, out: list[Effect]) -> None:
        agent = self._agent(ev.agent_id)
        state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, "sign_out")
        if agent.state is A.OFFERED:
            ticket = self._ticket(agent.ticket_id)  # type: ignore[arg-type]
            self._requeue(ticket, out)
        elif agent.state is A.BUSY:
            assert agent.session_id is not None
            self._end_session(agent.session_id, "agent_disconnected", ev.at, out)
        if agent.session_id is not None:
            # The wrap-up is left without a disposition; the session row keeps its end.
            self.sessions.pop(agent.session_id, None)
        agent.ticket_id = None
        agent.session_id = None
        self._set_agent(agent, state, ev.at, out)

    def _on_ready(self, ev: AgentReady, out: list[Effect]) -> None:
        agent = self._agent(ev.agent_id)
        state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, "ready")
        if agent.state is not A.READY:
            self._set_agent(agent, state, ev.at, out)

    def _on_away(self, ev: AgentAway, out: list[Effect]) -> None:
        agent = self._agent(ev.agent_id)
        state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, "away")
        if agent.state is A.OFFERED:
            self._requeue(self._ticket(agent.ticket_id), out)  # type: ignore[arg-type]
            agent.ticket_id = None
        self._set_agent(agent, state, ev.at, out, reason=ev.reason)

    # ------------------------------------------------------------------ offers

    def _on_accepted(self, ev: OfferAccepted, out: list[Effect]) -> None:
        agent, ticket = self._offered_pair(ev.agent_id, ev.ticket_id)
        agent_state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, "accept")
        ticket_state = _next(TICKET_TRANSITIONS, f"ticket {ticket.id}", ticket.state, "accept")
        session = SessionRow(
            id=self._new_id(),
            ticket_id=ticket.id,
            agent_id=agent.id,
            queued_at=ticket.queued_at,
            answered_at=ev.at,
        )
        out.append(CancelTimer(_offer_timer(ticket.id)))
        ticket.offer = None
        ticket.state = ticket_state
        ticket.session_id = session.id
        self.queue.remove(ticket.id)
        self._shown.pop(ticket.id, None)
        agent.session_id = session.id
        self.sessions[session.id] = session
        self._set_agent(agent, agent_state, ev.at, out)
        out.append(SaveTicket(ticket.row()))
        out.append(SaveSession(session))
        out.append(StartMedia(session.id, ticket.id, agent.id))
        out.append(
            Notify(
                "customer",
                ticket.id,
                "matched",
                {"session_id": session.id, "agent_name": agent.name},
            )
        )
        out.append(
            Notify(
                "agent",
                agent.id,
                "session_started",
                {
                    "session_id": session.id,
                    "ticket_id": ticket.id,
                    "topic": ticket.topic,
                    "description": ticket.description,
                },
            )
        )

    def _on_declined(self, ev: OfferDeclined, out: list[Effect]) -> None:
        agent, ticket = self._offered_pair(ev.agent_id, ev.ticket_id)
        self._withdraw_offer(ticket, "decline", ev.at, out)
        ticket.declined_by.add(agent.id)
        self._requeue(ticket, out)

    def _on_offer_timed_out(self, ev: OfferTimedOut, out: list[Effect]) -> None:
        ticket = self.tickets.get(ev.ticket_id)
        if ticket is None or ticket.offer is None or ticket.offer.offer_id != ev.offer_id:
            return  # a timer that lost a race with accept/decline/cancel
        agent = self._agent(ticket.offer.agent_id)
        state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, "timeout")
        self._requeue(ticket, out)
        agent.ticket_id = None
        self._set_agent(agent, state, ev.at, out, reason="missed_offer")

    def _offered_pair(self, agent_id: str, ticket_id: str) -> tuple[Agent, Ticket]:
        agent = self._agent(agent_id)
        ticket = self._ticket(ticket_id)
        if ticket.offer is None or ticket.offer.agent_id != agent.id:
            raise NotAllowed(f"ticket {ticket_id} is not offered to agent {agent_id}")
        return agent, ticket

    def _withdraw_offer(self, ticket: Ticket, trigger: str, at: float, out: list[Effect]) -> None:
        """Return the offered agent to Ready (decline or the customer went away)."""
        assert ticket.offer is not None
        agent = self._agent(ticket.offer.agent_id)
        state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, trigger)
        agent.ticket_id = None
        self._set_agent(agent, state, at, out)

    def _requeue(self, ticket: Ticket, out: list[Effect]) -> None:
        """An offer ended without an answer: the ticket waits again at its old place."""
        ticket.state = _next(TICKET_TRANSITIONS, f"ticket {ticket.id}", ticket.state, "requeue")
        ticket.offer = None
        out.append(CancelTimer(_offer_timer(ticket.id)))
        out.append(SaveTicket(ticket.row()))

    # ------------------------------------------------------------------ sessions

    def _on_hung_up(self, ev: HungUp, out: list[Effect]) -> None:
        session = self._session(ev.session_id)
        owner = session.ticket_id if ev.by == "customer" else session.agent_id
        if ev.by_id != owner:
            raise NotAllowed(f"{ev.by} {ev.by_id} is not in session {ev.session_id}")
        self._end_session(ev.session_id, f"{ev.by}_hung_up", ev.at, out)

    def _on_media_failed(self, ev: MediaFailed, out: list[Effect]) -> None:
        session = self.sessions.get(ev.session_id)
        if session is None or session.ended_at is not None:
            return  # media noticed after the session already ended
        self._end_session(ev.session_id, "media_failed", ev.at, out)

    def _on_wrap_up(self, ev: WrapUpDone, out: list[Effect]) -> None:
        agent = self._agent(ev.agent_id)
        session = self._session(ev.session_id)
        if session.agent_id != agent.id:
            raise NotAllowed(f"session {ev.session_id} is not agent {agent.id}'s")
        if ev.disposition not in DISPOSITIONS:
            raise DeskError(f"unknown disposition {ev.disposition!r}")
        state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, "wrap_up")
        if agent.session_id != session.id:
            raise NotAllowed(f"agent {agent.id} is not wrapping up session {session.id}")
        row = replace(session, disposition=ev.disposition, note=ev.note, wrapped_up_at=ev.at)
        del self.sessions[session.id]
        agent.session_id = None
        self._set_agent(agent, state, ev.at, out)
        out.append(SaveSession(row))

    def _on_drain(self, ev: DrainStarted, out: list[Effect]) -> None:
        self.draining = True
        for session_id, row in list(self.sessions.items()):
            if row.ended_at is None:
                self._end_session(session_id, "server_shutdown", ev.at, out)

    def _end_session(self, session_id: str, reason: str, at: float, out: list[Effect]) -> None:
        session = self._session(session_id)
        ticket = self._ticket(session.ticket_id)
        agent = self._agent(session.agent_id)
        ticket_state = _next(TICKET_TRANSITIONS, f"ticket {ticket.id}", ticket.state, "end")
        agent_state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, "end")
        row = replace(session, ended_at=at, end_reason=reason)
        self.sessions[session_id] = row
        ticket.state = ticket_state
        ticket.ended_at = at
        ticket.end_reason = reason
        self._retire(ticket)
        agent.ticket_id = None
        self.estimator.record_handle(at - session.answered_at)
        self._set_agent(agent, agent_state, at, out)
        out.append(StopMedia(session_id))
        out.append(SaveTicket(ticket.row()))
        out.append(SaveSession(row))
        data = {"session_id": session_id, "reason": reason}
        out.append(Notify("customer", ticket.id, "session_ended", data))
        out.append(Notify("agent", agent.id, "session_ended", data))

    # ------------------------------------------------------------------ matching

    def _match(self, at: float, out: list[Effect]) -> None:
        """Offer waiting tickets, oldest first, to the longest-idle ready agent each."""
        if self.draining:
            return  # a session started now would be cut off by the shutdown at once
        for ticket_id in self.queue:
            ticket = self.tickets[ticket_id]
            if ticket.state is not T.QUEUED:
                continue
            agent = self._longest_idle(exclude=ticket.declined_by)
            if agent is None:
                if not ticket.declined_by:
                    return  # nobody ready for this one means nobody ready for anyone
                continue
            self._offer(ticket, agent, at, out)

    def _longest_idle(self, exclude: set[str]) -> Agent | None:
        best: Agent | None = None
        for agent in self.agents.values():
            if (
                agent.state is A.READY
                and agent.id not in exclude
                and (best is None or agent.state_since < best.state_since)
            ):
                best = agent
        return best

    def _offer(self, ticket: Ticket, agent: Agent, at: float, out: list[Effect]) -> None:
        agent_state = _next(AGENT_TRANSITIONS, f"agent {agent.id}", agent.state, "offer")
        ticket_state = _next(TICKET_TRANSITIONS, f"ticket {ticket.id}", ticket.state, "offer")
        self._offer_seq += 1
        expires = at + self.ring_timeout
        ticket.offer = Offer(agent.id, self._offer_seq, expires)
        ticket.state = ticket_state
        agent.ticket_id = ticket.id
        self._set_agent(agent, agent_state, at, out)
        out.append(SaveTicket(ticket.row()))
        out.append(
            SetTimer(
                _offer_timer(ticket.id),
                expires,
                OfferTimedOut(agent.id, ticket.id, self._offer_seq, at=expires),
            )
        )
        out.append(
            Notify(
                "agent",
                agent.id,
                "offer",
                {
                    "ticket_id": ticket.id,
                    "topic": ticket.topic,
                    "description": ticket.description,
                    "waited": round(at - ticket.queued_at, 1),
                    "ring_timeout": self.ring_timeout,
                },
            )
        )

    def _announce_queue(self, out: list[Effect]) -> None:
        """Tell each waiting customer their position and estimate, when either changed."""
        staffed = self.staffed()
        for index, ticket_id in enumerate(self.queue):
            position = index + 1
            eta = self.estimator.estimate(position, staffed)
            shown = (position, eta, staffed)
            if self._shown.get(ticket_id) != shown:
                self._shown[ticket_id] = shown
                out.append(
                    Notify(
                        "customer",
                        ticket_id,
                        "queue",
                        {"position": position, "estimated_wait": eta, "agents_available": staffed},
                    )
                )

    # ------------------------------------------------------------------ helpers

    def _set_agent(
        self,
        agent: Agent,
        state: AgentState,
        at: float,
        out: list[Effect],
        reason: str | None = None,
    ) -> None:
        agent.state = state
        agent.state_since = at
        agent.away_reason = reason if state is A.AWAY else None
        data: dict[str, object] = {"state": state.value}
        if agent.away_reason:
            data["reason"] = agent.away_reason
        if state is not A.OFFLINE:
            out.append(Notify("agent", agent.id, "agent_state", data))

    def _ticket(self, ticket_id: str) -> Ticket:
        ticket = self.tickets.get(ticket_id) or self.closed.get(ticket_id)
        if ticket is None:
            raise UnknownSubject(f"no ticket {ticket_id}")
        return ticket

    def _retire(self, ticket: Ticket) -> None:
        """A ticket reached a terminal state: move it to the bounded closed list."""
        del self.tickets[ticket.id]
        self.closed[ticket.id] = ticket
        while len(self.closed) > self.closed_limit:
            self.closed.popitem(last=False)

    def _agent(self, agent_id: str) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise UnknownSubject(f"agent {agent_id} is not signed in")
        return agent

    def _session(self, session_id: str) -> SessionRow:
        try:
            return self.sessions[session_id]
        except KeyError:
            raise UnknownSubject(f"no live session {session_id}") from None

    def waiting(self) -> Iterator[Ticket]:
        return (self.tickets[t] for t in self.queue)

    _handlers: dict[type, Callable[[Desk, Any, list[Effect]], None]] = {
        CustomerTapped: _on_tapped,
        CustomerCancelled: _on_cancelled,
        CustomerLeft: _on_left,
        AgentSignedIn: _on_signed_in,
        AgentSignedOut: _on_signed_out,
        AgentReady: _on_ready,
        AgentAway: _on_away,
        OfferAccepted: _on_accepted,
        OfferDeclined: _on_declined,
        OfferTimedOut: _on_offer_timed_out,
        HungUp: _on_hung_up,
        MediaFailed: _on_media_failed,
        WrapUpDone: _on_wrap_up,
        DrainStarted: _on_drain,
    }


def _offer_timer(ticket_id: str) -> str:
    return f"offer:{ticket_id}"

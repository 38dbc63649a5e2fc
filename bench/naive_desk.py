"""The baseline of ``bench/desk_decisions.py``: the desk's routing rules, written simply.

The same rules as ``videoassist.desk`` (topics, priorities, aging, skills and levels, the four
strategies, re-offer cool-down, grace), kept in a dict of waiting tickets per queue and a dict of
agents, with a linear scan over all of them for every decision. The benchmark replays the event
sequence it drove the real desk with into this one and checks that both make the same offers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.desksim import id_source
from videoassist.desk import (
    AgentAway,
    AgentProfile,
    AgentReady,
    AgentSignedIn,
    CustomerCancelled,
    CustomerGraceExpired,
    CustomerLeft,
    CustomerReturned,
    CustomerTapped,
    DeskConfig,
    HungUp,
    JoinWindowExpired,
    OfferAccepted,
    OfferDeclined,
    OfferTimedOut,
    RematchDue,
    WrapUpDone,
    WrapUpTimedOut,
)


@dataclass(slots=True)
class NTicket:
    id: str
    queue_id: str
    priority: int
    queued_at: float
    seq: int
    state: str = "queued"
    connected: bool = False  # a tap is offered only once its page connects (the join)
    offer_agent: str | None = None
    offer_id: int = 0
    skip: dict[str, float] = field(default_factory=dict)
    missed_by: set[str] = field(default_factory=set)  # agents who let it ring out
    session_id: str | None = None
    joined: bool = False


@dataclass(slots=True)
class NAgent:
    id: str
    profile: AgentProfile
    eligible: tuple[str, ...]
    state: str = "away"
    signed_in_at: float = 0.0
    idle_since: float = 0.0
    ready_at: float = 0.0
    last_offer_at: float = 0.0
    busy_seconds: float = 0.0
    missed: int = 0
    seq: int = 0
    ticket_id: str | None = None
    session_id: str | None = None


class NaiveDesk:
    """The desk's routing rules with plain dicts and linear scans (the baseline).

    Only what decides offers is kept: no persistence rows, notifications or timers (the replay
    feeds the timer events recorded from the real run). ``handle`` returns the offers made.
    """

    def __init__(self, config: DeskConfig) -> None:
        self.config = config
        self.aging = {q: c.priority_aging / 60.0 for q, c in config.queues.items()}
        self.tickets: dict[str, NTicket] = {}
        self.waiting: dict[str, dict[str, NTicket]] = {q: {} for q in config.queues}
        self.agents: dict[str, NAgent] = {}
        self.sessions: dict[str, tuple[NTicket, NAgent, float]] = {}
        self._new_id = id_source("s")
        self._seq = 0
        self._offer_seq = 0
        self._dirty_agents: list[NAgent] = []
        self._dirty_queues: set[str] = set()
        self._offers: list[tuple[str, str]] = []
        self._handlers: dict[type, Callable[[Any], None]] = {
            CustomerTapped: self._tapped,
            CustomerCancelled: self._cancelled,
            CustomerLeft: self._left,
            CustomerReturned: self._returned,
            CustomerGraceExpired: self._grace_expired,
            JoinWindowExpired: self._join_expired,
            AgentSignedIn: self._signed_in,
            AgentReady: self._ready,
            AgentAway: self._away,
            OfferAccepted: self._accepted,
            OfferDeclined: self._declined,
            OfferTimedOut: self._timed_out,
            RematchDue: self._rematch,
            HungUp: self._hung_up,
            WrapUpDone: self._wrap_up,
            WrapUpTimedOut: self._wrap_up_timed_out,
        }

    def handle(self, event: Any) -> list[tuple[str, str]]:
        self._offers = []
        self._dirty_agents.clear()
        self._dirty_queues.clear()
        self._handlers[type(event)](event)
        self._match(event.at)
        return self._offers

    # ------------------------------------------------------------------ events

    def _tapped(self, ev: CustomerTapped) -> None:
        route = self.config.topics.get(ev.topic)
        queue_id = route.queue_id if route else self.config.default_queue
        self._seq += 1
        priority = max(ev.priority, route.priority if route else 0)
        ticket = NTicket(ev.ticket_id, queue_id, priority, ev.at, self._seq)
        self.tickets[ticket.id] = ticket
        self.waiting[queue_id][ticket.id] = ticket
        self._dirty_queues.add(queue_id)

    def _close(self, ticket: NTicket, at: float) -> None:
        if ticket.offer_agent is not None:
            self._set_ready(self.agents[ticket.offer_agent], at)
            self.agents[ticket.offer_agent].ticket_id = None
            ticket.offer_agent = None
        ticket.state = "closed"
        self.waiting[ticket.queue_id].pop(ticket.id, None)
        del self.tickets[ticket.id]

    def _cancelled(self, ev: CustomerCancelled) -> None:
        self._close(self.tickets[ev.ticket_id], ev.at)

    def _left(self, ev: CustomerLeft) -> None:
        ticket = self.tickets.get(ev.ticket_id)
        if ticket is None:
            return
        if ticket.state == "live":
            if ticket.connected:
                assert ticket.session_id is not None
                self._end_session(ticket.session_id, ev.at)
            return
        if not ticket.connected:
            return
        ticket.connected = False
        if ticket.offer_agent is not None:
            agent = self.agents[ticket.offer_agent]
            agent.ticket_id = None
            self._set_ready(agent, ev.at)
            self._requeue(ticket)

    def _join_expired(self, ev: JoinWindowExpired) -> None:
        ticket = self.tickets.get(ev.ticket_id)
        if ticket is not None and not ticket.joined:
            self._close(ticket, ev.at)

    def _returned(self, ev: CustomerReturned) -> None:
        ticket = self.tickets[ev.ticket_id]
        if ticket.connected:
            return
        ticket.connected = True
        ticket.joined = True
        if ticket.state == "queued":
            self._dirty_queues.add(ticket.queue_id)

    def _grace_expired(self, ev: CustomerGraceExpired) -> None:
        ticket = self.tickets.get(ev.ticket_id)
        if ticket is None or ticket.connected or ticket.state != "queued":
            return
        self._close(ticket, ev.at)

    def _signed_in(self, ev: AgentSignedIn) -> None:
        profile = self.config.profile(ev.agent_id)
        eligible = tuple(q for q in profile.queues if self.config.eligible(profile, q))
        self.agents[ev.agent_id] = NAgent(ev.agent_id, profile, eligible, signed_in_at=ev.at)

    def _ready(self, ev: AgentReady) -> None:
        agent = self.agents[ev.agent_id]
        if agent.state != "ready":
            if agent.missed:  # back after missing offers: what they missed may come at once
                for ticket in self.tickets.values():
                    if agent.id in ticket.missed_by:
                        ticket.missed_by.discard(agent.id)
                        ticket.skip.pop(agent.id, None)
            agent.missed = 0
            self._set_ready(agent, ev.at)

    def _away(self, ev: AgentAway) -> None:
        agent = self.agents[ev.agent_id]
        if agent.state == "offered":
            assert agent.ticket_id is not None
            self._requeue(self.tickets[agent.ticket_id])
            agent.ticket_id = None
        agent.state = "away"

    def _accepted(self, ev: OfferAccepted) -> None:
        agent, ticket = self.agents[ev.agent_id], self.tickets[ev.ticket_id]
        assert ticket.offer_agent == agent.id, (ticket, agent)
        session_id = self._new_id()
        ticket.state = "live"
        ticket.offer_agent = None
        ticket.session_id = session_id
        del self.waiting[ticket.queue_id][ticket.id]
        agent.state = "busy"
        agent.missed = 0
        agent.session_id = session_id
        self.sessions[session_id] = (ticket, agent, ev.at)

    def _declined(self, ev: OfferDeclined) -> None:
        agent, ticket = self.agents[ev.agent_id], self.tickets[ev.ticket_id]
        assert ticket.offer_agent == agent.id
        agent.ticket_id = None
        agent.missed = 0  # an answer ends the run of misses
        self._set_ready(agent, ev.at)
        ticket.skip[agent.id] = ev.at + self.config.reoffer_after
        ticket.missed_by.discard(agent.id)  # a decline keeps its skip
        self._requeue(ticket)

    def _timed_out(self, ev: OfferTimedOut) -> None:
        ticket = self.tickets.get(ev.ticket_id)
        if ticket is None or ticket.offer_agent is None or ticket.offer_id != ev.offer_id:
            return
        agent = self.agents[ticket.offer_agent]
        away = agent.missed + 1 >= self.config.queues[ticket.queue_id].max_missed
        agent.missed += 1
        agent.ticket_id = None
        ticket.skip[agent.id] = ev.at + self.config.reoffer_after
        ticket.missed_by.add(agent.id)
        self._requeue(ticket)
        if away:
            agent.state = "away"
        else:
            self._set_ready(agent, ev.at)

    def _rematch(self, ev: RematchDue) -> None:
        self._dirty_queues.update(self.config.queues)

    def _hung_up(self, ev: HungUp) -> None:
        self._end_session(ev.session_id, ev.at)

    def _end_session(self, session_id: str, at: float) -> None:
        ticket, agent, answered_at = self.sessions[session_id]
        ticket.state = "closed"
        del self.tickets[ticket.id]
        agent.ticket_id = None
        agent.busy_seconds += at - answered_at
        agent.state = "wrap_up"

    def _wrap_up(self, ev: WrapUpDone) -> None:
        agent = self.agents[ev.agent_id]
        del self.sessions[ev.session_id]
        agent.session_id = None
        self._set_ready(agent, ev.at)

    def _wrap_up_timed_out(self, ev: WrapUpTimedOut) -> None:
        agent = self.agents.get(ev.agent_id)
        if agent is None or agent.state != "wrap_up" or agent.session_id != ev.session_id:
            return
        del self.sessions[ev.session_id]
        agent.session_id = None
        self._set_ready(agent, ev.at)

    # ------------------------------------------------------------------ helpers

    def _set_ready(self, agent: NAgent, at: float) -> None:
        agent.state = "ready"
        agent.idle_since = at
        agent.ready_at = at
        self._seq += 1
        agent.seq = self._seq
        self._dirty_agents.append(agent)

    def _requeue(self, ticket: NTicket) -> None:
        ticket.state = "queued"
        ticket.offer_agent = None
        if ticket.connected:
            self._dirty_queues.add(ticket.queue_id)

    def _offer(self, ticket: NTicket, agent: NAgent, at: float) -> None:
        ticket.state = "offered"
        self._offer_seq += 1
        ticket.offer_agent = agent.id
        ticket.offer_id = self._offer_seq
        agent.state = "offered"
        agent.ticket_id = ticket.id
        agent.last_offer_at = at
        self._offers.append((ticket.id, agent.id))

    def _pool_key(self, agent: NAgent, queue_id: str) -> tuple[Any, ...]:
        strategy = self.config.queues[queue_id].strategy
        if strategy == "least_occupied":
            occupancy = agent.busy_seconds / max(1.0, agent.ready_at - agent.signed_in_at)
            return (occupancy, agent.idle_since, agent.seq)
        if strategy == "round_robin":
            return (agent.last_offer_at, agent.seq)
        if strategy == "best_skill":
            return (-self.config.skill_score(agent.profile, queue_id), agent.idle_since, agent.seq)
        return (agent.idle_since, agent.seq)

    # ------------------------------------------------------------------ matching by scans

    def _match(self, at: float) -> None:
        for agent in self._dirty_agents:
            if agent.state == "ready":
                ticket = self._best_ticket_for(agent, at)
                if ticket is not None:
                    self._offer(ticket, agent, at)
        for queue_id in self._dirty_queues:
            while self._fill_one(queue_id, at):
                pass

    def _best_ticket_for(self, agent: NAgent, at: float) -> NTicket | None:
        """Scan every waiting ticket of the agent's queues for the best one it may take."""
        best, best_rank = None, None
        for queue_id in agent.profile.queues:
            if queue_id not in agent.eligible:
                continue
            aging = self.aging[queue_id]
            first, first_key = None, None
            for ticket in self.waiting[queue_id].values():
                if ticket.state != "queued" or not ticket.connected:
                    continue
                until = ticket.skip.get(agent.id)
                if until is not None and until > at:
                    continue
                key = (-(ticket.priority - aging * ticket.queued_at), ticket.queued_at, ticket.seq)
                if first_key is None or key < first_key:
                    first, first_key = ticket, key
            if first is None:
                continue
            score = first.priority + aging * (at - first.queued_at)
            rank = (-score, first.queued_at, first.seq)
            if best_rank is None or rank < best_rank:
                best, best_rank = first, rank
        return best

    def _fill_one(self, queue_id: str, at: float) -> bool:
        """Offer the best ticket of a queue to its best agent: scan all agents, all tickets."""
        pool = [a for a in self.agents.values() if a.state == "ready" and queue_id in a.eligible]
        if not pool:
            return False
        pool.sort(key=lambda a: self._pool_key(a, queue_id))
        aging = self.aging[queue_id]
        best, best_key, best_agent = None, None, None
        for ticket in self.waiting[queue_id].values():
            if ticket.state != "queued" or not ticket.connected:
                continue
            key = (-(ticket.priority - aging * ticket.queued_at), ticket.queued_at, ticket.seq)
            if best_key is not None and key >= best_key:
                continue
            for agent in pool:
                until = ticket.skip.get(agent.id)
                if until is None or until <= at:
                    best, best_key, best_agent = ticket, key, agent
                    break
        if best is None or best_agent is None:
            return False
        self._offer(best, best_agent, at)
        return True

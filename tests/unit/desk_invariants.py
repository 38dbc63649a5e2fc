"""The desk's invariants, checked by the property tests and by the fuzzer against a live server."""

from __future__ import annotations

from collections import Counter
from typing import Protocol

from videoassist.desk import AgentState, Desk, TicketState
from videoassist.desk.model import TERMINAL_TICKET_STATES

A = AgentState
T = TicketState


class Observed(Protocol):
    """A desk with what its driver saw: every ticket id tapped, each closed ticket's end state."""

    @property
    def desk(self) -> Desk: ...

    tapped: list[str]
    terminal: dict[str, TicketState]


def check_invariants(world: Observed) -> None:
    """Assert the desk's invariants: no ticket lost or duplicated; lines, pools, sessions agree."""
    desk = world.desk
    queues = desk.config.queues

    # No customer lost or duplicated; a closed ticket stays closed in its one terminal state.
    assert len(desk.tickets) + len(desk.closed) == len(world.tapped)
    for ticket_id in world.tapped:
        assert (ticket_id in desk.tickets) != (ticket_id in desk.closed), ticket_id
    for ticket_id, ticket in desk.closed.items():
        assert ticket.state in TERMINAL_TICKET_STATES, ticket_id
        assert world.terminal.setdefault(ticket_id, ticket.state) is ticket.state, ticket_id
        assert ticket.offer is None and ticket.ended_at is not None
        assert ticket_id not in desk.routing.waiting.get(ticket.queue_id, {})

    # Lines hold exactly the waiting customers; the offerable ones are ready to be offered.
    assert (
        set(desk.routing.waiting)
        == set(desk.routing.lines)
        == set(desk.routing.pools)
        == set(queues)
    )
    waiting: dict[str, set[str]] = {q: set() for q in queues}
    offerable: dict[str, set[str]] = {q: set() for q in queues}
    offers_per_agent: Counter[str] = Counter()
    for ticket_id, ticket in desk.tickets.items():
        assert ticket.state not in TERMINAL_TICKET_STATES, ticket_id
        assert ticket.queue_id in queues, ticket_id
        if ticket.state in (T.JOINING, T.QUEUED, T.OFFERED):
            waiting[ticket.queue_id].add(ticket_id)
        # A ticket whose page never connected holds a place, but is never offered (issue 10).
        assert (ticket.state is T.JOINING) == (ticket_id in desk._joining), ticket_id
        if ticket.state is T.JOINING:
            assert not ticket.connected and ticket.offer is None, ticket_id
            assert ticket.session_id is None, ticket_id
        elif ticket.state is T.QUEUED:
            assert ticket.offer is None, ticket_id
            if ticket.connected or ticket.callback:
                offerable[ticket.queue_id].add(ticket_id)
        elif ticket.state is T.OFFERED:
            assert ticket.offer is not None and ticket.offer.transfer_from is None, ticket_id
            assert ticket.connected or ticket.callback, f"{ticket_id} offered while away"
        elif ticket.state is T.LIVE:
            session = desk.sessions[ticket.session_id or ""]
            assert session.ticket_id == ticket_id and session.ended_at is None
            assert desk.agents[session.agent_id].state is A.BUSY
            if ticket.offer is not None:
                assert ticket.offer.transfer_from == ticket.session_id, ticket_id
        if ticket.offer is not None:
            offers_per_agent[ticket.offer.agent_id] += 1
            agent = desk.agents[ticket.offer.agent_id]
            assert agent.state is A.OFFERED and agent.ticket_id == ticket_id, ticket_id
    assert set(desk._joining) <= set(desk.tickets), "a closed ticket still joining"
    devices = [t.device_id for t in desk.tickets.values() if t.device_id is not None]
    assert len(devices) == len(set(devices)), "a device with two open tickets"
    bound = {t.device_id: t.id for t in desk.tickets.values() if t.device_id is not None}
    assert desk._devices == bound, "every open ticket, and only those, holds its device"
    for queue_id in queues:
        assert set(desk.routing.waiting[queue_id]) == waiting[queue_id], queue_id
        line = desk.routing.lines[queue_id]
        assert len(line) == len(offerable[queue_id]), queue_id
        assert all(t in line for t in offerable[queue_id]), queue_id

    # No agent with two offers or two sessions; pools hold exactly the ready, able agents.
    live_sessions: Counter[str] = Counter()
    pooled: Counter[str] = Counter()
    for session_id, session in desk.sessions.items():
        owner = desk.agents[session.agent_id]
        assert owner.session_id == session_id, f"{session_id} is nobody's"
        if session.ended_at is None:
            live_sessions[session.agent_id] += 1
            assert owner.state is A.BUSY, session_id
            assert desk.tickets[session.ticket_id].session_id == session_id
        else:
            assert owner.state is A.WRAP_UP, session_id
    for agent_id, agent in desk.agents.items():
        assert offers_per_agent[agent_id] == (agent.state is A.OFFERED), agent_id
        assert live_sessions[agent_id] == (agent.state is A.BUSY), agent_id
        if agent.state is A.OFFERED:
            assert agent.session_id is None, agent_id
        elif agent.state is A.BUSY:
            assert agent.ticket_id == desk.sessions[agent.session_id or ""].ticket_id
        elif agent.state is not A.WRAP_UP:
            assert agent.session_id is None and agent.ticket_id is None, agent_id
        for queue_id, pool in desk.routing.pools.items():
            able = agent.state is A.READY and desk.config.eligible(agent.profile, queue_id)
            assert (agent_id in pool) == able, (agent_id, queue_id)
            pooled[queue_id] += able
    for queue_id, pool in desk.routing.pools.items():
        assert len(pool) == pooled[queue_id], f"someone unknown in the {queue_id} pool"

"""Routing: which queue a customer waits in, who may answer them, and who goes first.

Rules of this module:

* It decides, it does not move anyone. The state machine (``desk.py``) changes states, makes
  the offers this module picks and returns the effects; the router keeps the orderings those
  decisions read, and is told by the desk whenever a ticket or an agent enters or leaves one.
* Pure, like the rest of the desk: time comes in as ``at``, nothing is read from outside.

Theory of operation. A tap's topic names its queue and priority (``route``); an unknown topic
is refused, the empty topic goes to the default queue. Each queue keeps three things:

* ``waiting``: everyone in line (queued or ringing, connected or not), with their line key, for
  positions, and ``ranks``, the same keys in a ``RankedSet`` so a position costs O(log n). The
  key is ``(-(priority - aging * queued_at), queued_at, seq)``: at a fixed
  moment, ordering by score ``priority + aging * minutes waited`` is the same as ordering by
  this, so keys never need refreshing as time passes.
* ``lines``: the tickets among them that may be offered now (queued, and connected or a
  callback), in the same order.
* ``pools``: the Ready agents who may take the queue (members with every required skill),
  ordered by the queue's strategy: ``longest_idle`` (idle since), ``least_occupied`` (busy share
  of the time signed in), ``round_robin`` (last offer) or ``best_skill`` (sum of the required
  skills, then idle since).

``match`` runs after every event: each agent who just became Ready takes the best ticket across
their queues (by score now, then tap time); then, in configuration order, each queue whose line
or pool changed offers its best tickets to its best agents while both last. A decline or a miss
``skip``s that agent for that ticket until ``reoffer_after`` has passed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from videoassist.desk.config import DeskConfig, QueueConfig
from videoassist.desk.errors import UnknownTopic
from videoassist.desk.lines import Key, LazyHeap, RankedSet
from videoassist.desk.model import Agent, AgentState, Offer, Ticket, TicketState


class Router:
    def __init__(
        self, config: DeskConfig, tickets: Mapping[str, Ticket], agents: Mapping[str, Agent]
    ) -> None:
        # The desk's own dicts of open tickets and signed-in agents: read, never changed here.
        self._tickets = tickets
        self._agents = agents
        self.config = config
        self.lines: dict[str, LazyHeap] = {}
        self.waiting: dict[str, dict[str, Key]] = {}
        self.ranks: dict[str, RankedSet] = {}  # (key, ticket id) of ``waiting``, for positions
        self.pools: dict[str, LazyHeap] = {}
        self._agent_seq = 0
        self._offer_seq = 0
        self._ready: list[str] = []  # agents who became Ready during this event, in order
        self._changed: set[str] = set()  # queues whose line grew during this event
        self.reset(config)

    def reset(self, config: DeskConfig) -> None:
        """Empty lines and pools for the queues of ``config``; the desk puts everyone back."""
        self.config = config
        self.lines = {q: LazyHeap() for q in config.queues}
        self.waiting = {q: {} for q in config.queues}
        self.ranks = {q: RankedSet() for q in config.queues}
        self.pools = {q: LazyHeap() for q in config.queues}

    def _queue(self, queue_id: str) -> QueueConfig:
        return self.config.queues[queue_id]

    # ------------------------------------------------------------------ topics

    def route(self, topic: str) -> tuple[str, int]:
        """(queue id, priority) for a tap's topic; ``""`` is no topic at all."""
        route = self.config.topics.get(topic)
        if route is not None:
            return route.queue_id, route.priority
        if topic:
            # Checked here and not only at the API, so a topic deleted between a page's load
            # and its tap is refused like any other instead of landing in the default queue.
            known = ", ".join(sorted(self.config.topics)) or "none configured"
            raise UnknownTopic(f"topic: unknown topic (known: {known})")
        return self.config.default_queue, 0

    # ------------------------------------------------------------------ lines

    def line_key(self, ticket: Ticket) -> Key:
        aging = self._queue(ticket.queue_id).priority_aging / 60.0
        return (-(ticket.priority - aging * ticket.queued_at), ticket.queued_at, ticket.seq)

    def enter_line(self, ticket: Ticket) -> None:
        key = self.line_key(ticket)
        old = self.waiting[ticket.queue_id].get(ticket.id)
        if old is not None:
            self.ranks[ticket.queue_id].discard((old, ticket.id))
        self.waiting[ticket.queue_id][ticket.id] = key
        self.ranks[ticket.queue_id].add((key, ticket.id))
        if ticket.state is TicketState.QUEUED and (ticket.connected or ticket.callback):
            self.lines[ticket.queue_id].push(ticket.id, key)
            self._changed.add(ticket.queue_id)

    def make_offerable(self, ticket: Ticket) -> None:
        """A ticket in line may be offered again, at its old place."""
        key = self.waiting[ticket.queue_id][ticket.id]
        self.lines[ticket.queue_id].push(ticket.id, key)
        self._changed.add(ticket.queue_id)

    def set_aside(self, ticket: Ticket) -> None:
        """A ticket keeps its place but may not be offered for now (ringing, or its customer
        is away)."""
        self.lines[ticket.queue_id].discard(ticket.id)

    def leave_line(self, ticket: Ticket) -> None:
        self.lines[ticket.queue_id].discard(ticket.id)
        key = self.waiting[ticket.queue_id].pop(ticket.id, None)
        if key is not None:
            self.ranks[ticket.queue_id].discard((key, ticket.id))

    def ordered(self, queue_id: str) -> list[str]:
        """Everyone in a queue's line, first to last (O(n))."""
        return [ticket_id for _, ticket_id in self.ranks[queue_id]]

    def position(self, ticket: Ticket) -> int | None:
        """1 for the first in line; O(log n)."""
        key = self.waiting[ticket.queue_id].get(ticket.id)
        if key is None:
            return None
        return 1 + self.ranks[ticket.queue_id].rank((key, ticket.id))

    def in_line(self, queue_id: str) -> int:
        return len(self.waiting.get(queue_id, ()))

    # ------------------------------------------------------------------ pools

    def pool_key(self, agent: Agent, queue_id: str, at: float) -> Key:
        strategy = self._queue(queue_id).strategy
        if strategy == "least_occupied":
            occupancy = agent.busy_seconds / max(1.0, at - agent.signed_in_at)
            return (occupancy, agent.idle_since, agent.seq)
        if strategy == "round_robin":
            return (agent.last_offer_at, agent.seq)
        if strategy == "best_skill":
            return (-self.config.skill_score(agent.profile, queue_id), agent.idle_since, agent.seq)
        return (agent.idle_since, agent.seq)

    def enter_pools(self, agent: Agent, at: float) -> None:
        """A Ready agent joins the pool of every queue they may take, and is matched next."""
        self._agent_seq += 1
        agent.seq = self._agent_seq
        for queue_id in agent.profile.queues:
            if queue_id in self.pools and self.config.eligible(agent.profile, queue_id):
                self.pools[queue_id].push(agent.id, self.pool_key(agent, queue_id, at))
        self._ready.append(agent.id)

    def leave_pools(self, agent: Agent) -> None:
        for queue_id in agent.profile.queues:
            if queue_id in self.pools:
                self.pools[queue_id].discard(agent.id)

    def ready_for(self, queue_id: str) -> int:
        return len(self.pools[queue_id])

    # ------------------------------------------------------------------ offers

    def skip(self, ticket: Ticket, agent_id: str, at: float) -> float:
        """The agent declined or missed the ticket: not offered it again until the time given."""
        until = at + self.config.reoffer_after
        ticket.skip[agent_id] = until
        return until

    def rematch_all(self) -> None:
        """A skip has run out: every queue is looked at again."""
        self._changed.update(self.config.queues)

    def new_offer(
        self, ticket: Ticket, agent: Agent, at: float, transfer_from: str | None = None
    ) -> Offer:
        """The offer of ``ticket`` to ``agent``, ringing for the ticket's queue's timeout."""
        self._offer_seq += 1
        agent.last_offer_at = at  # what round robin orders by
        expires = at + self._queue(ticket.queue_id).ring_timeout
        return Offer(agent.id, self._offer_seq, expires, transfer_from)

    # ------------------------------------------------------------------ matching

    def begin(self) -> None:
        """A new event: nothing has changed yet."""
        self._ready.clear()
        self._changed.clear()

    def match(self, at: float, offer: Callable[[Ticket, Agent], None]) -> None:
        """Pick every pair there is to offer now; ``offer`` makes each one (and must take the
        agent out of the pools and the ticket out of its line) before the next is picked."""
        for agent_id in self._ready:
            agent = self._agents.get(agent_id)
            if agent is not None and agent.state is AgentState.READY:
                ticket = self.best_ticket_for(agent, at)
                if ticket is not None:
                    offer(ticket, agent)
        # In configuration order, not set order: a set of strings iterates in an order that
        # changes with the process's hash seed, and the same events must give the same offers.
        for queue_id in [q for q in self.config.queues if q in self._changed]:
            line, pool = self.lines[queue_id], self.pools[queue_id]
            while line and pool:
                ticket_id = line.first(accept=lambda t: self._has_agent_for(t, at))
                if ticket_id is None:
                    break
                ticket = self._tickets[ticket_id]
                agent_id = pool.first(accept=_not_skipping(ticket, at))
                offer(ticket, self._agents[agent_id])

    def _has_agent_for(self, ticket_id: str, at: float) -> bool:
        ticket = self._tickets[ticket_id]
        pool = self.pools[ticket.queue_id]
        if not ticket.skip:
            return bool(pool)
        return pool.first(accept=_not_skipping(ticket, at)) is not None

    def best_ticket_for(self, agent: Agent, at: float) -> Ticket | None:
        best: Ticket | None = None
        best_rank: tuple[float, float, int] | None = None
        for queue_id in agent.profile.queues:
            line = self.lines.get(queue_id)
            if not line or not self.config.eligible(agent.profile, queue_id):
                continue
            ticket_id = line.first(accept=lambda t: not skipped(self._tickets[t], agent.id, at))
            if ticket_id is None:
                continue
            ticket = self._tickets[ticket_id]
            aging = self._queue(queue_id).priority_aging / 60.0
            score = ticket.priority + aging * (at - ticket.queued_at)
            rank = (-score, ticket.queued_at, ticket.seq)
            if best_rank is None or rank < best_rank:
                best, best_rank = ticket, rank
        return best


def skipped(ticket: Ticket, agent_id: str, at: float) -> bool:
    until = ticket.skip.get(agent_id)
    return until is not None and until > at


def _not_skipping(ticket: Ticket, at: float) -> Callable[[str], bool]:
    return lambda agent_id: not skipped(ticket, agent_id, at)


def offer_info(ticket: Ticket, at: float) -> dict[str, object]:
    """What an agent is shown of a ringing offer, as of ``at``."""
    assert ticket.offer is not None
    return {
        "ticket_id": ticket.id,
        "topic": ticket.topic,
        "description": ticket.description,
        "queue_id": ticket.queue_id,
        "priority": ticket.priority,
        "callback": ticket.callback,
        "transfer": ticket.offer.transfer_from is not None,
        "waited": round(at - ticket.queued_at, 1),
        "ring_timeout": round(max(0.0, ticket.offer.expires_at - at), 1),
    }

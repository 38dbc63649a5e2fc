"""The desk's records of its subjects: tickets, agents and the offers between them.

Plain mutable data, owned by one ``Desk``; only ``desk.py`` (the state machine) and
``routing.py`` (who goes first) change them. Kept apart from both so that each can name them
without importing the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from videoassist.desk.config import AgentProfile
from videoassist.desk.events import TicketRow


class AgentState(StrEnum):
    OFFLINE = "offline"
    READY = "ready"
    OFFERED = "offered"
    BUSY = "busy"
    WRAP_UP = "wrap_up"
    AWAY = "away"


class TicketState(StrEnum):
    JOINING = "joining"  # tapped; its page has not connected yet: holds a place, never offered
    QUEUED = "queued"
    OFFERED = "offered"
    LIVE = "live"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"
    ENDED = "ended"


TERMINAL_TICKET_STATES = frozenset(
    {TicketState.CANCELLED, TicketState.ABANDONED, TicketState.ENDED}
)


@dataclass(slots=True)
class Offer:
    agent_id: str
    offer_id: int
    expires_at: float
    transfer_from: str | None = None  # session id of the agent handing over (warm transfer)


@dataclass(slots=True)
class Ticket:
    id: str
    topic: str
    description: str
    queued_at: float
    queue_id: str
    priority: int = 0
    callback: bool = False
    seq: int = 0
    state: TicketState = TicketState.QUEUED
    connected: bool = True
    offer: Offer | None = None
    skip: dict[str, float] = field(default_factory=dict)  # agent -> not offered again until
    # Agents whose skip comes from letting the offer ring out (not from declining): coming
    # back Ready ends it, since the agent is now there to answer.
    missed_by: set[str] = field(default_factory=set)
    session_id: str | None = None  # the live leg
    call_id: str | None = None  # the media call
    customer_ref: str | None = None
    device_id: str | None = None
    line_since: float = 0.0  # when it entered its current queue: max wait counts from here
    handled_before: float = 0.0  # talk time of earlier legs of this contact (warm transfers)
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
            queue_id=self.queue_id,
            priority=self.priority,
            callback=self.callback,
            customer_ref=self.customer_ref,
            device_id=self.device_id,
            line_since=self.line_since,
        )


@dataclass(slots=True)
class Agent:
    id: str
    name: str
    profile: AgentProfile
    state: AgentState = AgentState.OFFLINE
    state_since: float = 0.0
    signed_in_at: float = 0.0
    idle_since: float = 0.0
    last_offer_at: float = 0.0
    busy_seconds: float = 0.0
    missed: int = 0
    away_reason: str | None = None
    ticket_id: str | None = None  # offered or live ticket
    session_id: str | None = None  # live or wrapping-up session
    seq: int = 0

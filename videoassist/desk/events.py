"""The desk's vocabulary: events in (past tense), effects out (imperative).

Events carry their own time (``at``, seconds since the epoch) so the desk never reads a clock.
Timers are effects: the shell schedules ``SetTimer.event`` to be fed back at ``SetTimer.at``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Party = Literal["customer", "agent"]
EndedBy = Literal["customer", "agent", "system"]

# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class CustomerTapped:
    ticket_id: str
    at: float
    topic: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class CustomerCancelled:
    ticket_id: str
    at: float


@dataclass(frozen=True, slots=True)
class CustomerLeft:
    """The customer's connection is gone."""

    ticket_id: str
    at: float


@dataclass(frozen=True, slots=True)
class AgentSignedIn:
    agent_id: str
    name: str
    at: float


@dataclass(frozen=True, slots=True)
class AgentSignedOut:
    """The agent's console is gone (logout or connection lost)."""

    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class AgentReady:
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class AgentAway:
    agent_id: str
    at: float
    reason: str = "away"


@dataclass(frozen=True, slots=True)
class OfferAccepted:
    agent_id: str
    ticket_id: str
    at: float


@dataclass(frozen=True, slots=True)
class OfferDeclined:
    agent_id: str
    ticket_id: str
    at: float


@dataclass(frozen=True, slots=True)
class OfferTimedOut:
    agent_id: str
    ticket_id: str
    offer_id: int
    at: float


@dataclass(frozen=True, slots=True)
class HungUp:
    """A participant ended the session. ``by_id`` is the ticket or agent id of the caller."""

    session_id: str
    by: Party
    by_id: str
    at: float


@dataclass(frozen=True, slots=True)
class MediaFailed:
    session_id: str
    at: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class WrapUpDone:
    agent_id: str
    session_id: str
    disposition: str
    note: str
    at: float


@dataclass(frozen=True, slots=True)
class DrainStarted:
    """The server is shutting down: refuse new taps, end live sessions."""

    at: float


Event = (
    CustomerTapped
    | CustomerCancelled
    | CustomerLeft
    | AgentSignedIn
    | AgentSignedOut
    | AgentReady
    | AgentAway
    | OfferAccepted
    | OfferDeclined
    | OfferTimedOut
    | HungUp
    | MediaFailed
    | WrapUpDone
    | DrainStarted
)

# --------------------------------------------------------------------------- effects


@dataclass(frozen=True, slots=True)
class Notify:
    """Send ``event`` with ``data`` to one party (a ticket's customer or an agent)."""

    to: Party
    target_id: str
    event: str
    data: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class SetTimer:
    key: str
    at: float
    event: Event


@dataclass(frozen=True, slots=True)
class CancelTimer:
    key: str


@dataclass(frozen=True, slots=True)
class StartMedia:
    session_id: str
    ticket_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class StopMedia:
    session_id: str


@dataclass(frozen=True, slots=True)
class TicketRow:
    id: str
    topic: str
    description: str
    status: str
    queued_at: float
    ended_at: float | None
    end_reason: str | None


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: str
    ticket_id: str
    agent_id: str
    queued_at: float
    answered_at: float
    ended_at: float | None = None
    end_reason: str | None = None
    disposition: str | None = None
    note: str | None = None
    wrapped_up_at: float | None = None


@dataclass(frozen=True, slots=True)
class SaveTicket:
    row: TicketRow


@dataclass(frozen=True, slots=True)
class SaveSession:
    row: SessionRow


Effect = Notify | SetTimer | CancelTimer | StartMedia | StopMedia | SaveTicket | SaveSession

DISPOSITIONS = ("resolved", "follow_up", "escalated", "not_resolved", "no_contact")

__all__ = [
    "DISPOSITIONS",
    "AgentAway",
    "AgentReady",
    "AgentSignedIn",
    "AgentSignedOut",
    "CancelTimer",
    "CustomerCancelled",
    "CustomerLeft",
    "CustomerTapped",
    "DrainStarted",
    "Effect",
    "EndedBy",
    "Event",
    "HungUp",
    "MediaFailed",
    "Notify",
    "OfferAccepted",
    "OfferDeclined",
    "OfferTimedOut",
    "Party",
    "SaveSession",
    "SaveTicket",
    "SessionRow",
    "SetTimer",
    "StartMedia",
    "StopMedia",
    "TicketRow",
    "WrapUpDone",
]

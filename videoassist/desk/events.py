"""The desk's vocabulary: events in (past tense), effects out (imperative).

Events carry their own time (``at``, seconds since the epoch) so the desk never reads a clock.
Timers are effects: the shell schedules ``SetTimer.event`` to be fed back at ``SetTimer.at``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from videoassist.desk.wire import ServerEvent

if TYPE_CHECKING:
    from videoassist.desk.config import DeskConfig

Party = Literal["customer", "agent"]
EndedBy = Literal["customer", "agent", "system"]

# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class CustomerTapped:
    """A customer asks for help. ``priority`` comes only from a signed claim of the embedding
    app (never from the customer); ``callback`` asks to be called back instead of waiting."""

    ticket_id: str
    at: float
    topic: str = ""
    description: str = ""
    priority: int = 0
    callback: bool = False
    customer_ref: str | None = None  # who the embedding app says this is (verified claim)
    device_id: str | None = None  # the browser or app install: one open ticket each


@dataclass(frozen=True, slots=True)
class CustomerReturned:
    """The customer's page is connected: for the first time since the tap (the join, which
    makes the ticket offerable), back within the grace period, or to join a callback. The
    shell reports every connection of a customer whom ``Desk.customer_away`` says is away."""

    ticket_id: str
    at: float


@dataclass(frozen=True, slots=True)
class JoinWindowExpired:
    """A tapped ticket's page never connected within the join window (a ghost tap)."""

    ticket_id: str
    at: float


@dataclass(frozen=True, slots=True)
class CustomerGraceExpired:
    ticket_id: str
    at: float


@dataclass(frozen=True, slots=True)
class CallbackRequested:
    """A waiting customer would rather be called back; they keep their place."""

    ticket_id: str
    at: float


@dataclass(frozen=True, slots=True)
class MaxWaitReached:
    ticket_id: str
    queue_id: str
    at: float


@dataclass(frozen=True, slots=True)
class CallbackJoinTimedOut:
    session_id: str
    at: float


@dataclass(frozen=True, slots=True)
class RematchDue:
    """A decline or miss has cooled down: look at the queues again."""

    at: float


@dataclass(frozen=True, slots=True)
class AnnounceDue:
    """Time to tell waiting customers their position and estimate (sent by the shell's clock)."""

    at: float


@dataclass(frozen=True, slots=True)
class ConfigChanged:
    config: DeskConfig
    at: float


@dataclass(frozen=True, slots=True)
class TransferRequested:
    """The agent of a live session hands it on: blind to a queue, or warm to a named agent."""

    session_id: str
    agent_id: str
    at: float
    queue_id: str | None = None
    to_agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class WrapUpTimedOut:
    agent_id: str
    session_id: str
    at: float


@dataclass(frozen=True, slots=True)
class RestoredTicket:
    id: str
    topic: str
    description: str
    queue_id: str
    priority: int
    queued_at: float
    callback: bool
    customer_ref: str | None = None
    device_id: str | None = None
    line_since: float | None = None  # when it entered its current queue (None: at queued_at)
    joined: bool = True  # False: its page never connected (status "joining")


@dataclass(frozen=True, slots=True)
class RestoredCall:
    """A call that was live when the process stopped: its ticket, its leg and its agent."""

    session_id: str
    call_id: str
    ticket_id: str
    agent_id: str
    agent_name: str
    topic: str
    description: str
    queue_id: str
    priority: int
    queued_at: float
    answered_at: float
    callback: bool = False
    customer_ref: str | None = None
    device_id: str | None = None
    line_since: float | None = None
    interruptions: int = 0
    interrupted_seconds: float = 0.0
    away_since: float | None = None  # the call was waiting for a party when the process stopped


@dataclass(frozen=True, slots=True)
class Restored:
    """Start-up after a restart: the waiting tickets, each agent's last state and the calls
    that were live, from the store."""

    tickets: tuple[RestoredTicket, ...]
    agent_states: Mapping[str, str]
    at: float
    calls: tuple[RestoredCall, ...] = ()


@dataclass(frozen=True, slots=True)
class AgentDropped:
    """The agent's console connection is gone without signing out (a reload, a network drop,
    the server restarting under it)."""

    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class AgentReturned:
    """A console connected again for an agent whose call waits for them (``AgentDropped``)."""

    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class CallResumeExpired:
    """An interrupted call's parties were not all back within ``call_resume_window``."""

    session_id: str
    at: float


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
class MediaMoved:
    """The node carrying the call's media was lost at ``lost_at`` and the call was opened
    again on another by ``at``; its parties offer media anew (an interruption on record)."""

    session_id: str  # the media call id
    lost_at: float
    at: float


@dataclass(frozen=True, slots=True)
class WrapUpDone:
    agent_id: str
    session_id: str
    disposition: str
    note: str
    at: float


# Supervisor actions. ``by`` is the supervisor's staff id and ``by_name`` their username: the
# desk writes both into the audit row of the action, before anyone is told of it.


@dataclass(frozen=True, slots=True)
class AgentSentAway:
    """A supervisor sets an agent Away (from Ready, Away or while an offer rings)."""

    agent_id: str
    by: str
    by_name: str
    at: float
    reason: str = "away"


@dataclass(frozen=True, slots=True)
class AgentForcedOut:
    """A supervisor signs an agent out; a live call of theirs ends."""

    agent_id: str
    by: str
    by_name: str
    at: float


@dataclass(frozen=True, slots=True)
class TicketMoved:
    """A supervisor moves a waiting customer to another queue."""

    ticket_id: str
    queue_id: str
    by: str
    by_name: str
    at: float


@dataclass(frozen=True, slots=True)
class TicketReprioritized:
    """A supervisor changes a waiting customer's priority."""

    ticket_id: str
    priority: int
    by: str
    by_name: str
    at: float


@dataclass(frozen=True, slots=True)
class CallSupervised:
    """A supervisor starts monitoring, whispering to the agent of, barging into or leaving a
    live call (``action``: monitor, whisper, barge or leave). Nothing in the desk changes: the
    desk checks the call is live and writes the audit row before the media side acts."""

    session_id: str
    action: str
    by: str
    by_name: str
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
    | MediaMoved
    | WrapUpDone
    | DrainStarted
    | CustomerReturned
    | CustomerGraceExpired
    | JoinWindowExpired
    | CallbackRequested
    | MaxWaitReached
    | CallbackJoinTimedOut
    | RematchDue
    | AnnounceDue
    | ConfigChanged
    | TransferRequested
    | WrapUpTimedOut
    | Restored
    | AgentDropped
    | AgentReturned
    | CallResumeExpired
    | AgentSentAway
    | AgentForcedOut
    | TicketMoved
    | TicketReprioritized
    | CallSupervised
)

# --------------------------------------------------------------------------- effects


@dataclass(frozen=True, slots=True)
class Notify:
    """Send ``event`` with ``data`` to one party (a ticket's customer or an agent)."""

    to: Party
    target_id: str
    event: ServerEvent
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
    customer_joins_later: bool = False  # a callback: the customer may not be online yet


@dataclass(frozen=True, slots=True)
class StopMedia:
    session_id: str


@dataclass(frozen=True, slots=True)
class HandOverMedia:
    """The call's agent side now belongs to ``agent_id`` (warm transfer)."""

    session_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class TicketRow:
    id: str
    topic: str
    description: str
    status: str
    queued_at: float
    ended_at: float | None
    end_reason: str | None
    queue_id: str = "general"
    priority: int = 0
    callback: bool = False
    customer_ref: str | None = None
    device_id: str | None = None  # a hash of the browser's device cookie
    line_since: float | None = None  # when it entered its current queue


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
    call_id: str = ""  # the media call this leg belongs to; a warm transfer keeps it
    interruptions: int = 0  # times a party's connection (or the server) dropped mid-call
    interrupted_seconds: float = 0.0  # how long the call waited for them to come back
    away_since: float | None = None  # a wait under way (a restart carries it on)


@dataclass(frozen=True, slots=True)
class SaveTicket:
    row: TicketRow


@dataclass(frozen=True, slots=True)
class SaveSession:
    row: SessionRow


@dataclass(frozen=True, slots=True)
class SaveAgentState:
    agent_id: str
    state: str
    reason: str | None
    at: float


@dataclass(frozen=True, slots=True)
class AuditRow:
    """Who did what, when, to whom: one supervisor action the desk carried out."""

    at: float
    actor_id: str
    actor_name: str
    action: str  # set_away, sign_out, move, set_priority
    subject_kind: str  # agent or ticket
    subject_id: str
    detail: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class SaveAudit:
    row: AuditRow


Effect = (
    Notify
    | SetTimer
    | CancelTimer
    | StartMedia
    | StopMedia
    | HandOverMedia
    | SaveTicket
    | SaveSession
    | SaveAgentState
    | SaveAudit
)

# The effects that write records: one event's are written together, in one transaction.
Save = SaveTicket | SaveSession | SaveAgentState | SaveAudit

DISPOSITIONS = ("resolved", "follow_up", "escalated", "not_resolved", "no_contact")

__all__ = [
    "DISPOSITIONS",
    "AgentAway",
    "AgentDropped",
    "AgentForcedOut",
    "AgentReady",
    "AgentReturned",
    "AgentSentAway",
    "AgentSignedIn",
    "AgentSignedOut",
    "AnnounceDue",
    "AuditRow",
    "CallResumeExpired",
    "CallSupervised",
    "CallbackJoinTimedOut",
    "CallbackRequested",
    "CancelTimer",
    "ConfigChanged",
    "CustomerCancelled",
    "CustomerGraceExpired",
    "CustomerLeft",
    "CustomerReturned",
    "CustomerTapped",
    "DrainStarted",
    "Effect",
    "EndedBy",
    "Event",
    "HandOverMedia",
    "HungUp",
    "JoinWindowExpired",
    "MaxWaitReached",
    "MediaFailed",
    "MediaMoved",
    "Notify",
    "OfferAccepted",
    "OfferDeclined",
    "OfferTimedOut",
    "Party",
    "RematchDue",
    "Restored",
    "RestoredCall",
    "RestoredTicket",
    "Save",
    "SaveAgentState",
    "SaveAudit",
    "SaveSession",
    "SaveTicket",
    "SessionRow",
    "SetTimer",
    "StartMedia",
    "StopMedia",
    "TicketMoved",
    "TicketReprioritized",
    "TicketRow",
    "TransferRequested",
    "WrapUpDone",
    "WrapUpTimedOut",
]

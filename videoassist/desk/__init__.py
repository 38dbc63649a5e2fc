"""The contact-center core, sans-IO: feed it events, carry out the effects it returns."""

from videoassist.desk.desk import (
    AGENT_TRANSITIONS,
    TICKET_TRANSITIONS,
    AgentState,
    Desk,
    TicketState,
)
from videoassist.desk.errors import (
    DeskError,
    IllegalTransition,
    NotAllowed,
    Refused,
    UnknownSubject,
)
from videoassist.desk.events import *  # noqa: F403 - the event and effect vocabulary is the API

__all__ = [
    "AGENT_TRANSITIONS",
    "TICKET_TRANSITIONS",
    "AgentState",
    "Desk",
    "DeskError",
    "IllegalTransition",
    "NotAllowed",
    "Refused",
    "TicketState",
    "UnknownSubject",
]

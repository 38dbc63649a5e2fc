"""The contact-center core, sans-IO: feed it events, carry out the effects it returns."""

from videoassist.desk.config import (
    AgentProfile,
    ConfigError,
    DeskConfig,
    OpenHours,
    QueueConfig,
    TopicRoute,
)
from videoassist.desk.desk import (
    AGENT_TRANSITIONS,
    TICKET_TRANSITIONS,
    ActiveTicket,
    AgentState,
    Desk,
    QueueClosed,
    QueueFull,
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
    "ActiveTicket",
    "AgentProfile",
    "AgentState",
    "ConfigError",
    "Desk",
    "DeskConfig",
    "DeskError",
    "IllegalTransition",
    "NotAllowed",
    "OpenHours",
    "QueueClosed",
    "QueueConfig",
    "QueueFull",
    "Refused",
    "TicketState",
    "TopicRoute",
    "UnknownSubject",
]

"""The contact-center core, sans-IO: feed it events, carry out the effects it returns."""

from videoassist.desk.config import (
    AgentProfile,
    ConfigError,
    DeskConfig,
    OpenHours,
    QueueConfig,
    TopicRoute,
)
from videoassist.desk.desk import AGENT_TRANSITIONS, TICKET_TRANSITIONS, Desk
from videoassist.desk.errors import (
    ActiveTicket,
    DeskError,
    IllegalTransition,
    NotAllowed,
    QueueClosed,
    QueueFull,
    Refused,
    UnknownSubject,
    UnknownTopic,
)
from videoassist.desk.events import *  # noqa: F403 - the event and effect vocabulary is the API
from videoassist.desk.model import AgentState, TicketState
from videoassist.desk.wire import ServerEvent

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
    "ServerEvent",
    "TicketState",
    "TopicRoute",
    "UnknownSubject",
    "UnknownTopic",
]

"""Errors raised by the desk.

    DeskError                 base; carries ``status`` (an HTTP-like hint) and ``code``
    ├── IllegalTransition     the event is not allowed in the subject's current state (409)
    ├── UnknownSubject        the ticket, agent or session does not exist (404)
    ├── NotAllowed            the caller is not the party the event needs (403)
    ├── ActiveTicket          this device already has an open ticket (409)
    ├── UnknownTopic          a tap names a topic no route is configured for (422)
    └── Refused               the desk is not taking this kind of work now (503)
        ├── QueueClosed       the topic's queue is outside its opening hours
        └── QueueFull         the topic's queue holds its maximum of waiting customers

Every one of them is the remote side's fault: the desk raised before changing anything, so
the shell can turn it into an ack error and carry on.
"""

from __future__ import annotations


class DeskError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class IllegalTransition(DeskError):
    status = 409
    code = "illegal_transition"

    def __init__(self, subject: str, state: str, trigger: str) -> None:
        super().__init__(f"{subject} cannot {trigger!r} while {state!r}")
        self.subject = subject
        self.state = state
        self.trigger = trigger


class UnknownSubject(DeskError):
    status = 404
    code = "not_found"


class NotAllowed(DeskError):
    status = 403
    code = "forbidden"


class ActiveTicket(DeskError):
    status = 409
    code = "active_ticket"


class UnknownTopic(DeskError):
    # The REST API has answered an unknown topic as a bad field of the tap ("invalid", with
    # the field first in the message) since before the desk decided it; clients rely on that.
    status = 422
    code = "invalid"


class Refused(DeskError):
    status = 503
    code = "unavailable"


class QueueClosed(Refused):
    code = "closed"


class QueueFull(Refused):
    code = "queue_full"

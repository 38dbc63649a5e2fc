"""Refusals outside the desk: one shape, so the edges catch them in one place each.

    Problem                    base: ``code`` for programs, ``message`` for people, ``status``
    ├── Refusal                the gateway refuses an event (who you are, what you name)
    ├── RoomError              a call's room refuses a change (unknown target, full, duplicate)
    ├── ContentError           a still or photo cannot be taken, stored or served
    └── MediaError             signaling the media hub cannot accept (bad offer, no session)

The desk's own ``DeskError`` (videoassist/desk/errors.py) has the same three attributes and
stays apart so that the desk imports nothing of ours. Every one of these is raised before
anything changed: the socket.io ack wrapper (videoassist/gateway/acks.py) and the HTTP handlers
turn them into ``{"error": {"code", "message"}}`` and carry on.
"""

from __future__ import annotations


class Problem(Exception):
    status = 400

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        if status is not None:
            self.status = status


class Refusal(Problem):
    status = 403


class RoomError(Problem):
    status = 409


class ContentError(Problem):
    """Takes its HTTP status first, as the photo and item handlers answer with it."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message, status)


class MediaError(Problem):
    status = 409


def first_problem(exc: ValueError, whole: str = "") -> str:
    """``"field.path: what is wrong"`` for the first thing pydantic found wrong (``whole`` names
    the place when the problem is with the value as a whole), or the error's own text."""
    from pydantic import ValidationError  # only callers that validate pay for the import

    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or whole
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    return str(exc)

"""The integrations port: how the service, the recorder, the tutorial library and the CSAT
endpoint tell the outside world what happened, without knowing who listens or how.

``publish`` must return at once and never raise: the desk's inbox calls it. The composition
root wires ``videoassist.webhooks.Webhooks``; ``NoIntegrations`` is the default everywhere.
Event names and payloads are documented in docs/integrations.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

EVENTS = (
    "session.started",
    "session.ended",
    "session.wrapped_up",
    "session.rated",
    "recording.ready",
    "tutorial.published",
)


class IntegrationsPort(Protocol):
    """Where the service, the recorder and the tutorial library tell the outside world."""

    def publish(self, event: str, data: Mapping[str, object]) -> None: ...


class NoIntegrations:
    def publish(self, event: str, data: Mapping[str, object]) -> None:
        return None


def session_event(row: Any, ticket: Any) -> tuple[str, dict[str, object]] | None:
    """The event a saved session leg (``SessionRow``) means, with its payload: started (no end
    yet), ended (an end, no wrap-up yet) or wrapped up (the agent's disposition). ``ticket``
    is the desk's ticket, when it still knows it."""
    data: dict[str, object] = {
        "session_id": row.id,
        "call_id": row.call_id or row.id,
        "ticket_id": row.ticket_id,
        "agent_id": row.agent_id,
        "queue": getattr(ticket, "queue_id", None),
        "topic": getattr(ticket, "topic", None),
        "customer_ref": getattr(ticket, "customer_ref", None),
        "queued_at": row.queued_at,
        "answered_at": row.answered_at,
        "wait": round(row.answered_at - row.queued_at, 3),
    }
    if row.ended_at is None:
        return "session.started", data
    data.update(
        ended_at=row.ended_at,
        end_reason=row.end_reason,
        duration=round(row.ended_at - row.answered_at, 3),
    )
    if row.wrapped_up_at is None:
        return "session.ended", data
    data.update(disposition=row.disposition, wrapped_up_at=row.wrapped_up_at)
    return "session.wrapped_up", data

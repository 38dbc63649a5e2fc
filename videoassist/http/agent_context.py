"""What the agent sees beside the video: who the customer is, their earlier calls, the notes
the agent takes during the call, and the lines of the queues the agent serves.

Only the agent who holds the session (live or wrapping up) may read its context or write its
notes; everyone else gets 403 without learning whether the session exists. Earlier calls are
found by the customer reference of a signed identity: an anonymous customer has none. Links to
recordings are given only to roles that may watch them (``RECORDING_ROLES``).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from videoassist.auth import Staff
from videoassist.http.guides import guide_of_session, tick
from videoassist.http.keys import RECORDINGS, RECORDS, SERVICE, TOPIC_LABELS
from videoassist.http.middleware import Reply, json_error, read_json
from videoassist.http.tokens import staff_of
from videoassist.recording import RECORDING_ROLES

logger = logging.getLogger(__name__)

agent_context = web.RouteTableDef()

PREVIOUS_CALLS = 10
NOTE_MAX = 2000
NO_STORE = {"Cache-Control": "private, no-store"}


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(max_length=NOTE_MAX)


async def _holder(request: web.Request) -> tuple[Staff, str] | web.Response:
    """The staff member asking, if they hold the session named in the path."""
    member = await staff_of(request)
    if member is None:
        return json_error(401, "unauthenticated", "please log in")
    session_id = request.match_info["session_id"]
    desk = request.app[SERVICE].desk
    if desk.agent_session(member.agent_id) != session_id or session_id not in desk.sessions:
        return json_error(403, "forbidden", "this is not your session")
    return member, session_id


async def _customer(records: Any, ref: str | None) -> dict[str, Any]:
    """Who the customer is, as the embedding app's signed identity says (none: anonymous)."""
    known = await records.customer(ref) if ref else None
    return {
        "ref": ref,
        "name": known["name"] if known else None,
        "email": known["email"] if known else None,
        "first_contact": known["first_contact"] if known else None,
    }


@agent_context.get("/api/agent/sessions/{session_id}/context")
async def get_context(request: web.Request) -> web.Response:
    held = await _holder(request)
    if isinstance(held, web.Response):
        return held
    member, session_id = held
    service = request.app[SERVICE]
    desk = service.desk
    row = desk.sessions[session_id]
    ticket = desk.tickets.get(row.ticket_id) or desk.closed[row.ticket_id]
    records = request.app[RECORDS]
    earlier: list[dict[str, Any]] = []
    if ticket.customer_ref:
        earlier = await records.previous_sessions(ticket.customer_ref, ticket.id, PREVIOUS_CALLS)
    # What the embedding app said of this request and of the earlier ones (setContext).
    contexts = await records.ticket_contexts([ticket.id, *(p["ticket_id"] for p in earlier)])
    names = (
        {f"u{u['id']}": u["display_name"] for u in await records.list_users()} if earlier else {}
    )
    labels = request.app[TOPIC_LABELS]
    may_watch = member.role in RECORDING_ROLES
    previous: list[dict[str, Any]] = []
    for past in earlier:
        recordings = None
        if may_watch:
            listing = await request.app[RECORDINGS].listing(past["call_id"], member.id)
            recordings = [f["url"] for rec in listing for f in rec["files"]]
        previous.append(
            {
                "session_id": past["id"],
                "answered_at": past["answered_at"],
                "ended_at": past["ended_at"],
                "agent": names.get(past["agent_id"], past["agent_id"]),
                "topic": labels.get(past["topic"], past["topic"]),
                "disposition": past["disposition"],
                "note": past["note"],
                "recordings": recordings,
                "context": contexts.get(past["ticket_id"], {}),
            }
        )
    body = {
        "session_id": session_id,
        "customer": await _customer(records, ticket.customer_ref),
        "context": contexts.get(ticket.id, {}),
        "topic": {
            "id": ticket.topic,
            "label": request.app[TOPIC_LABELS].get(ticket.topic, ticket.topic),
            "description": ticket.description,
        },
        "note": await records.session_note(session_id),
        "guide": await guide_of_session(request, ticket.topic, session_id),
        "previous": previous,
        "queues": queue_lines(request.app, member.agent_id),
        "at": service.now(),
    }
    return web.json_response(body, headers=NO_STORE)


def queue_lines(app: web.Application, agent_id: str) -> list[dict[str, Any]]:
    """Waiting customers and the longest wait (as a moment) in each queue the agent serves."""
    desk = app[SERVICE].desk
    agent = desk.agents.get(agent_id)
    if agent is None:
        return []
    served = set(agent.profile.queues)
    return [
        {
            "id": q["id"],
            "name": q["name"],
            "waiting": q["waiting"],
            "longest_since": q["longest_since"],
        }
        for q in desk.floor(app[SERVICE].now())["queues"]
        if q["id"] in served
    ]


@agent_context.get("/api/agent/queues")
async def get_queues(request: web.Request) -> web.Response:
    member = await staff_of(request)
    if member is None:
        return json_error(401, "unauthenticated", "please log in")
    body = {"queues": queue_lines(request.app, member.agent_id), "at": request.app[SERVICE].now()}
    return web.json_response(body, headers=NO_STORE)


@agent_context.put("/api/agent/sessions/{session_id}/note")
async def put_note(request: web.Request) -> web.Response:
    held = await _holder(request)
    if isinstance(held, web.Response):
        return held
    member, session_id = held
    try:
        body = await read_json(request, NoteIn)
    except Reply as bad:
        return bad.response
    await request.app[RECORDS].save_session_note(
        session_id, member.agent_id, body.note, request.app[SERVICE].now()
    )
    return web.json_response({"ok": True}, headers=NO_STORE)


@agent_context.put("/api/agent/sessions/{session_id}/ticks")
async def put_tick(request: web.Request) -> web.Response:
    held = await _holder(request)
    if isinstance(held, web.Response):
        return held
    member, session_id = held
    desk = request.app[SERVICE].desk
    row = desk.sessions[session_id]
    ticket = desk.tickets.get(row.ticket_id) or desk.closed[row.ticket_id]
    return await tick(request, member, session_id, ticket.topic)

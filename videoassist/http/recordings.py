"""Recordings over HTTP: a session's recordings, and their files through signed expiring links.

Only trainers, supervisors and admins (``RECORDING_ROLES``), by their staff session cookie; a
file link is also signed for the staff member it was made for and expires
(``RECORDING_LINK_TTL``). aiohttp's ``FileResponse`` answers Range requests (seeking in a
player). There is no static route to the recordings folder.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import ValidationError

from videoassist.auth import Staff
from videoassist.errors import ContentError
from videoassist.gateway.schemas import RecordingFilter
from videoassist.http.keys import RECORDINGS
from videoassist.http.middleware import json_error
from videoassist.http.tokens import staff_of
from videoassist.recording import CONTENT_TYPES, RECORDING_ROLES

recordings = web.RouteTableDef()


async def _reviewer(request: web.Request) -> Staff | web.Response:
    member = await staff_of(request)
    if member is None:
        return json_error(401, "unauthenticated", "please log in")
    if member.role not in RECORDING_ROLES:
        return json_error(403, "forbidden", "only trainers, supervisors and admins see recordings")
    return member


@recordings.get("/api/recordings")
async def find_recordings(request: web.Request) -> web.Response:
    """The trainer library: finished recordings, filtered by queue, topic, agent, disposition
    and start time."""
    member = await _reviewer(request)
    if isinstance(member, web.Response):
        return member
    try:
        query = RecordingFilter.model_validate(dict(request.query))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "query"
        return json_error(422, "invalid", f"{where}: {first['msg']}", field=where)
    rows = await request.app[RECORDINGS].library(
        member.id,
        queue_id=query.queue,
        topic=query.topic,
        agent_id=query.agent,
        disposition=query.disposition,
        since=query.since,
        until=query.until,
        limit=query.limit,
    )
    return web.json_response({"recordings": rows}, headers={"Cache-Control": "private, no-store"})


@recordings.get("/api/sessions/{session_id}/recordings")
async def list_recordings(request: web.Request) -> web.Response:
    member = await _reviewer(request)
    if isinstance(member, web.Response):
        return member
    rows = await request.app[RECORDINGS].listing(request.match_info["session_id"], member.id)
    return web.json_response({"recordings": rows}, headers={"Cache-Control": "private, no-store"})


@recordings.get("/api/recordings/{recording_id}/files/{name}")
async def get_recording_file(request: web.Request) -> web.StreamResponse:
    member = await _reviewer(request)
    if isinstance(member, web.Response):
        return member
    try:
        path = await request.app[RECORDINGS].open(
            request.match_info["recording_id"],
            request.match_info["name"],
            request.query.get("sig", ""),
            member.id,
        )
    except ContentError as exc:
        return json_error(exc.status, exc.code, exc.message)
    return web.FileResponse(
        path,
        headers={
            "Content-Type": CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
            "Cache-Control": "private, no-store",
        },
    )

"""Recordings over HTTP: a session's recordings, and their files through signed expiring links.

Only trainers, supervisors and admins (``RECORDING_ROLES``), by their staff session cookie; a
file link is also signed for the staff member it was made for and expires
(``RECORDING_LINK_TTL``). aiohttp's ``FileResponse`` answers Range requests (seeking in a
player). There is no static route to the recordings folder.
"""

from __future__ import annotations

from aiohttp import web

from videoassist.auth import SESSION_COOKIE, Staff
from videoassist.errors import ContentError
from videoassist.http.keys import RECORDINGS, STAFF
from videoassist.http.middleware import json_error
from videoassist.recording import CONTENT_TYPES, RECORDING_ROLES

recordings = web.RouteTableDef()


async def _reviewer(request: web.Request) -> Staff | web.Response:
    member = await request.app[STAFF].staff_for(request.cookies.get(SESSION_COOKIE))
    if member is None:
        return json_error(401, "unauthenticated", "please log in")
    if member.role not in RECORDING_ROLES:
        return json_error(403, "forbidden", "only trainers, supervisors and admins see recordings")
    return member


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

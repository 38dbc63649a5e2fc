"""Tutorials over HTTP: the trainer's library (write), reading, search, renders, links, QR codes.

Who may do what (each handler checks it first, by the staff session cookie):

* trainers and admins (``WRITERS``) make, edit, publish, revert and render tutorials and make
  them public or revoke that;
* supervisors (with the writers, ``READERS``) read everything, drafts included;
* agents (role agent) search and read published tutorials only;
* a video file is served through a signed link, which is the credential (customers get such
  links in ``tutorial_pushed`` and ``tutorials`` on socket.io); a public tutorial is read
  without login through its public token, until the token is revoked.
"""

from __future__ import annotations

import asyncio
import functools
import io
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from videoassist.auth import SESSION_COOKIE, Staff
from videoassist.errors import ContentError, Problem
from videoassist.gateway.schemas import RenderIn, TutorialCreateIn, TutorialEditIn
from videoassist.http.keys import PUBLIC_LIMIT, SETTINGS, STAFF, TRUSTED_PROXIES, TUTORIALS
from videoassist.http.middleware import Reply, json_error, read_json, too_many
from videoassist.tutorials import MEDIA_TYPES, Tutorials

WRITERS = ("trainer", "admin")
READERS = ("trainer", "supervisor", "admin")
SEARCHERS = ("agent", "trainer", "supervisor", "admin")

ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")

tutorials = web.RouteTableDef()


async def _member(request: web.Request, roles: tuple[str, ...]) -> Staff | web.Response:
    member = await request.app[STAFF].staff_for(request.cookies.get(SESSION_COOKIE))
    if member is None:
        return json_error(401, "unauthenticated", "please log in")
    if member.role not in roles:
        return json_error(403, "forbidden", "your role may not do this with tutorials")
    return member


NO_STORE = {"Cache-Control": "private, no-store"}


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, headers=NO_STORE)


def _staff_id(member: Staff) -> str:
    return str(member.id)


Handler = Callable[[web.Request, Staff, Tutorials], Awaitable[web.StreamResponse]]


def _as(roles: tuple[str, ...]) -> Callable[[Handler], Callable[[web.Request], Awaitable[Any]]]:
    """Authenticate and authorize, then run the handler; refusals become their JSON errors."""

    def wrap(fn: Handler) -> Callable[[web.Request], Awaitable[Any]]:
        @functools.wraps(fn)
        async def handler(request: web.Request) -> web.StreamResponse:
            member = await _member(request, roles)
            if isinstance(member, web.Response):
                return member
            try:
                return await fn(request, member, request.app[TUTORIALS])
            except Reply as reply:
                return reply.response
            except Problem as exc:
                return json_error(exc.status, exc.code, exc.message)

        return handler

    return wrap


@tutorials.get("/api/tutorials")
@_as(SEARCHERS)
async def search_tutorials(request: web.Request, member: Staff, lib: Tutorials) -> web.Response:
    q = request.query.get("q", "")
    topic = request.query.get("topic") or None
    state = request.query.get("state", "published" if member.role == "agent" else "any")
    if len(q) > 200 or (topic is not None and len(topic) > 64):
        return json_error(422, "invalid", "q: at most 200 characters; topic: at most 64")
    if state not in ("draft", "published", "any"):
        return json_error(422, "invalid", "state: draft, published or any")
    if member.role == "agent":
        state = "published"
    states = ("draft", "published") if state == "any" else (state,)
    return _json({"tutorials": await lib.search(q, topic, states)})


@tutorials.post("/api/tutorials")
@_as(WRITERS)
async def create_tutorial(request: web.Request, member: Staff, lib: Tutorials) -> web.Response:
    body = await read_json(request, TutorialCreateIn)
    made = await lib.create(body.recording_id, body.title, body.topic, _staff_id(member))
    return _json(made, 201)


@tutorials.get("/api/tutorials/{tutorial_id}")
@_as(SEARCHERS)
async def get_tutorial(request: web.Request, member: Staff, lib: Tutorials) -> web.Response:
    drafts = member.role in READERS
    return _json(await lib.view(_id(request), staff=_staff_id(member), drafts=drafts))


@tutorials.put("/api/tutorials/{tutorial_id}/draft")
@_as(WRITERS)
async def save_draft(request: web.Request, member: Staff, lib: Tutorials) -> web.Response:
    body = await read_json(request, TutorialEditIn)
    return _json(await lib.save_draft(_id(request), body.edit(), _staff_id(member)))


@tutorials.delete("/api/tutorials/{tutorial_id}/draft")
@_as(WRITERS)
async def revert_draft(request: web.Request, member: Staff, lib: Tutorials) -> web.Response:
    return _json(await lib.revert(_id(request), _staff_id(member)))


@tutorials.post("/api/tutorials/{tutorial_id}/publish")
@_as(WRITERS)
async def publish(request: web.Request, member: Staff, lib: Tutorials) -> web.Response:
    return _json(await lib.publish(_id(request), _staff_id(member)))


@tutorials.get("/api/tutorials/{tutorial_id}/versions")
@_as(READERS)
async def versions(request: web.Request, member: Staff, lib: Tutorials) -> web.Response:
    return _json({"versions": await lib.versions(_id(request))})


@tutorials.post("/api/tutorials/{tutorial_id}/renders")
@_as(WRITERS)
async def start_render(request: web.Request, member: Staff, lib: Tutorials) -> web.Response:
    body = await read_json(request, RenderIn)
    return _json(await lib.start_render(_id(request), body.version, body.format), 202)


@tutorials.get("/api/renders/{job_id}")
@_as(WRITERS)
async def get_render(request: web.Request, member: Staff, lib: Tutorials) -> web.Response:
    return _json(lib.job(request.match_info["job_id"], f"staff:{member.id}"))


@tutorials.delete("/api/renders/{job_id}")
@_as(WRITERS)
async def cancel_render(request: web.Request, member: Staff, lib: Tutorials) -> web.Response:
    return _json(lib.cancel(request.match_info["job_id"], f"staff:{member.id}"))


@tutorials.put("/api/tutorials/{tutorial_id}/public")
@_as(WRITERS)
async def make_public(request: web.Request, member: Staff, lib: Tutorials) -> web.Response:
    return _json(await lib.make_public(_id(request)))


@tutorials.delete("/api/tutorials/{tutorial_id}/public")
@_as(WRITERS)
async def revoke_public(request: web.Request, member: Staff, lib: Tutorials) -> web.Response:
    await lib.revoke_public(_id(request))
    return web.Response(status=204, headers=NO_STORE)


@tutorials.get("/api/tutorials/{tutorial_id}/qr.svg")
@_as(READERS)
async def qr_code(request: web.Request, member: Staff, lib: Tutorials) -> web.Response:
    target = request.query.get("target", "stable")
    if target not in ("stable", "public"):
        return json_error(422, "invalid", "target: stable or public")
    path = await lib.qr_target(_id(request), target)
    # A printed code outlives the request: the configured public address, when there is one.
    base = request.app[SETTINGS].public_url.rstrip("/") or f"{request.scheme}://{request.host}"
    svg = await asyncio.to_thread(_qr_svg, f"{base}{path}")
    return web.Response(
        body=svg, content_type="image/svg+xml", headers={"Cache-Control": "private, max-age=300"}
    )


def _qr_svg(url: str) -> bytes:
    import segno

    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(out, kind="svg", scale=4, border=4)
    return out.getvalue()


@tutorials.get("/api/tutorials/{tutorial_id}/media/{name}")
async def media(request: web.Request) -> web.StreamResponse:
    """The signed link is the credential (staff, a customer's ticket, or a public token)."""
    name = request.match_info["name"]
    try:
        path = await request.app[TUTORIALS].open_media(
            _id(request), name, request.query.get("sig", "")
        )
    except ContentError as exc:
        return json_error(exc.status, exc.code, exc.message)
    except Problem as exc:
        return json_error(exc.status, exc.code, exc.message)
    return web.FileResponse(
        path, headers={"Content-Type": MEDIA_TYPES[name], "Cache-Control": "private, no-store"}
    )


@tutorials.get("/api/public/tutorials/{token}")
async def public_tutorial(request: web.Request) -> web.Response:
    """No login: the token is the credential, until the trainer revokes it. Rate-limited per
    address, like taps, since anyone may call it."""
    address = request.app[TRUSTED_PROXIES].of_request(request)
    wait = await request.app[PUBLIC_LIMIT].take(("ip", address))
    if wait:
        return too_many(wait, "too many requests")
    token = request.match_info["token"]
    if len(token) > 64:
        return json_error(404, "not_found", "no such tutorial")
    try:
        return _json(await request.app[TUTORIALS].public_view(token))
    except Problem as exc:
        return json_error(exc.status, exc.code, exc.message)


def _id(request: web.Request) -> str:
    tutorial_id = request.match_info["tutorial_id"]
    if not ID_PATTERN.match(tutorial_id):
        raise Problem("not_found", "no such tutorial", 404)
    return tutorial_id

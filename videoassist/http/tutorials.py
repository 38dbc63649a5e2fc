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

from aiohttp import web

from videoassist.auth import SESSION_COOKIE, Staff
from videoassist.http.keys import STAFF
from videoassist.http.middleware import json_error

WRITERS = ("trainer", "admin")
READERS = ("trainer", "supervisor", "admin")
SEARCHERS = ("agent", "trainer", "supervisor", "admin")

tutorials = web.RouteTableDef()


async def _member(request: web.Request, roles: tuple[str, ...]) -> Staff | web.Response:
    member = await request.app[STAFF].staff_for(request.cookies.get(SESSION_COOKIE))
    if member is None:
        return json_error(401, "unauthenticated", "please log in")
    if member.role not in roles:
        return json_error(403, "forbidden", "your role may not do this with tutorials")
    return member


def _todo() -> web.Response:
    return json_error(501, "not_implemented", "tutorials are being built")


@tutorials.get("/api/tutorials")
async def search_tutorials(request: web.Request) -> web.Response:
    member = await _member(request, SEARCHERS)
    return member if isinstance(member, web.Response) else _todo()


@tutorials.post("/api/tutorials")
async def create_tutorial(request: web.Request) -> web.Response:
    member = await _member(request, WRITERS)
    return member if isinstance(member, web.Response) else _todo()


@tutorials.get("/api/tutorials/{tutorial_id}")
async def get_tutorial(request: web.Request) -> web.Response:
    member = await _member(request, SEARCHERS)
    return member if isinstance(member, web.Response) else _todo()


@tutorials.put("/api/tutorials/{tutorial_id}/draft")
async def save_draft(request: web.Request) -> web.Response:
    member = await _member(request, WRITERS)
    return member if isinstance(member, web.Response) else _todo()


@tutorials.delete("/api/tutorials/{tutorial_id}/draft")
async def revert_draft(request: web.Request) -> web.Response:
    member = await _member(request, WRITERS)
    return member if isinstance(member, web.Response) else _todo()


@tutorials.post("/api/tutorials/{tutorial_id}/publish")
async def publish(request: web.Request) -> web.Response:
    member = await _member(request, WRITERS)
    return member if isinstance(member, web.Response) else _todo()


@tutorials.get("/api/tutorials/{tutorial_id}/versions")
async def versions(request: web.Request) -> web.Response:
    member = await _member(request, READERS)
    return member if isinstance(member, web.Response) else _todo()


@tutorials.post("/api/tutorials/{tutorial_id}/renders")
async def start_render(request: web.Request) -> web.Response:
    member = await _member(request, WRITERS)
    return member if isinstance(member, web.Response) else _todo()


@tutorials.get("/api/renders/{job_id}")
async def get_render(request: web.Request) -> web.Response:
    member = await _member(request, WRITERS)
    return member if isinstance(member, web.Response) else _todo()


@tutorials.delete("/api/renders/{job_id}")
async def cancel_render(request: web.Request) -> web.Response:
    member = await _member(request, WRITERS)
    return member if isinstance(member, web.Response) else _todo()


@tutorials.put("/api/tutorials/{tutorial_id}/public")
async def make_public(request: web.Request) -> web.Response:
    member = await _member(request, WRITERS)
    return member if isinstance(member, web.Response) else _todo()


@tutorials.delete("/api/tutorials/{tutorial_id}/public")
async def revoke_public(request: web.Request) -> web.Response:
    member = await _member(request, WRITERS)
    return member if isinstance(member, web.Response) else _todo()


@tutorials.get("/api/tutorials/{tutorial_id}/qr.svg")
async def qr_code(request: web.Request) -> web.Response:
    member = await _member(request, READERS)
    return member if isinstance(member, web.Response) else _todo()


@tutorials.get("/api/tutorials/{tutorial_id}/media/{name}")
async def media(request: web.Request) -> web.StreamResponse:
    return _todo()


@tutorials.get("/api/public/tutorials/{token}")
async def public_tutorial(request: web.Request) -> web.Response:
    return _todo()

"""Call content over HTTP: a customer's photo upload, and signed downloads of stills/photos."""

from __future__ import annotations

from aiohttp import web

from videoassist.call_plane import encode_bytes
from videoassist.errors import ContentError, Problem
from videoassist.http.keys import CONTENT, PHOTO_LIMIT, PLANE, SERVICE, TOKENS
from videoassist.http.middleware import json_error, too_many

calls = web.RouteTableDef()


@calls.post("/api/calls/{call_id}/photos")
async def upload_photo(request: web.Request) -> web.Response:
    """The customer sends a photo (camera or file) into their live call; the agent gets it."""
    call_id = request.match_info["call_id"]
    auth = request.headers.get("Authorization", "")
    ticket_id = request.app[TOKENS].verify(auth.removeprefix("Bearer ").strip() or None)
    if ticket_id is None:
        return json_error(401, "unauthenticated", "send your ticket token as a Bearer token")
    live = request.app[SERVICE].desk.live_call("customer", ticket_id)
    if live is None or live[1] != call_id:
        return json_error(403, "forbidden", "you are not in that call")
    # Before the body is read: a flood is refused for the price of its headers. Per customer
    # (ticket), which follows them through a warm transfer; the call room caps each call.
    wait = await request.app[PHOTO_LIMIT].take(ticket_id)
    if wait:
        return too_many(wait, "you are sending photos too quickly")
    limit = request.app[CONTENT].photo_max_bytes
    if request.content_length is not None and request.content_length > limit:
        return json_error(413, "too_large", f"photos are limited to {limit // 1024} KiB")
    data = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > limit:
            return json_error(413, "too_large", f"photos are limited to {limit // 1024} KiB")
    try:
        item = await request.app[PLANE].add_photo(
            call_id, ticket_id, request.content_type, encode_bytes(bytes(data))
        )
    except Problem as exc:
        return json_error(exc.status, exc.code, exc.message)
    return web.json_response(item, status=201)


@calls.get("/api/calls/{call_id}/items/{item_id}")
async def get_item(request: web.Request) -> web.StreamResponse:
    try:
        path = await request.app[CONTENT].open(
            request.match_info["call_id"],
            request.match_info["item_id"],
            request.query.get("sig", ""),
        )
    except ContentError as exc:
        return json_error(exc.status, exc.code, exc.message)
    if not path.is_file():
        return json_error(404, "not_found", "no such item")
    return web.FileResponse(
        path, headers={"Content-Type": "image/jpeg", "Cache-Control": "private, no-store"}
    )

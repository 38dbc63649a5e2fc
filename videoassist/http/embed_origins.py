"""Admins list the sites allowed to embed the help button (videoassist/embedding.py):
``GET/POST/DELETE /api/admin/embed-origins``. ``ALLOWED_ORIGINS`` from the settings is listed
too, as fixed (it can only be changed where the server is configured). A change takes effect at
once for ``/embed``, the socket.io handshake and the API's cross-site check, and is audited.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from videoassist.auth import Staff
from videoassist.embedding import MAX_MANAGED, OriginError, normalize_origin
from videoassist.http.admin import admin_only, audit
from videoassist.http.keys import EMBED_ORIGINS, RECORDS
from videoassist.http.middleware import invalid, json_error, read_json

logger = logging.getLogger(__name__)

embed_origin_routes = web.RouteTableDef()
PATH = "/api/admin/embed-origins"


class OriginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    origin: str = Field(min_length=1, max_length=200)


async def _listing(request: web.Request) -> dict[str, Any]:
    origins = request.app[EMBED_ORIGINS]
    rows = await request.app[RECORDS].embed_origins()
    return {
        "fixed": sorted(origins.fixed),
        "managed": [
            {"origin": r["origin"], "added_at": r["added_at"], "added_by": r["added_by"]}
            for r in rows
        ],
        "limit": MAX_MANAGED,
    }


async def _reload(request: web.Request) -> None:
    rows = await request.app[RECORDS].embed_origins()
    request.app[EMBED_ORIGINS].replace(r["origin"] for r in rows)


def _origin(text: str) -> str:
    try:
        return normalize_origin(text)
    except OriginError as exc:
        raise invalid("origin", str(exc)) from None


@embed_origin_routes.get(PATH)
@admin_only
async def list_origins(request: web.Request, member: Staff) -> web.Response:
    return web.json_response(await _listing(request))


@embed_origin_routes.post(PATH)
@admin_only
async def add_origin(request: web.Request, member: Staff) -> web.Response:
    body = await read_json(request, OriginIn)
    origin = _origin(body.origin)
    records = request.app[RECORDS]
    if len(await records.embed_origins()) >= MAX_MANAGED:
        return json_error(409, "conflict", f"at most {MAX_MANAGED} sites; remove one first")
    if origin in request.app[EMBED_ORIGINS].fixed:
        return json_error(409, "conflict", f"{origin} is allowed by ALLOWED_ORIGINS already")
    if not await records.add_embed_origin(origin, member.username, time.time()):
        return json_error(409, "conflict", f"{origin} is listed already")
    await _reload(request)
    await audit(request, member, "embed_origin_added", "embed_origin", origin)
    logger.info("admin: %s may now embed the help button (by %s)", origin, member.username)
    return web.json_response(await _listing(request), status=201)


@embed_origin_routes.delete(PATH)
@admin_only
async def remove_origin(request: web.Request, member: Staff) -> web.Response:
    origin = _origin(request.query.get("origin", ""))
    if not await request.app[RECORDS].remove_embed_origin(origin):
        return json_error(404, "not_found", f"{origin} is not on the admin's list")
    await _reload(request)
    await audit(request, member, "embed_origin_removed", "embed_origin", origin)
    logger.info("admin: %s may no longer embed the help button (by %s)", origin, member.username)
    return web.json_response(await _listing(request))

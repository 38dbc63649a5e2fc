"""Admin REST API for the integrations: API tokens and webhook endpoints (docs/integrations.md).

Admins only, with a staff session: these endpoints are outside the token scope table, so a
token can never create a token or a webhook. Creating and revoking tokens and endpoints is
written to the audit log.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from videoassist.api_tokens import SCOPES, public
from videoassist.auth import Staff
from videoassist.http.admin import admin_only, audit
from videoassist.http.keys import API_TOKENS, SETTINGS, WEBHOOKS
from videoassist.http.middleware import Reply, invalid, json_error, read_json
from videoassist.integrations import EVENTS
from videoassist.webhooks import MAX_ENDPOINTS, url_problem

integrations = web.RouteTableDef()

Scope = Literal[
    "sessions:read", "reports:read", "recordings:read", "tutorials:read", "routing:manage"
]
EventName = Literal[
    "session.started",
    "session.ended",
    "session.wrapped_up",
    "session.rated",
    "recording.ready",
    "tutorial.published",
]
assert set(Scope.__args__) == set(SCOPES) and set(EventName.__args__) == set(EVENTS)  # type: ignore[attr-defined]
YEAR = 365 * 24 * 3600.0


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str = Field(min_length=1, max_length=64)
    scopes: list[Scope] = Field(min_length=1, max_length=len(SCOPES))
    # seconds from now; None: until revoked
    expires_in: float | None = Field(default=None, gt=0, le=5 * YEAR)


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2048)
    events: list[EventName] = Field(min_length=1, max_length=len(EVENTS))


def _path_hex(request: web.Request, name: str) -> str:
    value = request.match_info[name]
    if len(value) != 32 or any(c not in "0123456789abcdef" for c in value):
        raise invalid(name, "32 lowercase hex digits")
    return value


# --------------------------------------------------------------------------- API tokens


@integrations.get("/api/admin/tokens")
@admin_only
async def list_tokens(request: web.Request, member: Staff) -> web.Response:
    tokens = await request.app[API_TOKENS].listing()
    return web.json_response({"tokens": tokens, "scopes": SCOPES})


@integrations.post("/api/admin/tokens")
@admin_only
async def create_token(request: web.Request, member: Staff) -> web.Response:
    body = await read_json(request, TokenIn)
    expires_at = time.time() + body.expires_in if body.expires_in is not None else None
    row, secret = await request.app[API_TOKENS].create(
        body.name, list(body.scopes), expires_at, member.username
    )
    await audit(
        request, member, "token_create", "token", row["id"], name=body.name, scopes=row["scopes"]
    )
    # The only time the secret leaves the server.
    return web.json_response({**public(row), "token": secret}, status=201)


@integrations.delete("/api/admin/tokens/{token_id}")
@admin_only
async def revoke_token(request: web.Request, member: Staff) -> web.Response:
    token_id = _path_hex(request, "token_id")
    row = await request.app[API_TOKENS].revoke(token_id)
    if row is None:
        raise Reply(json_error(404, "not_found", "no such token"))
    await audit(request, member, "token_revoke", "token", token_id, name=row["name"])
    return web.json_response(public(row))


# --------------------------------------------------------------------------- webhooks


def _endpoint_out(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row[k] for k in ("id", "url", "events", "created_at", "created_by")}
    # False: its secret was sealed under another SECRET_KEY; its deliveries fail until the
    # endpoint is created again (videoassist/webhooks.py).
    out["signing"] = row.get("secret") is not None
    return out


def _delivery_out(row: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "event",
        "status",
        "attempts",
        "created_at",
        "last_attempt_at",
        "last_status",
        "last_error",
        "delivered_at",
        "next_attempt_at",
    )
    return {k: row[k] for k in keys}


@integrations.get("/api/admin/webhooks")
@admin_only
async def list_webhooks(request: web.Request, member: Staff) -> web.Response:
    hooks = request.app[WEBHOOKS]
    await hooks.reload()
    return web.json_response(
        {"endpoints": [_endpoint_out(e) for e in hooks.endpoints()], "events": list(EVENTS)}
    )


@integrations.post("/api/admin/webhooks")
@admin_only
async def create_webhook(request: web.Request, member: Staff) -> web.Response:
    body = await read_json(request, WebhookIn)
    problem = url_problem(body.url, allow_private=request.app[SETTINGS].webhook_allow_private)
    if problem is not None:
        raise invalid("url", problem)
    hooks = request.app[WEBHOOKS]
    await hooks.reload()
    if len(hooks.endpoints()) >= MAX_ENDPOINTS:
        raise Reply(json_error(409, "too_many", f"at most {MAX_ENDPOINTS} webhook endpoints"))
    row = await hooks.add_endpoint(body.url, list(dict.fromkeys(body.events)), member.username)
    await audit(request, member, "webhook_create", "webhook", row["id"], url=body.url)
    # The signing secret, shown this once.
    return web.json_response({**_endpoint_out(row), "secret": row["secret"]}, status=201)


@integrations.delete("/api/admin/webhooks/{endpoint_id}")
@admin_only
async def delete_webhook(request: web.Request, member: Staff) -> web.Response:
    endpoint_id = _path_hex(request, "endpoint_id")
    if not await request.app[WEBHOOKS].delete_endpoint(endpoint_id):
        raise Reply(json_error(404, "not_found", "no such webhook endpoint"))
    await audit(request, member, "webhook_delete", "webhook", endpoint_id)
    return web.Response(status=204)


async def _endpoint(request: web.Request) -> dict[str, Any]:
    endpoint_id = _path_hex(request, "endpoint_id")
    hooks = request.app[WEBHOOKS]
    await hooks.reload()
    endpoint = next((e for e in hooks.endpoints() if e["id"] == endpoint_id), None)
    if endpoint is None:
        raise Reply(json_error(404, "not_found", "no such webhook endpoint"))
    return endpoint


@integrations.get("/api/admin/webhooks/{endpoint_id}/deliveries")
@admin_only
async def list_deliveries(request: web.Request, member: Staff) -> web.Response:
    endpoint = await _endpoint(request)
    rows = await request.app[WEBHOOKS].store.deliveries(endpoint["id"])
    return web.json_response({"deliveries": [_delivery_out(r) for r in rows]})


@integrations.post("/api/admin/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver")
@admin_only
async def redeliver(request: web.Request, member: Staff) -> web.Response:
    endpoint = await _endpoint(request)
    delivery_id = _path_hex(request, "delivery_id")
    hooks = request.app[WEBHOOKS]
    row = await hooks.store.delivery(delivery_id)
    if row is None or row["endpoint_id"] != endpoint["id"]:
        raise Reply(json_error(404, "not_found", "no such delivery"))
    await hooks.redeliver(delivery_id)
    return web.json_response({"id": delivery_id, "status": "pending"}, status=202)

"""Bearer API tokens on the REST API: the one table of what a token may call.

``SCOPE_OF`` maps every staff REST endpoint a token may call to the scope it needs. Every
other route refuses a token with 403, whatever its scopes: the pages, socket.io, login/me,
agent-console endpoints (they act as one agent in one call), tutorial editing, staff accounts,
customers' data (lookup, export, erasure: personal data in bulk is a person's decision, made on
the admin page) and the integrations themselves (a token can never create a token or a webhook).

``bearer_tokens`` runs before the handlers: a request whose ``Authorization: Bearer`` value
starts with ``va_`` is an API token (customer ticket tokens never do). An unknown, revoked or
expired token is a 401; a good one on a route outside the table or without the scope, a 403.
A token that passes is put on the request (``TOKEN_CALLER``), where ``staff_of`` finds it.
Such a request skips the Origin checks a cookie session gets: a browser never attaches the
token by itself, so a cross-site page cannot make a request with it (docs/threat-model.md).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from videoassist.api_tokens import SCOPES, TOKEN_PREFIX, TokenCaller
from videoassist.auth import SESSION_COOKIE, Staff
from videoassist.http.keys import API_TOKENS, STAFF, TRUSTED_PROXIES
from videoassist.http.middleware import json_error

# aiohttp 3.14 warns on plain string keys in a request's storage and offers web.RequestKey;
# the string is for an aiohttp without it (the pinned range starts at 3.13).
TOKEN_CALLER: Any = (
    web.RequestKey("token_caller", TokenCaller)
    if hasattr(web, "RequestKey")
    else "videoassist.token_caller"
)

SCOPE_OF: dict[tuple[str, str], str] = {
    ("GET", "/api/reports/sessions"): "sessions:read",
    ("GET", "/api/reports/intervals"): "reports:read",
    ("GET", "/api/reports/staffing"): "reports:read",
    ("GET", "/api/recordings"): "recordings:read",
    ("GET", "/api/sessions/{session_id}/recordings"): "recordings:read",
    ("GET", "/api/recordings/{recording_id}/files/{name}"): "recordings:read",
    ("GET", "/api/tutorials"): "tutorials:read",
    ("GET", "/api/tutorials/{tutorial_id}"): "tutorials:read",
    ("GET", "/api/tutorials/{tutorial_id}/versions"): "tutorials:read",
    ("GET", "/api/admin/config"): "routing:manage",
    ("GET", "/api/admin/embed-origins"): "routing:manage",
    ("POST", "/api/admin/embed-origins"): "routing:manage",
    ("DELETE", "/api/admin/embed-origins"): "routing:manage",
    ("PUT", "/api/admin/queues/{queue_id}"): "routing:manage",
    ("DELETE", "/api/admin/queues/{queue_id}"): "routing:manage",
    ("PUT", "/api/admin/topics/{topic}"): "routing:manage",
    ("DELETE", "/api/admin/topics/{topic}"): "routing:manage",
    ("GET", "/api/admin/topics/{topic}/guide"): "routing:manage",
    ("PUT", "/api/admin/topics/{topic}/guide"): "routing:manage",
    ("PUT", "/api/admin/agents/{user_id}"): "routing:manage",
}
assert set(SCOPE_OF.values()) == set(SCOPES)


def route_key(request: web.Request) -> tuple[str, str]:
    resource = request.match_info.route.resource
    method = "GET" if request.method == "HEAD" else request.method
    return method, resource.canonical if resource is not None else ""


@web.middleware
async def bearer_tokens(request: web.Request, handler: Handler) -> web.StreamResponse:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value.startswith(TOKEN_PREFIX):
        return await handler(request)
    address = request.app[TRUSTED_PROXIES].of_request(request)
    caller = await request.app[API_TOKENS].check(value, address)
    if caller is None:
        response = json_error(401, "invalid_token", "this API token is unknown, revoked or expired")
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    scope = SCOPE_OF.get(route_key(request))
    if scope is None:
        return json_error(403, "token_not_allowed", "API tokens cannot call this endpoint")
    if scope not in caller.scopes:
        response = json_error(403, "insufficient_scope", f"this API token lacks {scope}")
        response.headers["WWW-Authenticate"] = f'Bearer error="insufficient_scope", scope="{scope}"'
        return response
    request[TOKEN_CALLER] = caller
    return await handler(request)


def token_caller(request: web.Request) -> TokenCaller | None:
    caller = request.get(TOKEN_CALLER)
    return caller if isinstance(caller, TokenCaller) else None


def carries_token(request: web.Request) -> bool:
    return token_caller(request) is not None


async def staff_of(request: web.Request) -> Staff | None:
    """Who is calling: the API token that passed ``bearer_tokens``, else the staff session."""
    caller = token_caller(request)
    if caller is not None:
        return caller.staff
    return await request.app[STAFF].staff_for(request.cookies.get(SESSION_COOKIE))

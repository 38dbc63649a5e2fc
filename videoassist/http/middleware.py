"""Middlewares (security headers on every response, same-origin writes, JSON API errors) and
the JSON plumbing every API handler shares."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from pydantic import BaseModel, ValidationError

from videoassist.embedding import Origins

logger = logging.getLogger(__name__)


def content_security_policy(frame_ancestors: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors}",
        ]
    )


HSTS = "max-age=31536000"  # a year; no includeSubDomains: other hosts of the domain are not ours


def security_headers(frame_ancestors: str = "'none'", hsts: bool = False) -> Middleware:
    """``hsts``: the server itself serves HTTPS, so browsers may be told to use nothing else."""
    headers = {
        "Content-Security-Policy": content_security_policy(frame_ancestors),
        "Permissions-Policy": "camera=(self), microphone=(self), display-capture=(self)",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    if hsts:
        headers["Strict-Transport-Security"] = HSTS

    @web.middleware
    async def add_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = exc
        if not response.prepared:
            for name, value in headers.items():
                response.headers.setdefault(name, value)
        if isinstance(response, web.HTTPException):
            raise response
        return response

    return add_headers


def same_origin_writes(
    extra_origins: Origins | tuple[str, ...] = (),
    bearer: Callable[[web.Request], bool] = lambda r: False,
) -> Middleware:
    """CSRF defence in depth (cookies are SameSite=Strict already): a state-changing API
    request that names an Origin must come from this site or an allowed embedding origin.
    ``bearer(request)``: the request carries an API token, which a browser never sends on its
    own, so its Origin says nothing (videoassist/http/tokens.py)."""
    allowed = extra_origins if isinstance(extra_origins, Origins) else Origins(extra_origins)

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.path.startswith(
            "/api/"
        ):
            origin = request.headers.get("Origin")
            # Requests carrying an API token (checked by videoassist.http.tokens before this)
            # are not a browser's ambient credentials: the Origin says nothing about them.
            if origin is not None and not bearer(request):
                host = urlsplit(origin).netloc
                if host != request.host and host not in allowed.hosts():
                    return json_error(403, "bad_origin", "cross-site requests are not allowed")
        return await handler(request)

    return check


def json_error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, **extra}}, status=status)


def too_many(wait: float, what: str) -> web.Response:
    """A 429 ``rate_limited`` saying when to come back, in the message and ``Retry-After``."""
    seconds = max(1, math.ceil(wait))
    response = json_error(429, "rate_limited", f"{what}; try again in {seconds} s")
    response.headers["Retry-After"] = str(seconds)
    return response


class Reply(Exception):
    """Ends a handler early with this response."""

    def __init__(self, response: web.Response) -> None:
        self.response = response


def invalid(where: str, message: str) -> Reply:
    """A 422 that names the field at fault, in the message and in ``field``."""
    return Reply(json_error(422, "invalid", f"{where}: {message}", field=where))


Body = TypeVar("Body", bound=BaseModel)


async def read_json(request: web.Request, model: type[Body]) -> Body:
    """The request's JSON body as ``model``, or a ``Reply`` with 415, 400 (not JSON, or nested
    too deeply to decode) or 422."""
    if request.content_type != "application/json":
        raise Reply(json_error(415, "unsupported_media_type", "send application/json"))
    try:
        raw = await request.json()
    except ValueError:
        raise Reply(json_error(400, "invalid", "the body is not valid JSON")) from None
    except RecursionError:
        # JSON nested thousands deep (json.loads gives up near 1000 levels): the client's fault,
        # so a 400 and one quiet line, not a 500 with a traceback for anyone to provoke.
        logger.info("api: %s %s: refused a body nested too deeply", request.method, request.path)
        raise Reply(json_error(400, "invalid", "the body is nested too deeply")) from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise invalid(".".join(str(p) for p in first["loc"]) or "body", first["msg"]) from None


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/api/"):
        return await handler(request)
    response = await _api_answer(request, handler)
    # API answers carry tokens and TURN credentials: never cache them anywhere, errors
    # included (aiohttp's own 404 and 405 too).
    response.headers.setdefault("Cache-Control", "no-store")
    return response


async def _api_answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        return json_error(413, "too_large", "the request body is too large")
    except ConnectionResetError:
        # The client went away before sending its whole body (aiohttp 3.14 raises this from
        # the body read): nobody hears the answer, and anyone can do it, so one quiet line.
        logger.info(
            "api: %s %s: the client left before its body was read", request.method, request.path
        )
        return json_error(400, "incomplete", "the request body was cut short")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = json_error(exc.status, "http_error", exc.reason)
        if "Allow" in exc.headers:  # a 405 says which methods the path takes (RFC 9110)
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:
        logger.exception("api: %s %s failed", request.method, request.path)
        return json_error(500, "internal", "something went wrong on our side")


SERVER_NAME = "videoassist"


async def server_header(request: web.Request, response: web.StreamResponse) -> None:
    """``Server`` names no library version (aiohttp's default says ``aiohttp/3.14.x``): no
    free hint for someone matching versions to advisories. An ``on_response_prepare`` hook,
    run after aiohttp 3.14 has set its default."""
    response.headers["Server"] = SERVER_NAME

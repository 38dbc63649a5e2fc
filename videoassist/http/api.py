"""REST API: tickets (customers), login/logout/me (staff), health. See docs/openapi.yaml."""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from videoassist.auth import SESSION_COOKIE, STAFF_DEVICE_COOKIE
from videoassist.desk import DeskError, QueueClosed, QueueFull
from videoassist.desk.config import OpenHours
from videoassist.desk.events import CustomerTapped
from videoassist.http.keys import (
    KICK,
    LOGIN_THROTTLE,
    RECORDS,
    SERVICE,
    SETTINGS,
    STAFF,
    STAFF_DEVICES,
    TAP_LIMIT,
    TOKENS,
    TOPIC_LABELS,
    TRUSTED_PROXIES,
)
from videoassist.http.middleware import Reply, invalid, json_error, read_json, too_many
from videoassist.identity import verify_identity
from videoassist.service import ServiceClosed
from videoassist.turn import ice_servers

routes = web.RouteTableDef()

DEVICE_COOKIE = "va_device"  # one open ticket per browser; rate limits per browser
# A tap sent again after its answer was lost (a phone's network, a node failing over) carries
# the same key and gets the same ticket: its id is derived from the key (docs/openapi.yaml).
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")

CONTEXT_KEYS = 10
CONTEXT_KEY = re.compile(r"[A-Za-z0-9_.-]{1,40}")
CONTEXT_VALUE_MAX = 200


class TapIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topic: str = Field(default="", max_length=64)
    description: str = Field(default="", max_length=500)
    callback: bool = False
    identity: str | None = Field(default=None, max_length=2048)  # signed by the embedding app
    # A few small key/values from the embedding app (web/sdk setContext): order id, device...
    context: dict[str, str] | None = None

    @field_validator("context")
    @classmethod
    def _small(cls, context: dict[str, str] | None) -> dict[str, str] | None:
        if context is None:
            return None
        if len(context) > CONTEXT_KEYS:
            raise ValueError(f"at most {CONTEXT_KEYS} keys")
        for key, value in context.items():
            if not CONTEXT_KEY.fullmatch(key):
                raise ValueError("keys are 1 to 40 of A-Z a-z 0-9 _ . -")
            if len(value) > CONTEXT_VALUE_MAX:
                raise ValueError(f"{key}: at most {CONTEXT_VALUE_MAX} characters")
        return context


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


@routes.post("/api/tickets")
async def create_ticket(request: web.Request) -> web.Response:
    try:
        tap = await read_json(request, TapIn)
    except Reply as bad:
        return bad.response
    idempotency_key = request.headers.get(IDEMPOTENCY_HEADER)
    if idempotency_key is not None and not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        return invalid(IDEMPOTENCY_HEADER, "16 to 64 of A-Z a-z 0-9 _ -").response
    device = request.cookies.get(DEVICE_COOKIE)
    if not device or len(device) > 64:
        device = (
            request.app[TOKENS].device_for(idempotency_key)
            if idempotency_key is not None
            else secrets.token_urlsafe(24)
        )
    service = request.app[SERVICE]
    ticket_id = request.app[TOKENS].new_ticket_id(idempotency_key)
    identity = verify_identity(tap.identity, request.app[SETTINGS].embed_secret)
    desk = service.desk
    if idempotency_key is not None and ticket_id in desk.tickets:
        # The same tap, sent again while its ticket is open: answered before the rate limit,
        # which the first one paid (only the key's holder can name this ticket).
        return _ticket_answer(request, ticket_id, device, identity is not None, replayed=True)
    limiter = request.app[TAP_LIMIT]
    address = request.app[TRUSTED_PROXIES].of_request(request)
    wait = max(await limiter.take(("ip", address)), await limiter.take(("device", device)))
    if wait:
        return too_many(wait, "too many help requests")
    if identity is None and request.app[SETTINGS].identity_required:
        return json_error(
            401,
            "identity_required",
            "sign in to the app you came from to ask for help (a signed identity is required)",
        )
    if idempotency_key is not None and ticket_id not in desk.closed:
        row = await request.app[RECORDS].ticket(ticket_id)
        if row is not None and row["ended_at"] is not None:
            # A key sent again long after its ticket ended (the desk keeps the last closed
            # tickets only): its id must not name a new ticket, whose record would replace
            # the old one.
            return _request_ended()
        if row is not None:  # open in the records, not yet in this node's replica
            return json_error(503, "unavailable", "the service is catching up; try again")
    replayed = False
    try:
        await service.submit(
            CustomerTapped(
                ticket_id,
                service.now(),
                topic=tap.topic,
                description=tap.description,
                callback=tap.callback,
                priority=identity.priority if identity else 0,
                customer_ref=identity.ref if identity else None,
                device_id=hashlib.sha256(device.encode()).hexdigest(),
            )
        )
    except DeskError as exc:
        if idempotency_key is None or exc.code != "illegal_transition":
            return _tap_refused(exc, service, tap.topic)
        # The desk knows this ticket: the same tap, sent again.
        if ticket_id in service.desk.closed:
            return _request_ended()
        if ticket_id not in service.desk.tickets:  # this node's replica is not there yet
            return json_error(503, "unavailable", "the service is catching up; try again")
        replayed = True
    except ServiceClosed:
        return json_error(503, "unavailable", "the service is shutting down")
    if identity is not None:
        await request.app[RECORDS].saw_customer(
            identity.ref, identity.name, identity.email, service.now()
        )
    if tap.context and not (replayed and await request.app[RECORDS].ticket_contexts([ticket_id])):
        await request.app[RECORDS].save_ticket_context(ticket_id, tap.context, service.now())
    return _ticket_answer(request, ticket_id, device, identity is not None, replayed)


def _request_ended() -> web.Response:
    return json_error(
        409, "request_ended", "this help request has already ended; tap Help again for a new one"
    )


def _tap_refused(exc: DeskError, service: Any, topic: str) -> web.Response:
    body: dict[str, dict[str, object]] = {"error": {"code": exc.code, "message": exc.message}}
    if isinstance(exc, QueueFull):
        body["error"]["callback_available"] = True
    if isinstance(exc, QueueClosed):
        # The hours, so the page can say when to come back (in the customer's language).
        with contextlib.suppress(DeskError, KeyError):  # the configuration just changed
            queue_id, _ = service.desk.routing.route(topic)
            body["error"]["hours"] = hours_out(service.desk.config.queues[queue_id].hours)
    return web.json_response(body, status=exc.status)


def _ticket_answer(
    request: web.Request, ticket_id: str, device: str, verified: bool, replayed: bool
) -> web.Response:
    """The ticket's token and standing (201), the same for a tap sent again (with the header
    ``Idempotent-Replayed``)."""
    service = request.app[SERVICE]
    settings = request.app[SETTINGS]
    token = request.app[TOKENS].issue(ticket_id)
    position, estimate = service.desk.standing(ticket_id)
    _, told = service.desk.wait(ticket_id)
    response = web.json_response(
        {
            "ticket_id": ticket_id,
            "token": token,
            "position": position,
            "estimated_wait": estimate,
            "wait": told.wire() if told is not None else None,
            "ice_servers": ice_servers(settings, f"t:{ticket_id}"),
            "identity_verified": verified,
            # Opening this link (on any device) resumes the ticket: a callback can be joined
            # from it. The token stays in the fragment, which browsers never send to a server.
            "resume_url": f"/#t={token}",
        },
        status=201,
    )
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    response.set_cookie(
        DEVICE_COOKIE,
        device,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="Strict",
        secure=settings.cookies_secure,
        path="/api/tickets",
    )
    return response


@routes.post("/api/login")
async def login(request: web.Request) -> web.Response:
    try:
        creds = await read_json(request, LoginIn)
    except Reply as bad:
        return bad.response
    throttle = request.app[LOGIN_THROTTLE]
    devices = request.app[STAFF_DEVICES]
    device_cookie = request.cookies.get(STAFF_DEVICE_COOKIE)
    username, address = creds.username, request.app[TRUSTED_PROXIES].of_request(request)
    known_device = username in devices.names(device_cookie)
    wait = throttle.begin(username, address, known_device=known_device)
    if wait:
        return too_many(wait, "too many login attempts")
    try:
        result = await request.app[STAFF].login(username, creds.password)
        if result is None:
            await throttle.failed(username, address)
            return json_error(401, "bad_credentials", "wrong username or password")
        await throttle.succeeded(username, address)
    finally:
        throttle.end(username, address)
    member, token = result
    settings = request.app[SETTINGS]
    response = web.json_response(_me(member, settings))
    response.set_cookie(
        STAFF_DEVICE_COOKIE,
        devices.issue(username, device_cookie),
        max_age=devices.MAX_AGE,
        httponly=True,
        samesite="Strict",
        secure=settings.cookies_secure,
        path="/api/login",
    )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(settings.staff_session_ttl),
        httponly=True,
        samesite="Strict",
        secure=settings.cookies_secure,
        path="/",
    )
    return response


@routes.post("/api/logout")
async def logout(request: web.Request) -> web.Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        member = await request.app[STAFF].staff_for(token)
        await request.app[STAFF].logout(token)
        if member is not None:
            # Sockets are authenticated when they connect: close the console's too.
            await request.app[KICK](member.agent_id)
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@routes.get("/api/me")
async def me(request: web.Request) -> web.Response:
    member = await request.app[STAFF].staff_for(request.cookies.get(SESSION_COOKIE))
    if member is None:
        return json_error(401, "unauthenticated", "please log in")
    return web.json_response(_me(member, request.app[SETTINGS]))


def _me(member: Any, settings: Any) -> dict[str, Any]:
    return {
        "username": member.username,
        "display_name": member.display_name,
        "role": member.role,
        "ice_servers": ice_servers(settings, f"a:{member.agent_id}"),
    }


@routes.get("/api/topics")
async def list_topics(request: web.Request) -> web.Response:
    """The topics a customer can pick, for the help page, in the admin's order; with each its
    queue's opening hours and whether it is open now, so a closed one says so before a tap."""
    labels = request.app[TOPIC_LABELS]
    service = request.app[SERVICE]
    config = service.desk.config
    now = service.now()
    answer = []
    for topic, route in config.topics.items():
        queue = config.queues.get(route.queue_id)
        entry: dict[str, Any] = {"topic": topic, "label": labels.get(topic, topic)}
        if queue is not None:
            entry["open"] = queue.hours.is_open(now)
            entry["hours"] = hours_out(queue.hours)
        answer.append(entry)
    return web.json_response(answer)


def hours_out(hours: OpenHours) -> dict[str, Any]:
    return {
        "timezone": hours.timezone,
        "windows": [{"day": d, "start": s, "end": e} for d, s, e in hours.windows],
    }


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    if service.desk.draining:
        return web.json_response({"status": "draining"}, status=503)
    # Nothing about load here: the endpoint is public, and call volume is the operator's to know.
    return web.json_response({"status": "ready"})

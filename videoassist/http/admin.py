"""Admin REST API: queues, topics and agent profiles (the routing configuration).

Every change follows the same path, one change at a time (``Admin.lock``):

1. build the configuration the change would leave (the stored rows, edited in memory) and
   validate it: a ``ConfigError`` is a 422 that names the field, and nothing is written;
2. write the rows;
3. reload the whole configuration from the store and hand it to the desk in one
   ``ConfigChanged`` through the service (the single writer of desk state). If the desk refuses
   (a customer entered a queue that is going away in the meantime), the rows are put back and
   the answer is 409.

Only staff with the role ``admin`` may call these endpoints. Besides the SameSite=Strict
session cookie, state-changing requests must come from our own origin when the browser says
where it comes from (``Origin``), as defense in depth against cross-site requests.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from videoassist.auth import AGENT_ROLES, Staff
from videoassist.desk import DeskError
from videoassist.desk.config import (
    MAX_SKILL_LEVEL,
    STRATEGIES,
    ConfigError,
    DeskConfig,
    QueueConfig,
    RecordingPolicy,
    Strategy,
)
from videoassist.desk.events import AuditRow, ConfigChanged
from videoassist.http.keys import (
    LOGIN_THROTTLE,
    RECORDS,
    SERVICE,
    SETTINGS,
    TOPIC_LABELS,
)
from videoassist.http.middleware import Reply, invalid, json_error, read_json
from videoassist.http.tokens import staff_of, token_caller
from videoassist.routing_config import QUEUE_FIELDS, agent_id_of, queue_from_row
from videoassist.service import ServiceClosed

logger = logging.getLogger(__name__)

routes = web.RouteTableDef()

Rows = dict[str, list[dict[str, Any]]]
BuildConfig = Callable[[Rows], DeskConfig]


@dataclass(slots=True)
class Admin:
    """What the admin endpoints need from the composition root."""

    # Stored rows -> DeskConfig with the server-wide defaults (ring timeout, customer grace)
    # filled in exactly as at start-up.
    build_config: BuildConfig
    # Read-check-write of the rows must not interleave between two admins.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


ADMIN = web.AppKey("admin", Admin)


def add_admin(app: web.Application, build_config: BuildConfig) -> None:
    app[ADMIN] = Admin(build_config)
    app.add_routes(routes)


ADMIN_ROLE = "admin"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ID_PATTERN = r"^[a-z0-9_-]{1,64}$"
_ID = re.compile(ID_PATTERN)
WEEK = 7 * 24 * 3600.0
MAX_SKILLS = 32
_QUEUE_DEFAULTS = QueueConfig("defaults")

# --------------------------------------------------------------------------- request bodies
# Shapes, types and size caps live here; the rules about values (levels, minimums, whether a
# queue exists, overflow cycles, time zones) live in DeskConfig.validate, so they are written
# once. Levels are the exception: their range is part of the type.

SkillName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
Level = Annotated[int, Field(ge=1, le=MAX_SKILL_LEVEL)]
Skills = Annotated[dict[SkillName, Level], Field(max_length=MAX_SKILLS)]
QueueRef = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class WindowIn(_Body):
    day: int = Field(description="0 = Monday … 6 = Sunday")
    start: int = Field(description="minutes after local midnight")
    end: int = Field(description="minutes after local midnight, after start, at most 1440")


class HoursIn(_Body):
    timezone: str = Field(default="UTC", min_length=1, max_length=64)
    windows: list[WindowIn] = Field(default_factory=list, max_length=70)


class QueueIn(_Body):
    name: str = Field(default="", max_length=128)
    skills: Skills = Field(default_factory=dict)
    strategy: Strategy = _QUEUE_DEFAULTS.strategy
    service_level: float = Field(default=_QUEUE_DEFAULTS.service_level, le=WEEK)
    short_abandon: float = Field(default=_QUEUE_DEFAULTS.short_abandon, le=WEEK)
    abandons_count: bool = _QUEUE_DEFAULTS.abandons_count
    service_level_target: float = Field(default=_QUEUE_DEFAULTS.service_level_target, le=100)
    wait_alert: float | None = Field(default=_QUEUE_DEFAULTS.wait_alert, le=WEEK)
    max_wait: float | None = Field(default=_QUEUE_DEFAULTS.max_wait, le=WEEK)
    overflow_to: QueueRef | None = _QUEUE_DEFAULTS.overflow_to
    max_length: int | None = Field(default=_QUEUE_DEFAULTS.max_length, le=100_000)
    # None: the server's ring_timeout setting, which follows the setting when it changes.
    ring_timeout: float | None = Field(default=None, le=3600)
    wrap_up_limit: float = Field(default=_QUEUE_DEFAULTS.wrap_up_limit, le=WEEK)
    max_missed: int = Field(default=_QUEUE_DEFAULTS.max_missed, le=100)
    priority_aging: float = Field(default=_QUEUE_DEFAULTS.priority_aging, le=1000)
    hours: HoursIn = Field(default_factory=HoursIn)
    recording: RecordingPolicy = Field(
        default=_QUEUE_DEFAULTS.recording,
        description="off: never recorded; ask: only if the customer agrees; always",
    )


class TopicIn(_Body):
    label: str = Field(min_length=1, max_length=128)
    queue_id: QueueRef
    priority: int = 0


class AgentIn(_Body):
    skills: Skills = Field(default_factory=dict)
    queues: list[QueueRef] = Field(min_length=1, max_length=64)


# --------------------------------------------------------------------------- plumbing


Answer = TypeVar("Answer", bound=web.StreamResponse)


def admin_only(
    handler: Callable[[web.Request, Staff], Awaitable[Answer]],
) -> Callable[[web.Request], Awaitable[Answer | web.Response]]:
    @functools.wraps(handler)
    async def guarded(request: web.Request) -> Answer | web.Response:
        member = await staff_of(request)
        if member is None:
            return json_error(401, "unauthenticated", "please log in")
        if member.role != ADMIN_ROLE:
            return json_error(403, "forbidden", "only an admin may do this")
        # An API token is never sent by a browser on its own: no cross-site risk to check.
        bearer = token_caller(request) is not None
        if request.method not in SAFE_METHODS and not bearer and not _same_origin(request):
            return json_error(403, "bad_origin", "this request must come from the admin page")
        try:
            return await handler(request, member)
        except Reply as reply:
            return reply.response

    return guarded


async def audit(
    request: web.Request, member: Staff, action: str, kind: str, subject: str, **detail: Any
) -> None:
    """An admin's action in the audit log: who, what, on what, when."""
    row = AuditRow(
        at=time.time(),
        actor_id=member.agent_id,
        actor_name=member.username,
        action=action,
        subject_kind=kind,
        subject_id=subject,
        detail=detail,
    )
    await request.app[RECORDS].save_audit(row)


def _same_origin(request: web.Request) -> bool:
    """True when there is no Origin header or it is this server's own origin.

    Like socket.io's same-origin rule, a proxy's X-Forwarded-Proto/-Host also name us. A
    cross-site page cannot set those headers without a CORS preflight, which we never grant.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    own = {f"{request.scheme}://{request.host}"}
    proto = request.headers.get("X-Forwarded-Proto")
    host = request.headers.get("X-Forwarded-Host")
    if proto or host:
        scheme = (proto or request.scheme).split(",")[0].strip()
        own.add(f"{scheme}://{(host or request.host).split(',')[0].strip()}")
    return origin.lower() in {o.lower() for o in own}


def _path_id(request: web.Request, name: str) -> str:
    value = request.match_info[name]
    if not _ID.fullmatch(value):
        raise invalid(name, "use 1 to 64 of a-z, 0-9, _ and -")
    return value


async def _commit(
    request: web.Request,
    rows: Rows,
    write: Callable[[], Awaitable[Any]],
    undo: Callable[[], Awaitable[Any]],
) -> None:
    """Validate ``rows`` (the stored configuration as the change would leave it), write, and
    hand the reloaded configuration to the desk. Called with ``Admin.lock`` held."""
    app = request.app
    build = app[ADMIN].build_config
    try:
        build(rows).validate()
    except ConfigError as exc:
        raise Reply(json_error(422, "invalid_config", str(exc), field=exc.where)) from None
    await write()
    service = app[SERVICE]
    try:
        stored = await app[RECORDS].load_config()
        await service.submit(ConfigChanged(build(stored), service.now()))
    except DeskError as exc:
        await undo()
        raise Reply(json_error(409, "conflict", exc.message)) from None
    except ServiceClosed:
        await undo()
        raise Reply(json_error(503, "unavailable", "the service is shutting down")) from None
    except Exception:
        await undo()
        raise
    labels = app[TOPIC_LABELS]  # replaced in place: the app is frozen, its keys are not
    labels.clear()
    labels.update({row["topic"]: row["label"] for row in stored["topics"]})


def _replace(rows: list[dict[str, Any]], key: str, new: dict[str, Any]) -> list[dict[str, Any]]:
    """``rows`` with the row whose ``key`` equals ``new[key]`` replaced (or ``new`` appended)."""
    if _find(rows, key, new[key]) is None:
        return [*rows, new]
    return [new if row[key] == new[key] else row for row in rows]


def _find(rows: list[dict[str, Any]], key: str, value: object) -> dict[str, Any] | None:
    return next((row for row in rows if row[key] == value), None)


# --------------------------------------------------------------------------- responses


def _queue_out(row: dict[str, Any]) -> dict[str, Any]:
    """A stored queue in the shape PUT takes, so a GET can be edited and sent back as is."""
    queue = queue_from_row(row)
    return {
        "id": queue.id,
        "name": queue.name,
        "skills": dict(queue.skills),
        "strategy": queue.strategy,
        "service_level": queue.service_level,
        "short_abandon": queue.short_abandon,
        "abandons_count": queue.abandons_count,
        "service_level_target": queue.service_level_target,
        "wait_alert": queue.wait_alert,
        "max_wait": queue.max_wait,
        "overflow_to": queue.overflow_to,
        "max_length": queue.max_length,
        "ring_timeout": (row["config"] or {}).get("ring_timeout"),
        "wrap_up_limit": queue.wrap_up_limit,
        "max_missed": queue.max_missed,
        "priority_aging": queue.priority_aging,
        "recording": queue.recording,
        "hours": {
            "timezone": queue.hours.timezone,
            "windows": [{"day": d, "start": s, "end": e} for d, s, e in queue.hours.windows],
        },
    }


def _queue_config(body: QueueIn) -> dict[str, Any]:
    config = body.model_dump(include=set(QUEUE_FIELDS))
    if config["ring_timeout"] is None:
        del config["ring_timeout"]
    config["hours"] = {
        "timezone": body.hours.timezone,
        "windows": [[w.day, w.start, w.end] for w in body.hours.windows],
    }
    return config


def _topic_out(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("topic", "label", "queue_id", "priority")}


def _agent_out(user: dict[str, Any], config: DeskConfig) -> dict[str, Any]:
    profile = config.profile(agent_id_of(user["id"]))
    return {
        "user_id": user["id"],
        "agent_id": profile.id,
        "username": user["username"],
        "display_name": user["display_name"],
        "role": user["role"],
        "skills": dict(profile.skills),
        "queues": [q for q in config.queues if q in profile.queues],
    }


# --------------------------------------------------------------------------- endpoints


@routes.get("/api/admin/config")
@admin_only
async def get_config(request: web.Request, member: Staff) -> web.Response:
    rows = await request.app[RECORDS].load_config()
    config = request.app[ADMIN].build_config(rows)
    users = await request.app[RECORDS].list_users()
    return web.json_response(
        {
            "queues": [_queue_out(row) for row in rows["queues"]],
            "topics": [_topic_out(row) for row in rows["topics"]],
            "agents": [_agent_out(u, config) for u in users if u["role"] in AGENT_ROLES],
            "default_queue": config.default_queue,
            "defaults": {"ring_timeout": request.app[SETTINGS].ring_timeout},
            "options": {"strategies": list(STRATEGIES), "max_skill_level": MAX_SKILL_LEVEL},
        }
    )


@routes.put("/api/admin/queues/{queue_id}")
@admin_only
async def put_queue(request: web.Request, member: Staff) -> web.Response:
    queue_id = _path_id(request, "queue_id")
    body: QueueIn = await read_json(request, QueueIn)
    records = request.app[RECORDS]
    async with request.app[ADMIN].lock:
        rows = await records.load_config()
        old = _find(rows["queues"], "id", queue_id)
        position = (
            old["position"] if old else 1 + max((r["position"] for r in rows["queues"]), default=-1)
        )
        new: dict[str, Any] = {
            "id": queue_id,
            "name": body.name,
            "position": position,
            "config": _queue_config(body),
        }

        async def undo() -> None:
            if old is None:
                await records.delete_queue(queue_id)
            else:
                await records.put_queue(old["id"], old["name"], old["config"], old["position"])

        await _commit(
            request,
            {**rows, "queues": _replace(rows["queues"], "id", new)},
            lambda: records.put_queue(queue_id, body.name, new["config"], position),
            undo,
        )
    logger.info(
        "admin: queue %r %s by %s", queue_id, "replaced" if old else "created", member.username
    )
    return web.json_response(_queue_out(new), status=200 if old else 201)


@routes.delete("/api/admin/queues/{queue_id}")
@admin_only
async def delete_queue(request: web.Request, member: Staff) -> web.Response:
    queue_id = request.match_info["queue_id"]
    records = request.app[RECORDS]
    async with request.app[ADMIN].lock:
        rows = await records.load_config()
        old = _find(rows["queues"], "id", queue_id)
        if old is None:
            raise Reply(json_error(404, "not_found", f"no queue {queue_id!r}"))
        in_use = await _uses_of_queue(request, rows, queue_id)
        if any(in_use.values()):
            raise Reply(json_error(409, "in_use", _in_use_message(queue_id, in_use), in_use=in_use))
        if len(rows["queues"]) == 1:
            raise Reply(json_error(409, "in_use", "the last queue cannot be removed"))
        await _commit(
            request,
            {**rows, "queues": [r for r in rows["queues"] if r["id"] != queue_id]},
            lambda: records.delete_queue(queue_id),
            lambda: records.put_queue(old["id"], old["name"], old["config"], old["position"]),
        )
    logger.info("admin: queue %r deleted by %s", queue_id, member.username)
    return web.Response(status=204)


async def _uses_of_queue(request: web.Request, rows: Rows, queue_id: str) -> dict[str, Any]:
    # The desk checks waiting customers again when the change reaches it (there is a moment
    # between this look and that event); this look is what lets us say who is in the way.
    desk = request.app[SERVICE].desk
    usernames = {u["id"]: u["username"] for u in await request.app[RECORDS].list_users()}
    return {
        "customers": desk.customers_in(queue_id),
        "topics": [r["topic"] for r in rows["topics"] if r["queue_id"] == queue_id],
        "agents": [
            usernames.get(r["user_id"], agent_id_of(r["user_id"]))
            for r in rows["agent_profiles"]
            if queue_id in (r["queues"] or ())
        ],
        "queues": [
            r["id"] for r in rows["queues"] if (r["config"] or {}).get("overflow_to") == queue_id
        ],
    }


def _in_use_message(queue_id: str, in_use: dict[str, Any]) -> str:
    parts = []
    if in_use["customers"]:
        parts.append(f"{in_use['customers']} customer(s) waiting or in a call")
    for key, what in (
        ("topics", "topics routed to it"),
        ("agents", "agents who take it"),
        ("queues", "queues that overflow to it"),
    ):
        if in_use[key]:
            parts.append(f"{what}: {', '.join(in_use[key])}")
    return f"queue {queue_id!r} is still in use ({'; '.join(parts)})"


@routes.put("/api/admin/topics/{topic}")
@admin_only
async def put_topic(request: web.Request, member: Staff) -> web.Response:
    topic = _path_id(request, "topic")
    body: TopicIn = await read_json(request, TopicIn)
    records = request.app[RECORDS]
    async with request.app[ADMIN].lock:
        rows = await records.load_config()
        old = _find(rows["topics"], "topic", topic)
        new = {"topic": topic, **body.model_dump()}

        async def undo() -> None:
            if old is None:
                await records.delete_topic(topic)
            else:
                await records.put_topic(topic, old["label"], old["queue_id"], old["priority"])

        await _commit(
            request,
            {**rows, "topics": _replace(rows["topics"], "topic", new)},
            lambda: records.put_topic(topic, body.label, body.queue_id, body.priority),
            undo,
        )
    logger.info(
        "admin: topic %r %s by %s", topic, "replaced" if old else "created", member.username
    )
    return web.json_response(_topic_out(new), status=200 if old else 201)


@routes.delete("/api/admin/topics/{topic}")
@admin_only
async def delete_topic(request: web.Request, member: Staff) -> web.Response:
    topic = request.match_info["topic"]
    records = request.app[RECORDS]
    async with request.app[ADMIN].lock:
        rows = await records.load_config()
        old = _find(rows["topics"], "topic", topic)
        if old is None:
            raise Reply(json_error(404, "not_found", f"no topic {topic!r}"))
        await _commit(
            request,
            {**rows, "topics": [r for r in rows["topics"] if r["topic"] != topic]},
            lambda: records.delete_topic(topic),
            lambda: records.put_topic(topic, old["label"], old["queue_id"], old["priority"]),
        )
    logger.info("admin: topic %r deleted by %s", topic, member.username)
    return web.Response(status=204)


@routes.put(r"/api/admin/agents/{user_id:\d{1,12}}")
@admin_only
async def put_agent(request: web.Request, member: Staff) -> web.Response:
    user_id = int(request.match_info["user_id"])
    body: AgentIn = await read_json(request, AgentIn)
    records = request.app[RECORDS]
    user = await records.user_by_id(user_id)
    if user is None:
        raise Reply(json_error(404, "not_found", f"no user {user_id}"))
    if user["role"] not in AGENT_ROLES:
        raise invalid("user_id", f"{user['username']} is a {user['role']}, not an agent")
    queues = list(dict.fromkeys(body.queues))
    async with request.app[ADMIN].lock:
        rows = await records.load_config()
        old = _find(rows["agent_profiles"], "user_id", user_id)
        new = {"user_id": user_id, "skills": body.skills, "queues": queues}
        # Without a row an agent has no skills and takes the default queue; an empty queue list
        # reads the same way (routing_config), so "no row" is put back as that.
        back = old or {"user_id": user_id, "skills": {}, "queues": []}
        await _commit(
            request,
            {**rows, "agent_profiles": _replace(rows["agent_profiles"], "user_id", new)},
            lambda: records.put_agent_profile(user_id, body.skills, queues),
            lambda: records.put_agent_profile(user_id, back["skills"], back["queues"]),
        )
        config = request.app[SERVICE].desk.config
    logger.info("admin: agent %s profile set by %s", user["username"], member.username)
    return web.json_response(_agent_out(user, config))


@routes.delete("/api/admin/login-throttles/{username}")
@admin_only
async def unlock_login(request: web.Request, member: Staff) -> web.Response:
    """Clear the login throttle of a name (account-wide and from every address), for staff
    slowed down by an attack or by their own typing."""
    username = request.match_info["username"]
    if len(username) > 64:
        raise invalid("username", "at most 64 characters")
    released = await request.app[LOGIN_THROTTLE].unlock(username)
    logger.info(
        "admin: login throttle of %r cleared by %s (%d waits lifted)",
        username,
        member.username,
        released,
    )
    return web.json_response({"username": username, "released": released})

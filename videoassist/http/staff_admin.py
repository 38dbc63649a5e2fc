"""Staff accounts on the admin API: list, create, rename, change role, disable or enable, reset
the password. The CLI (``videoassist add-user``) stays for the first admin.

Disabling an account, changing its role or its password ends its sessions and closes its
sockets: the person logs in again (or cannot). An admin cannot disable their own account or
take away their own admin role, so there is always someone to undo a mistake.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.exc import IntegrityError

from videoassist.auth import Staff, hash_password
from videoassist.http.admin import admin_only
from videoassist.http.keys import KICK, RECORDS, SERVICE
from videoassist.http.middleware import json_error, read_json
from videoassist.routing_config import agent_id_of

logger = logging.getLogger(__name__)

staff_admin = web.RouteTableDef()

MIN_PASSWORD = 8  # as the CLI asks
Role = Literal["agent", "supervisor", "trainer", "admin"]
Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Password = Annotated[str, StringConstraints(min_length=MIN_PASSWORD, max_length=256)]


class StaffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Username
    display_name: DisplayName
    role: Role
    password: Password


class StaffChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: DisplayName | None = None
    role: Role | None = None
    disabled: bool | None = None
    password: Password | None = Field(default=None)


def _out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "username": row["username"],
        "display_name": row["display_name"],
        "role": row["role"],
        "disabled": bool(row["disabled"]),
    }


@staff_admin.get("/api/admin/staff")
@admin_only
async def list_staff(request: web.Request, member: Staff) -> web.Response:
    rows = await request.app[RECORDS].list_users()
    return web.json_response({"staff": [_out(r) for r in rows]})


@staff_admin.post("/api/admin/staff")
@admin_only
async def create_staff(request: web.Request, member: Staff) -> web.Response:
    body = await read_json(request, StaffIn)
    records = request.app[RECORDS]
    try:
        user_id = await records.add_user(
            body.username,
            body.display_name,
            hash_password(body.password),
            body.role,
            request.app[SERVICE].now(),
        )
    except IntegrityError:
        return json_error(409, "conflict", f"a staff member named {body.username!r} exists")
    logger.info("admin %s created %s %s", member.username, body.role, body.username)
    row = await records.user_by_id(user_id)
    assert row is not None
    return web.json_response(_out(row), status=201)


@staff_admin.patch(r"/api/admin/staff/{user_id:\d{1,12}}")
@admin_only
async def change_staff(request: web.Request, member: Staff) -> web.Response:
    user_id = int(request.match_info["user_id"])
    body = await read_json(request, StaffChange)
    if user_id == member.id and (body.disabled or body.role not in (None, "admin")):
        return json_error(
            409, "conflict", "you cannot disable your own account or give up your admin role"
        )
    values: dict[str, Any] = body.model_dump(exclude_none=True, exclude={"password"})
    if body.password is not None:
        values["password_hash"] = hash_password(body.password)
    records = request.app[RECORDS]
    if not values or await records.update_user(user_id, **values):
        row = await records.user_by_id(user_id)
    else:
        row = None
    if row is None:
        return json_error(404, "not_found", "no such staff member")
    if {"role", "disabled", "password_hash"} & values.keys():
        await request.app[KICK](agent_id_of(user_id))  # sessions ended: their sockets too
    changed = ", ".join(sorted(k if k != "password_hash" else "password" for k in values))
    logger.info("admin %s changed %s: %s", member.username, row["username"], changed)
    return web.json_response(_out(row))

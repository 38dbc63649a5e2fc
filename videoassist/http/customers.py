"""Admins look customers up, export their data and erase them (videoassist/customers.py;
docs/privacy.md): ``/api/admin/customers``. Admins only, from the admin page: no API token
reaches these (personal data in bulk is a person's decision, made on the page and audited).
"""

from __future__ import annotations

import logging

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from videoassist.auth import Staff
from videoassist.errors import Problem
from videoassist.http.admin import admin_only, audit
from videoassist.http.keys import CUSTOMERS
from videoassist.http.middleware import invalid, json_error, read_json

logger = logging.getLogger(__name__)

customer_routes = web.RouteTableDef()
REF_MAX = 128


class EraseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confirm: str = Field(min_length=1, max_length=REF_MAX)  # the reference, typed again
    with_tutorials: bool = False


def _ref(request: web.Request) -> str:
    ref = request.match_info["ref"]
    if not 0 < len(ref) <= REF_MAX:
        raise invalid("ref", f"1 to {REF_MAX} characters")
    return ref


def _problem(exc: Problem) -> web.Response:
    return json_error(exc.status, exc.code, exc.message)


@customer_routes.get("/api/admin/customers")
@admin_only
async def find_customers(request: web.Request, member: Staff) -> web.Response:
    text = request.query.get("q", "").strip()
    if not 0 < len(text) <= REF_MAX:
        raise invalid("q", f"what to look for: 1 to {REF_MAX} characters")
    return web.json_response(await request.app[CUSTOMERS].find(text))


@customer_routes.get("/api/admin/customers/{ref}")
@admin_only
async def get_customer(request: web.Request, member: Staff) -> web.Response:
    try:
        body = await request.app[CUSTOMERS].profile(_ref(request))
    except Problem as exc:
        return _problem(exc)
    return web.json_response(body, headers={"Cache-Control": "private, no-store"})


@customer_routes.get("/api/admin/customers/{ref}/export")
@admin_only
async def export_customer(request: web.Request, member: Staff) -> web.StreamResponse:
    ref = _ref(request)
    customers = request.app[CUSTOMERS]
    try:
        export = await customers.export(ref)
    except Problem as exc:
        return _problem(exc)
    hashed = customers.ref_hash(ref)
    try:
        await audit(request, member, "customer_exported", "customer", hashed)
        # Streamed as the worker thread writes it: the browser shows the download's progress
        # and its cancel stops the thread (videoassist/customers.py, Export).
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/zip",
                "Content-Disposition": f'attachment; filename="customer-{hashed}.zip"',
                "Cache-Control": "private, no-store",
            },
        )
        await response.prepare(request)
        async for chunk in export:
            await response.write(chunk)
        await response.write_eof()
        return response
    finally:
        if not await export.aclose():
            logger.info("customer export %s stopped after %d bytes", hashed, export.written)


@customer_routes.delete("/api/admin/customers/{ref}")
@admin_only
async def erase_customer(request: web.Request, member: Staff) -> web.Response:
    ref = _ref(request)
    body = await read_json(request, EraseIn)
    if body.confirm != ref:
        raise invalid("confirm", "type the customer's reference to confirm the erasure")
    try:
        done = await request.app[CUSTOMERS].erase(
            ref, (member.agent_id, member.username), body.with_tutorials
        )
    except Problem as exc:
        return _problem(exc)
    return web.json_response(done)

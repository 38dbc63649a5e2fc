"""History reports over HTTP (supervisors and admins), and the customer's CSAT answer.

The figures come from ``videoassist/reports.py``; this shell reads the rows, computes off the
event loop (a quarter of 15-minute intervals is thousands of rows, an XLSX file is a zip to
write) and answers JSON, CSV or XLSX. Dates are calendar days in the desk's time zone, ``to``
included; a range is at most ``MAX_RANGE_DAYS`` long.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import ValidationError

from videoassist import reports as model
from videoassist.auth import Staff
from videoassist.desk.config import DeskConfig
from videoassist.gateway.schemas import CsatIn, ReportQuery
from videoassist.http.keys import RECORDS, SERVICE, TOKENS, WEBHOOKS
from videoassist.http.middleware import Reply, json_error, read_json
from videoassist.http.tokens import staff_of

reports = web.RouteTableDef()

REPORT_ROLES = ("supervisor", "admin")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _supervisor(request: web.Request) -> Staff | web.Response:
    member = await staff_of(request)
    if member is None:
        return json_error(401, "unauthenticated", "please log in")
    if member.role not in REPORT_ROLES:
        return json_error(403, "forbidden", "only supervisors and admins read reports")
    return member


def _query(request: web.Request, config: DeskConfig) -> tuple[ReportQuery, float, float]:
    try:
        query = ReportQuery.model_validate(dict(request.query))
    except ValidationError as exc:
        where = ".".join(str(part) for part in exc.errors()[0]["loc"])
        raise Reply(json_error(422, "invalid", f"{where}: {exc.errors()[0]['msg']}")) from None
    zone = ZoneInfo(config.time_zone)
    try:
        first = dt.date.fromisoformat(query.start)
        last = dt.date.fromisoformat(query.to)
    except ValueError:
        raise Reply(json_error(422, "invalid", "from and to are dates: YYYY-MM-DD")) from None
    if last < first:
        raise Reply(json_error(422, "invalid", "to comes before from"))
    if (last - first).days >= model.MAX_RANGE_DAYS:
        raise Reply(json_error(422, "invalid", f"at most {model.MAX_RANGE_DAYS} days at once"))
    start = dt.datetime.combine(first, dt.time(), zone).timestamp()
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone).timestamp()
    return query, start, end


async def _answer(
    request: web.Request,
    name: str,
    compute: Callable[[model.History, DeskConfig, float, float, ReportQuery], list[Any]],
    columns: Callable[[ReportQuery], Sequence[str]],
) -> web.Response:
    member = await _supervisor(request)
    if isinstance(member, web.Response):
        return member
    config = request.app[SERVICE].desk.config
    try:
        query, start, end = _query(request, config)
    except Reply as bad:
        return bad.response
    rows = await request.app[RECORDS].history(start, end)
    history = model.History(**rows)

    def work() -> tuple[list[Any], bytes | None]:
        table = compute(history, config, start, end, query)
        cols = columns(query)
        if query.format == "csv":
            return table, model.to_csv(table, cols)
        if query.format == "xlsx":
            return table, model.to_xlsx(table, cols, name)
        return table, None

    table, body = await asyncio.to_thread(work)
    headers = {"Cache-Control": "private, no-store"}
    if body is None:
        return web.json_response(
            {"from": query.start, "to": query.to, "columns": list(columns(query)), "rows": table},
            headers=headers,
        )
    filename = f"{name}-{query.start}-{query.to}.{query.format}"
    headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    content_type = "text/csv" if query.format == "csv" else XLSX
    return web.Response(body=body, content_type=content_type, headers=headers)


@reports.get("/api/reports/intervals")
async def interval_report(request: web.Request) -> web.Response:
    def compute(
        h: model.History, c: DeskConfig, start: float, end: float, q: ReportQuery
    ) -> list[Any]:
        rows = model.interval_report(h, c, start, end, q.interval, q.by)
        if q.queue is not None and q.by == "queue":
            rows = [row for row in rows if row["queue"] == q.queue]
        return rows

    return await _answer(
        request,
        "report",
        compute,
        lambda q: ("interval_start", q.by, *model.COLUMNS),
    )


@reports.get("/api/reports/sessions")
async def session_report(request: web.Request) -> web.Response:
    def compute(
        h: model.History, c: DeskConfig, start: float, end: float, q: ReportQuery
    ) -> list[Any]:
        rows = model.session_rows(h, c, start, end, "/api/sessions/{}/recordings")
        if q.queue is not None:
            rows = [row for row in rows if row["queue"] == q.queue]
        return rows

    return await _answer(request, "sessions", compute, lambda q: model.SESSION_COLUMNS)


@reports.get("/api/reports/staffing")
async def staffing_report(request: web.Request) -> web.Response:
    def compute(
        h: model.History, c: DeskConfig, start: float, end: float, q: ReportQuery
    ) -> list[Any]:
        queue = q.queue or c.default_queue
        members = (
            {agent for agent, profile in c.agents.items() if queue in profile.queues}
            if c.agents
            else None
        )
        return model.staffing_report(h, c, queue, start, end, q.interval, members)

    return await _answer(
        request,
        "staffing",
        compute,
        lambda q: ("interval_start", "queue", "arrivals", "aht", "agents_needed", "agents_staffed"),
    )


@reports.post("/api/csat")
async def post_csat(request: web.Request) -> web.Response:
    """The customer rates their call, once, after it ended. The ticket is the one their token
    names: nobody can rate someone else's call."""
    auth = request.headers.get("Authorization", "")
    ticket_id = request.app[TOKENS].verify(auth.removeprefix("Bearer ").strip() or None)
    if ticket_id is None:
        return json_error(401, "unauthenticated", "send your ticket token as a Bearer token")
    try:
        answer = await read_json(request, CsatIn)
    except Reply as bad:
        return bad.response
    records = request.app[RECORDS]
    ticket = await records.ticket(ticket_id)
    legs = await records.sessions_of_ticket(ticket_id)
    if ticket is None or ticket["status"] != "ended" or not legs:
        return json_error(409, "conflict", "a call is rated once it has ended")
    last = max(legs, key=lambda leg: leg["answered_at"])
    comment = (answer.comment or "").strip() or None
    now = request.app[SERVICE].now()
    if not await records.add_csat(ticket_id, last["id"], answer.score, comment, now):
        return json_error(409, "conflict", "this call has already been rated")
    # CSAT comes after the end: its own event (docs/integrations.md), not a late session.ended.
    request.app[WEBHOOKS].publish(
        "session.rated",
        {
            "ticket_id": ticket_id,
            "session_id": last["id"],
            "score": answer.score,
            "comment": comment,
            "rated_at": now,
        },
    )
    return web.json_response({"ok": True}, status=201)

"""What the records hold about one customer (known by the signed reference of the embedding
app's identity), for an admin's lookup, a GDPR export and an erasure (videoassist/customers.py).

The customer's rows: ``customers`` (name, email, first and last contact), the ``tickets`` that
carry their reference (with the description they typed and their browser's device hash), the
``sessions`` of those tickets (the agents' notes), ``session_notes``, ``ticket_context`` (what
the embedding app said), ``csat`` (their score and comment), ``call_events`` (the call's chat
and marks), ``call_items`` (photos; the files under ``<data_dir>/calls``), ``recordings`` (the
files under ``<data_dir>/recordings``) and the ``webhook_deliveries`` whose body names them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from videoassist.desk.events import AuditRow
from videoassist.store.records import (
    audit_log,
    audit_values,
    call_events,
    call_items,
    csat,
    customers,
    recordings,
    session_notes,
    sessions,
    ticket_context,
    tickets,
    tutorial_renders,
    tutorial_versions,
    tutorials,
    unicode_lower,
    webhook_deliveries,
)

FOUND_MAX = 50


def _like(text: str) -> str:
    """``text`` for a LIKE pattern that matches it anywhere, with its wildcards taken as text."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class CustomerRecords:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def find(self, text: str, limit: int = FOUND_MAX) -> tuple[list[dict[str, Any]], bool]:
        """Customers whose reference, name or email contains ``text`` (any case, any alphabet),
        the most recently seen first; and whether there were more than ``limit`` (at most
        ``FOUND_MAX``): the admin then narrows the search."""
        pattern = _like(text.lower())
        limit = min(limit, FOUND_MAX)
        lower = partial(unicode_lower, self.engine)
        query = (
            customers.select()
            .where(
                sa.or_(
                    lower(customers.c.ref).like(pattern, escape="\\"),
                    lower(customers.c.name).like(pattern, escape="\\"),
                    lower(customers.c.email).like(pattern, escape="\\"),
                )
            )
            .order_by(customers.c.last_contact.desc(), customers.c.ref)
            .limit(limit + 1)
        )
        async with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in await conn.execute(query)]
        return rows[:limit], len(rows) > limit

    async def history(self, ref: str) -> dict[str, Any] | None:
        """The customer's row and everything the records link to them (None: unknown)."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(customers.select().where(customers.c.ref == ref))).first()
            their_tickets = [
                dict(r._mapping)
                for r in await conn.execute(
                    tickets.select()
                    .where(tickets.c.customer_ref == ref)
                    .order_by(tickets.c.queued_at.desc())
                )
            ]
            if row is None and not their_tickets:
                return None
            ids = [t["id"] for t in their_tickets]
            legs = [
                dict(r._mapping)
                for r in await conn.execute(
                    sessions.select()
                    .where(sessions.c.ticket_id.in_(ids))
                    .order_by(sessions.c.answered_at)
                )
            ]
            calls = sorted({leg["call_id"] or leg["id"] for leg in legs})
            leg_ids = [leg["id"] for leg in legs]
            out: dict[str, Any] = {
                "customer": dict(row._mapping) if row is not None else None,
                "tickets": their_tickets,
                "sessions": legs,
                "notes": await _rows(conn, session_notes, session_notes.c.session_id, leg_ids),
                "context": await _rows(conn, ticket_context, ticket_context.c.ticket_id, ids),
                "csat": await _rows(conn, csat, csat.c.ticket_id, ids),
                "events": await _rows(conn, call_events, call_events.c.call_id, calls),
                "items": await _rows(conn, call_items, call_items.c.call_id, calls),
                "recordings": await _rows(conn, recordings, recordings.c.call_id, calls),
                "calls": calls,
            }
            recording_ids = [r["id"] for r in out["recordings"]]
            out["tutorials"] = await _rows(conn, tutorials, tutorials.c.recording_id, recording_ids)
        return out

    async def still_named(self, ticket_ids: Sequence[str]) -> bool:
        """Whether any of these tickets still names its customer (an erasure of them did not
        commit)."""
        if not ticket_ids:
            return False
        async with self.engine.connect() as conn:
            found = await conn.execute(
                sa.select(tickets.c.id)
                .where(tickets.c.id.in_(list(ticket_ids)), tickets.c.customer_ref.is_not(None))
                .limit(1)
            )
            return found.first() is not None

    async def erase(self, ref: str, history: dict[str, Any], audit: AuditRow) -> dict[str, int]:
        """In one transaction: the customer's row, every row of their calls that holds what
        they said or showed, and the personal fields of the rest (their tickets and sessions
        stay, anonymous, so that the reports' counts do not change), with the ``audit`` row.
        Returns rows touched per table."""
        ids = [t["id"] for t in history["tickets"]]
        leg_ids = [s["id"] for s in history["sessions"]]
        calls = history["calls"]
        done: dict[str, int] = {}
        async with self.engine.begin() as conn:

            async def run(name: str, statement: Any) -> None:
                done[name] = (await conn.execute(statement)).rowcount or 0

            await run("customers", customers.delete().where(customers.c.ref == ref))
            await run(
                "tickets",
                tickets.update()
                .where(tickets.c.id.in_(ids))
                .values(customer_ref=None, description="", device_id=None),
            )
            await run(
                "sessions", sessions.update().where(sessions.c.id.in_(leg_ids)).values(note=None)
            )
            await run(
                "session_notes",
                session_notes.delete().where(session_notes.c.session_id.in_(leg_ids)),
            )
            await run(
                "ticket_context", ticket_context.delete().where(ticket_context.c.ticket_id.in_(ids))
            )
            await run("csat", csat.update().where(csat.c.ticket_id.in_(ids)).values(comment=None))
            await run("call_events", call_events.delete().where(call_events.c.call_id.in_(calls)))
            await run("call_items", call_items.delete().where(call_items.c.call_id.in_(calls)))
            await run("recordings", recordings.delete().where(recordings.c.call_id.in_(calls)))
            made = [t["id"] for t in history["tutorials"]]
            await run(
                "tutorial_renders",
                tutorial_renders.delete().where(tutorial_renders.c.tutorial_id.in_(made)),
            )
            await run(
                "tutorial_versions",
                tutorial_versions.delete().where(tutorial_versions.c.tutorial_id.in_(made)),
            )
            await run("tutorials", tutorials.delete().where(tutorials.c.id.in_(made)))
            named = []
            for row in await conn.execute(
                sa.select(webhook_deliveries.c.id, webhook_deliveries.c.body)
            ):
                if _names(row.body, ref, set(ids)):
                    named.append(row.id)
            await run(
                "webhook_deliveries",
                webhook_deliveries.delete().where(webhook_deliveries.c.id.in_(named)),
            )
            await conn.execute(audit_log.insert().values(**audit_values(audit)))
        return done


async def _rows(
    conn: Any, table: sa.Table, column: Any, values: Sequence[str]
) -> list[dict[str, Any]]:
    if not values:
        return []
    return [dict(r._mapping) for r in await conn.execute(table.select().where(column.in_(values)))]


def _names(body: str, ref: str, ticket_ids: set[str]) -> bool:
    """Whether a webhook body is about this customer (their reference or one of their tickets)."""
    try:
        data = json.loads(body)
    except ValueError:
        return ref in body
    found = False

    def walk(node: Any) -> None:
        nonlocal found
        if isinstance(node, dict):
            for key, value in node.items():
                if (key == "customer_ref" and value == ref) or (
                    key == "ticket_id" and value in ticket_ids
                ):
                    found = True
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    return found

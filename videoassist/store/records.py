"""Durable records over SQLAlchemy 2 async Core: SQLite by default, PostgreSQL with the same code.

Times are stored as seconds since the epoch (UTC) in floating point columns.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from videoassist.desk.events import (
    AuditRow,
    RestoredCall,
    Save,
    SaveAgentState,
    SaveAudit,
    SaveSession,
    SaveTicket,
    SessionRow,
    TicketRow,
)

logger = logging.getLogger(__name__)

ROLES = ("agent", "supervisor", "trainer", "admin")

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(128), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
)

staff_sessions = sa.Table(
    "staff_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

tickets = sa.Table(
    "tickets",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("topic", sa.String(64), nullable=False),
    sa.Column("description", sa.String(500), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("queued_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float),
    sa.Column("end_reason", sa.String(64)),
    sa.Column("queue_id", sa.String(64), nullable=False, server_default="general"),
    sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
    sa.Column("callback", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("customer_ref", sa.String(128), index=True),
    sa.Column("device_id", sa.String(64)),
    sa.Column("line_since", sa.Float),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("ticket_id", sa.String(64), sa.ForeignKey("tickets.id"), nullable=False, index=True),
    sa.Column("agent_id", sa.String(64), nullable=False, index=True),
    sa.Column("queued_at", sa.Float, nullable=False),
    sa.Column("answered_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float),
    sa.Column("end_reason", sa.String(64)),
    sa.Column("disposition", sa.String(32)),
    sa.Column("note", sa.String(2000)),
    sa.Column("wrapped_up_at", sa.Float),
    sa.Column("call_id", sa.String(64), nullable=False, server_default=""),
    sa.Column("interruptions", sa.Integer, nullable=False, server_default="0"),
    sa.Column("interrupted_seconds", sa.Float, nullable=False, server_default="0"),
    sa.Column("away_since", sa.Float),  # a wait for a party under way (a restart carries it on)
)

queues = sa.Table(
    "queues",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("position", sa.Integer, nullable=False, server_default="0"),
    sa.Column("config", sa.JSON, nullable=False),
)

topics = sa.Table(
    "topics",
    metadata,
    sa.Column("topic", sa.String(64), primary_key=True),
    sa.Column("label", sa.String(128), nullable=False),
    sa.Column("queue_id", sa.String(64), sa.ForeignKey("queues.id"), nullable=False),
    sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
    # Where the customer page lists it (the admin's order); equal positions go by id.
    sa.Column("position", sa.Integer, nullable=False, server_default="0"),
)

# The operator's branding on the customer page (videoassist/http/branding.py): one row, id 1.
# The logo is a PNG the server re-encoded itself, small enough to keep in the row.
# Customers known by the signed reference of the embedding app's identity (identity.py): what
# its claims say of them, and when they first and last tapped.
customers = sa.Table(
    "customers",
    metadata,
    sa.Column("ref", sa.String(128), primary_key=True),
    sa.Column("name", sa.String(80)),
    sa.Column("email", sa.String(254)),
    sa.Column("first_contact", sa.Float, nullable=False),
    sa.Column("last_contact", sa.Float, nullable=False),
)

# What the embedding app said about a help request (web/sdk setContext), by ticket.
ticket_context = sa.Table(
    "ticket_context",
    metadata,
    sa.Column("ticket_id", sa.String(64), primary_key=True),
    sa.Column("context", sa.JSON, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)

# Sites admins allow to embed the help button (videoassist/embedding.py).
embed_origins = sa.Table(
    "embed_origins",
    metadata,
    sa.Column("origin", sa.String(200), primary_key=True),
    sa.Column("added_at", sa.Float, nullable=False),
    sa.Column("added_by", sa.String(64), nullable=False),
)

branding = sa.Table(
    "branding",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(80), nullable=False, server_default=""),
    sa.Column("accent", sa.String(7)),
    sa.Column("logo", sa.LargeBinary),
    sa.Column("updated_at", sa.Float, nullable=False),
)

agent_profiles = sa.Table(
    "agent_profiles",
    metadata,
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("skills", sa.JSON, nullable=False),
    sa.Column("queues", sa.JSON, nullable=False),
)

agent_status = sa.Table(
    "agent_status",
    metadata,
    sa.Column("agent_id", sa.String(64), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(32)),
    sa.Column("at", sa.Float, nullable=False),
)

agent_events = sa.Table(
    "agent_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("agent_id", sa.String(64), nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(32)),
    sa.Column("at", sa.Float, nullable=False),
)

call_events = sa.Table(
    "call_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("call_id", sa.String(64), nullable=False, index=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("media_time", sa.Float, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
)

call_items = sa.Table(
    "call_items",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("call_id", sa.String(64), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("content_type", sa.String(64), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
)

recordings = sa.Table(
    "recordings",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("call_id", sa.String(64), nullable=False, index=True),
    sa.Column("ticket_id", sa.String(64), nullable=False),
    sa.Column("queue_id", sa.String(64), nullable=False),
    sa.Column("policy", sa.String(16), nullable=False),  # off / ask / always, at the time
    sa.Column("consent", sa.String(16), nullable=False),  # not_asked / accepted / refused
    sa.Column("participants", sa.JSON, nullable=False),  # ["customer:<ticket>", "agent:<id>"]
    sa.Column("files", sa.JSON, nullable=False),  # [{party, name, size, start, duration}]
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float),  # None: being recorded, or cut off by a crash
    sa.Column("duration", sa.Float, nullable=False, server_default="0"),
    sa.Column("size", sa.Integer, nullable=False, server_default="0"),
    sa.Column("repaired", sa.Boolean, nullable=False, server_default=sa.false()),
    # talk, overlap, longest silence (media/conversation.py); None until analysed, or no audio
    sa.Column("conversation", sa.JSON),
    # 1, or the part of a call that went on after a restart: files in "<call_id>-<part>"
    sa.Column("part", sa.Integer, nullable=False, server_default="1"),
)


audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("actor_id", sa.String(64), nullable=False, index=True),
    sa.Column("actor_name", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("subject_kind", sa.String(16), nullable=False),
    sa.Column("subject_id", sa.String(64), nullable=False, index=True),
    sa.Column("detail", sa.JSON, nullable=False),
)

session_notes = sa.Table(
    "session_notes",
    metadata,
    sa.Column("session_id", sa.String(64), primary_key=True),
    sa.Column("agent_id", sa.String(64), nullable=False),
    sa.Column("note", sa.String(2000), nullable=False, server_default=""),
    sa.Column("ticks", sa.JSON, nullable=False, server_default="[]"),
    sa.Column("updated_at", sa.Float, nullable=False),
)

topic_guides = sa.Table(
    "topic_guides",
    metadata,
    sa.Column("topic", sa.String(64), primary_key=True),
    sa.Column("steps", sa.JSON, nullable=False),  # [{"id", "text"}], in order
    sa.Column("updated_at", sa.Float, nullable=False),
)

csat = sa.Table(
    "csat",
    metadata,
    sa.Column("ticket_id", sa.String(64), primary_key=True),  # one answer per customer
    sa.Column("session_id", sa.String(64), nullable=False, index=True),  # the call's last leg
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("comment", sa.String(500)),
    sa.Column("at", sa.Float, nullable=False, index=True),
)

leader_fence = sa.Table(
    "leader_fence",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("epoch", sa.BigInteger, nullable=False),
    sa.Column("applied", sa.String(32)),
)

# The login throttle (videoassist/login_throttle.py): "" fills the key part a scope lacks, so
# that the primary key has no NULLs.
login_throttles = sa.Table(
    "login_throttles",
    metadata,
    sa.Column("scope", sa.String(16), primary_key=True),
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("address", sa.String(64), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last_failure", sa.Float, nullable=False, index=True),
    sa.Column("blocked_until", sa.Float, nullable=False),
)

# Tutorials (videoassist/store/tutorials.py reads and writes them; docs/tutorials.md).
tutorials = sa.Table(
    "tutorials",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("recording_id", sa.String(32), nullable=False, index=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("draft", sa.JSON),  # the edit model being edited; None: no draft
    sa.Column("draft_at", sa.Float),
    sa.Column("published_version", sa.Integer),  # None: never published
    sa.Column("topic", sa.String(64), index=True),  # the published version's, for filtering
    sa.Column("public_token", sa.String(64), unique=True),  # None: no public link
)

tutorial_versions = sa.Table(
    "tutorial_versions",
    metadata,
    sa.Column("tutorial_id", sa.String(32), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("edit", sa.JSON, nullable=False),
    sa.Column("published_at", sa.Float, nullable=False),
    sa.Column("published_by", sa.String(64), nullable=False),
)

tutorial_renders = sa.Table(
    "tutorial_renders",
    metadata,
    sa.Column("tutorial_id", sa.String(32), primary_key=True),
    sa.Column("version", sa.String(16), primary_key=True),  # "3", or "draft"
    sa.Column("format", sa.String(8), primary_key=True),  # mp4 / webm
    sa.Column("name", sa.String(64), nullable=False),  # the file in the tutorial's folder
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("duration", sa.Float, nullable=False),
    sa.Column("rendered_at", sa.Float, nullable=False),
)

tutorial_deflections = sa.Table(
    "tutorial_deflections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("ticket_id", sa.String(64), nullable=False, unique=True),
    sa.Column("queue_id", sa.String(64), nullable=False),
    sa.Column("topic", sa.String(64), nullable=False),
    sa.Column("tutorials", sa.JSON, nullable=False),  # the ids the customer opened
)

# Integrations (videoassist/integrations.py, docs/integrations.md): API tokens for
# server-to-server calls, webhook endpoints, and the webhook outbox (one row per event and
# endpoint, kept as the delivery log).
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),  # shown in lists: "va_" + 6 characters
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("expires_at", sa.Float),
    sa.Column("revoked_at", sa.Float),
    sa.Column("last_used_at", sa.Float),
    sa.Column("last_used_from", sa.String(64)),
)

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("secret", sa.String(255), nullable=False),  # sealed (sealing.py): read back to sign
    sa.Column("events", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("deleted_at", sa.Float),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # the receiver's idempotency key
    sa.Column("endpoint_id", sa.String(32), nullable=False, index=True),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the exact bytes signed and sent (UTF-8)
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),  # pending/delivered/failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.Float, nullable=False, index=True),
    sa.Column("last_attempt_at", sa.Float),
    sa.Column("last_status", sa.Integer),
    sa.Column("last_error", sa.String(500)),
    sa.Column("delivered_at", sa.Float),
)


MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class Fenced(Exception):
    """A write carried an epoch older than the newest leader's: a deposed leader's effect."""


def _sqlite_functions(dbapi_connection: Any, _record: Any) -> None:
    """SQLite's own ``lower()`` folds ASCII only ("Élodie" stays "Élodie"); PostgreSQL's folds
    every letter. ``unicode_lower`` gives SQLite the same (the customer lookup uses it)."""
    dbapi_connection.create_function("unicode_lower", 1, _unicode_lower, deterministic=True)


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def unicode_lower(engine: AsyncEngine, column: Any) -> Any:
    """``lower(column)`` folding every letter, on SQLite (``Records.open``) and PostgreSQL."""
    name = "unicode_lower" if engine.dialect.name == "sqlite" else "lower"
    return getattr(sa.func, name)(column)


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


@functools.cache
def _head_revision() -> str | None:
    """The newest migration's revision, read from the scripts once per process."""
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


async def _applied_in(conn: AsyncConnection, name: str) -> str | None:
    result = await conn.execute(
        sa.select(leader_fence.c.applied).where(leader_fence.c.name == name)
    )
    value = result.scalar_one_or_none()
    return str(value) if value is not None else None


# How long a leader's fenced write may sit idle inside its transaction before PostgreSQL ends
# its session (``idle_in_transaction_session_timeout``): a leader paused (SIGSTOP, a frozen
# VM) in the middle of a write would otherwise hold the fence row, and every write of the
# leader after it would wait on the lock until the paused one woke. Well under the lease, so
# the row is free before anyone takes over; far above the gaps of a busy event loop.
WRITE_IDLE_LIMIT = 5.0


class Records:
    def __init__(self, engine: AsyncEngine, *, write_idle_limit: float = WRITE_IDLE_LIMIT) -> None:
        self.engine = engine
        self.write_idle_limit = write_idle_limit

    @classmethod
    def open(cls, url: str) -> Records:
        if url.startswith("sqlite"):
            path = url.split(":///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url)
        if url.startswith("sqlite"):
            sa.event.listen(engine.sync_engine, "connect", _sqlite_functions)
        return cls(engine)

    async def migrate(self) -> None:
        """Bring the schema to the newest revision (Alembic); nothing to do, and nothing run,
        when it is there already."""

        def upgrade(connection: sa.Connection) -> None:
            current = MigrationContext.configure(connection).get_current_revision()
            if current is not None and current == _head_revision():
                return
            cfg = _alembic_config()
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")

        async with self.engine.begin() as conn:
            await conn.run_sync(upgrade)

    async def close(self) -> None:
        await self.engine.dispose()

    # -------------------------------------------------------------- users

    async def add_user(
        self, username: str, display_name: str, password_hash: str, role: str, now: float
    ) -> int:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        async with self.engine.begin() as conn:
            result = await conn.execute(
                users.insert().values(
                    username=username,
                    display_name=display_name,
                    password_hash=password_hash,
                    role=role,
                    created_at=now,
                )
            )
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    async def user_by_name(self, username: str) -> dict[str, Any] | None:
        return await self._one(users.select().where(users.c.username == username))

    async def user_by_id(self, user_id: int) -> dict[str, Any] | None:
        return await self._one(users.select().where(users.c.id == user_id))

    async def set_password(self, user_id: int, password_hash: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                users.update().where(users.c.id == user_id).values(password_hash=password_hash)
            )

    # -------------------------------------------------------------- staff sessions

    async def add_staff_session(self, token_hash: str, user_id: int, expires_at: float) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                staff_sessions.insert().values(
                    token_hash=token_hash, user_id=user_id, expires_at=expires_at
                )
            )

    async def staff_session_user(self, token_hash: str, now: float) -> dict[str, Any] | None:
        query = (
            sa.select(users)
            .join(staff_sessions, staff_sessions.c.user_id == users.c.id)
            .where(
                staff_sessions.c.token_hash == token_hash,
                staff_sessions.c.expires_at > now,
                users.c.disabled.is_(False),
            )
        )
        return await self._one(query)

    async def update_user(self, user_id: int, **values: Any) -> bool:
        """Change a staff account (display_name, role, disabled, password_hash). Disabling it,
        changing its role or its password ends its sessions: it must log in again."""
        if "role" in values and values["role"] not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        async with self.engine.begin() as conn:
            result = await conn.execute(
                users.update().where(users.c.id == user_id).values(**values)
            )
            if not result.rowcount:
                return False
            if {"role", "disabled", "password_hash"} & values.keys():
                await conn.execute(
                    staff_sessions.delete().where(staff_sessions.c.user_id == user_id)
                )
        return True

    async def delete_staff_session(self, token_hash: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                staff_sessions.delete().where(staff_sessions.c.token_hash == token_hash)
            )

    # -------------------------------------------------------------- tickets and sessions

    async def save_all(
        self,
        saves: Sequence[Save],
        *,
        fence: tuple[str, int] | None = None,
        mark: str | None = None,
    ) -> None:
        """Write desk records in one transaction (the service's writer hands every event
        waiting for it at once: one commit for all). ``fence`` (leader name, epoch): the
        transaction is fenced (:meth:`fenced`); a deposed leader's raises :class:`Fenced` and
        writes nothing. ``mark`` (with ``fence``): where the desk journal stands with this
        transaction (:meth:`applied` reads it back)."""
        async with contextlib.AsyncExitStack() as stack:
            if fence is None:
                conn = await stack.enter_async_context(self.engine.begin())
            else:
                conn = await stack.enter_async_context(self.fenced(*fence))
                if mark is not None:
                    await self.mark_applied(conn, fence[0], mark)
            for save in saves:
                match save:
                    case SaveTicket(row):
                        await self._upsert_in(conn, tickets, asdict(row))
                    case SaveSession(row):
                        await self._upsert_in(conn, sessions, asdict(row))
                    case SaveAgentState(agent_id, state, reason, at):
                        await self._agent_state_in(conn, agent_id, state, reason, at)
                    case SaveAudit(row):
                        await conn.execute(audit_log.insert().values(**audit_values(row)))

    async def save_ticket(self, row: TicketRow) -> None:
        await self._upsert(tickets, asdict(row))

    async def save_session(self, row: SessionRow) -> None:
        await self._upsert(sessions, asdict(row))

    async def ticket(self, ticket_id: str) -> dict[str, Any] | None:
        return await self._one(tickets.select().where(tickets.c.id == ticket_id))

    async def session(self, session_id: str) -> dict[str, Any] | None:
        return await self._one(sessions.select().where(sessions.c.id == session_id))

    async def sessions_of_ticket(self, ticket_id: str) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            result = await conn.execute(sessions.select().where(sessions.c.ticket_id == ticket_id))
            return [dict(r._mapping) for r in result]

    async def save_session_note(self, session_id: str, agent_id: str, note: str, at: float) -> None:
        """The agent's notes for a call, replaced as they type; the wrap-up note is apart."""
        await self._upsert(
            session_notes,
            {"session_id": session_id, "agent_id": agent_id, "note": note, "updated_at": at},
            key="session_id",
        )

    async def save_session_ticks(
        self, session_id: str, agent_id: str, ticks: list[dict[str, Any]], at: float
    ) -> None:
        """The guide steps the agent has ticked during the call: [{"id", "text", "at"}]."""
        await self._upsert(
            session_notes,
            {
                "session_id": session_id,
                "agent_id": agent_id,
                "ticks": ticks,
                "updated_at": at,
            },
            key="session_id",
        )

    async def session_note(self, session_id: str) -> str:
        row = await self._one(
            session_notes.select().where(session_notes.c.session_id == session_id)
        )
        return str(row["note"]) if row else ""

    async def session_ticks(self, session_id: str) -> list[dict[str, Any]]:
        row = await self._one(
            session_notes.select().where(session_notes.c.session_id == session_id)
        )
        return list(row["ticks"]) if row else []

    async def put_guide(self, topic: str, steps: list[dict[str, str]], at: float) -> None:
        await self._upsert(
            topic_guides, {"topic": topic, "steps": steps, "updated_at": at}, key="topic"
        )

    async def guide(self, topic: str) -> list[dict[str, str]]:
        row = await self._one(topic_guides.select().where(topic_guides.c.topic == topic))
        return list(row["steps"]) if row else []

    async def saw_customer(self, ref: str, name: str | None, email: str | None, at: float) -> None:
        """A tap with a signed identity: the customer's row, created or brought up to date (a
        claim left out keeps what an earlier tap said)."""
        insert = self._insert_for_dialect()
        stmt = insert(customers).values(
            ref=ref, name=name, email=email, first_contact=at, last_contact=at
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["ref"],
            set_={
                "name": sa.func.coalesce(stmt.excluded.name, customers.c.name),
                "email": sa.func.coalesce(stmt.excluded.email, customers.c.email),
                "last_contact": stmt.excluded.last_contact,
            },
        )
        async with self.engine.begin() as conn:
            await conn.execute(stmt)

    async def embed_origins(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(embed_origins.select().order_by(embed_origins.c.origin))
            return [dict(r._mapping) for r in rows]

    async def add_embed_origin(self, origin: str, by: str, at: float) -> bool:
        """False when it was listed already."""
        insert = self._insert_for_dialect()
        stmt = insert(embed_origins).values(origin=origin, added_at=at, added_by=by)
        async with self.engine.begin() as conn:
            result = await conn.execute(stmt.on_conflict_do_nothing(index_elements=["origin"]))
            return bool(result.rowcount)

    async def remove_embed_origin(self, origin: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                embed_origins.delete().where(embed_origins.c.origin == origin)
            )
            return bool(result.rowcount)

    async def save_ticket_context(self, ticket_id: str, context: dict[str, str], at: float) -> None:
        """The first context a ticket is given stays (a tap sent again brings it once more)."""
        insert = self._insert_for_dialect()
        stmt = insert(ticket_context).values(ticket_id=ticket_id, context=context, at=at)
        async with self.engine.begin() as conn:
            await conn.execute(stmt.on_conflict_do_nothing(index_elements=["ticket_id"]))

    async def ticket_contexts(self, ticket_ids: list[str]) -> dict[str, dict[str, str]]:
        """The context each of these tickets was given (tickets without one are left out)."""
        if not ticket_ids:
            return {}
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                ticket_context.select().where(ticket_context.c.ticket_id.in_(ticket_ids))
            )
            return {r.ticket_id: dict(r.context) for r in rows}

    async def customer(self, ref: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(customers.select().where(customers.c.ref == ref))).first()
            return dict(row._mapping) if row is not None else None

    async def previous_sessions(
        self, customer_ref: str, before_ticket: str, limit: int = 10
    ) -> list[dict[str, Any]]:
        """The same customer's earlier calls, newest first (the ticket in hand left out)."""
        query = (
            sa.select(
                sessions.c.id,
                sessions.c.call_id,
                sessions.c.agent_id,
                sessions.c.answered_at,
                sessions.c.ended_at,
                sessions.c.disposition,
                sessions.c.note,
                sessions.c.ticket_id,
                tickets.c.topic,
            )
            .join(tickets, tickets.c.id == sessions.c.ticket_id)
            .where(tickets.c.customer_ref == customer_ref, tickets.c.id != before_ticket)
            .order_by(sessions.c.answered_at.desc())
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(query)]

    async def save_agent_state(
        self, agent_id: str, state: str, reason: str | None, at: float
    ) -> None:
        async with self.engine.begin() as conn:
            await self._agent_state_in(conn, agent_id, state, reason, at)

    async def _agent_state_in(
        self, conn: AsyncConnection, agent_id: str, state: str, reason: str | None, at: float
    ) -> None:
        values = {"agent_id": agent_id, "state": state, "reason": reason, "at": at}
        await conn.execute(agent_events.insert().values(**values))
        await self._upsert_in(conn, agent_status, values, key="agent_id")

    async def agent_events_of(self, agent_id: str) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            result = await conn.execute(
                agent_events.select()
                .where(agent_events.c.agent_id == agent_id)
                .order_by(agent_events.c.id)
            )
            return [dict(r._mapping) for r in result]

    # -------------------------------------------------------------- CSAT and history

    async def add_csat(
        self, ticket_id: str, session_id: str, score: int, comment: str | None, at: float
    ) -> bool:
        """Store a customer's answer; False when that customer has already answered."""
        values = {
            "ticket_id": ticket_id,
            "session_id": session_id,
            "score": score,
            "comment": comment,
            "at": at,
        }
        insert = self._insert_for_dialect()
        stmt = insert(csat).values(**values).on_conflict_do_nothing(index_elements=["ticket_id"])
        async with self.engine.begin() as conn:
            result = await conn.execute(stmt)
            return bool(result.rowcount)

    async def csat_of(self, ticket_id: str) -> dict[str, Any] | None:
        return await self._one(csat.select().where(csat.c.ticket_id == ticket_id))

    async def history(self, since: float, until: float) -> dict[str, list[dict[str, Any]]]:
        """The rows a report over [since, until) reads: tickets tapped in it (and in the 7 days
        before, for repeat contacts), their sessions and CSAT answers, the recordings started
        in it, and the agent state changes from 7 days before it to its end (staffing needs
        the state at its start)."""
        async with self.engine.connect() as conn:
            ticket_rows = await conn.execute(
                tickets.select().where(
                    tickets.c.queued_at >= since - 7 * 86400, tickets.c.queued_at < until
                )
            )
            out: dict[str, list[dict[str, Any]]] = {
                "tickets": [dict(r._mapping) for r in ticket_rows]
            }
            ids = sa.select(tickets.c.id).where(
                tickets.c.queued_at >= since - 7 * 86400, tickets.c.queued_at < until
            )
            out["sessions"] = [
                dict(r._mapping)
                for r in await conn.execute(sessions.select().where(sessions.c.ticket_id.in_(ids)))
            ]
            out["csat"] = [
                dict(r._mapping)
                for r in await conn.execute(csat.select().where(csat.c.ticket_id.in_(ids)))
            ]
            out["recordings"] = [
                dict(r._mapping)
                for r in await conn.execute(
                    recordings.select().where(
                        recordings.c.started_at >= since, recordings.c.started_at < until
                    )
                )
            ]
            out["deflections"] = [
                dict(r._mapping)
                for r in await conn.execute(
                    tutorial_deflections.select().where(
                        tutorial_deflections.c.at >= since, tutorial_deflections.c.at < until
                    )
                )
            ]
            out["agent_events"] = [
                dict(r._mapping)
                for r in await conn.execute(
                    agent_events.select()
                    # An agent's state at the range's start is their last change before it;
                    # one left unchanged for more than 7 days is not counted.
                    .where(agent_events.c.at >= since - 7 * 86400, agent_events.c.at < until)
                    .order_by(agent_events.c.id)
                )
            ]
            return out

    # -------------------------------------------------------------- audit log

    async def save_audit(self, row: AuditRow) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(audit_log.insert().values(**audit_values(row)))

    async def audit_rows(self) -> list[dict[str, Any]]:
        """The whole audit log, oldest first."""
        async with self.engine.connect() as conn:
            result = await conn.execute(audit_log.select().order_by(audit_log.c.id))
            return [dict(r._mapping) for r in result]

    # -------------------------------------------------------------- restart

    async def open_tickets(self) -> list[dict[str, Any]]:
        """Tickets a restart must bring back: joining, waiting or ringing when the process
        stopped."""
        async with self.engine.connect() as conn:
            result = await conn.execute(
                tickets.select()
                .where(tickets.c.status.in_(("joining", "queued", "offered")))
                .order_by(tickets.c.queued_at)
            )
            return [dict(r._mapping) for r in result]

    async def close_interrupted(self, at: float, keep: Sequence[RestoredCall] = ()) -> int:
        """Calls that were live when the process died end as ``server_restart``, but for the
        calls in ``keep``, which the desk resumes."""
        kept_sessions = [call.session_id for call in keep]
        kept_tickets = [call.ticket_id for call in keep]
        async with self.engine.begin() as conn:
            await conn.execute(
                sessions.update()
                .where(sessions.c.ended_at.is_(None), sessions.c.id.not_in(kept_sessions))
                .values(ended_at=at, end_reason="server_restart")
            )
            result = await conn.execute(
                tickets.update()
                .where(tickets.c.status == "live", tickets.c.id.not_in(kept_tickets))
                .values(status="ended", ended_at=at, end_reason="server_restart")
            )
            return int(result.rowcount or 0)

    async def live_calls(self) -> list[RestoredCall]:
        """Calls that were live when the process stopped (to resume): each live leg with its
        ticket and its agent's display name, oldest answer first."""
        async with self.engine.connect() as conn:
            result = await conn.execute(
                sa.select(
                    sessions.c.id.label("session_id"),
                    sessions.c.call_id,
                    sessions.c.ticket_id,
                    sessions.c.agent_id,
                    sessions.c.answered_at,
                    sessions.c.interruptions,
                    sessions.c.interrupted_seconds,
                    sessions.c.away_since,
                    tickets.c.topic,
                    tickets.c.description,
                    tickets.c.queue_id,
                    tickets.c.priority,
                    tickets.c.queued_at,
                    tickets.c.callback,
                    tickets.c.customer_ref,
                    tickets.c.device_id,
                    tickets.c.line_since,
                )
                .join(tickets, tickets.c.id == sessions.c.ticket_id)
                .where(sessions.c.ended_at.is_(None), tickets.c.status == "live")
                .order_by(sessions.c.answered_at)
            )
            rows = [dict(r._mapping) for r in result]
            names = {
                f"u{row.id}": row.display_name
                for row in await conn.execute(sa.select(users.c.id, users.c.display_name))
            }
        return [
            RestoredCall(
                **{
                    **row,
                    "call_id": row["call_id"] or row["session_id"],
                    "callback": bool(row["callback"]),
                    "agent_name": names.get(row["agent_id"], row["agent_id"]),
                }
            )
            for row in rows
        ]

    async def last_agent_states(self) -> dict[str, str]:
        async with self.engine.connect() as conn:
            result = await conn.execute(sa.select(agent_status.c.agent_id, agent_status.c.state))
            return {row.agent_id: row.state for row in result}

    # -------------------------------------------------------------- routing configuration

    async def load_config(self) -> dict[str, Any]:
        """Queues, topics and agent profiles as plain data (see videoassist.routing_config)."""
        async with self.engine.connect() as conn:
            q = [
                dict(r._mapping)
                for r in await conn.execute(
                    queues.select().order_by(queues.c.position, queues.c.id)
                )
            ]
            t = [
                dict(r._mapping)
                for r in await conn.execute(
                    topics.select().order_by(topics.c.position, topics.c.topic)
                )
            ]
            p = [dict(r._mapping) for r in await conn.execute(agent_profiles.select())]
        return {"queues": q, "topics": t, "agent_profiles": p}

    async def put_queue(
        self, queue_id: str, name: str, config: dict[str, Any], position: int = 0
    ) -> None:
        await self._upsert(
            queues, {"id": queue_id, "name": name, "config": config, "position": position}
        )

    async def delete_queue(self, queue_id: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(queues.delete().where(queues.c.id == queue_id))
            return bool(result.rowcount)

    async def put_topic(
        self, topic: str, label: str, queue_id: str, priority: int, position: int | None = None
    ) -> None:
        """Create or replace a topic; a new one goes last unless ``position`` says otherwise,
        an existing one keeps its place."""
        values: dict[str, Any] = {
            "topic": topic,
            "label": label,
            "queue_id": queue_id,
            "priority": priority,
        }
        async with self.engine.begin() as conn:
            if position is None:
                current = await conn.scalar(
                    sa.select(topics.c.position).where(topics.c.topic == topic)
                )
                if current is None:
                    last = await conn.scalar(sa.select(sa.func.max(topics.c.position)))
                    position = 0 if last is None else int(last) + 1
                else:
                    position = int(current)
        await self._upsert(topics, {**values, "position": position}, key="topic")

    async def order_topics(self, order: list[str]) -> None:
        """Give the topics the positions of ``order`` (every topic, once)."""
        async with self.engine.begin() as conn:
            for position, topic in enumerate(order):
                await conn.execute(
                    topics.update().where(topics.c.topic == topic).values(position=position)
                )

    # -------------------------------------------------------------- branding

    async def branding(self) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            row = (await conn.execute(branding.select().where(branding.c.id == 1))).first()
        if row is None:
            return {"name": "", "accent": None, "logo": None, "updated_at": 0.0}
        return dict(row._mapping)

    async def put_branding(self, **values: Any) -> dict[str, Any]:
        """Change some of name, accent and logo; the rest stays as it was."""
        now = {**(await self.branding()), **values, "id": 1, "updated_at": time.time()}
        await self._upsert(branding, now)
        return now

    async def delete_topic(self, topic: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(topics.delete().where(topics.c.topic == topic))
            return bool(result.rowcount)

    async def put_agent_profile(
        self, user_id: int, skills: dict[str, int], queue_ids: list[str]
    ) -> None:
        await self._upsert(
            agent_profiles,
            {"user_id": user_id, "skills": skills, "queues": queue_ids},
            key="user_id",
        )

    async def list_users(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            result = await conn.execute(
                sa.select(
                    users.c.id,
                    users.c.username,
                    users.c.display_name,
                    users.c.role,
                    users.c.disabled,
                ).order_by(users.c.id)
            )
            return [dict(r._mapping) for r in result]

    # -------------------------------------------------------------- call content

    async def add_call_event(
        self, call_id: str, at: float, media_time: float, kind: str, actor: str, payload: Any
    ) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                call_events.insert().values(
                    call_id=call_id,
                    at=at,
                    media_time=media_time,
                    kind=kind,
                    actor=actor,
                    payload=payload,
                )
            )

    async def call_events_of(self, call_id: str) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            result = await conn.execute(
                call_events.select()
                .where(call_events.c.call_id == call_id)
                .order_by(call_events.c.id)
            )
            return [dict(r._mapping) for r in result]

    async def add_call_item(self, row: dict[str, Any]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(call_items.insert().values(**row))

    async def call_item_sizes(self, call_id: str) -> dict[str, int]:
        """The stills and photos a call holds: id -> bytes."""
        async with self.engine.connect() as conn:
            result = await conn.execute(
                sa.select(call_items.c.id, call_items.c.size).where(call_items.c.call_id == call_id)
            )
            return {row.id: row.size for row in result}

    async def call_item(self, item_id: str) -> dict[str, Any] | None:
        return await self._one(call_items.select().where(call_items.c.id == item_id))

    # -------------------------------------------------------------- recordings

    async def add_recording(self, row: dict[str, Any]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(recordings.insert().values(**row))

    async def update_recording(self, recording_id: str, **values: Any) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                recordings.update().where(recordings.c.id == recording_id).values(**values)
            )

    async def recording(self, recording_id: str) -> dict[str, Any] | None:
        return await self._one(recordings.select().where(recordings.c.id == recording_id))

    async def recordings_of(self, session_or_call_id: str) -> list[dict[str, Any]]:
        """The recordings of a call, named by its call id or by any of its sessions' ids."""
        calls = sa.select(sessions.c.call_id).where(sessions.c.id == session_or_call_id)
        async with self.engine.connect() as conn:
            result = await conn.execute(
                recordings.select()
                .where(
                    sa.or_(
                        recordings.c.call_id == session_or_call_id,
                        recordings.c.call_id.in_(calls.scalar_subquery()),
                    )
                )
                .order_by(recordings.c.started_at)
            )
            return [dict(r._mapping) for r in result]

    async def find_recordings(
        self,
        *,
        queue_id: str | None = None,
        topic: str | None = None,
        agent_id: str | None = None,
        disposition: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """The library's view: finished recordings, newest first, each with its ticket's topic and
        its call's sessions (agent, disposition; a warm transfer has several). An agent or
        disposition filter matches a recording when any session of its call matches."""
        query = (
            sa.select(recordings, tickets.c.topic)
            .select_from(recordings.outerjoin(tickets, tickets.c.id == recordings.c.ticket_id))
            .where(recordings.c.ended_at.is_not(None))
        )
        if queue_id is not None:
            query = query.where(recordings.c.queue_id == queue_id)
        if topic is not None:
            query = query.where(tickets.c.topic == topic)
        if since is not None:
            query = query.where(recordings.c.started_at >= since)
        if until is not None:
            query = query.where(recordings.c.started_at < until)
        for column, value in (
            (sessions.c.agent_id, agent_id),
            (sessions.c.disposition, disposition),
        ):
            if value is not None:
                query = query.where(
                    sa.exists().where(sessions.c.call_id == recordings.c.call_id, column == value)
                )
        query = query.order_by(recordings.c.started_at.desc()).limit(limit)
        async with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in await conn.execute(query)]
            call_ids = {row["call_id"] for row in rows}
            legs: dict[str, list[dict[str, Any]]] = {}
            if call_ids:
                result = await conn.execute(
                    sa.select(sessions.c.call_id, sessions.c.agent_id, sessions.c.disposition)
                    .where(sessions.c.call_id.in_(call_ids))
                    .order_by(sessions.c.answered_at)
                )
                for leg in result:
                    legs.setdefault(leg.call_id, []).append(
                        {"agent_id": leg.agent_id, "disposition": leg.disposition}
                    )
        for row in rows:
            row["sessions"] = legs.get(row["call_id"], [])
        return rows

    async def unfinished_recordings(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            result = await conn.execute(recordings.select().where(recordings.c.ended_at.is_(None)))
            return [dict(r._mapping) for r in result]

    async def recordings_ended_before(self, at: float) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            # A recording a published tutorial is made from is kept (docs/tutorials.md).
            published = sa.select(tutorials.c.recording_id).where(
                tutorials.c.published_version.is_not(None)
            )
            result = await conn.execute(
                recordings.select().where(
                    recordings.c.ended_at < at, recordings.c.id.not_in(published)
                )
            )
            return [dict(r._mapping) for r in result]

    async def delete_recording(self, recording_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(recordings.delete().where(recordings.c.id == recording_id))

    # -------------------------------------------------------------- leader fencing

    @contextlib.asynccontextmanager
    async def fenced(
        self, name: str, epoch: int, lock_timeout: float | None = None
    ) -> AsyncIterator[AsyncConnection]:
        """A transaction for the writes of leader ``name``'s ``epoch`` (the fencing token).

        The fence row is raised to ``epoch`` if it is lower and locked for the transaction; if
        a newer leader has written already, :class:`Fenced` is raised before any write and the
        transaction is rolled back, so a deposed leader that wakes up changes nothing.
        ``lock_timeout`` (PostgreSQL): give up (an error) rather than wait longer for a
        transaction that holds the fence row (a leader paused in the middle of a write). The
        transaction itself may sit idle ``write_idle_limit`` seconds at most (PostgreSQL ends
        the session past that, rolling it back), so a leader paused inside it lets go of the
        fence row without waking.
        """
        insert = self._insert_for_dialect()
        stmt = insert(leader_fence).values(name=name, epoch=epoch)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"epoch": stmt.excluded.epoch},
            where=leader_fence.c.epoch <= stmt.excluded.epoch,
        )
        async with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                limits = {"idle_in_transaction_session_timeout": self.write_idle_limit}
                if lock_timeout is not None:
                    limits["lock_timeout"] = lock_timeout
                settings = [
                    sa.func.set_config(setting, str(max(1, int(seconds * 1000))), True)
                    for setting, seconds in limits.items()
                ]
                await conn.execute(sa.select(*settings))  # for this transaction only
            await conn.execute(stmt)
            newest: int = (
                await conn.execute(
                    sa.select(leader_fence.c.epoch).where(leader_fence.c.name == name)
                )
            ).scalar_one()
            if newest != epoch:
                raise Fenced(f"{name}: epoch {epoch} is older than the newest leader's ({newest})")
            yield conn

    async def mark_applied(self, conn: AsyncConnection, name: str, entry_id: str) -> None:
        """Inside ``fenced``: where the desk journal stands with this transaction (its marks,
        cluster/journal.py ``stored_mark``)."""
        await conn.execute(
            leader_fence.update().where(leader_fence.c.name == name).values(applied=entry_id)
        )

    async def fence_and_mark(
        self, name: str, epoch: int, lock_timeout: float | None = None
    ) -> str | None:
        """A new leader's first write: the fence raised to ``epoch`` (a deposed leader writes
        nothing from now on) and, in the same transaction, the mark its last write left."""
        async with self.fenced(name, epoch, lock_timeout) as conn:
            return await _applied_in(conn, name)

    async def applied(self, name: str) -> str | None:
        """The marks the last write of any leader of ``name`` left."""
        async with self.engine.connect() as conn:
            return await _applied_in(conn, name)

    # -------------------------------------------------------------- login throttle

    async def load_login_throttles(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            result = await conn.execute(login_throttles.select())
            return [dict(r._mapping) for r in result]

    async def save_login_throttles(self, rows: list[dict[str, Any]]) -> None:
        """Upsert rows of ``login_throttles`` (every column given)."""
        if not rows:
            return
        from sqlalchemy.dialects import postgresql, sqlite

        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(login_throttles)
        stmt = stmt.on_conflict_do_update(
            index_elements=["scope", "username", "address"],
            set_={k: stmt.excluded[k] for k in ("failures", "last_failure", "blocked_until")},
        )
        async with self.engine.begin() as conn:
            await conn.execute(stmt, rows)

    async def delete_login_throttles(self, keys: list[tuple[str, str, str]]) -> None:
        """Delete rows by (scope, username, address)."""
        c = login_throttles.c
        async with self.engine.begin() as conn:
            for scope, username, address in keys:
                await conn.execute(
                    login_throttles.delete().where(
                        c.scope == scope, c.username == username, c.address == address
                    )
                )

    async def delete_login_throttles_of(self, username: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                login_throttles.delete().where(
                    login_throttles.c.username == username, login_throttles.c.scope != "address"
                )
            )

    async def prune_login_throttles(self, last_failure_before: float, now: float) -> int:
        c = login_throttles.c
        async with self.engine.begin() as conn:
            result = await conn.execute(
                login_throttles.delete().where(
                    c.last_failure < last_failure_before, c.blocked_until <= now
                )
            )
            return int(result.rowcount or 0)

    # -------------------------------------------------------------- helpers

    async def _one(self, query: sa.Select[Any]) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
            return dict(row._mapping) if row else None

    def _insert_for_dialect(self) -> Any:
        """The dialect's INSERT, which knows ON CONFLICT (both SQLite and PostgreSQL do)."""
        from sqlalchemy.dialects import postgresql, sqlite

        return postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert

    async def _upsert(self, table: sa.Table, values: dict[str, Any], key: str = "id") -> None:
        async with self.engine.begin() as conn:
            await self._upsert_in(conn, table, values, key)

    async def _upsert_in(
        self, conn: AsyncConnection, table: sa.Table, values: dict[str, Any], key: str = "id"
    ) -> None:
        insert = self._insert_for_dialect()
        stmt = insert(table).values(**values)
        updates = {k: stmt.excluded[k] for k in values if k != key}
        await conn.execute(stmt.on_conflict_do_update(index_elements=[key], set_=updates))


def audit_values(row: AuditRow) -> dict[str, Any]:
    values = asdict(row)
    values["detail"] = dict(row.detail)
    return values

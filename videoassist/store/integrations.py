"""Records of the integrations: API tokens, webhook endpoints and the webhook outbox.

The outbox (``webhook_deliveries``) is also the delivery log: a row is written when an event
happens (status ``pending``), the worker in ``videoassist.webhooks`` sends it and writes back
each attempt's outcome, and the row stays as the log admins read. A row still ``pending``
after a restart is simply sent then.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from videoassist.store.records import api_tokens, webhook_deliveries, webhook_endpoints

LOG_ROWS = 50  # deliveries an admin sees per endpoint, newest first


class IntegrationRecords:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ tokens

    async def add_token(self, row: dict[str, Any]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(api_tokens.insert().values(**row))

    async def token_by_hash(self, token_hash: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            result = await conn.execute(
                api_tokens.select().where(api_tokens.c.token_hash == token_hash)
            )
            row = result.first()
            return dict(row._mapping) if row else None

    async def tokens(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            result = await conn.execute(api_tokens.select().order_by(api_tokens.c.created_at))
            return [dict(r._mapping) for r in result]

    async def revoke_token(self, token_id: str, at: float) -> dict[str, Any] | None:
        """The token's row after revoking it (a second revoke keeps the first time); None if
        there is no such token."""
        async with self.engine.begin() as conn:
            await conn.execute(
                api_tokens.update()
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=at)
            )
            result = await conn.execute(api_tokens.select().where(api_tokens.c.id == token_id))
            row = result.first()
            return dict(row._mapping) if row else None

    async def token_used(self, token_id: str, at: float, address: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                api_tokens.update()
                .where(api_tokens.c.id == token_id)
                .values(last_used_at=at, last_used_from=address[:64])
            )

    # ------------------------------------------------------------------ endpoints

    async def add_endpoint(self, row: dict[str, Any]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(webhook_endpoints.insert().values(**row))

    async def endpoints(self) -> list[dict[str, Any]]:
        """Live endpoints (not deleted), oldest first."""
        async with self.engine.connect() as conn:
            result = await conn.execute(
                webhook_endpoints.select()
                .where(webhook_endpoints.c.deleted_at.is_(None))
                .order_by(webhook_endpoints.c.created_at)
            )
            return [dict(r._mapping) for r in result]

    async def set_endpoint_secret(self, endpoint_id: str, secret: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                webhook_endpoints.update()
                .where(webhook_endpoints.c.id == endpoint_id)
                .values(secret=secret)
            )

    async def delete_endpoint(self, endpoint_id: str, at: float) -> bool:
        """Marks the endpoint deleted and gives up its undelivered events."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                webhook_endpoints.update()
                .where(
                    webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.deleted_at.is_(None)
                )
                .values(deleted_at=at)
            )
            await conn.execute(
                webhook_deliveries.update()
                .where(
                    webhook_deliveries.c.endpoint_id == endpoint_id,
                    webhook_deliveries.c.status == "pending",
                )
                .values(status="failed", last_error="endpoint deleted")
            )
            return bool(result.rowcount)

    # ------------------------------------------------------------------ outbox

    async def enqueue(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        async with self.engine.begin() as conn:
            await conn.execute(webhook_deliveries.insert(), list(rows))

    async def due(self, endpoint_id: str, now: float, limit: int) -> list[dict[str, Any]]:
        """An endpoint's pending deliveries whose next attempt is due, oldest first."""
        async with self.engine.connect() as conn:
            result = await conn.execute(
                webhook_deliveries.select()
                .where(
                    webhook_deliveries.c.endpoint_id == endpoint_id,
                    webhook_deliveries.c.status == "pending",
                    webhook_deliveries.c.next_attempt_at <= now,
                )
                .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.created_at)
                .limit(limit)
            )
            return [dict(r._mapping) for r in result]

    async def claim(self, delivery_id: str, seen: float, until: float) -> bool:
        """Takes a due delivery for one send: moves its next attempt to ``until`` if nobody
        moved it since it was read (``seen``). False: another worker has it."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                webhook_deliveries.update()
                .where(
                    webhook_deliveries.c.id == delivery_id,
                    webhook_deliveries.c.status == "pending",
                    webhook_deliveries.c.next_attempt_at == seen,
                )
                .values(next_attempt_at=until)
            )
            return bool(result.rowcount)

    async def next_due_at(self) -> float | None:
        async with self.engine.connect() as conn:
            result = await conn.execute(
                sa.select(sa.func.min(webhook_deliveries.c.next_attempt_at)).where(
                    webhook_deliveries.c.status == "pending"
                )
            )
            value = result.scalar()
            return float(value) if value is not None else None

    async def attempted(self, delivery_id: str, **values: Any) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                webhook_deliveries.update()
                .where(webhook_deliveries.c.id == delivery_id)
                .values(**values)
            )

    async def delivery(self, delivery_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            result = await conn.execute(
                webhook_deliveries.select().where(webhook_deliveries.c.id == delivery_id)
            )
            row = result.first()
            return dict(row._mapping) if row else None

    async def deliveries(self, endpoint_id: str, limit: int = LOG_ROWS) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            result = await conn.execute(
                webhook_deliveries.select()
                .where(webhook_deliveries.c.endpoint_id == endpoint_id)
                .order_by(webhook_deliveries.c.created_at.desc(), webhook_deliveries.c.id)
                .limit(limit)
            )
            return [dict(r._mapping) for r in result]

    async def redeliver(self, delivery_id: str, now: float) -> bool:
        """Puts a delivery back in the outbox, due now, with a fresh count of attempts."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                webhook_deliveries.update()
                .where(webhook_deliveries.c.id == delivery_id)
                .values(status="pending", attempts=0, next_attempt_at=now)
            )
            return bool(result.rowcount)

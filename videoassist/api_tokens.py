"""API tokens: credentials for the operator's other systems to call the REST API.

A token is ``va_`` + 43 URL-safe characters (256 random bits). It is shown once, when an admin
creates it; the store keeps its SHA-256 (a fast hash is enough for a secret this long: there
is nothing to guess, unlike a password; docs/threat-model.md). A token carries scopes, which
``videoassist.http.tokens.SCOPE_OF`` maps onto endpoints; it may expire, may be revoked, and
records when and from where it was last used.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from videoassist.auth import Staff
from videoassist.store.integrations import IntegrationRecords

TOKEN_PREFIX = "va_"
MAX_TOKEN = 128

# scope -> what it opens (the endpoints are in videoassist/http/tokens.py SCOPE_OF)
SCOPES = {
    "sessions:read": "the session history (GET /api/reports/sessions)",
    "reports:read": "interval and staffing reports",
    "recordings:read": "recordings: lists and files",
    "tutorials:read": "the tutorial library: lists, tutorials, versions",
    "routing:manage": "queues, topics, topic guides and agent profiles",
}


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenCaller:
    """Who a valid token speaks for: the token itself, with its scopes."""

    id: str
    name: str
    scopes: frozenset[str]

    @property
    def staff(self) -> Staff:
        # Handlers check a role: the scope table has already decided what a token may call,
        # so the token passes as an admin on exactly those endpoints. The id is negative, so
        # it is no user's; stable per token (links signed for it stay its own).
        return Staff(-int(self.id[:12], 16) - 1, f"token:{self.name}", self.name, "admin")


class ApiTokens:
    def __init__(
        self, store: IntegrationRecords, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self._clock = clock

    async def create(
        self, name: str, scopes: list[str], expires_at: float | None, by: str
    ) -> tuple[dict[str, Any], str]:
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = {
            "id": uuid.uuid4().hex,
            "name": name,
            "token_hash": token_hash(secret),
            "prefix": secret[:9],
            "scopes": sorted(set(scopes)),
            "created_at": self._clock(),
            "created_by": by,
            "expires_at": expires_at,
        }
        await self.store.add_token(row)
        return row, secret

    async def check(self, secret: str, address: str) -> TokenCaller | None:
        """The caller a presented token stands for, recording its use; None when it is
        unknown, revoked or expired."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > MAX_TOKEN:
            return None
        row = await self.store.token_by_hash(token_hash(secret))
        now = self._clock()
        if row is None or row["revoked_at"] is not None:
            return None
        if row["expires_at"] is not None and row["expires_at"] <= now:
            return None
        await self.store.token_used(row["id"], now, address)
        return TokenCaller(row["id"], row["name"], frozenset(row["scopes"]))

    async def revoke(self, token_id: str) -> dict[str, Any] | None:
        return await self.store.revoke_token(token_id, self._clock())

    async def listing(self) -> list[dict[str, Any]]:
        return [public(row) for row in await self.store.tokens()]


def public(row: dict[str, Any]) -> dict[str, Any]:
    """A token as admins see it: never its hash."""
    return {k: v for k, v in row.items() if k != "token_hash"}

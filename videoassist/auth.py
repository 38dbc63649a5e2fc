"""Who is calling: staff logins (argon2, server-side sessions) and customer ticket tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from videoassist.sealing import derive_key
from videoassist.store.records import Records

SESSION_COOKIE = "va_session"

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing of "no such user"
# the same as "wrong password".
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


# Staff who take calls: they sign in to the agent console and are routed to.
AGENT_ROLES = ("agent", "supervisor")


@dataclass(frozen=True, slots=True)
class Staff:
    id: int
    username: str
    display_name: str
    role: str

    @property
    def agent_id(self) -> str:
        return f"u{self.id}"

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Staff:
        return cls(row["id"], row["username"], row["display_name"], row["role"])


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class StaffAuth:
    def __init__(self, records: Records, *, ttl: float) -> None:
        self._records = records
        self._ttl = ttl

    async def login(self, username: str, password: str) -> tuple[Staff, str] | None:
        """Check the password; on success return the staff member and a new session token."""
        row = await self._records.user_by_name(username)
        try:
            _hasher.verify(row["password_hash"] if row else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or row.get("disabled"):
            return None
        if _hasher.check_needs_rehash(row["password_hash"]):
            await self._records.set_password(row["id"], _hasher.hash(password))
        token = secrets.token_urlsafe(32)
        await self._records.add_staff_session(
            _token_hash(token), row["id"], time.time() + self._ttl
        )
        return Staff.from_row(row), token

    async def staff_for(self, token: str | None) -> Staff | None:
        if not token or len(token) > 128:
            return None
        row = await self._records.staff_session_user(_token_hash(token), time.time())
        return Staff.from_row(row) if row else None

    async def logout(self, token: str) -> None:
        await self._records.delete_staff_session(_token_hash(token))


class TicketTokens:
    """Signed, short-lived tokens that prove the bearer owns one ticket."""

    def __init__(self, secret: str, *, ttl: float) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="videoassist.ticket")
        self._ttl = ttl
        self._ids_key = derive_key(secret, "videoassist tap idempotency")

    def new_ticket_id(self, idempotency_key: str | None = None) -> str:
        """A new ticket's id: random, or derived from the client's ``Idempotency-Key`` under a
        server key, so a tap sent again names the same ticket, and a client can name only its
        own earlier taps, never choose another's id."""
        if idempotency_key is None:
            return secrets.token_hex(12)
        mac = hmac.new(self._ids_key, idempotency_key.encode(), hashlib.sha256)
        return mac.hexdigest()[:24]

    def device_for(self, idempotency_key: str) -> str:
        """The device a browser with no device cookie yet is taken for, from its tap's key: a
        tap sent again because its answer (and its cookie) was lost is the same browser."""
        mac = hmac.new(self._ids_key, b"device:" + idempotency_key.encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()[:24]).decode()

    def issue(self, ticket_id: str) -> str:
        return self._serializer.dumps({"t": ticket_id})

    def verify(self, token: object) -> str | None:
        if not isinstance(token, str) or len(token) > 512:
            return None
        try:
            data = self._serializer.loads(token, max_age=round(self._ttl))
        except (BadSignature, SignatureExpired):
            return None
        ticket = data.get("t") if isinstance(data, dict) else None
        return ticket if isinstance(ticket, str) else None


STAFF_DEVICE_COOKIE = "va_staff_device"


class StaffDevices:
    """Signed cookies that say "this browser has logged in as these names before".

    The login throttle lets such a browser past the account-wide slowdown that an attack from
    many addresses puts on a name (videoassist/login_throttle.py). It proves only a past login:
    it skips no password check and no per-address wait.
    """

    MAX_NAMES = 8  # staff who share a browser; the most recent first
    MAX_AGE = 365 * 24 * 3600

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="videoassist.staff-device")

    def names(self, cookie: str | None) -> list[str]:
        if not cookie or len(cookie) > 2048:
            return []
        try:
            data = self._serializer.loads(cookie, max_age=self.MAX_AGE)
        except (BadSignature, SignatureExpired):
            return []
        names = data.get("n") if isinstance(data, dict) else None
        if not isinstance(names, list):
            return []
        return [n for n in names if isinstance(n, str)][: self.MAX_NAMES]

    def issue(self, username: str, cookie: str | None) -> str:
        """The cookie for this browser after ``username`` logged in on it."""
        names = [username, *(n for n in self.names(cookie) if n != username)]
        return self._serializer.dumps({"n": names[: self.MAX_NAMES]})

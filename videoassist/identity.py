"""Customer identity asserted by the embedding app: a JWT (HS256) signed with a shared secret.

The embedding site knows who its user is; the help page does not. The site signs
``{"sub": <its customer id>, "priority": 0-100, "exp": ..., "aud": "videoassist"}`` with the
secret it shares with us and passes the token with the tap. A token that is missing, unsigned,
wrongly signed, expired or meant for someone else is ignored: the tap goes ahead as anonymous,
and nothing in it raises the customer's priority.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import jwt

logger = logging.getLogger(__name__)

AUDIENCE = "videoassist"
MAX_PRIORITY = 100


@dataclass(frozen=True, slots=True)
class CustomerIdentity:
    ref: str
    priority: int = 0
    name: str | None = None  # the `name` claim, shown to the agent
    email: str | None = None  # the `email` claim


def _text_claim(claims: dict[str, object], key: str, cap: int) -> str | None:
    """A short printable string claim, or None (a wrong type or size is left out, not fatal)."""
    value = claims.get(key)
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    if not 0 < len(value) <= cap or not value.isprintable():
        return None
    return value


def verify_identity(token: str | None, secret: str) -> CustomerIdentity | None:
    if not token or not secret:
        return None
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=AUDIENCE,
            options={"require": ["sub", "exp"]},
        )
    except jwt.PyJWTError as exc:
        logger.info("identity token ignored: %s", exc)
        return None
    ref = claims.get("sub")
    if not isinstance(ref, str) or not 0 < len(ref) <= 128:
        return None
    priority = claims.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        priority = 0
    email = _text_claim(claims, "email", 254)
    if email is not None and (email.count("@") != 1 or " " in email):
        email = None
    return CustomerIdentity(
        ref,
        max(0, min(MAX_PRIORITY, priority)),
        name=_text_claim(claims, "name", 80),
        email=email,
    )

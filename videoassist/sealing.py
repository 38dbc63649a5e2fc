"""Secrets the server must read back but nobody else should: sealed at rest under SECRET_KEY.

A webhook's signing secret has to be kept (every delivery is signed with it), so unlike a
password it cannot be stored as a hash. It is stored sealed instead: Fernet (AES-128-CBC with an
HMAC-SHA256 tag, from ``cryptography``) under a key derived from ``SECRET_KEY`` with HKDF and a
purpose label, so a copy of the database alone (a backup, a replica, a dump attached to a
support ticket) does not let anyone sign requests as this server.

Values carry their scheme (``sealed:v1:...``); a value without it is a secret stored before
sealing existed, read as it is and sealed again by its owner at start-up.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "sealed:v1:"


class Unreadable(Exception):
    """Sealed under another key (``SECRET_KEY`` changed), or altered."""


def derive_key(secret_key: str, purpose: str) -> bytes:
    """A 32-byte key of its own for each ``purpose``, from ``SECRET_KEY`` (HKDF-SHA256)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode())
    return hkdf.derive(secret_key.encode())


class Sealer:
    def __init__(self, secret_key: str, purpose: str) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(derive_key(secret_key, purpose)))

    def seal(self, plain: str) -> str:
        return PREFIX + self._fernet.encrypt(plain.encode()).decode()

    def open(self, stored: str) -> str:
        if not is_sealed(stored):
            return stored
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise Unreadable("sealed under another SECRET_KEY, or altered") from None


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)

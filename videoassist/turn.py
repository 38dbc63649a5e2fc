"""Short-lived TURN credentials (the TURN REST API scheme that coturn's ``use-auth-secret`` checks).

The username is ``"{expiry}:{subject}"`` (expiry in Unix seconds) and the password is
``base64(HMAC-SHA1(secret, username))``. coturn recomputes the password from the shared secret
and refuses a new allocation (401) once the expiry has passed, so nothing is stored on either side
and a leaked credential is worth ``turn_ttl`` seconds. An allocation made in time keeps working
after the expiry (coturn 4.6.1 does not recheck it on refreshes or channel binds), so a call may
outlast ``turn_ttl``; a client that starts a peer connection later needs fresh credentials.

The subject says whom the credential was minted for (``t:<ticket>``, ``a:<agent>``,
``s:<session>/<party>`` for the server's own legs). It shows in coturn's logs, and coturn's
``user-quota`` counts allocations per username. The expiry is wall-clock time because coturn
compares it with its own clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from videoassist.settings import Settings


def credentials(secret: str, subject: str, expires_at: int) -> tuple[str, str]:
    """The (username, password) pair coturn accepts until ``expires_at``."""
    username = f"{expires_at}:{subject}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def ice_server(settings: Settings, subject: str, now: float | None = None) -> dict[str, Any]:
    """An ICE server entry (browser ``RTCIceServer`` shape) for ``subject``, valid ``turn_ttl``."""
    issued = time.time() if now is None else now
    username, password = credentials(settings.turn_secret, subject, int(issued + settings.turn_ttl))
    return {"urls": list(settings.turn_urls), "username": username, "credential": password}


def ice_servers(settings: Settings, subject: str, now: float | None = None) -> list[dict[str, Any]]:
    """The configured ICE servers plus, when TURN is on, fresh credentials for ``subject``."""
    servers = list(settings.ice_servers)
    if settings.turn_urls:
        servers.append(ice_server(settings, subject, now))
    return servers

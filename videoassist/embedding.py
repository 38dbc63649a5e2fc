"""The sites allowed to embed the help button: ``ALLOWED_ORIGINS`` from the settings, plus the
origins admins add and remove on the admin page (``embed_origins`` in the records), live.

One object answers every place that asks (``/embed``'s frame-ancestors and its ``host``, the
socket.io handshake's origin check, the API's cross-site write check), so a change an admin
makes takes effect everywhere at once, with no restart.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

MAX_MANAGED = 100  # origins admins may list


class OriginError(ValueError):
    pass


def normalize_origin(text: str) -> str:
    """``scheme://host[:port]``, lower case, or OriginError: http or https, a host, no path,
    query, fragment, user or wildcard (an origin is exactly what a browser sends)."""
    text = text.strip()
    if len(text) > 200:
        raise OriginError("at most 200 characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise OriginError("not an origin such as https://shop.example.com") from None
    if parts.scheme not in ("http", "https"):
        raise OriginError("http:// or https:// followed by a host")
    host = (parts.hostname or "").lower()
    if not host or "*" in text or parts.username or parts.password:
        raise OriginError("a host, with no wildcard or user")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise OriginError("an origin has no path, query or fragment")
    if not (_is_ip(host) or all(_LABEL.fullmatch(label) for label in host.split("."))):
        raise OriginError("not a host name")
    default = {"http": 80, "https": 443}[parts.scheme]
    shown_host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown_host}" + (f":{port}" if port and port != default else "")


_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class Origins:
    """The allowed embedding origins: fixed ones (settings) and managed ones (admins)."""

    def __init__(self, fixed: Iterable[str] = ()) -> None:
        self.fixed = frozenset(fixed)
        self.managed: set[str] = set()

    def __contains__(self, origin: object) -> bool:
        return origin in self.fixed or origin in self.managed

    def all(self) -> list[str]:
        return sorted(self.fixed | self.managed)

    def hosts(self) -> set[str]:
        """``host[:port]`` of every allowed origin (what an Origin header's netloc is)."""
        return {urlsplit(origin).netloc for origin in self.fixed | self.managed}

    def replace(self, managed: Iterable[str]) -> None:
        self.managed = set(managed)

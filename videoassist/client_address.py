"""Who is asking: the client address that per-address limits count (taps, logins, connections).

Behind a reverse proxy every request arrives from the proxy's address, so limits keyed by the
direct peer would count all clients as one. ``TRUSTED_PROXIES`` names the proxies whose
``X-Forwarded-For`` we believe. The rules:

- A direct peer that is not trusted is the client, whatever headers it sends: anyone can write
  ``X-Forwarded-For``, and believing it would let one client pose as as many as it likes.
- From a trusted peer, the hops of ``X-Forwarded-For`` are read from the right (each proxy
  appends the address it saw), skipping trusted ones; the first untrusted hop is the client. Hops
  to its left were written by the client itself and are ignored.
- A hop that is not an address ends the walk at the last trusted address seen: a proxy we trust
  never writes one, so it came from a client, and nothing to its left can be believed.
- With every hop trusted, the left-most is the client (a request from inside).

The TCP connection cap (``http/guard.py``) cannot read headers; it counts direct peers and lets
trusted proxies through uncounted.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str) -> IPAddress | None:
    """An address as a proxy writes it (``1.2.3.4``, ``1.2.3.4:5``, ``::1``, ``[::1]:5``)."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TrustedProxies:
    def __init__(self, entries: Iterable[str] = ()) -> None:
        networks = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                raise ValueError(f"trusted_proxies: {entry!r} is not an address or CIDR") from None
        self.networks = tuple(networks)

    def trusts(self, address: str | IPAddress | None) -> bool:
        if not self.networks or address is None:
            return False
        parsed = parse_address(address) if isinstance(address, str) else address
        return parsed is not None and any(parsed in network for network in self.networks)

    def client(self, peer: str | None, forwarded_for: Iterable[str] = ()) -> str:
        """The client's address, given the direct peer and every ``X-Forwarded-For`` header."""
        peer_address = parse_address(peer) if peer else None
        if peer_address is None:
            return peer or ""
        if not self.trusts(peer_address):
            return str(peer_address)
        hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
        client = peer_address
        for hop in reversed(hops):
            address = parse_address(hop)
            if address is None:
                break
            client = address
            if not self.trusts(address):
                break
        return str(client)

    def of_request(self, request: web.BaseRequest) -> str:
        return self.client(request.remote, request.headers.getall("X-Forwarded-For", []))

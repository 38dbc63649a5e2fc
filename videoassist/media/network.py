"""Which local addresses the media server offers as ICE host candidates.

aiortc gathers on every interface (through aioice) and has no option to choose. A media server
usually wants exactly its public address, and tests want loopback only, so aioice's address
lookup is replaced once, at start-up, when addresses are configured. aioice is pinned in
pyproject.toml because of this; tests/integration cover it.
"""

from __future__ import annotations

import aioice.ice

_original = aioice.ice.get_host_addresses


def restrict_host_addresses(addresses: tuple[str, ...]) -> None:
    if not addresses:
        aioice.ice.get_host_addresses = _original
        return
    chosen = list(addresses)

    def configured(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = configured

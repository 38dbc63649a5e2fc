"""Where the media server listens: which local addresses it offers as ICE host candidates, and
which UDP ports it takes for them.

aiortc gathers on every interface and on any free port (through aioice) and has no option to
choose either. A media server usually wants exactly its public address, tests want loopback only,
and a firewall can only be opened for a known port range (as Janus's and LiveKit's rtc port
ranges allow). Both are set once, at start-up, by ``configure_gathering``. aioice is pinned in
pyproject.toml because of the two hooks below (aioice 0.13.0):

* ``aioice.ice.get_host_addresses`` is replaced by the configured address list;
* ``aioice.ice.Connection.get_component_candidates`` binds each host candidate with
  ``asyncio.get_running_loop().create_datagram_endpoint(..., local_addr=(address, 0))``; aioice's
  view of ``asyncio`` is given a loop whose ``create_datagram_endpoint`` binds such a request to
  a free port of the range instead of port 0. Every other use of the loop passes through.

Both are process-wide (aioice keeps them at module level): in the server process every aioice
user is the media server. tests/integration/test_media_ports.py fails if either hook stops
working (candidates off the range, or on other addresses).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import types
from typing import Any

import aioice.ice

logger = logging.getLogger(__name__)

_original_addresses = aioice.ice.get_host_addresses
_original_asyncio = aioice.ice.asyncio


class PortRange:
    """Binds UDP sockets to ports of [first, last], round robin, so that a port just given back
    is the last to be taken again (a firewall's or NAT's state for it has time to go)."""

    def __init__(self, first: int, last: int) -> None:
        if not 1024 <= first <= last <= 65535:
            raise ValueError(
                f"media port range {first}-{last}: want 1024 <= first <= last <= 65535"
            )
        self.first, self.last = first, last
        self._next = first
        self.exhausted = 0  # binds that found no free port

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"

    def bind(self, address: str) -> socket.socket:
        family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
        for _ in range(self.size):
            port = self._next
            self._next = self.first if port == self.last else port + 1
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.bind((address, port))
            except OSError:
                sock.close()
                continue
            sock.setblocking(False)
            return sock
        self.exhausted += 1
        logger.error("PortRange(%s) no free UDP port on %s: the range is used up", self, address)
        raise OSError(f"no free UDP port in the media port range {self}")


class _RangedLoop:
    """The running loop as aioice's candidate gathering sees it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, ports: PortRange) -> None:
        self._loop = loop
        self._ports = ports

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loop, name)

    async def create_datagram_endpoint(
        self, protocol_factory: Any, local_addr: tuple[str, int] | None = None, **kwargs: Any
    ) -> Any:
        if local_addr is None or local_addr[1] != 0:
            return await self._loop.create_datagram_endpoint(
                protocol_factory, local_addr=local_addr, **kwargs
            )
        sock = self._ports.bind(local_addr[0])
        return await self._loop.create_datagram_endpoint(protocol_factory, sock=sock, **kwargs)


def _asyncio_with_ports(ports: PortRange) -> types.ModuleType:
    view = types.ModuleType("asyncio (media port range)")
    view.__dict__.update(asyncio.__dict__)
    view.get_running_loop = lambda: _RangedLoop(asyncio.get_running_loop(), ports)  # type: ignore[attr-defined]
    return view


def configure_gathering(
    addresses: tuple[str, ...], ports: PortRange | None = None
) -> PortRange | None:
    """Offer only ``addresses`` (every interface when empty) on ports of ``ports`` (any when
    None). Returns the range, for the hub's capacity check."""
    if addresses:
        chosen = list(addresses)

        def configured(use_ipv4: bool, use_ipv6: bool) -> list[str]:
            return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

        aioice.ice.get_host_addresses = configured
    else:
        aioice.ice.get_host_addresses = _original_addresses
    aioice.ice.asyncio = _asyncio_with_ports(ports) if ports is not None else _original_asyncio
    return ports


def restrict_host_addresses(addresses: tuple[str, ...]) -> None:
    """Addresses only, any port (tests and benches that need no range)."""
    configure_gathering(addresses, None)


def host_addresses() -> list[str]:
    """The addresses aioice will gather on now (IPv4 and IPv6)."""
    return list(aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True))

"""Connections that hold the server without using it: slow headers, slow bodies, and too many
connections from one address (issue 10).

aiohttp waits for a request's headers and body as long as the client likes, so a client that
sends a byte now and then holds a connection, a handler and its buffers forever. The guard sits
between the listening socket and aiohttp's ``RequestHandler`` (one ``GuardedProtocol`` per
connection, handing every call on) and:

- refuses a connection at once when its direct peer already holds ``max_per_address``
  connections (trusted proxies are not counted: they carry everyone's connections; see
  ``client_address.py``); the first refusal of an address is one INFO line, further ones are
  quiet until the address is below its cap again;
- closes a connection whose request headers are not complete ``header_timeout`` seconds after
  its first byte (or after the connection opened, for the first request);
- closes a connection whose request body is not complete ``body_timeout`` seconds after its
  headers. Handlers that run long after the body has arrived (websockets, long polls) are not
  affected.

The middleware (``guard.middleware``) tells the guard when a request's headers have been
parsed (aiohttp calls the handler) and when it ends. Served without ``GuardedRunner`` (tests
with aiohttp's own test client), the middleware does nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from videoassist.client_address import TrustedProxies

logger = logging.getLogger(__name__)

AWAITING_HEADERS, IN_REQUEST, IDLE = "awaiting_headers", "in_request", "idle"


class ConnectionGuard:
    def __init__(
        self,
        *,
        max_per_address: int,
        header_timeout: float,
        body_timeout: float,
        trusted: TrustedProxies,
    ) -> None:
        self.max_per_address = max_per_address
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.trusted = trusted
        self._per_address: dict[str, int] = {}
        self._refusing: set[str] = set()
        self._connections: dict[asyncio.BaseTransport, GuardedProtocol] = {}
        self.refused = 0  # connections refused by the cap, for tests and metrics
        self.timed_out = 0  # connections closed by a read timeout

    def connections_of(self, address: str) -> int:
        return self._per_address.get(address, 0)

    def admit(self, address: str) -> bool:
        if not self.max_per_address or self.trusted.trusts(address):
            return True
        count = self._per_address.get(address, 0)
        if count >= self.max_per_address:
            self.refused += 1
            if address not in self._refusing:
                self._refusing.add(address)
                logger.info(
                    "ConnectionGuard: %s holds %d connections, the most one address may; "
                    "refusing more",
                    address,
                    count,
                )
            return False
        self._per_address[address] = count + 1
        return True

    def release(self, address: str) -> None:
        count = self._per_address.get(address, 0) - 1
        if count > 0:
            self._per_address[address] = count
        else:
            self._per_address.pop(address, None)
        if count < self.max_per_address:
            self._refusing.discard(address)

    def factory(self, inner: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        return lambda: GuardedProtocol(self, inner())

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        connection = self._connections.get(request.transport) if request.transport else None
        if connection is None:
            return await handler(request)
        connection.request_started(request)
        try:
            return await handler(request)
        finally:
            connection.request_finished()


class GuardedProtocol(asyncio.Protocol):
    """One connection: counts it against its address and enforces the read deadlines, handing
    every protocol call on to aiohttp's ``RequestHandler``."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self.guard = guard
        self.inner = inner
        self.transport: asyncio.Transport | None = None
        self.address = ""
        self.admitted = False
        self.state = AWAITING_HEADERS
        self._deadline: asyncio.TimerHandle | None = None
        self._body: Any = None  # the request's StreamReader while its body is awaited

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        if not self.guard.admit(self.address):
            transport.abort()
            return
        self.admitted = True
        self.guard._connections[transport] = self
        self._arm(self.guard.header_timeout, "headers")
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if not self.admitted:
            return
        self.admitted = False
        self.guard.release(self.address)
        if self.transport is not None:
            self.guard._connections.pop(self.transport, None)
        self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self.admitted:
            return
        if self.state == IDLE:
            self.state = AWAITING_HEADERS
            self._arm(self.guard.header_timeout, "headers")
        self.inner.data_received(data)
        if self.state == AWAITING_HEADERS and self._headers_parsed():
            # Headers complete: the middleware takes over from here. Checked now, not when the
            # handler starts, so that a loop too busy to start it in time closes nothing.
            self.state = IN_REQUEST
            self._disarm()
        if self._body is not None and self._body.is_eof():
            self._body = None
            self._disarm()

    def _headers_parsed(self) -> bool:
        # aiohttp 3.13-3.14: RequestHandler.data_received queues each request whose headers it
        # has parsed in ``_messages`` until its handler takes it. Without it (another aiohttp),
        # the middleware alone ends the header deadline.
        return bool(getattr(self.inner, "_messages", None))

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.admitted else None

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    # ------------------------------------------------------------------ from the middleware

    def request_started(self, request: web.BaseRequest) -> None:
        self.state = IN_REQUEST
        self._disarm()
        if request.body_exists and not request.content.is_eof():
            self._body = request.content
            self._arm(self.guard.body_timeout, "body")

    def request_finished(self) -> None:
        self.state = IDLE
        self._body = None
        self._disarm()

    # ------------------------------------------------------------------ deadlines

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        if seconds > 0:
            loop = asyncio.get_running_loop()
            self._deadline = loop.call_later(seconds, self._expired, what)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, what: str) -> None:
        self._deadline = None
        self.guard.timed_out += 1
        logger.info(
            "ConnectionGuard: %s sent its request %s too slowly; connection closed",
            self.address,
            what,
        )
        if self.transport is not None:
            self.transport.abort()


class GuardedRunner(web.AppRunner):
    """An ``AppRunner`` whose sites accept connections through the guard."""

    def __init__(self, app: web.Application, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.guard = guard

    # aiohttp 3.13-3.14 (the range pinned in pyproject.toml; read in 3.14.5): TCPSite.start
    # hands ``runner.server`` to ``loop.create_server`` as the protocol factory and uses it for
    # nothing else; the runner's own shutdown goes through ``self._server``, the real Server.
    @property
    def server(self) -> Any:
        inner = super().server
        return None if inner is None else self.guard.factory(inner)

"""A webhook receiver on loopback: a real aiohttp server that records what it is sent and
answers as a test tells it (succeed, fail a number of times, or hold the request open)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.ports import free_port


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data

    def verifies(self, secret: str) -> bool:
        """The documented recipe (docs/integrations.md), written out independently."""
        timestamp = self.headers["Webhook-Timestamp"]
        expected = hmac.new(
            secret.encode(), timestamp.encode() + b"." + self.body, hashlib.sha256
        ).hexdigest()
        given = self.headers["Webhook-Signature"].removeprefix("v1=")
        return hmac.compare_digest(expected, given)


@dataclass
class Receiver:
    fail_first: int = 0  # answer 500 to this many requests before succeeding
    hang: bool = False  # hold every request open until ``release``
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)  # statuses sent, in order
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def release(self) -> None:
        self._released.set()

    def of(self, event_type: str) -> list[Received]:
        return [r for r in self.received if r.event["type"] == event_type]

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append(Received(dict(request.headers), await request.read()))
        if self.hang:
            await self._released.wait()
        status = 500 if len(self.received) <= self.fail_first else 204
        self.answered.append(status)
        return web.Response(status=status)

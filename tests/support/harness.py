"""A running videoassist on loopback plus the clients that talk to it (tests and benchmarks)."""

from __future__ import annotations

import asyncio
import atexit
import functools
import inspect
import shutil
import ssl
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import socketio
from aiohttp import web

from videoassist.app import create_app
from videoassist.auth import hash_password
from videoassist.http.guard import GuardedRunner
from videoassist.http.keys import CONNECTION_GUARD, HUB, RECORDS, ROOMS, SERVICE
from videoassist.settings import Settings
from videoassist.store.records import Records
from videoassist.tls import server_context


def test_settings(data_dir: Path, **overrides: Any) -> Settings:
    base = Settings(
        host="127.0.0.1",
        port=0,
        data_dir=data_dir,
        secret_key="test-secret-key",
        media_addresses=("127.0.0.1",),
        ring_timeout=20.0,
        test_pages=True,
        # Every client of a test comes from loopback; the cap has tests of its own that set it.
        max_connections_per_address=0,
    )
    return base.with_(**overrides)


async def wait_until(
    predicate: Callable[[], bool | Awaitable[bool]],
    timeout: float = 10.0,
    what: str | Callable[[], str] = "",
    *,
    interval: float = 0.02,
) -> None:
    """Poll a condition on the loop until it holds; fail with ``what`` after ``timeout``.

    The predicate may be async (a page's state, an HTTP probe): what it returns is awaited. A
    callable ``what`` is asked at the timeout, so the failure can show the last value seen.
    ``interval`` is for predicates that cost something (a screenshot), not for waiting longer.
    """
    deadline = time.monotonic() + timeout
    while True:
        held = predicate()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        if time.monotonic() > deadline:
            described = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout}s waiting for {described or predicate}")
        await asyncio.sleep(interval)


async def connect_socket(
    client: socketio.AsyncClient,
    url: str,
    namespace: str,
    *,
    cookie: str | None = None,
    token: str | None = None,
) -> None:
    """Connect ``client`` to ``namespace`` over websocket, with a session cookie or ticket token."""
    await client.connect(
        url,
        namespaces=[namespace],
        transports=["websocket"],
        auth=None if token is None else {"token": token},
        headers={} if cookie is None else {"Cookie": f"va_session={cookie}"},
        wait_timeout=5,
    )


class Inbox:
    """Every event a socket.io client receives on one namespace, in order."""

    def __init__(self, client: socketio.AsyncClient, namespace: str) -> None:
        self.events: list[tuple[str, Any]] = []
        self._changed = asyncio.Event()

        async def catch_all(event: str, data: Any = None) -> None:
            self.events.append((event, data))
            self._changed.set()

        client.on("*", catch_all, namespace=namespace)

    async def next(self, name: str, timeout: float = 10.0, after: int = 0) -> Any:
        """The first ``name`` event at or after index ``after``, waiting for it if needed."""
        async with asyncio.timeout(timeout):
            while True:
                for event, data in self.events[after:]:
                    if event == name:
                        return data
                self._changed.clear()
                await self._changed.wait()

    def names(self) -> list[str]:
        return [name for name, _ in self.events]


class Party:
    def __init__(self, client: socketio.AsyncClient, namespace: str) -> None:
        self.client = client
        self.namespace = namespace
        self.inbox = Inbox(client, namespace)

    async def call(
        self, event: str, data: dict[str, Any] | None = None, *, timeout: float = 10
    ) -> dict[str, Any]:
        """``timeout``: the pages wait 20 s (web/shared/signaling.js); most tests expect an
        answer well within 10."""
        reply: dict[str, Any] = await self.client.call(
            event, data or {}, namespace=self.namespace, timeout=timeout
        )
        return reply

    async def close(self) -> None:
        await self.client.disconnect()


class Clients:
    """What a test or a bench does to a server from outside, over HTTP and socket.io: log staff
    in, tap, connect customers and agents. Needs ``url`` and ``http``."""

    url: str
    http: aiohttp.ClientSession | None
    _parties: list[Party]

    async def login(self, username: str, password: str) -> str:
        assert self.http is not None
        async with self.http.post(
            "/api/login", json={"username": username, "password": password}
        ) as r:
            assert r.status == 200, await r.text()
            return r.cookies["va_session"].value

    async def tap(self, topic: str = "", description: str = "") -> dict[str, Any]:
        assert self.http is not None
        async with self.http.post(
            "/api/tickets", json={"topic": topic, "description": description}
        ) as r:
            body: dict[str, Any] = await r.json()
            assert r.status == 201, body
            return body

    async def customer(self, token: str) -> Party:
        return await self._party("/customer", token=token)

    async def agent(self, cookie: str) -> Party:
        return await self._party("/agent", cookie=cookie)

    async def _party(self, namespace: str, **credentials: str) -> Party:
        """A connected ``Party`` on ``namespace``, disconnected again by ``stop``."""
        party = Party(socketio.AsyncClient(reconnection=False), namespace)
        await connect_socket(party.client, self.url, namespace, **credentials)
        self._parties.append(party)
        return party


@functools.cache
def _hashed(password: str) -> str:
    """A real Argon2 hash of ``password``, made once per test process (a tenth of a second
    each): staff who share a password share its hash, which verifies for each of them."""
    return hash_password(password)


_SCHEMA: list[Path] = []  # a migrated, empty SQLite database, made once per process


async def _migrated_sqlite() -> Path:
    if not _SCHEMA:
        directory = Path(tempfile.mkdtemp(prefix="videoassist-schema-"))
        atexit.register(shutil.rmtree, directory, True)
        path = directory / "videoassist.db"
        records = Records.open(f"sqlite+aiosqlite:///{path}")
        try:
            await records.migrate()
        finally:
            await records.close()
        _SCHEMA.append(path)
    return _SCHEMA[0]


class Harness(Clients):
    def __init__(self, settings: Settings, *, shutdown_timeout: float = 5.0) -> None:
        """``shutdown_timeout``: how long the HTTP server waits on requests still in
        progress when it stops, and again after cancelling them."""
        self.settings = settings
        self.app = create_app(settings)
        self.runner = GuardedRunner(
            self.app, self.app[CONNECTION_GUARD], shutdown_timeout=shutdown_timeout
        )
        self.url = ""
        self.http: aiohttp.ClientSession | None = None
        self._parties: list[Party] = []

    async def start(self) -> None:
        """Serve on a free loopback port: HTTPS when the settings name a certificate, which the
        harness's own HTTP client then trusts. A new SQLite database starts as a copy of one
        the migrations made once per test process (they would take a quarter of a second in
        every test); the migrations themselves are tested on their own (test_store_contract)."""
        if not self.settings.database_url:
            path = self.settings.data_dir / "videoassist.db"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(await _migrated_sqlite(), path)
        await self.runner.setup()
        settings = self.settings
        server_ssl = (
            server_context(Path(settings.tls_cert), Path(settings.tls_key))
            if settings.tls
            else None
        )
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=server_ssl)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"{'https' if settings.tls else 'http'}://127.0.0.1:{port}"
        client_ssl = ssl.create_default_context(cafile=settings.tls_cert) if settings.tls else None
        connector = aiohttp.TCPConnector(ssl=client_ssl) if client_ssl else None
        self.http = aiohttp.ClientSession(self.url, connector=connector)

    async def stop(self) -> None:
        for party in self._parties:
            if party.client.connected:
                await party.client.disconnect()
        if self.http is not None:
            await self.http.close()
        await self.runner.cleanup()

    @property
    def service(self) -> Any:
        return self.app[SERVICE]

    @property
    def hub(self) -> Any:
        return self.app[HUB]

    @property
    def rooms(self) -> Any:
        return self.app[ROOMS]

    @property
    def records(self) -> Any:
        return self.app[RECORDS]

    async def add_staff(
        self, username: str, role: str = "agent", password: str = "password-1"
    ) -> str:
        """Create a staff account and log it in; returns the session cookie value."""
        await self.records.add_user(
            username, username.title(), _hashed(password), role, time.time()
        )
        return await self.login(username, password)

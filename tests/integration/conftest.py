from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.support.harness import Harness, test_settings
from tests.support.postgres import PostgresServer
from tests.support.redis import RedisServer


@pytest.fixture
async def harness(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    marker = request.node.get_closest_marker("settings")
    overrides = marker.kwargs if marker else {}
    h = Harness(test_settings(tmp_path, **overrides))
    await h.start()
    yield h
    await h.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL for the whole run (Debian's package, on loopback)."""
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> Iterator[str]:
    """A database of this test's own on the shared PostgreSQL, dropped afterwards."""
    name = postgres.fresh_database()
    try:
        yield postgres.url(name)
    finally:
        postgres.drop_database(name)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server of this test's own on loopback (tests pause and stop it)."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """A client of this test's redis-server."""
    client = Redis.from_url(redis_server.url, socket_timeout=2, socket_connect_timeout=2)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def peers() -> AsyncIterator[list[Any]]:
    """The test's client peer connections (any kind with ``close()``), each closed at the end."""
    made: list[Any] = []
    yield made
    for peer in made:
        await peer.close()

"""Slow requests and connection hoarding (videoassist/http/guard.py), attacked on loopback the
way an outsider would: raw sockets that send a request slowly, or open many connections."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from tests.support.harness import Harness, wait_until
from videoassist.http.keys import CONNECTION_GUARD

# The deadlines a test waits on are bounded: the connection must be closed well within this.
CUT_OFF_WITHIN = 10.0


@contextlib.asynccontextmanager
async def raw(
    harness: Harness, from_address: str = "127.0.0.1"
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    url = urlsplit(harness.url)
    reader, writer = await asyncio.open_connection(
        url.hostname, url.port, local_addr=(from_address, 0)
    )
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sent before it closed the connection."""
    try:
        return await asyncio.wait_for(reader.read(), CUT_OFF_WITHIN)
    except ConnectionResetError:
        return b""


async def get_health(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    return await asyncio.wait_for(reader.read(), CUT_OFF_WITHIN)


class TestReadTimeouts:
    @pytest.mark.settings(body_timeout=0.5)
    async def test_a_body_sent_too_slowly_is_cut_off(self, harness: Harness) -> None:
        async with raw(harness) as (reader, writer):
            writer.write(
                b"POST /api/tickets HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
            )
            # Without the guard the server waits for the other 99 bytes forever.
            assert await closed_by_server(reader) == b""
        assert harness.app[CONNECTION_GUARD].timed_out == 1
        assert harness.service.desk.tickets == {}

    @pytest.mark.settings(header_timeout=0.5)
    async def test_headers_sent_too_slowly_are_cut_off(self, harness: Harness) -> None:
        async with raw(harness) as (reader, writer):
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: local")
            assert await closed_by_server(reader) == b""
        assert harness.app[CONNECTION_GUARD].timed_out == 1

    async def test_a_websocket_is_under_no_deadline_once_its_request_has_arrived(
        self, harness: Harness
    ) -> None:
        """A socket.io websocket lives for hours inside its (bodiless) upgrade request."""
        await harness.customer((await harness.tap())["token"])
        guard = harness.app[CONNECTION_GUARD]
        in_request = [c for c in guard._connections.values() if c.state == "in_request"]
        assert len(in_request) == 1
        assert in_request[0]._deadline is None


class TestConnectionCap:
    @pytest.mark.settings(max_connections_per_address=3)
    async def test_one_address_gets_its_cap_and_no_more_while_another_still_gets_in(
        self, harness: Harness
    ) -> None:
        guard = harness.app[CONNECTION_GUARD]
        async with contextlib.AsyncExitStack() as held:
            for _ in range(3):
                await held.enter_async_context(raw(harness))
            await wait_until(lambda: guard.connections_of("127.0.0.1") == 3, what="3 held")
            async with raw(harness) as (reader, writer):
                # Refused at once: closed before a byte of the request is read.
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                assert await closed_by_server(reader) == b""
            assert guard.refused == 1
            async with raw(harness, "127.0.0.2") as (reader, writer):
                assert (await get_health(reader, writer)).startswith(b"HTTP/1.1 200")
        # Once the address holds fewer, it gets in again.
        await wait_until(lambda: guard.connections_of("127.0.0.1") == 0, what="all released")
        async with raw(harness) as (reader, writer):
            assert (await get_health(reader, writer)).startswith(b"HTTP/1.1 200")

    @pytest.mark.settings(max_connections_per_address=1, trusted_proxies=("127.0.0.1",))
    async def test_a_trusted_proxy_is_not_capped(self, harness: Harness) -> None:
        async with raw(harness) as _, raw(harness) as (reader, writer):
            assert (await get_health(reader, writer)).startswith(b"HTTP/1.1 200")

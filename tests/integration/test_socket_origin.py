"""The socket.io handshake's origin check, over plain HTTP and the built-in TLS."""

from __future__ import annotations

import contextlib
import ssl
from pathlib import Path

import aiohttp
import pytest
import socketio

from tests.support.harness import Harness
from tests.support.harness import test_settings as settings_for
from videoassist.tls import self_signed


async def handshake(harness: Harness, origin: str, trust: object = None) -> bool:
    """Whether a customer handshake that names ``origin`` gets through to authentication."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trust)) as session:
        client = socketio.AsyncClient(reconnection=False, http_session=session)
        refusal: list[object] = []
        client.on("connect_error", refusal.append, namespace="/customer")
        with contextlib.suppress(socketio.exceptions.ConnectionError):
            await client.connect(
                harness.url,
                namespaces=["/customer"],
                transports=["websocket"],
                headers={"Origin": origin},
                auth={"token": "forged"},
                wait_timeout=5,
            )
        # An accepted origin reaches the namespace, which refuses the forged token by code;
        # a refused origin never gets that far.
        return any(isinstance(r, dict) and r.get("data") for r in refusal)


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
async def test_only_this_site_and_listed_embedders_may_open_a_socket(
    tmp_path: Path, tls: bool
) -> None:
    overrides: dict[str, object] = {"allowed_origins": ("https://shop.example",)}
    trust = None
    if tls:
        cert, key = self_signed(tmp_path / "tls", "127.0.0.1")
        overrides |= {"tls_cert": str(cert), "tls_key": str(key)}
        trust = ssl.create_default_context(cafile=cert)
    harness = Harness(settings_for(tmp_path, **overrides))
    await harness.start()
    try:
        assert await handshake(harness, harness.url, trust)
        assert await handshake(harness, "https://shop.example", trust)
        assert not await handshake(harness, "https://evil.example", trust)
        other_scheme = (
            harness.url.replace("https://", "http://")
            if tls
            else harness.url.replace("http://", "https://")
        )
        assert not await handshake(harness, other_scheme, trust)
    finally:
        await harness.stop()

"""Per-address limits behind a reverse proxy: X-Forwarded-For is believed only from
TRUSTED_PROXIES (videoassist/client_address.py). On loopback the test client plays the proxy."""

from __future__ import annotations

import aiohttp
import pytest

from tests.support.harness import Harness


async def post(harness: Harness, path: str, body: dict[str, str], forwarded_for: str) -> int:
    # No cookie jar: every request is a new browser, so only per-address limits can refuse it.
    async with (
        aiohttp.ClientSession(harness.url, cookie_jar=aiohttp.DummyCookieJar()) as http,
        http.post(path, json=body, headers={"X-Forwarded-For": forwarded_for}) as r,
    ):
        return r.status


async def tap(harness: Harness, forwarded_for: str) -> int:
    return await post(harness, "/api/tickets", {}, forwarded_for)


async def login(harness: Harness, forwarded_for: str, password: str) -> int:
    body = {"username": "alice", "password": password}
    return await post(harness, "/api/login", body, forwarded_for)


class TestUntrustedPeer:
    @pytest.mark.settings(taps_burst=2, taps_per_minute=1)
    async def test_a_spoofed_forwarded_for_does_not_escape_the_tap_limit(
        self, harness: Harness
    ) -> None:
        statuses = [await tap(harness, f"203.0.113.{n}") for n in range(1, 4)]
        assert statuses == [201, 201, 429]


class TestTrustedProxy:
    @pytest.mark.settings(taps_burst=2, taps_per_minute=1, trusted_proxies=("127.0.0.0/8",))
    async def test_two_clients_behind_the_proxy_are_limited_apart(self, harness: Harness) -> None:
        assert [await tap(harness, "203.0.113.5") for _ in range(3)] == [201, 201, 429]
        # The client cannot get out of its limit by writing hops of its own to the left.
        assert await tap(harness, "198.51.100.1, 203.0.113.5") == 429
        assert await tap(harness, "203.0.113.6") == 201

    @pytest.mark.settings(login_max_failures=2, trusted_proxies=("127.0.0.1",))
    async def test_one_client_guessing_does_not_make_another_wait(self, harness: Harness) -> None:
        await harness.add_staff("alice", password="alices-password")
        assert [await login(harness, "203.0.113.5", "guess") for _ in range(2)] == [401, 401]
        assert await login(harness, "203.0.113.5", "alices-password") == 429
        assert await login(harness, "203.0.113.6", "alices-password") == 200

    @pytest.mark.settings(
        public_reads_burst=2, public_reads_per_minute=1, trusted_proxies=("127.0.0.0/8",)
    )
    async def test_public_tutorial_reads_are_limited_per_client_not_per_proxy(
        self, harness: Harness
    ) -> None:
        async def read(forwarded_for: str) -> int:
            async with (
                aiohttp.ClientSession(harness.url) as http,
                http.get(
                    "/api/public/tutorials/no-such-token",
                    headers={"X-Forwarded-For": forwarded_for},
                ) as r,
            ):
                return r.status

        assert [await read("203.0.113.5") for _ in range(3)] == [404, 404, 429]
        assert await read("203.0.113.6") == 404  # another client behind the same proxy

"""Limits on anonymous clients shared by every node (videoassist/cluster/ratelimit.py), on a
real redis-server: a client gets its burst once, not once per node, and a Redis that stops
answering leaves each node limiting on its own instead of refusing everyone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from redis.asyncio import Redis

from tests.support import harness as support
from tests.support.harness import Harness, wait_until
from tests.support.redis import RedisServer
from videoassist.cluster.ratelimit import PREFIX, SharedLimiter, bucket_key
from videoassist.http.keys import TAP_LIMIT


async def test_two_nodes_share_one_bucket(redis: Redis) -> None:
    node_a = SharedLimiter(redis, "taps", rate=1 / 60, burst=3)
    node_b = SharedLimiter(redis, "taps", rate=1 / 60, burst=3)
    waits = [await node.take(("ip", "203.0.113.5")) for node in (node_a, node_b) * 2]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 55 < waits[3] <= 60  # one token a minute: nearly a minute to the next
    # Another client has its own bucket.
    assert await node_b.take(("ip", "203.0.113.6")) == 0.0
    assert node_a.fallbacks == node_b.fallbacks == 0


async def test_a_bucket_refills_and_expires_when_full_again(redis: Redis) -> None:
    limiter = SharedLimiter(redis, "public_reads", rate=20, burst=1)
    assert await limiter.take("client") == 0.0
    wait = await limiter.take("client")
    assert 0 < wait <= 0.05
    key = bucket_key("public_reads", "client")
    assert key.startswith(PREFIX) and "client" not in key  # hashed, never the raw address
    assert 0 < await redis.pttl(key) <= 1100

    async def refilled() -> bool:
        return await limiter.take("client") == 0.0

    await wait_until(refilled, timeout=5, interval=0.05, what="a token back")
    await wait_until(_gone(redis, key), timeout=5, interval=0.1, what="the idle bucket expired")


def _gone(redis: Redis, key: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return not await redis.exists(key)

    return check


async def test_a_silent_redis_falls_back_to_this_nodes_own_limit(
    redis: Redis, redis_server: RedisServer
) -> None:
    limiter = SharedLimiter(redis, "taps", rate=1 / 60, burst=2, timeout=0.2)
    redis_server.pause()
    try:
        waits = [await limiter.take(("ip", "203.0.113.9")) for _ in range(3)]
    finally:
        redis_server.resume()
    assert waits[:2] == [0.0, 0.0] and waits[2] > 0  # still limited, nobody turned away
    assert limiter.fallbacks == 3


async def test_taps_spread_over_two_nodes_get_one_burst(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    nodes = [
        Harness(
            support.test_settings(
                tmp_path / name, redis_url=redis_server.url, taps_burst=2, taps_per_minute=1
            )
        )
        for name in ("a", "b")
    ]
    for node in nodes:
        await node.start()
    try:
        assert isinstance(nodes[0].app[TAP_LIMIT], SharedLimiter)
        statuses = []
        for node in (nodes[0], nodes[1], nodes[0], nodes[1]):
            # A new browser each time (no cookie jar): only the address can be limited.
            async with (
                aiohttp.ClientSession(node.url, cookie_jar=aiohttp.DummyCookieJar()) as http,
                http.post("/api/tickets", json={}) as r,
            ):
                statuses.append(r.status)
        assert statuses == [201, 201, 429, 429]
    finally:
        for node in nodes:
            await node.stop()

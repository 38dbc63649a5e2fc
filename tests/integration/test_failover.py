"""Hot standby (``LEADER_LEASE``, videoassist/cluster/leadership.py): two real server processes
on one PostgreSQL and one redis-server. Only the lease holder serves; killed, paused or drained,
its standby takes over and the customers who were waiting keep their places."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import socketio

from tests.support.harness import Party, connect_socket, wait_until
from tests.support.ports import free_port
from tests.support.process import ServerProcess
from tests.support.redis import RedisServer
from videoassist.auth import hash_password
from videoassist.cluster.leadership import DEPOSED_EXIT
from videoassist.store.records import Records

pytestmark = pytest.mark.timeout(180)

TTL = 2.0  # the lease lapses 2 s after its holder stops renewing it


@pytest.fixture
async def nodes(
    tmp_path: Path, postgres_url: str, redis_server: RedisServer
) -> AsyncIterator[tuple[ServerProcess, ServerProcess]]:
    common = {
        "database_url": postgres_url,
        "redis_url": redis_server.url,
        "leader_lease": "true",
        "leader_lease_ttl": str(TTL),
        "secret_key": "shared-by-both-nodes-" + "k" * 24,
    }
    a = ServerProcess(tmp_path / "a", free_port(), node_id="node-a", **common)
    b = ServerProcess(tmp_path / "b", free_port(), node_id="node-b", **common)
    try:
        yield a, b
    finally:
        for node in (a, b):
            if node.proc is not None:
                if node.proc.returncode is None:
                    node.resume()
                await node.stop(kill=True)


async def _tap(node: ServerProcess) -> dict[str, str]:
    async with (
        aiohttp.ClientSession(node.url, cookie_jar=aiohttp.DummyCookieJar()) as http,
        http.post("/api/tickets", json={"topic": "setup"}) as r,
    ):
        assert r.status == 201, await r.text()
        ticket: dict[str, str] = await r.json()
        return ticket


async def _customer(node: ServerProcess, token: str) -> Party:
    party = Party(socketio.AsyncClient(reconnection=False), "/customer")
    await connect_socket(party.client, node.url, "/customer", token=token)
    return party


async def test_a_killed_leader_is_replaced_and_the_line_keeps_its_order(
    nodes: tuple[ServerProcess, ServerProcess], postgres_url: str
) -> None:
    a, b = nodes
    await a.start()
    await b.launch()
    assert not await b.up(timeout=3 * TTL), "a standby must not serve while the leader leads"

    first, second = await _tap(a), await _tap(a)
    parties = [await _customer(a, t["token"]) for t in (first, second)]
    assert [(await p.call("sync"))["position"] for p in parties] == [1, 2]

    killed = time.monotonic()
    a.proc.kill()  # type: ignore[union-attr]
    assert await b.up(timeout=30), b.output
    took = time.monotonic() - killed
    print(f"standby serving {took:.1f} s after the leader was killed (lease TTL {TTL:.0f} s)")
    assert "node node-b leads" in b.output

    # Their pages reconnect (through the load balancer: here straight to B) with their tickets.
    for party in parties:
        with contextlib.suppress(Exception):
            await party.close()
    back = [await _customer(b, t["token"]) for t in (first, second)]
    views = [await p.call("sync") for p in back]
    assert [(v["state"], v["position"]) for v in views] == [("queued", 1), ("queued", 2)]

    # Dispatch resumes: an agent on B is offered the first customer, once.
    records = Records.open(postgres_url)
    try:
        await records.add_user("alice", "Alice", hash_password("password-1"), "agent", time.time())
    finally:
        await records.close()
    async with (
        aiohttp.ClientSession(b.url) as http,
        http.post("/api/login", json={"username": "alice", "password": "password-1"}) as r,
    ):
        assert r.status == 200
        cookie = r.cookies["va_session"].value
    agent = Party(socketio.AsyncClient(reconnection=False), "/agent")
    await connect_socket(agent.client, b.url, "/agent", cookie=cookie)
    try:
        assert (await agent.call("ready")) == {"ok": True}
        offer = await agent.inbox.next("offer", timeout=10)
        assert offer["ticket_id"] == first["ticket_id"]
        assert [e for e, _ in agent.inbox.events].count("offer") == 1
    finally:
        await agent.close()
        for party in back:
            await party.close()


async def test_a_paused_leader_that_wakes_up_exits_without_acting(
    nodes: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = nodes
    await a.start()
    ticket = await _tap(a)
    await b.launch()
    a.pause()  # SIGSTOP: the lease lapses while A cannot know it
    assert await b.up(timeout=30), b.output
    a.resume()
    assert await a.exited(timeout=20) == DEPOSED_EXIT, a.output  # noticed on waking
    assert "lost the leader lease" in a.output
    assert "draining" not in a.output
    # B serves the customer A had: A wrote nothing that took their place away.
    party = await _customer(b, ticket["token"])
    try:
        assert (await party.call("sync"))["state"] == "queued"
    finally:
        await party.close()


async def test_a_drained_leader_hands_over_at_once_and_a_standby_stops_on_sigterm(
    nodes: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = nodes
    await a.start()
    await b.launch()
    assert not await b.up(timeout=TTL)
    assert await a.stop() == 0, a.output  # SIGTERM: drains, then gives the lease up
    assert await b.up(timeout=30), b.output
    assert "node node-b leads" in b.output

    mark = len(a.output)
    await a.launch()  # back, as the standby now
    await wait_until(lambda: "standing by" in a.output[mark:], timeout=30, what="A standing by")
    assert await a.stop() == 0, a.output  # a standby stops on SIGTERM too

"""Every node serving (``DESK_REPLICAS``, issue 15): two real server processes on one PostgreSQL
and one redis-server, both taking sockets and taps. What a follower shows is the leader's desk
(its replica); what it is asked goes to the leader; one party has one connection across the
nodes; a follower that dies leaves no ghost behind (presence).

The scenarios every topology runs (a call, a transfer, a callback, the leader killed) are in
test_topologies.py ("every node serving").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import socketio

from tests.integration.test_topologies import Deployment, media, ready, two_nodes
from tests.support.harness import Clients, Party, wait_until
from tests.support.peers import ClientPeer
from tests.support.process import ServerProcess
from videoassist.auth import hash_password
from videoassist.store.records import Records

pytestmark = pytest.mark.timeout(180)

PRESENCE_TTL = 2.0
GRACE = 2.0


class Node(Clients):
    """Clients of one node, as the load balancer would send a browser there."""

    def __init__(self, server: ServerProcess, http: aiohttp.ClientSession) -> None:
        self.url = server.url
        self.http = http
        self._parties: list[Party] = []


@pytest.fixture
async def nodes(
    tmp_path: Path, postgres_url: str, redis_server: object
) -> AsyncIterator[Deployment]:
    d = two_nodes(
        tmp_path,
        postgres_url,
        redis_server.url,  # type: ignore[attr-defined]
        serving=True,
        presence_ttl=str(PRESENCE_TTL),
        customer_grace=str(GRACE),
    )
    await d.add_agents("alice", "bob")
    try:
        await d.start()
        yield d
    finally:
        await d.stop()


@pytest.fixture
async def on_a(nodes: Deployment) -> AsyncIterator[Node]:
    async with aiohttp.ClientSession(nodes.nodes[0].url) as http:
        node = Node(nodes.nodes[0], http)
        yield node
        for party in node._parties:
            await party.close()


@pytest.fixture
async def on_b(nodes: Deployment) -> AsyncIterator[Node]:
    async with aiohttp.ClientSession(nodes.nodes[1].url) as http:
        node = Node(nodes.nodes[1], http)
        yield node
        for party in node._parties:
            await party.close()


async def test_both_nodes_serve_one_desk(on_a: Node, on_b: Node, peers: list[ClientPeer]) -> None:
    # Taps on either node join one line, in the order they came.
    first = await on_a.tap(description="tapped on the leader")
    second = await on_b.tap(description="tapped on the follower")
    one = await on_a.customer(first["token"])
    two = await on_b.customer(second["token"])
    # What either node shows is the same desk (the follower's a replica of the leader's).
    for page in (one, two):
        await wait_until(lambda p=page: _position(p, None), timeout=5)
    assert [(await p.call("sync"))["position"] for p in (one, two)] == [1, 2]
    page_on_b = await on_b.customer(first["token"])  # the first customer, on the other node
    assert (await page_on_b.call("sync"))["position"] == 1
    await one.inbox.next("replaced")  # one connection per customer, across the nodes
    one = page_on_b

    # An agent on the follower takes the customer whose page is on the leader.
    bob, cookie = await ready(on_b, "bob")
    offer = await bob.inbox.next("offer")
    assert offer["ticket_id"] == first["ticket_id"]
    session_id = (await bob.call("accept", {"ticket_id": first["ticket_id"]}))["session_id"]
    await one.inbox.next("matched")
    console = await media(bob, "blue", session_id, peers)
    camera = await media(one, "red", session_id, peers)
    await console.sees("red")
    await camera.sees("blue")
    said = await one.call("chat", {"session_id": session_id, "text": "hello from node b"})
    assert said.get("ok", True) is not False
    heard = await bob.inbox.next("chat")
    assert heard["text"] == "hello from node b"
    # The second customer moved up, as the leader's desk told their page on the follower.
    await wait_until(lambda: _position(two, 1), timeout=5, what="the second customer first")

    # Bob's console opened again on the leader: the follower's connection is replaced, and
    # the desk never hears that Bob left (he is in the call still).
    console_on_a = await on_a.agent(cookie)
    await bob.inbox.next("replaced")
    view = await console_on_a.call("sync")
    assert (view["state"], view["session_id"]) == ("busy", session_id)
    assert (await console_on_a.call("hangup", {"session_id": session_id})) == {"ok": True}
    await one.inbox.next("session_ended")


async def _position(page: Party, expected: int | None) -> bool:
    view = await page.call("sync")
    return view.get("position") is not None and (expected is None or view["position"] == expected)


async def test_a_dead_followers_parties_come_back_or_are_let_go(
    nodes: Deployment, on_a: Node, on_b: Node
) -> None:
    staying = await on_b.tap(description="comes back to the leader")
    leaving = await on_b.tap(description="never comes back")
    pages = [await on_b.customer(t["token"]) for t in (staying, leaving)]
    for page in pages:
        await wait_until(lambda p=page: _position(p, None), timeout=5)
    bob, _ = await ready(on_b, "bob")
    assert (await bob.call("away", {"reason": "break"})) == {"ok": True}
    await wait_until(lambda: _away(bob), timeout=5)
    follower = nodes.nodes[1]
    await follower.stop(kill=True)  # no disconnect reaches anyone: presence lapses
    killed_at = time.monotonic()

    # The first customer's page reconnects to the leader (the load balancer's pick).
    back = await on_a.customer(staying["token"])
    view = await back.call("sync")
    assert (view["state"], view["position"]) == ("queued", 1)

    # The other customer and Bob are connected nowhere: the leader's sweep tells the desk, the
    # customer's grace runs out, and the line is the one customer who came back.
    async def let_go() -> bool:
        row = await _ticket(nodes, leaving["ticket_id"])
        return row is not None and row["status"] not in ("queued", "joining", "offered")

    await wait_until(let_go, timeout=PRESENCE_TTL * 4 + GRACE + 15, what="the absent customer")
    # Never before their node's claims could lapse and stay lapsed, and then their grace.
    assert time.monotonic() - killed_at >= PRESENCE_TTL + GRACE
    view = await back.call("sync")
    assert (view["state"], view["position"]) == ("queued", 1)
    assert await _agent_state(nodes, "bob") == "offline"
    alice, _ = await ready(on_a, "alice")
    offer = await alice.inbox.next("offer")
    assert offer["ticket_id"] == staying["ticket_id"]


async def _away(agent: Party) -> bool:
    return (await agent.call("sync"))["state"] == "away"


async def _ticket(nodes: Deployment, ticket_id: str) -> dict[str, object] | None:
    records = Records.open(nodes.database_url)
    try:
        return await records.ticket(ticket_id)
    finally:
        await records.close()


async def _agent_state(nodes: Deployment, username: str) -> str | None:
    records = Records.open(nodes.database_url)
    try:
        user = await records.user_by_name(username)
        assert user is not None
        return (await records.last_agent_states()).get(f"u{user['id']}")
    finally:
        await records.close()


async def test_an_admins_change_on_one_node_reaches_the_other(
    nodes: Deployment, on_a: Node, on_b: Node
) -> None:
    records = Records.open(nodes.database_url)
    try:
        await records.add_user("root", "Root", hash_password("pw-root-1"), "admin", time.time())
    finally:
        await records.close()
    cookie = await on_b.login("root", "pw-root-1")  # the admin works on the follower
    assert on_b.http is not None
    async with on_b.http.put(
        "/api/admin/topics/vpn",
        json={"label": "VPN trouble", "queue_id": "general", "priority": 5},
        headers={"Cookie": f"va_session={cookie}"},
    ) as r:
        assert r.status == 201, await r.text()

    async def offered_on(node: Node) -> bool:
        assert node.http is not None
        async with node.http.get("/api/topics") as r:
            topics = await r.json()
        return {"topic": "vpn", "label": "VPN trouble"}.items() <= next(
            (t for t in topics if t["topic"] == "vpn"), {}
        ).items()

    # The routing (the leader's desk, then the replica) and the label (each node's own) both.
    await wait_until(lambda: offered_on(on_a), timeout=5, what="the topic on the leader")
    await wait_until(lambda: offered_on(on_b), timeout=5, what="the topic on the follower")
    ticket = await on_a.tap(topic="vpn")
    assert ticket["position"] == 1


async def test_a_logout_on_one_node_closes_the_console_on_the_other(
    nodes: Deployment, on_a: Node, on_b: Node
) -> None:
    bob, cookie = await ready(on_b, "bob")  # his console is on the follower
    assert on_a.http is not None
    async with on_a.http.post("/api/logout", headers={"Cookie": f"va_session={cookie}"}) as r:
        assert r.status == 204  # he logs out in a tab that the leader served

    async def closed() -> bool:
        return not bob.client.connected

    await wait_until(closed, timeout=5, what="the console on the follower closed")
    # Signed out at once (a kick has no grace), and his session no longer opens a console.
    await wait_until(lambda: _state_is(nodes, "bob", "offline"), timeout=5, what="bob signed out")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await on_b.agent(cookie)


async def _state_is(nodes: Deployment, username: str, state: str) -> bool:
    return await _agent_state(nodes, username) == state


async def test_the_leader_killed_the_follower_goes_on_and_its_pages_stay_connected(
    nodes: Deployment, on_b: Node, peers: list[ClientPeer]
) -> None:
    """The follower takes the desk over from its replica: the pages and consoles connected
    to it are not disconnected, and the new leader carries on with them."""
    tickets = [await on_b.tap(description=f"customer {n}") for n in range(2)]
    pages = [await on_b.customer(t["token"]) for t in tickets]
    for page in pages:
        await wait_until(lambda p=page: _position(p, None), timeout=5)
    bob, _ = await ready(on_b, "bob")
    await bob.inbox.next("offer")
    session_id = (await bob.call("accept", {"ticket_id": tickets[0]["ticket_id"]}))["session_id"]
    await pages[0].inbox.next("matched")
    camera = await media(pages[0], "red", session_id, peers)
    await (await media(bob, "blue", session_id, peers)).sees("red")
    await camera.sees("blue")
    alice = await on_b.agent(await on_b.login("alice", "pw-alice-1"))  # signed in, away
    leader, follower = nodes.nodes
    # Alice goes Ready as the leader dies: her change is made once and acknowledged.
    toggled = asyncio.create_task(alice.call("ready", timeout=20))  # as the console waits
    await leader.stop(kill=True)
    await wait_until(
        lambda: "desk went on from its replica" in follower.output,
        timeout=30,
        what=lambda: f"the follower leading:\n{follower.output[-3000:]}",
    )
    assert await asyncio.wait_for(toggled, 25) == {"ok": True}

    # Nobody on the follower was asked to connect again; what they see is the same desk.
    assert all(party.client.connected for party in (*pages, bob, alice))
    view = await pages[1].call("sync")
    assert view["state"] in ("queued", "offered")
    console = await bob.call("sync")
    assert (console["state"], console["session_id"]) == ("busy", session_id)
    # The new leader serves them: the next customer rings Alice, and Bob's call ends.
    offer = await alice.inbox.next("offer")
    assert offer["ticket_id"] == tickets[1]["ticket_id"]
    assert (await bob.call("hangup", {"session_id": session_id})) == {"ok": True}
    await pages[0].inbox.next("session_ended")
    wrapped = await bob.call("wrap_up", {"session_id": session_id, "disposition": "resolved"})
    assert wrapped == {"ok": True}
    assert all(party.client.connected for party in (pages[1], bob, alice))

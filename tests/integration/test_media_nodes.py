"""Calls' media on media nodes (issue 15): real processes on one PostgreSQL and one redis-server.

The desk's node (``MEDIA_PLACEMENT``) holds every browser's socket; media nodes
(``NODE_ROLE=media``) carry the calls placed on them. Clients and aiortc peers talk to the
desk's node only, as browsers behind the load balancer do; their media goes to the node the call
was placed on. What is checked here beyond the shared scenarios of ``test_topologies.py``:
placement by room, everything a call does (chat, marks, a still, a photo, recording, a
supervisor) carried out on a remote node, and a media node stopped or killed mid-call.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from redis.asyncio import Redis

from tests.integration.test_authorization_matrix import supervisor_offer_without_candidates
from tests.integration.test_topologies import (
    SECRET,
    Browsers,
    _settings,
    browsers,
    media,
    ready,
    session_row,
)
from tests.support.harness import Party, wait_until
from tests.support.peers import ClientPeer
from tests.support.ports import free_port
from tests.support.process import ServerProcess
from tests.support.receiver import Receiver
from videoassist.auth import hash_password
from videoassist.cluster.placement import HEARTBEAT_TTL, NodeLoad, Placement
from videoassist.desk.config import DEFAULT_QUEUE
from videoassist.store.records import Records

pytestmark = pytest.mark.timeout(180)


def _photo() -> bytes:
    image = np.full((120, 160, 3), (40, 160, 220), dtype=np.uint8)
    return bytes(cv2.imencode(".jpg", image)[1])


class Cluster:
    """A desk node and media nodes; they share the database, Redis, the secret and the data
    directory (recordings and photos are written where the call's media is)."""

    def __init__(self, tmp_path: Path, database_url: str, redis_url: str) -> None:
        self.data_dir = tmp_path / "shared"
        self.data_dir.mkdir()
        self.database_url = database_url
        self.redis_url = redis_url
        self.common = {
            "database_url": database_url,
            "redis_url": redis_url,
            "secret_key": SECRET,
            "webhook_allow_private": "true",  # the tests' receiver is on loopback
        }
        self.desk: ServerProcess | None = None
        self.media: dict[str, ServerProcess] = {}

    async def start(self, *, desk_capacity: int, media: dict[str, int], drain: float = 60) -> None:
        self.desk = ServerProcess(
            self.data_dir,
            free_port(),
            node_id="desk",
            media_placement="true",
            media_capacity=str(desk_capacity),
            **self.common,
        )
        await self.desk.start()  # it migrates the database
        for name, capacity in media.items():
            await self.add_media(name, capacity, drain)

    async def add_media(self, name: str, capacity: int, drain: float = 60) -> None:
        node = ServerProcess(
            self.data_dir,
            free_port(),
            node_id=name,
            node_role="media",
            media_capacity=str(capacity),
            media_drain_timeout=str(drain),
            metrics_port=str(free_port()),
            **self.common,
        )
        await node.start()
        self.media[name] = node

    async def add_staff(self, *people: tuple[str, str]) -> None:
        records = Records.open(self.database_url)
        try:
            await records.migrate()
            for name, role in people:
                await records.add_user(
                    name, name.title(), hash_password(f"pw-{name}-1"), role, time.time()
                )
        finally:
            await records.close()

    async def loads(self) -> dict[str, NodeLoad]:
        redis = Redis.from_url(self.redis_url)
        try:
            return {load.node: load for load in await Placement(redis).loads()}
        finally:
            await redis.aclose()

    async def live(self) -> dict[str, int]:
        return {node: load.live for node, load in (await self.loads()).items()}

    async def stop(self) -> None:
        for node in [*self.media.values(), *([self.desk] if self.desk else [])]:
            if node.proc is not None and node.proc.returncode is None:
                await node.stop(kill=True)


@pytest.fixture
async def cluster(tmp_path: Path, postgres_url: str, redis_server: Any) -> AsyncIterator[Cluster]:
    made = Cluster(tmp_path, postgres_url, redis_server.url)
    try:
        yield made
    finally:
        await made.stop()


async def until(check: Callable[[], Awaitable[Any]], expected: Any, what: str) -> None:
    seen: list[Any] = [None]

    async def held() -> bool:
        seen[0] = await check()
        return bool(seen[0] == expected)

    await wait_until(held, 20, lambda: f"{what}: {seen[0]!r}", interval=0.2)


async def accepted(clients: Browsers, agent: Party) -> tuple[Party, dict[str, Any], str]:
    """A customer taps and ``agent`` accepts: (customer, ticket, session id)."""
    ticket = await clients.tap()
    customer = await clients.customer(ticket["token"])
    await agent.inbox.next("offer")
    session_id = (await agent.call("accept", {"ticket_id": ticket["ticket_id"]}))["session_id"]
    await customer.inbox.next("matched")
    return customer, ticket, session_id


async def call(
    clients: Browsers, agent: Party, peers: list[ClientPeer], colours: tuple[str, str]
) -> tuple[Party, str]:
    """A customer taps, ``agent`` accepts, both see each other: (customer, session id)."""
    customer, _, session_id = await accepted(clients, agent)
    camera = await media(customer, colours[0], session_id, peers)
    await (await media(agent, colours[1], session_id, peers)).sees(colours[0])
    await camera.sees(colours[1])
    return customer, session_id


async def test_calls_go_to_the_node_with_the_most_room_then_to_the_desk_when_all_are_full(
    cluster: Cluster, peers: list[ClientPeer]
) -> None:
    await cluster.add_staff(("alice", "agent"), ("bob", "agent"), ("carol", "agent"))
    await cluster.start(desk_capacity=0, media={"m1": 1, "m2": 1})
    assert cluster.desk is not None
    async with browsers(cluster.desk) as clients:
        agents = [(await ready(clients, name))[0] for name in ("alice", "bob", "carol")]
        await call(clients, agents[0], peers, ("red", "blue"))
        await call(clients, agents[1], peers, ("green", "red"))
        # One call on each media node: the second went where there was room.
        await until(cluster.live, {"desk": 0, "m1": 1, "m2": 1}, "calls per node")
        # Each media node's own metrics say so too (calls, two peer connections each).
        assert clients.http is not None
        for node in cluster.media.values():
            port = node.env["VIDEOASSIST_METRICS_PORT"]
            async with clients.http.get(f"http://127.0.0.1:{port}/metrics") as r:
                text = await r.text()
            assert "videoassist_live_calls 1.0" in text, text
            assert "videoassist_peer_connections 2.0" in text
            assert "videoassist_queue_waiting" not in text  # no desk there
        # Every media node is full: the call goes ahead on the desk's node rather than not at all.
        await call(clients, agents[2], peers, ("blue", "green"))
        await until(cluster.live, {"desk": 1, "m1": 1, "m2": 1}, "calls per node")


async def test_a_call_on_a_media_node_does_everything_a_call_does(
    cluster: Cluster, peers: list[ClientPeer]
) -> None:
    await cluster.add_staff(("alice", "agent"), ("ada", "admin"), ("sue", "supervisor"))
    await cluster.start(desk_capacity=0, media={"m1": 4})
    assert cluster.desk is not None
    receiver = Receiver()
    await receiver.start()
    async with browsers(cluster.desk) as clients:
        assert clients.http is not None
        admin = await clients.login("ada", "pw-ada-1")
        async with clients.http.put(
            f"/api/admin/queues/{DEFAULT_QUEUE}",
            json={"name": "General", "recording": "ask"},
            headers={"Cookie": f"va_session={admin}"},
        ) as r:
            assert r.status in (200, 201), await r.text()
        # The media node publishes the recording's webhook into the shared outbox itself.
        async with clients.http.post(
            "/api/admin/webhooks",
            json={"url": receiver.url, "events": ["recording.ready"]},
            headers={"Cookie": f"va_session={admin}"},
        ) as r:
            assert r.status == 201, await r.text()
            secret = (await r.json())["secret"]
        agent, _ = await ready(clients, "alice")
        customer, ticket, session_id = await accepted(clients, agent)
        # Recording: the media node asks the customer, through the desk node's socket.
        asked = await customer.inbox.next("recording_consent_requested")
        assert asked == {"session_id": session_id}
        camera = await media(customer, "red", session_id, peers)
        await (await media(agent, "blue", session_id, peers)).sees("red")
        await camera.sees("blue")
        assert await cluster.live() == {"desk": 0, "m1": 1}
        consent = await customer.call(
            "recording_consent", {"session_id": session_id, "accept": True}
        )
        assert consent["consent"] == "accepted", consent

        # Chat both ways, and the room as a page reloading would read it.
        assert "id" in await customer.call("chat", {"session_id": session_id, "text": "hello"})
        assert (await agent.inbox.next("chat"))["text"] == "hello"
        room = await agent.call("room", {"session_id": session_id})
        assert [line["text"] for line in room["chat"]] == ["hello"]
        assert room["recording"]["consent"] == "accepted"

        # A mark reaches the customer; a refused one is refused with the node's own code.
        mark = {"kind": "arrow", "id": "a1", "from": [0.1, 0.1], "to": [0.5, 0.5]}
        drawn = await agent.call(
            "annotate", {"session_id": session_id, "target": "live", "annotation": mark}
        )
        assert drawn == {"ok": True, "id": "a1"}, drawn
        assert (await customer.inbox.next("annotation"))["annotation"]["id"] == "a1"
        again = await agent.call(
            "annotate", {"session_id": session_id, "target": "live", "annotation": mark}
        )
        assert again["error"]["code"] == "duplicate", again

        # A still, taken from the customer's video on the media node, served by the desk node.
        still = await agent.call("freeze", {"session_id": session_id})
        assert "url" in still, still
        async with clients.http.get(still["url"]) as r:
            assert r.status == 200 and (await r.read())[:2] == b"\xff\xd8"  # a JPEG

        # A photo, uploaded to the desk node, kept by the media node, shown to the agent.
        async with clients.http.post(
            f"/api/calls/{session_id}/photos",
            data=_photo(),
            headers={"Authorization": f"Bearer {ticket['token']}", "Content-Type": "image/jpeg"},
        ) as r:
            assert r.status == 201, await r.text()
        assert "url" in await agent.inbox.next("photo")

        # A supervisor joins the call on the media node and sees its events.
        sue_cookie = await clients.login("sue", "pw-sue-1")
        sue = await clients._party("/supervisor", cookie=sue_cookie)
        sdp = await supervisor_offer_without_candidates()
        reply = await sue.call(
            "supervise", {"session_id": session_id, "mode": "barge", "type": "offer", "sdp": sdp}
        )
        assert reply["type"] == "answer" and "a1" in str(reply["room"]), reply
        assert (await customer.inbox.next("supervision"))["mode"] == "barge"
        await agent.call("chat", {"session_id": session_id, "text": "one moment"})
        event = await sue.inbox.next("call_event")
        assert event["kind"] == "chat" and event["data"]["text"] == "one moment"
        told = len(customer.inbox.events)
        assert (await sue.call("leave", {"session_id": session_id})) == {"ok": True}
        assert (await customer.inbox.next("supervision", after=told))["mode"] is None

        # The media node samples the call's quality; the wallboard shows it.
        async def sampled() -> bool:
            floor = await sue.call("sync")
            calls = [c for c in floor["calls"] if c["session_id"] == session_id]
            return bool(calls) and calls[0]["quality"] is not None

        await wait_until(sampled, 20, "the media node's first quality sample", interval=0.2)
        assert (await agent.call("hangup", {"session_id": session_id})) == {"ok": True}
        await until(cluster.live, {"desk": 0, "m1": 0}, "calls per node")

    # The recording was written on the media node, into the shared directory, and finished.
    async def finished() -> bool:
        records = Records.open(cluster.database_url)
        try:
            rows = await records.recordings_of(session_id)
        finally:
            await records.close()
        return bool(rows) and rows[0]["ended_at"] is not None and bool(rows[0]["files"])

    await wait_until(finished, 20, "the media node's recording finished", interval=0.2)
    try:
        await wait_until(
            lambda: bool(receiver.of("recording.ready")), 20, "the recording's webhook"
        )
        (hook,) = receiver.of("recording.ready")
        assert hook.verifies(secret)
        assert hook.event["data"]["call_id"] == session_id, hook.event
    finally:
        await receiver.stop()

    # The desk's canonical line for the call carries the quality the media node measured.
    def call_finished() -> list[dict[str, Any]]:
        assert cluster.desk is not None
        lines = [line for line in cluster.desk.output.splitlines() if "call_finished" in line]
        return [json.loads(line) for line in lines if line.startswith("{")]

    await wait_until(lambda: bool(call_finished()), 10, "the desk's call_finished line")
    quality = call_finished()[0]["quality"]
    assert set(quality) == {"customer", "agent"}, quality
    assert all(leg["samples"] >= 1 for leg in quality.values()), quality


async def test_a_node_starting_leaves_a_recording_another_node_writes_alone(
    cluster: Cluster, peers: list[ClientPeer]
) -> None:
    """A node repairs at start the recordings a crash left unfinished; not one that another
    live node is writing (remuxing a file being written would spoil it)."""
    await cluster.add_staff(("alice", "agent"))
    records = Records.open(cluster.database_url)
    try:
        await records.put_queue(DEFAULT_QUEUE, "General", {"recording": "always"})
    finally:
        await records.close()
    await cluster.start(desk_capacity=0, media={"m1": 4})
    assert cluster.desk is not None
    async with browsers(cluster.desk) as clients:
        agent, _ = await ready(clients, "alice")
        _, session_id = await call(clients, agent, peers, ("red", "blue"))
        await until(lambda: _recording(cluster, session_id), (None, False), "being recorded")
        await cluster.add_media("m2", 4)  # it repairs what crashes left unfinished
        assert await _recording(cluster, session_id) == (None, False)
        assert (await agent.call("hangup", {"session_id": session_id})) == {"ok": True}

    async def finished() -> bool:
        ended, repaired = await _recording(cluster, session_id)
        return ended is not None and not repaired

    await wait_until(finished, 20, "the recording finished by its own node", interval=0.2)


async def _recording(cluster: Cluster, session_id: str) -> tuple[float | None, bool] | None:
    """(when it ended, whether a start-up repaired it) of the call's recording, if any."""
    records = Records.open(cluster.database_url)
    try:
        rows = await records.recordings_of(session_id)
    finally:
        await records.close()
    return (rows[0]["ended_at"], bool(rows[0]["repaired"])) if rows else None


async def moved(
    customer: Party,
    agent: Party,
    session_id: str,
    peers: list[ClientPeer],
    colours: tuple[str, str],
) -> None:
    """Both pages were told the call's media moved: each offers anew, and they see each other."""
    call_id = (await customer.inbox.next("media_moved", timeout=40))["session_id"]
    assert (await agent.inbox.next("media_moved", timeout=10)) == {"session_id": session_id}
    for peer in peers:
        await peer.close()
    camera = await media(customer, colours[0], call_id, peers)
    await (await media(agent, colours[1], session_id, peers)).sees(colours[0])
    await camera.sees(colours[1])


async def test_a_killed_media_nodes_call_moves_to_another_node_and_goes_on(
    cluster: Cluster, peers: list[ClientPeer]
) -> None:
    await cluster.add_staff(("alice", "agent"))
    await cluster.start(desk_capacity=0, media={"m1": 4, "m2": 2})
    assert cluster.desk is not None
    async with browsers(cluster.desk) as clients:
        agent, _ = await ready(clients, "alice")
        customer, session_id = await call(clients, agent, peers, ("red", "blue"))
        await customer.call("chat", {"session_id": session_id, "text": "before"})
        assert (await cluster.live())["m1"] == 1  # the node with the most room
        killed_at = time.monotonic()
        await cluster.media["m1"].stop(kill=True)
        await moved(customer, agent, session_id, peers, ("green", "red"))
        print(
            f"media node killed: the call's parties saw each other again after "
            f"{time.monotonic() - killed_at:.1f} s"
        )
        await until(cluster.live, {"desk": 0, "m2": 1}, "calls per node")
        # The same call, its room as it was.
        room = await agent.call("room", {"session_id": session_id})
        assert [line["text"] for line in room["chat"]] == ["before"]
        assert (await agent.call("hangup", {"session_id": session_id})) == {"ok": True}
    row = await session_row(cluster, session_id)
    assert row["end_reason"] == "agent_hung_up", row
    # One interruption on record, counted from the dead node's last heartbeat (at least its
    # time to live before the desk could notice) to the call open again.
    assert row["interruptions"] == 1 and row["interrupted_seconds"] >= HEARTBEAT_TTL, row


async def test_a_media_node_restarted_at_once_has_its_call_opened_again(
    cluster: Cluster, peers: list[ClientPeer]
) -> None:
    """Back before its heartbeat lapsed, it no longer has the call: the desk notices from the
    node's own report, not from its heartbeat."""
    await cluster.add_staff(("alice", "agent"))
    await cluster.start(desk_capacity=0, media={"m1": 4})
    assert cluster.desk is not None
    async with browsers(cluster.desk) as clients:
        agent, _ = await ready(clients, "alice")
        customer, session_id = await call(clients, agent, peers, ("red", "blue"))
        node = cluster.media["m1"]
        await node.stop(kill=True)
        again = ServerProcess(node.data_dir, node.port, **_settings(node))
        cluster.media["m1"] = again
        await again.start()
        await moved(customer, agent, session_id, peers, ("green", "red"))
        await until(cluster.live, {"desk": 0, "m1": 1}, "calls per node")


async def _nodes(cluster: Cluster) -> set[str]:
    return set(await cluster.loads())


async def test_a_stopped_media_node_takes_no_new_calls_and_lets_its_live_one_finish(
    cluster: Cluster, peers: list[ClientPeer]
) -> None:
    await cluster.add_staff(("alice", "agent"), ("bob", "agent"))
    await cluster.start(desk_capacity=0, media={"m1": 4, "m2": 1})
    assert cluster.desk is not None
    async with browsers(cluster.desk) as clients:
        alice, _ = await ready(clients, "alice")
        _, first = await call(clients, alice, peers, ("red", "blue"))
        live = await cluster.live()
        draining = next(node for node, calls in live.items() if calls == 1)
        assert draining == "m1", live  # the node with the most room
        node = cluster.media[draining]
        assert node.proc is not None
        node.proc.terminate()  # SIGTERM: drain
        await until(lambda: _draining(cluster), {"m1"}, "the stopped node draining, the others not")
        bob, _ = await ready(clients, "bob")
        await call(clients, bob, peers, ("green", "red"))
        await until(cluster.live, {"desk": 0, "m1": 1, "m2": 1}, "calls per node")
        # The live call goes on while the node drains...
        assert "id" in await alice.call("chat", {"session_id": first, "text": "still here"})
        assert node.proc.returncode is None
        # ... and once it ends, the node exits by itself.
        assert (await alice.call("hangup", {"session_id": first})) == {"ok": True}
        assert await asyncio.wait_for(node.proc.wait(), 30) == 0


async def _draining(cluster: Cluster) -> set[str]:
    return {node for node, load in (await cluster.loads()).items() if load.draining}


async def test_the_desks_node_restarting_leaves_the_calls_media_where_it_is(
    cluster: Cluster, peers: list[ClientPeer]
) -> None:
    """The desk's node dies mid-call and comes back: the call, restored by the desk, stays
    on its media node with its room as it was (even the marks on the live video, which a call
    opened anew from its event log would not have); the pages come back and offer into it."""
    await cluster.add_staff(("alice", "agent"))
    await cluster.start(desk_capacity=0, media={"m1": 4, "m2": 4})
    assert cluster.desk is not None
    async with browsers(cluster.desk) as clients:
        agent, cookie = await ready(clients, "alice")
        customer, ticket, session_id = await accepted(clients, agent)
        await media(customer, "red", session_id, peers)
        await (await media(agent, "blue", session_id, peers)).sees("red")
        mark = {"kind": "arrow", "id": "a1", "from": [0.1, 0.1], "to": [0.5, 0.5]}
        drawn = await agent.call(
            "annotate", {"session_id": session_id, "target": "live", "annotation": mark}
        )
        assert drawn["id"] == "a1", drawn
        before = await cluster.live()
        (carrier,) = [n for n, calls in before.items() if calls == 1]
        await cluster.desk.stop(kill=True)
    for peer in peers:
        await peer.close()
    desk = ServerProcess(cluster.desk.data_dir, cluster.desk.port, **_settings(cluster.desk))
    cluster.desk = desk
    await desk.start()
    async with browsers(desk) as clients:
        customer = await clients.customer(ticket["token"])
        assert (await customer.call("sync"))["state"] == "live"
        agent = await clients.agent(cookie)
        assert (await agent.call("sync"))["session_id"] == session_id
        camera = await media(customer, "green", session_id, peers)
        await (await media(agent, "blue", session_id, peers)).sees("green")
        await camera.sees("blue")
        room = await agent.call("room", {"session_id": session_id})
        assert [m["id"] for m in room["annotations"].get("live", [])] == ["a1"], room
        assert await cluster.live() == before  # on the same node, not opened anew elsewhere
        assert carrier != "desk"


async def test_a_stopped_media_nodes_calls_still_live_move_when_its_drain_runs_out(
    cluster: Cluster, peers: list[ClientPeer]
) -> None:
    await cluster.add_staff(("alice", "agent"))
    await cluster.start(desk_capacity=0, media={"m1": 4, "m2": 1}, drain=1)
    assert cluster.desk is not None
    async with browsers(cluster.desk) as clients:
        agent, _ = await ready(clients, "alice")
        customer, session_id = await call(clients, agent, peers, ("red", "blue"))
        node = cluster.media["m1"]
        assert node.proc is not None and (await cluster.live())["m1"] == 1
        node.proc.terminate()  # SIGTERM, and the call is not over within the drain
        await moved(customer, agent, session_id, peers, ("green", "red"))
        assert await asyncio.wait_for(node.proc.wait(), 30) == 0
        await until(cluster.live, {"desk": 0, "m2": 1}, "calls per node")


async def test_a_node_taken_for_dead_that_comes_back_lets_the_moved_call_be(
    cluster: Cluster, peers: list[ClientPeer]
) -> None:
    """Paused past its heartbeat (a stalled VM): its call moves; back, it is told to close its
    old session of the call, and what it says of that session (ICE failing) ends nothing."""
    await cluster.add_staff(("alice", "agent"))
    await cluster.start(desk_capacity=0, media={"m1": 4, "m2": 1})
    assert cluster.desk is not None
    async with browsers(cluster.desk) as clients:
        agent, _ = await ready(clients, "alice")
        customer, session_id = await call(clients, agent, peers, ("red", "blue"))
        node = cluster.media["m1"]
        node.pause()
        try:
            await moved(customer, agent, session_id, peers, ("green", "red"))
        finally:
            node.resume()
        await until(cluster.live, {"desk": 0, "m1": 0, "m2": 1}, "the old session closed")
        told = len(customer.inbox.events)
        assert "id" in await customer.call("chat", {"session_id": session_id, "text": "ok?"})
        assert "session_ended" not in customer.inbox.names()[told:]
        assert (await agent.call("hangup", {"session_id": session_id})) == {"ok": True}
    row = await session_row(cluster, session_id)
    assert row["end_reason"] == "agent_hung_up", row

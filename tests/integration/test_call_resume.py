"""A live call outlives a dropped connection and a server crash (issue 15): real socket.io
clients and aiortc peers; after a drop or a restart each side reconnects, offers media anew, and
the picture flows again in the same call, whose record counts the interruption."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.calls import live_call, ready_agent
from tests.support.harness import Clients, Harness, Party, wait_until
from tests.support.peers import ClientPeer
from tests.support.ports import free_port
from tests.support.process import ServerProcess
from videoassist.auth import hash_password
from videoassist.desk.config import DEFAULT_QUEUE
from videoassist.media.recorder import probe_duration
from videoassist.store.records import Records


async def media(party: Party, colour: str, session_id: str) -> ClientPeer:
    peer = ClientPeer(colour)
    await peer.connect(party.client, party.namespace, session_id)
    return peer


@pytest.mark.settings(call_resume_window=20.0)
class TestDroppedConnections:
    async def test_a_customer_who_reconnects_in_time_is_back_in_the_same_call(
        self, harness: Harness
    ) -> None:
        customer, agent, session_id, ticket = await live_call(harness)
        agent_peer = await media(agent, "blue", session_id)
        customer_peer = await media(customer, "red", session_id)
        peers = [agent_peer, customer_peer]
        try:
            await agent_peer.sees("red")
            await customer.close()
            await customer_peer.close()
            dropped = await agent.inbox.next("peer_dropped")
            assert (dropped["party"], dropped["session_id"]) == ("customer", session_id)
            assert harness.service.desk.ticket_state(ticket["ticket_id"]) == "live"

            back = await harness.customer(ticket["token"])
            view = await back.call("sync")
            assert (view["state"], view["session_id"]) == ("live", session_id)
            returned = await agent.inbox.next("peer_returned")
            assert returned == {"session_id": session_id, "party": "customer"}
            peers.append(await media(back, "green", session_id))
            await agent_peer.sees("green")  # the agent's own peer connection never changed
            await peers[-1].sees("blue")
        finally:
            for peer in peers:
                await peer.close()
        row = await harness.records.session(session_id)
        assert row is not None and row["ended_at"] is None
        assert row["interruptions"] == 1 and 0 < row["interrupted_seconds"] < 20

    async def test_an_agent_whose_console_reloads_is_back_in_the_same_call(
        self, harness: Harness
    ) -> None:
        cookie = await harness.add_staff("alice")
        first = await ready_agent(harness, cookie=cookie)
        customer, agent, session_id, _ = await live_call(harness, first)
        customer_peer = await media(customer, "red", session_id)
        agent_peer = await media(agent, "blue", session_id)
        peers = [customer_peer, agent_peer]
        try:
            await customer_peer.sees("blue")
            await agent.close()
            await agent_peer.close()
            dropped = await customer.inbox.next("peer_dropped")
            assert dropped["party"] == "agent" and dropped["seconds"] > 0

            console = await harness.agent(cookie)
            view = await console.call("sync")
            assert view["state"] == "busy" and view["session"]["session_id"] == session_id
            assert (await customer.inbox.next("peer_returned"))["party"] == "agent"
            peers.append(await media(console, "green", session_id))
            await customer_peer.sees("green")
        finally:
            for peer in peers:
                await peer.close()

    @pytest.mark.settings(call_resume_window=0.5)
    async def test_not_back_in_time_the_call_ends_and_its_media_closes(
        self, harness: Harness
    ) -> None:
        customer, agent, session_id, _ = await live_call(harness)
        peer = await media(customer, "red", session_id)
        try:
            await agent.close()
            ended = await customer.inbox.next("session_ended")
            assert ended == {"session_id": session_id, "reason": "agent_disconnected"}
            await wait_until(lambda: harness.hub.peer_connections == 0, what="media torn down")
        finally:
            await peer.close()
        row = await harness.records.session(session_id)
        assert row is not None and row["end_reason"] == "agent_disconnected"
        # The wait ran its whole length: the timer's own moment, not a measured time.
        assert row["interruptions"] == 1
        assert row["interrupted_seconds"] == pytest.approx(0.5, abs=1e-6)


async def recorded_for(path: Path, seconds: float) -> None:
    """Until the recording has gone on for ``seconds`` since its file appeared."""
    await wait_until(path.exists, 10.0, what=f"{path.parent.name}/{path.name}")
    since = time.monotonic()
    await wait_until(lambda: time.monotonic() - since >= seconds, seconds + 1.0, what="recording")


class _Remote(Clients):
    def __init__(self, url: str, http: aiohttp.ClientSession) -> None:
        self.url = url
        self.http = http
        self._parties: list[Party] = []


@pytest.mark.parametrize("how", ["crash", "drain"])
async def test_a_live_call_comes_back_after_the_server_stops(tmp_path: Path, how: str) -> None:
    """SIGKILL (a crash) or SIGTERM (a drain, which hands live calls over) mid-call; the
    restarted server restores the call, both sides reconnect and offer media anew (new peer
    connections on the new process), and the picture flows both ways in the same session; its
    record shows the interruption. The call was recorded with the customer's consent: the
    restarted server records on in part 2 without asking again. Prints how long after the
    server was up again the picture was back."""
    records = Records.open(f"sqlite+aiosqlite:///{tmp_path / 'videoassist.db'}")
    await records.migrate()
    await records.put_queue(DEFAULT_QUEUE, "General", {"recording": "ask"})
    await records.add_user("alice", "Alice", hash_password("pw-alice-1"), "agent", 0.0)
    await records.close()
    env = {"secret_key": "resume-test-key", "call_resume_window": "30"}
    server = ServerProcess(tmp_path, free_port(), **env)
    await server.start()
    peers: list[ClientPeer] = []
    try:
        async with aiohttp.ClientSession(server.url) as http:
            clients = _Remote(server.url, http)
            cookie = await clients.login("alice", "pw-alice-1")
            agent = await clients.agent(cookie)
            assert (await agent.call("ready")) == {"ok": True}
            ticket = await clients.tap(description="the router blinks")
            customer = await clients.customer(ticket["token"])
            await agent.inbox.next("offer")
            accepted = await agent.call("accept", {"ticket_id": ticket["ticket_id"]})
            session_id = accepted["session_id"]
            await customer.inbox.next("matched")
            await customer.inbox.next("recording_consent_requested")
            answer = await customer.call(
                "recording_consent", {"session_id": session_id, "accept": True}
            )
            assert answer["state"] == "recording"
            peers += [
                await media(agent, "blue", session_id),
                await media(customer, "red", session_id),
            ]
            await peers[0].sees("red")
            await peers[1].sees("blue")
            await recorded_for(tmp_path / "recordings" / session_id / "customer.webm", 1.0)
            said = await customer.call("chat", {"session_id": session_id, "text": "it blinks"})
            assert said["ok"]

            code = await server.stop(kill=how == "crash")
            assert (code != 0) if how == "crash" else (code == 0)
            for party in (agent, customer):
                await party.close()
            for peer in peers:
                await peer.close()

        restarted = ServerProcess(tmp_path, server.port, **env)
        await restarted.start()
        up = time.perf_counter()
        async with aiohttp.ClientSession(restarted.url) as http:
            clients = _Remote(restarted.url, http)
            customer = await clients.customer(ticket["token"])
            view = await customer.call("sync")
            assert (view["state"], view["session_id"]) == ("live", session_id)
            agent = await clients.agent(cookie)
            console = await agent.call("sync")
            assert console["state"] == "busy" and console["session"]["session_id"] == session_id
            agent_peer = await media(agent, "green", session_id)
            customer_peer = await media(customer, "blue", session_id)
            peers += [agent_peer, customer_peer]
            await agent_peer.sees("blue")
            await customer_peer.sees("green")
            back = time.perf_counter() - up
            print(f"\n{how}: picture back both ways {back:.2f} s after the restart")
            room = await customer.call("room", {"session_id": session_id})
            assert [line["text"] for line in room["chat"]] == ["it blinks"]  # from the event log
            assert room["recording"] == {
                "session_id": session_id,
                "state": "recording",
                "consent": "accepted",
            }
            part2 = tmp_path / "recordings" / f"{session_id}-2" / "customer.webm"
            await recorded_for(part2, 1.0)
            reply: dict[str, Any] = await agent.call("hangup", {"session_id": session_id})
            assert reply == {"ok": True}
            assert "recording_consent_requested" not in customer.inbox.names()
            for party in (agent, customer):
                await party.close()
    finally:
        for peer in peers:
            await peer.close()
        await server.stop()
        if "restarted" in locals():
            await restarted.stop()
    records = Records.open(f"sqlite+aiosqlite:///{tmp_path / 'videoassist.db'}")
    try:
        row = await records.session(session_id)
        parts = await records.recordings_of(session_id)
    finally:
        await records.close()
    assert row is not None and row["end_reason"] == "agent_hung_up"
    assert row["interruptions"] == 1 and row["interrupted_seconds"] > 0
    assert [(p["part"], p["consent"], p["repaired"]) for p in parts] == [
        (1, "accepted", how == "crash"),
        (2, "accepted", False),
    ]
    for part in parts:
        assert {f["name"] for f in part["files"]} >= {"customer.webm", "agent.webm"}
        assert part["duration"] > 0
    assert probe_duration(part2) > 0

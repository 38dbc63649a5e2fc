"""The routing engine with real clients: dead consoles, restarts, transfers and callbacks."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
import socketio

from tests.support.calls import live_call, ready_agent
from tests.support.harness import Harness, connect_socket, wait_until
from tests.support.peers import ClientPeer, dominant_colour
from tests.support.ports import free_port
from tests.support.process import ROOT, ServerProcess
from videoassist.auth import hash_password
from videoassist.desk.events import ConfigChanged
from videoassist.store.records import Records


class TestDeadConsoles:
    @pytest.mark.settings(ring_timeout=60.0)
    async def test_a_frozen_console_leaves_the_pool_and_its_offer_moves_on(
        self, harness: Harness
    ) -> None:
        """A console that stops answering heartbeats (a hung tab, a dead laptop) is signed out
        within 15 s; the offer ringing on it goes to the next agent at once, long before the
        60 s ring timeout."""
        cookie = await harness.add_staff("frozen")
        console = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.agent_process",
            harness.url,
            cookie,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            assert console.stdout is not None
            line = await asyncio.wait_for(console.stdout.readline(), 15)
            assert line.strip() == b"ready"
            ticket = await harness.tap()
            await harness.customer(ticket["token"])
            await wait_until(
                lambda: harness.service.desk.agent_state("u1") == "offered", what="offer rings"
            )
            backup = await ready_agent(harness, "backup")
            assert harness.service.desk.agent_state("u2") == "ready"

            os.kill(console.pid, signal.SIGSTOP)
            offer = await backup.inbox.next("offer", timeout=15)
            assert offer["ticket_id"] == ticket["ticket_id"]
            assert harness.service.desk.agent_state("u1") == "offline"
        finally:
            os.kill(console.pid, signal.SIGKILL)
            await console.wait()


class TestRestart:
    async def test_customers_resume_their_places_after_a_crash(self, tmp_path: Path) -> None:
        server = ServerProcess(tmp_path, free_port(), secret_key="restart-test-key")
        await server.start()
        tokens: list[str] = []
        ids: list[str] = []
        devices: list[str] = []
        try:
            # The cookie jar keeps no cookies for an IP address: each tap is a new browser.
            async with aiohttp.ClientSession(server.url) as http:
                for n in range(3):
                    async with http.post("/api/tickets", json={"description": f"#{n}"}) as r:
                        body = await r.json()
                        tokens.append(body["token"])
                        ids.append(body["ticket_id"])
                        devices.append(r.cookies["va_device"].value)
        finally:
            assert await server.stop(kill=True) != 0  # a crash, not a drain

        restarted = ServerProcess(tmp_path, server.port, secret_key="restart-test-key")
        await restarted.start()
        clients: list[socketio.AsyncClient] = []
        try:
            positions = {}
            for token, ticket_id in reversed(list(zip(tokens, ids, strict=True))):
                client = socketio.AsyncClient(reconnection=False)
                await connect_socket(client, restarted.url, "/customer", token=token)
                clients.append(client)
                state = await client.call("sync", {}, namespace="/customer", timeout=5)
                positions[ticket_id] = (state["state"], state["position"])
            assert positions == {
                ids[0]: ("queued", 1),
                ids[1]: ("queued", 2),
                ids[2]: ("queued", 3),
            }
            # The first browser still has its open ticket: a second tap is refused.
            async with (
                aiohttp.ClientSession(restarted.url) as http,
                http.post(
                    "/api/tickets", json={}, headers={"Cookie": f"va_device={devices[0]}"}
                ) as r,
            ):
                assert r.status == 409
                assert (await r.json())["error"]["code"] == "active_ticket"
        finally:
            for client in clients:
                await client.disconnect()
            await restarted.stop()

    async def test_an_agent_who_was_ready_is_ready_again_after_a_restart(
        self, tmp_path: Path
    ) -> None:
        records = Records.open(f"sqlite+aiosqlite:///{tmp_path / 'videoassist.db'}")
        await records.migrate()
        await records.add_user("alice", "Alice", hash_password("pw-alice-1"), "agent", 0.0)
        await records.close()
        server = ServerProcess(tmp_path, free_port())
        await server.start()
        try:
            async with (
                aiohttp.ClientSession(server.url) as http,
                http.post("/api/login", json={"username": "alice", "password": "pw-alice-1"}) as r,
            ):
                cookie = r.cookies["va_session"].value
            agent = socketio.AsyncClient(reconnection=False)
            await connect_socket(agent, server.url, "/agent", cookie=cookie)
            assert (await agent.call("ready", {}, namespace="/agent")) == {"ok": True}
            await server.stop(kill=True)
            await agent.disconnect()

            await server.start()
            await connect_socket(agent, server.url, "/agent", cookie=cookie)
            state = await agent.call("sync", {}, namespace="/agent")
            assert state["state"] == "ready"
            await agent.disconnect()
        finally:
            await server.stop()


class TestTransfers:
    async def test_a_warm_transfer_hands_the_call_over_without_the_customer_reconnecting(
        self, harness: Harness
    ) -> None:
        customer, first, session_id, ticket = await live_call(harness)
        second = await ready_agent(harness, "bob")

        customer_peer, first_peer, second_peer = (
            ClientPeer("red"),
            ClientPeer("blue"),
            ClientPeer("green"),
        )
        try:
            await customer_peer.connect(customer.client, "/customer", session_id)
            await first_peer.connect(first.client, "/agent", session_id)
            await customer_peer.wait_for_video(count=3)
            assert dominant_colour(customer_peer.video_frames[-1]) == "blue"

            directory = await first.call("directory")
            assert [a["name"] for a in directory["agents"]] == ["Bob"]
            reply = await first.call("transfer", {"session_id": session_id, "agent_id": "u2"})
            assert reply == {"ok": True}
            offer = await second.inbox.next("offer")
            assert offer["transfer"] is True
            new_session = (await second.call("accept", {"ticket_id": ticket["ticket_id"]}))[
                "session_id"
            ]
            assert (await first.inbox.next("session_ended"))["reason"] == "transferred"
            assert (await customer.inbox.next("agent_changed"))["agent_name"] == "Bob"
            started = await second.inbox.next("session_started")
            assert started["call_id"] == session_id

            await second_peer.connect(second.client, "/agent", new_session)
            await second_peer.wait_for_video(count=3)
            assert dominant_colour(second_peer.video_frames[-1]) == "red"
            seen = len(customer_peer.video_frames)
            await wait_until(
                lambda: (
                    len(customer_peer.video_frames) > seen + 5
                    and dominant_colour(customer_peer.video_frames[-1]) == "green"
                ),
                what="the customer sees the new agent on the same connection",
            )
            assert customer_peer.pc.connectionState == "connected"
        finally:
            for peer in (customer_peer, first_peer, second_peer):
                await peer.close()

    async def test_a_blind_transfer_puts_the_customer_back_in_line_ahead_of_newcomers(
        self, harness: Harness
    ) -> None:
        customer, agent, session_id, _ = await live_call(harness)
        later = await harness.tap()
        await harness.customer(later["token"])

        reply = await agent.call("transfer", {"session_id": session_id, "queue_id": "general"})
        assert reply == {"ok": True}
        assert (await customer.inbox.next("transferred"))["queue_id"] == "general"
        state = await customer.call("sync")
        assert (state["state"], state["position"]) == ("queued", 1)
        await wait_until(lambda: session_id not in harness.hub.sessions, what="media stopped")


class TestNoAnswer:
    async def test_an_agent_goes_away_after_the_configured_number_of_misses(
        self, harness: Harness
    ) -> None:
        desk = harness.service.desk
        general = replace(desk.config.queues["general"], ring_timeout=0.3, max_missed=2)
        config = replace(desk.config, queues={"general": general}, reoffer_after=0.2)
        await harness.service.submit(ConfigChanged(config, harness.service.now()))
        agent = await ready_agent(harness, "alice")
        ticket = await harness.tap()
        await harness.customer(ticket["token"])

        first = await agent.inbox.next("offer_missed", timeout=5)
        assert first["missed"] == 1
        assert desk.agent_state("u1") in ("ready", "offered")
        second = await agent.inbox.next(
            "offer_missed", timeout=5, after=agent.inbox.events.index(("offer_missed", first)) + 1
        )
        assert second["missed"] == 2
        await wait_until(lambda: desk.agent_state("u1") == "away", what="agent set away")
        assert desk.agents["u1"].away_reason == "missed_offer"
        assert desk.position(ticket["ticket_id"]) == 1


class TestCallbacks:
    async def test_a_callback_is_answered_and_the_customer_joins_later(
        self, harness: Harness
    ) -> None:
        async with harness.http.post("/api/tickets", json={"callback": True}) as r:
            assert r.status == 201
            ticket = await r.json()
        # The page connects once (a callback must be joined once, like any tap: issue 10), then
        # the customer closes it and waits to be called back.
        page = await harness.customer(ticket["token"])
        await page.close()
        agent = await ready_agent(harness, "alice")
        offer = await agent.inbox.next("offer")
        assert offer["callback"] is True
        accepted = await agent.call("accept", {"ticket_id": ticket["ticket_id"]})
        session_id = accepted["session_id"]

        customer = await harness.customer(ticket["token"])
        state = await customer.call("sync")
        assert (state["state"], state["session_id"]) == ("live", session_id)
        customer_peer, agent_peer = ClientPeer("red"), ClientPeer("blue")
        try:
            await customer_peer.connect(customer.client, "/customer", session_id)
            await agent_peer.connect(agent.client, "/agent", session_id)
            await agent_peer.wait_for_video(count=3)
        finally:
            await customer_peer.close()
            await agent_peer.close()

"""The whole server on PostgreSQL: the same code as on SQLite, chosen by ``database_url`` only.

A call from tap to wrap-up, and a crash with customers waiting, run against a real PostgreSQL
(``tests/support/postgres.py``); the store contract itself is in ``test_store_contract.py``.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import socketio

from tests.support import harness as support
from tests.support.calls import ready_agent
from tests.support.harness import Harness, connect_socket
from tests.support.ports import free_port
from tests.support.process import ServerProcess


async def test_a_call_from_tap_to_wrap_up_is_recorded_in_postgresql(
    tmp_path: Path, postgres_url: str
) -> None:
    harness = Harness(support.test_settings(tmp_path, database_url=postgres_url))
    await harness.start()
    try:
        assert harness.records.engine.dialect.name == "postgresql"
        agent = await ready_agent(harness)
        ticket = await harness.tap(topic="setup", description="router blinks red")
        customer = await harness.customer(ticket["token"])
        await agent.inbox.next("offer")
        accepted = await agent.call("accept", {"ticket_id": ticket["ticket_id"]})
        session_id = accepted["session_id"]
        await customer.inbox.next("matched")
        assert (await agent.call("hangup", {"session_id": session_id})) == {"ok": True}
        await customer.inbox.next("session_ended")
        wrapped = await agent.call(
            "wrap_up", {"session_id": session_id, "disposition": "resolved", "note": "réglé ✓"}
        )
        assert wrapped == {"ok": True}
        await harness.service.settled()
        row = await harness.records.session(session_id)
        assert row is not None and row["ticket_id"] == ticket["ticket_id"]
        assert (row["end_reason"], row["disposition"], row["note"]) == (
            "agent_hung_up",
            "resolved",
            "réglé ✓",
        )
        stored = await harness.records.ticket(ticket["ticket_id"])
        assert stored is not None and stored["status"] == "ended"
    finally:
        await harness.stop()


async def test_waiting_customers_keep_their_places_across_a_crash(
    tmp_path: Path, postgres_url: str
) -> None:
    env = {"secret_key": "pg-restart-key", "database_url": postgres_url}
    server = ServerProcess(tmp_path, free_port(), **env)
    await server.start()
    tickets: list[tuple[str, str]] = []
    try:
        async with aiohttp.ClientSession(server.url) as http:
            for n in range(3):  # no cookie jar for an IP address: each tap is a new browser
                async with http.post("/api/tickets", json={"description": f"#{n}"}) as r:
                    body = await r.json()
                    tickets.append((body["ticket_id"], body["token"]))
    finally:
        assert await server.stop(kill=True) != 0  # a crash, not a drain

    restarted = ServerProcess(tmp_path, server.port, **env)
    await restarted.start()
    clients: list[socketio.AsyncClient] = []
    try:
        places = {}
        for ticket_id, token in reversed(tickets):
            client = socketio.AsyncClient(reconnection=False)
            await connect_socket(client, restarted.url, "/customer", token=token)
            clients.append(client)
            state = await client.call("sync", {}, namespace="/customer", timeout=5)
            places[ticket_id] = (state["state"], state["position"])
        assert places == {tid: ("queued", n + 1) for n, (tid, _) in enumerate(tickets)}
        assert not (tmp_path / "videoassist.db").exists()  # nothing went to a SQLite file
    finally:
        for client in clients:
            await client.disconnect()
        assert await restarted.stop() == 0, restarted.output

"""A tap sent again with its ``Idempotency-Key`` (its answer was lost: a phone's network, a
process that died before answering) gets the ticket the first one made, never a second place."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from tests.support.harness import Harness, connect_socket
from tests.support.ports import free_port
from tests.support.process import ServerProcess


def new_key() -> str:
    return secrets.token_hex(16)


async def tap(url: str, key: str | None, **body: Any) -> tuple[int, dict[str, Any], Any]:
    """A tap from a browser that never got an answer's cookie (each call its own session)."""
    headers = {"Idempotency-Key": key} if key is not None else {}
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http,
        http.post(f"{url}/api/tickets", json=body, headers=headers) as r,
    ):
        return r.status, await r.json(), r.headers


async def test_a_tap_sent_again_gets_the_same_ticket_and_no_second_place(
    harness: Harness,
) -> None:
    key = new_key()
    status, first, headers = await tap(harness.url, key, topic="", description="printer")
    assert status == 201, first
    assert "Idempotent-Replayed" not in headers
    status, again, headers = await tap(harness.url, key, topic="", description="printer")
    assert status == 201, again
    assert headers["Idempotent-Replayed"] == "true"
    assert again["ticket_id"] == first["ticket_id"]
    assert again["position"] == 1
    assert list(harness.service.desk.tickets) == [first["ticket_id"]]

    # The second answer's token works: the page joins the line with it.
    customer = await harness.customer(again["token"])
    view = await customer.call("sync")
    assert view["state"] == "queued" and view["position"] == 1

    # Sending it again costs nothing of the address's taps (5 at once, then 6 a minute): the
    # first one paid.
    for _ in range(8):
        status, again, _ = await tap(harness.url, key, topic="", description="printer")
        assert status == 201 and again["ticket_id"] == first["ticket_id"], again

    # Another key is another tap, behind the first.
    status, other, _ = await tap(harness.url, new_key())
    assert status == 201, other
    assert other["ticket_id"] != first["ticket_id"] and other["position"] == 2
    # Without the header, every tap is a new one, as before.
    status, plain, _ = await tap(harness.url, None)
    assert status == 201 and plain["position"] == 3


async def test_a_browser_whose_answer_was_lost_keeps_one_open_ticket(harness: Harness) -> None:
    """The lost answer carried the device cookie: the resend's answer sets the one the ticket
    was made with, so the browser's next tap meets its open ticket."""
    key = new_key()
    cookies = []
    for _ in range(2):  # the first answer's cookie never reached the browser
        async with (
            aiohttp.ClientSession(harness.url) as http,
            http.post("/api/tickets", json={}, headers={"Idempotency-Key": key}) as r,
        ):
            assert r.status == 201
            cookies.append(r.cookies["va_device"].value)
    assert cookies[0] == cookies[1]
    async with (
        aiohttp.ClientSession(harness.url) as http,
        http.post(
            "/api/tickets",
            json={},
            headers={"Idempotency-Key": new_key(), "Cookie": f"va_device={cookies[1]}"},
        ) as r,
    ):
        assert r.status == 409
        assert (await r.json())["error"]["code"] == "active_ticket"
    assert len(harness.service.desk.tickets) == 1


async def test_a_bad_key_is_refused_and_changes_nothing(harness: Harness) -> None:
    for bad in ("short", "x" * 65, "spaces are not allowed here", "é" * 20):
        status, body, _ = await tap(harness.url, bad)
        assert status == 422, body
        assert body["error"]["code"] == "invalid"
        assert body["error"]["field"] == "Idempotency-Key"
    assert harness.service.desk.tickets == {}


async def test_a_key_whose_ticket_has_ended_is_told_so(harness: Harness) -> None:
    key = new_key()
    status, first, _ = await tap(harness.url, key)
    assert status == 201
    customer = await harness.customer(first["token"])
    assert await customer.call("cancel") == {"ok": True}
    status, body, _ = await tap(harness.url, key)
    assert status == 409, body
    assert body["error"]["code"] == "request_ended"
    assert harness.service.desk.tickets == {}
    # Long after, when the desk no longer keeps it among its last closed tickets, the key
    # still names an ended request: no new ticket takes its id (and its record's place).
    await harness.service.settled()
    row = await harness.records.ticket(first["ticket_id"])
    assert row is not None and row["ended_at"] is not None
    harness.service.desk.closed.clear()
    status, body, _ = await tap(harness.url, key)
    assert status == 409, body
    assert body["error"]["code"] == "request_ended"
    assert harness.service.desk.tickets == {}
    assert await harness.records.ticket(first["ticket_id"]) == row


async def test_a_tap_whose_answer_was_lost_to_a_crash_is_found_after_the_restart(
    tmp_path: Path,
) -> None:
    server = ServerProcess(tmp_path, free_port())
    await server.start()
    try:
        key = new_key()
        status, first, _ = await tap(server.url, key, description="the router blinks red")
        assert status == 201
        await server.stop(kill=True)  # as if it died before its answer left
        await server.start()
        status, again, headers = await tap(server.url, key, description="the router blinks red")
        assert status == 201, again
        assert headers["Idempotent-Replayed"] == "true"
        assert again["ticket_id"] == first["ticket_id"]
        assert again["position"] == 1
        # The page joins with the answer it got, and it is alone in line.
        page = socketio.AsyncClient(reconnection=False)
        await connect_socket(page, server.url, "/customer", token=again["token"])
        try:
            view = await page.call("sync", {}, namespace="/customer")
            assert view["state"] == "queued" and view["position"] == 1
        finally:
            await page.disconnect()
    finally:
        await server.stop()

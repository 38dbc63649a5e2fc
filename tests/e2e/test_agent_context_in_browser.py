"""The agent console's context panel in Chromium: the customer's reference and earlier calls,
notes saved as the agent types and carried into the wrap-up, and the queue lines."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest_asyncio
from playwright.async_api import Browser, expect

from tests.support import harness as harness_support
from tests.support.harness import Harness, Party
from tests.support.pages import assert_accessible, live_call_in_browsers, log_in
from videoassist.auth import hash_password

SECRET = "context-secret-0123456789abcdefghijklmnopqrstuvwxyz"


@pytest_asyncio.fixture(loop_scope="session")
async def shop(tmp_path: Path) -> AsyncIterator[Harness]:
    """A server whose embedding site signs its customers' identity."""
    h = Harness(
        harness_support.test_settings(tmp_path, embed_secret=SECRET, media_connect_timeout=120.0)
    )
    await h.start()
    yield h
    await h.stop()


async def signed_tap(h: Harness, ref: str) -> dict[str, Any]:
    claims = {
        "sub": ref,
        "name": "Jane Doe",
        "email": "jane@example.com",
        "aud": "videoassist",
        "exp": int(time.time()) + 600,
    }
    assert h.http is not None
    body = {"identity": jwt.encode(claims, SECRET, algorithm="HS256")}
    async with h.http.post("/api/tickets", json=body) as r:
        ticket: dict[str, Any] = await r.json()
        assert r.status == 201, ticket
        return ticket


async def earlier_call(h: Harness, ref: str, note: str) -> None:
    """Bob takes a call from ``ref`` over the socket API and wraps it up with ``note``."""
    bob = await h.agent(await h.add_staff("bob"))
    await bob.call("ready")
    ticket = await signed_tap(h, ref)
    customer: Party = await h.customer(ticket["token"])
    await bob.inbox.next("offer")
    session_id = (await bob.call("accept", {"ticket_id": ticket["ticket_id"]}))["session_id"]
    await bob.call("hangup", {"session_id": session_id})
    await bob.call("wrap_up", {"session_id": session_id, "disposition": "resolved", "note": note})
    await bob.call("away", {"reason": "break"})
    await customer.close()


async def test_the_agent_sees_who_calls_keeps_notes_and_finds_them_at_wrap_up(
    shop: Harness, browser: Browser
) -> None:
    h = shop
    await earlier_call(h, "cust-9", "Replaced the power cable.")
    await h.records.add_user("alice", "Alice", hash_password("pw-alice-1"), "agent", 0.0)
    agent = await (await browser.new_context()).new_page()
    await log_in(agent, h.url, "alice", "pw-alice-1")
    await agent.get_by_role("button", name="Ready").click()
    await expect(agent.locator("#state")).to_have_text("Ready")

    ticket = await signed_tap(h, "cust-9")
    await h.customer(ticket["token"])
    await agent.get_by_role("button", name="Accept").click()
    # The customer's name and email from the signed identity's claims, then the reference.
    await expect(agent.locator("#customer-ref")).to_have_text(
        "Jane Doe (jane@example.com) · ref cust-9"
    )
    earlier = agent.locator("#previous-calls li")
    await expect(earlier).to_have_count(1)
    await expect(earlier).to_contain_text("Bob")
    await expect(earlier).to_contain_text("Resolved")
    await expect(earlier).to_contain_text("Replaced the power cable.")
    await assert_accessible(agent, "agent in a call with the context panel")

    # A second customer joins the line: the queue panel counts them.
    waiting = await h.tap()
    await h.customer(waiting["token"])
    await expect(agent.locator("#queue-lines")).to_contain_text("1 waiting")

    await agent.get_by_label("Notes during the call").fill("Serial 1234, firmware 2.1")
    await expect(agent.locator("#notes-status")).to_have_text("Notes saved.")
    alice_row = await h.records.user_by_name("alice")
    session_id = h.service.desk.agent_session(f"u{alice_row['id']}")
    assert session_id is not None
    assert await h.records.session_note(session_id) == "Serial 1234, firmware 2.1"

    await agent.get_by_role("button", name="Hang up").click()
    await expect(agent.locator("#wrapup-title")).to_be_visible()
    await expect(agent.locator("#note")).to_have_value("Serial 1234, firmware 2.1")
    await assert_accessible(agent, "agent wrapping up with notes from the call")


async def test_an_anonymous_customer_is_shown_as_such_with_no_earlier_calls(
    shop: Harness, browser: Browser
) -> None:
    h = shop
    await h.records.add_user("alice", "Alice", hash_password("pw-alice-1"), "agent", 0.0)
    agent = await (await browser.new_context()).new_page()
    await log_in(agent, h.url, "alice", "pw-alice-1")
    await agent.get_by_role("button", name="Ready").click()
    ticket = await h.tap()
    await h.customer(ticket["token"])
    await agent.get_by_role("button", name="Accept").click()
    await expect(agent.locator("#customer-ref")).to_have_text("Anonymous (no signed identity)")
    await expect(agent.locator("#previous-empty")).to_be_visible()
    await assert_accessible(agent, "agent in a call with an anonymous customer")


async def test_the_agent_is_told_when_a_lost_sticky_mark_finds_its_object_again(
    shop: Harness, browser: Browser
) -> None:
    h = shop
    _, agent = await live_call_in_browsers(browser, h)
    alice = await h.records.user_by_name("alice")
    agent_id = f"u{alice['id']}"
    live = h.service.desk.live_call("agent", agent_id)
    assert live is not None
    call_id = live[1]
    mark = {"id": "m1", "kind": "arrow", "from": [0.2, 0.2], "to": [0.4, 0.4]}
    await h.rooms.annotate(call_id, agent_id, "Alice", "live", mark)
    record = dict(h.rooms.room(call_id).annotations["live"]["m1"])
    # The tracker's two reports, as the media side hands them to the call room.
    await h.rooms.marks_moved(call_id, [({**record, "lost": True}, True, False)])
    await expect(agent.locator("#message")).to_contain_text("lost track of its object")
    await h.rooms.marks_moved(call_id, [({**record, "lost": False}, False, True)])
    await expect(agent.locator("#message")).to_contain_text("found its object again")
    await assert_accessible(agent, "agent told a sticky mark was found again")

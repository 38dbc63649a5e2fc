"""The whole walking skeleton in two real browser windows: tap, answer, talk, share, hang up."""

from __future__ import annotations

import sqlalchemy as sa
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.support.harness import Harness, wait_until
from tests.support.pages import assert_accessible
from videoassist.app import _restore_room
from videoassist.auth import hash_password
from videoassist.desk.events import MediaMoved
from videoassist.http.keys import PLANE
from videoassist.store.records import sessions

FRAMES_DECODED = """() => {
  const pc = window.videoassist.peer;
  if (!pc) return -1;
  return pc.getStats().then((stats) => {
    let frames = -1;
    stats.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") frames = s.framesDecoded || 0;
    });
    return frames;
  });
}"""

SENDING_SCREEN = """() => {
  const senders = window.videoassist.peer.getSenders();
  const sender = senders.find((s) => s.track && s.track.kind === "video");
  return Boolean(sender && sender.track.getSettings().displaySurface);
}"""


async def frames_decoded(page: Page) -> int:
    return int(await page.evaluate(FRAMES_DECODED))


async def wait_for_more_frames(page: Page, than: int, timeout: float = 20.0) -> int:
    """Wait until the page's inbound video has decoded more than ``than`` frames."""
    latest = than

    async def more() -> bool:
        nonlocal latest
        latest = await frames_decoded(page)
        return latest > than

    await wait_until(
        more,
        timeout,
        what=lambda: f"framesDecoded past {than} (stuck at {latest})",
        interval=0.1,  # each probe is a getStats() round trip into the page
    )
    return latest


async def two_windows(
    harness: Harness, browser: Browser
) -> tuple[BrowserContext, BrowserContext, Page, Page, list[str]]:
    """Agent alice's console and a customer's page, each in a browser of its own, with the
    pages' errors collected."""
    await harness.records.add_user("alice", "Alice", hash_password("pw-alice-1"), "agent", 0.0)
    agent_ctx = await browser.new_context()
    customer_ctx = await browser.new_context()
    agent = await agent_ctx.new_page()
    customer = await customer_ctx.new_page()
    errors: list[str] = []
    for page in (agent, customer):
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    return agent_ctx, customer_ctx, agent, customer, errors


async def log_in(agent: Page, url: str) -> None:
    await agent.goto(f"{url}/agent")
    await agent.get_by_label("Username").fill("alice")
    await agent.get_by_label("Password").fill("pw-alice-1")
    await agent.get_by_role("button", name="Log in").click()


async def test_customer_and_agent_talk_over_video_then_wrap_up(
    harness: Harness, browser: Browser
) -> None:
    agent_ctx, customer_ctx, agent, customer, errors = await two_windows(harness, browser)

    # The agent logs in and goes Ready.
    await log_in(agent, harness.url)
    await expect(agent.locator("#state")).to_have_text("Away")
    await assert_accessible(agent, "agent away")
    await agent.get_by_role("button", name="Ready").click()
    await expect(agent.locator("#state")).to_have_text("Ready")
    await assert_accessible(agent, "agent ready")

    # The customer taps Get help with the keyboard only.
    await customer.goto(harness.url)
    await assert_accessible(customer, "customer start")
    await customer.get_by_label("What do you need help with?").select_option("setup")
    await customer.get_by_label("Describe it").fill("The router light is red")
    await customer.get_by_role("button", name="Get help").focus()
    await customer.keyboard.press("Enter")

    # The agent's console rings; the agent accepts.
    await expect(agent.locator("#offer")).to_be_visible()
    # The topic as the customer chose it, by its label, not its id.
    await expect(agent.locator("#offer-topic")).to_have_text("Setting up a device")
    # While it rings, the customer reads that someone is answering, not an old estimate.
    await expect(customer.locator("#eta")).to_have_text("An agent is answering…")
    await assert_accessible(agent, "agent ringing")
    await assert_accessible(customer, "customer waiting")
    await agent.get_by_role("button", name="Accept").click()

    # Both sides decode video from the other.
    await expect(agent.locator("#live")).to_be_visible()
    await expect(customer.locator("#live")).to_be_visible()
    await expect(customer.locator("#agent-name")).to_have_text("Alice")
    agent_frames = await wait_for_more_frames(agent, 0)
    customer_frames = await wait_for_more_frames(customer, 0)
    agent_frames = await wait_for_more_frames(agent, agent_frames)
    await wait_for_more_frames(customer, customer_frames)
    await assert_accessible(agent, "agent in a call")
    await assert_accessible(customer, "customer in a call")

    # The customer switches to screen sharing; the agent keeps receiving frames.
    await customer.get_by_role("button", name="Share my screen").click()
    await expect(customer.get_by_role("button", name="Use my camera")).to_be_visible()
    assert await customer.evaluate(SENDING_SCREEN)
    agent_frames = await wait_for_more_frames(agent, agent_frames)
    await wait_for_more_frames(agent, agent_frames)

    # The customer hangs up; the agent wraps up and is Ready again.
    await customer.get_by_role("button", name="Hang up").click()
    await expect(customer.locator("#ended")).to_be_visible()
    await expect(agent.locator("#wrapup")).to_be_visible()
    await expect(agent.locator("#wrapup-reason")).to_have_text("The customer hung up.")
    await expect(agent.locator("#wrapup-countdown")).to_contain_text("Ready again in 1:")
    await assert_accessible(agent, "agent wrapping up")
    await assert_accessible(customer, "customer after the call")
    await agent.get_by_label("Outcome").select_option("resolved")
    await agent.get_by_role("textbox", name="Note (optional)").fill("walked through a router reset")
    await agent.get_by_role("button", name="Done").click()
    await expect(agent.locator("#state")).to_have_text("Ready")
    # Focus rests on the status, so an Enter right after wrapping up does not set Away.
    await expect(agent.locator("#idle-text")).to_be_focused()

    # The session is on record with both timestamps.
    async with harness.records.engine.connect() as conn:
        rows = [dict(r._mapping) for r in await conn.execute(sa.select(sessions))]
    assert len(rows) == 1
    row = rows[0]
    assert row["answered_at"] is not None and row["ended_at"] is not None
    assert row["answered_at"] <= row["ended_at"]
    assert row["end_reason"] == "customer_hung_up"
    assert row["disposition"] == "resolved"
    assert row["note"] == "walked through a router reset"
    await wait_until(lambda: harness.hub.peer_connections == 0, what="server peers closed")
    assert errors == []
    await agent_ctx.close()
    await customer_ctx.close()


NEW_PEER = "() => Boolean(window.videoassist.peer) && window.videoassist.peer !== window.__before"


async def test_both_pages_offer_media_anew_when_the_calls_media_moves(
    harness: Harness, browser: Browser
) -> None:
    """The node that carried the call's media went away and the call was opened on another
    (docs/operations.md, "Media nodes"): told ``media_moved``, each page drops its dead peer
    connection and offers a new one for the same call; the chat stays."""
    agent_ctx, customer_ctx, agent, customer, errors = await two_windows(harness, browser)
    await log_in(agent, harness.url)
    await agent.get_by_role("button", name="Ready").click()
    await expect(agent.locator("#state")).to_have_text("Ready")
    await customer.goto(harness.url)
    await customer.get_by_label("What do you need help with?").select_option("setup")
    await customer.get_by_role("button", name="Get help").click()
    await agent.get_by_role("button", name="Accept").click()
    await wait_for_more_frames(agent, 0)
    await wait_for_more_frames(customer, 0)
    await customer.get_by_role("textbox", name="Message").fill("is it the red light?")
    await customer.keyboard.press("Enter")
    await expect(agent.locator("#chat")).to_contain_text("is it the red light?")

    # The call's media is lost and opened again, its room from its event log (here on the same
    # node: what the pages see is the same), and both parties are told.
    (session,) = [s for s in harness.service.desk.sessions.values() if s.ended_at is None]
    for page in (agent, customer):
        await page.evaluate("() => { window.__before = window.videoassist.peer; }")
    plane = harness.app[PLANE]
    await plane.close_session(session.call_id)
    plane.open(session.call_id, session.ticket_id, session.agent_id, False)
    await _restore_room(harness.records, harness.rooms, session.call_id)  # as a new node does
    now = harness.service.now()
    await harness.service.submit(MediaMoved(session.call_id, now - 6.0, now))  # tells both

    for page in (agent, customer):
        await wait_until(lambda p=page: p.evaluate(NEW_PEER), 15, what="a new peer connection")
    await wait_for_more_frames(agent, 0)
    await wait_for_more_frames(customer, 0)
    await expect(agent.locator("#live")).to_be_visible()
    await expect(customer.locator("#live")).to_be_visible()
    await expect(agent.locator("#chat")).to_contain_text("is it the red light?")
    live = harness.service.desk.sessions[session.id]
    assert live.ended_at is None and live.interruptions == 1  # the move is on record
    assert errors == []
    await agent_ctx.close()
    await customer_ctx.close()

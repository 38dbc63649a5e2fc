"""Guides in Chromium: an admin writes a topic's checklist on the admin page; the agent in a
call on that topic sees it beside the video, ticks steps, and the ticks are kept."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.support.harness import Harness
from tests.support.pages import assert_accessible, log_in
from videoassist.auth import hash_password

STEPS = ["Ask for the model number", "Check the cable", "Restart the router"]


async def test_an_admin_writes_a_guide_and_the_agent_ticks_it_during_the_call(
    harness: Harness, browser: Browser
) -> None:
    h = harness
    await h.records.add_user("root", "Root", hash_password("pw-root-1"), "admin", 0.0)
    await h.records.add_user("alice", "Alice", hash_password("pw-alice-1"), "agent", 0.0)

    admin = await (await browser.new_context()).new_page()
    await log_in(admin, h.url, "root", "pw-root-1", path="/admin")
    form = admin.locator("#topic-form")
    await form.get_by_label("ID", exact=True).fill("router")
    await form.get_by_label("Label", exact=True).fill("Router")
    await form.get_by_label("Guide for agents").fill("\n".join(STEPS) + "\n\n")
    await form.get_by_role("button", name="Save topic").click()
    await expect(admin.locator("#topic-form-status")).to_have_text("Topic router created.")
    assert [s["text"] for s in await h.records.guide("router")] == STEPS
    await assert_accessible(admin, "admin saved a topic with its guide")
    # Editing the topic again shows the guide as saved.
    await admin.get_by_role("button", name="Edit topic router").click()
    await expect(form.get_by_label("Guide for agents")).to_have_value("\n".join(STEPS))

    agent = await (await browser.new_context()).new_page()
    await log_in(agent, h.url, "alice", "pw-alice-1")
    await agent.get_by_role("button", name="Ready").click()
    await expect(agent.locator("#state")).to_have_text("Ready")
    ticket = await h.tap(topic="router")
    await h.customer(ticket["token"])
    await agent.get_by_role("button", name="Accept").click()
    guide = agent.get_by_role("group", name="Guide")
    await expect(guide.get_by_role("checkbox")).to_have_count(3)
    await assert_accessible(agent, "agent in a call with a guide")

    await guide.get_by_label("Check the cable").check()
    await expect(agent.locator("#guide-status")).to_have_text("Done: Check the cable")
    await guide.get_by_label("Ask for the model number").check()
    await expect(agent.locator("#guide-status")).to_have_text("Done: Ask for the model number")
    await guide.get_by_label("Check the cable").uncheck()
    await expect(agent.locator("#guide-status")).to_have_text("Not done: Check the cable")
    alice = await h.records.user_by_name("alice")
    session_id = h.service.desk.agent_session(f"u{alice['id']}")
    ticks = await h.records.session_ticks(session_id)
    assert [t["text"] for t in ticks] == ["Ask for the model number"]

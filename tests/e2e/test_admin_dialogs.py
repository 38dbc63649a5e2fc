"""Deletes on the admin page ask in an accessible modal dialog, not with confirm()."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.support.harness import Harness
from tests.support.pages import assert_accessible, log_in
from videoassist.auth import hash_password


async def test_deleting_a_topic_asks_in_a_dialog_that_escape_cancels(
    harness: Harness, browser: Browser
) -> None:
    h = harness
    await h.records.add_user("root", "Root", hash_password("pw-root-1"), "admin", 0.0)
    page = await (await browser.new_context()).new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))  # a confirm() would land here
    await log_in(page, h.url, "root", "pw-root-1", path="/admin")
    form = page.locator("#topic-form")
    await form.get_by_label("ID", exact=True).fill("printer")
    await form.get_by_label("Label", exact=True).fill("Printer")
    await form.get_by_role("button", name="Save topic").click()
    await expect(page.locator("#topic-form-status")).to_have_text("Topic printer created.")

    delete = page.get_by_role("button", name="Delete topic printer")
    await delete.click()
    dialog = page.get_by_role("dialog", name="Delete topic printer?")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    await assert_accessible(page, "admin asked to confirm a delete")
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(delete).to_be_focused()
    assert "printer" in {t["topic"] for t in (await h.records.load_config())["topics"]}

    await delete.click()
    await dialog.get_by_role("button", name="Delete").click()
    await expect(page.locator("#topics-status")).to_have_text("Topic printer deleted.")
    assert "printer" not in {t["topic"] for t in (await h.records.load_config())["topics"]}
    assert dialogs == []


async def test_a_typo_in_a_skill_name_is_caught_before_it_becomes_a_new_skill(
    harness: Harness, browser: Browser
) -> None:
    h = harness
    await h.records.add_user("root", "Root", hash_password("pw-root-1"), "admin", 0.0)
    await h.records.add_user("alice", "Alice", hash_password("pw-alice-1"), "agent", 0.0)
    page = await (await browser.new_context()).new_page()
    await log_in(page, h.url, "root", "pw-root-1", path="/admin")
    queue = page.locator("#queue-form")
    await queue.get_by_label("ID", exact=True).fill("vpn")
    await queue.get_by_label("Name", exact=True).fill("VPN")
    await queue.get_by_role("button", name="Add skill").click()
    await queue.get_by_label("Skill", exact=True).fill("vpn")
    await queue.get_by_role("button", name="Save queue").click()
    await (
        page.get_by_role("dialog", name="Add the new skill vpn?")
        .get_by_role("button", name="Add new skill")
        .click()
    )
    await expect(page.locator("#queue-form-status")).to_have_text("Queue vpn created.")

    await page.get_by_role("button", name="Edit agent alice").click()
    agent = page.locator("#agent-form")
    await agent.get_by_role("button", name="Add skill").click()
    skill = agent.get_by_label("Skill", exact=True)
    await skill.fill("VPNN")
    await agent.get_by_role("button", name="Save agent").click()
    dialog = page.get_by_role("dialog", name="Add the new skill VPNN?")
    await expect(dialog).to_contain_text("No queue or agent has a skill named VPNN yet.")
    await assert_accessible(page, "admin asked to confirm a new skill")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(page.locator("#agent-form-status")).to_contain_text("Choose an existing skill")
    await expect(skill).to_be_focused()
    await expect(skill).to_have_attribute("aria-invalid", "true")
    profile = h.service.desk.config.agents.get("u2")
    assert profile is None or "VPNN" not in dict(profile.skills)

    await skill.fill("vpn")
    await agent.get_by_role("button", name="Save agent").click()
    await expect(page.locator("#agent-form-status")).to_contain_text("saved")
    assert dict(h.service.desk.config.agents["u2"].skills) == {"vpn": 1}

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

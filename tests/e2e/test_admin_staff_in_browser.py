"""Staff accounts on the admin page in Chromium: create one, then change its role, disable it
and reset its password, with the server's refusals shown by the field."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.support.harness import Harness
from tests.support.pages import assert_accessible, log_in
from videoassist.auth import hash_password


async def test_an_admin_creates_disables_and_resets_a_staff_account(
    harness: Harness, browser: Browser
) -> None:
    h = harness
    await h.records.add_user("root", "Root", hash_password("pw-root-1"), "admin", 0.0)
    page = await (await browser.new_context()).new_page()
    await log_in(page, h.url, "root", "pw-root-1", path="/admin")
    form = page.locator("#staff-form")
    table = page.locator("#staff-table")
    await expect(table).to_contain_text("root")

    await form.get_by_label("Sign-in name").fill("carol")
    await form.get_by_label("Display name").fill("Carol")
    await form.get_by_label("Role").select_option("agent")
    await form.get_by_label("New password").fill("carol-pw-1")
    await form.get_by_role("button", name="Save account").click()
    await expect(page.locator("#staff-form-status")).to_have_text("Account carol created.")
    await expect(table.locator("tr", has_text="carol")).to_contain_text("Active")
    await assert_accessible(page, "admin created a staff account")

    # The same name again: the server's refusal is shown.
    await page.get_by_role("button", name="New account").click()
    await form.get_by_label("Sign-in name").fill("carol")
    await form.get_by_label("Display name").fill("Other Carol")
    await form.get_by_label("New password").fill("carol-pw-2")
    await form.get_by_role("button", name="Save account").click()
    await expect(page.locator("#staff-form-status")).to_contain_text("exists")
    await assert_accessible(page, "admin told the name is taken")

    await page.get_by_role("button", name="Edit account carol").click()
    await form.get_by_label("Role").select_option("supervisor")
    await form.get_by_label("Disabled").check()
    await form.get_by_label("New password").fill("fresh-pw-9")
    await form.get_by_role("button", name="Save account").click()
    await expect(page.locator("#staff-form-status")).to_have_text("Account carol saved.")
    row = table.locator("tr", has_text="carol")
    await expect(row).to_contain_text("Supervisor")
    await expect(row).to_contain_text("Disabled")
    account = await h.records.user_by_name("carol")
    assert (account["role"], account["disabled"]) == ("supervisor", True)
    await assert_accessible(page, "admin edited a staff account")

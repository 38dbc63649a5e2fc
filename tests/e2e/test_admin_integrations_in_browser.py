"""API tokens and webhooks on the admin page in Chromium: a token made with a scope, shown
once and copied, used, then revoked through the confirm dialog; a webhook endpoint added, its
delivery log read and a delivery sent again; the sections in French for a French browser."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from tests.support.harness import Harness, wait_until
from tests.support.pages import assert_accessible, log_in
from videoassist.auth import hash_password
from videoassist.desk.events import TicketRow
from videoassist.http.keys import WEBHOOKS


async def test_an_admin_makes_copies_and_revokes_an_api_token(
    harness: Harness, browser: Browser
) -> None:
    h = harness
    await h.records.add_user("root", "Root", hash_password("pw-root-1"), "admin", 0.0)
    context = await browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = await context.new_page()
    await log_in(page, h.url, "root", "pw-root-1", path="/admin")
    section = page.locator("#tokens")
    await expect(section).to_have_attribute("lang", "en")
    await expect(section.locator("#tokens-table")).to_contain_text("No API tokens yet.")

    form = page.locator("#token-form")
    await form.get_by_label("Name (what uses it)").fill("crm")
    await form.get_by_role("button", name="Create token").click()
    await expect(page.locator("#token-form-status")).to_have_text("Tick at least one scope.")
    await form.get_by_label("Read interval and staffing reports").check()
    await form.get_by_role("button", name="Create token").click()
    secret_box = page.get_by_label("The new token: copy it now, it is not shown again")
    await expect(secret_box).to_be_focused()
    secret = await secret_box.input_value()
    assert secret.startswith("va_")
    await page.locator("#token-copy").click()
    await expect(page.locator("#token-form-status")).to_have_text("Copied.")
    assert await page.evaluate("navigator.clipboard.readText()") == secret
    row = section.locator("tr", has_text="crm")
    await expect(row).to_contain_text("reports:read")
    await expect(row).to_contain_text("Not yet")
    await assert_accessible(page, "admin made an API token")

    assert h.http is not None
    async with h.http.get(
        "/api/reports/intervals?from=2026-01-01&to=2026-01-01",
        headers={"Authorization": f"Bearer {secret}"},
    ) as r:
        assert r.status == 200
    await page.reload()
    row = page.locator("#tokens tr", has_text="crm")
    await expect(row).to_contain_text("from 127.0.0.1")
    await expect(page.locator("#token-secret")).to_be_hidden()  # shown once, at creation

    await page.get_by_role("button", name="Revoke token crm").click()
    dialog = page.get_by_role("dialog", name="Revoke token crm?")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    await assert_accessible(page, "admin asked to confirm a revoke")
    await dialog.get_by_role("button", name="Revoke").click()
    await expect(row).to_contain_text("Revoked")
    await expect(page.locator("#tokens-status")).to_have_text("Token crm revoked.")
    async with h.http.get(
        "/api/reports/intervals?from=2026-01-01&to=2026-01-01",
        headers={"Authorization": f"Bearer {secret}"},
    ) as r:
        assert r.status == 401


async def test_a_french_admin_adds_a_webhook_and_redelivers_from_its_log(
    harness: Harness, browser: Browser
) -> None:
    h = harness
    await h.records.add_user("root", "Root", hash_password("pw-root-1"), "admin", 0.0)
    page = await (await browser.new_context(locale="fr-FR")).new_page()
    await log_in(page, h.url, "root", "pw-root-1", path="/admin")
    section = page.locator("#webhooks")
    await expect(section).to_have_attribute("lang", "fr")
    await expect(section.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    await expect(page.locator("#tokens-title")).to_have_text("Jetons d\u2019API")

    form = page.locator("#webhook-form")
    # A loopback address is refused (the default setting), by the field.
    await form.get_by_label("URL (https://…)").fill("http://127.0.0.1:9/hook")
    await form.get_by_label("Un tutoriel a été publié (tutorial.published)").check()
    await form.get_by_role("button", name="Ajouter l\u2019adresse").click()
    url_field = form.get_by_label("URL (https://…)")
    await expect(url_field).to_have_attribute("aria-invalid", "true")
    await expect(url_field).to_be_focused()
    # A public name is taken; nothing answers it here, so its delivery waits with an error.
    await url_field.fill("https://hooks.invalid/videoassist")
    await form.get_by_role("button", name="Ajouter l\u2019adresse").click()
    await expect(page.locator("#webhook-secret-value")).to_have_value(re.compile(r"^whsec_"))
    await expect(page.locator("#webhook-form-status")).to_contain_text("Adresse ajoutée.")
    await assert_accessible(page, "admin added a webhook endpoint, in French")

    hooks = h.app[WEBHOOKS]
    hooks.publish("tutorial.published", {"tutorial_id": "t1"})
    [endpoint] = hooks.endpoints()

    async def attempted() -> bool:
        rows = await hooks.store.deliveries(endpoint["id"])
        return bool(rows) and rows[0]["attempts"] >= 1

    await wait_until(attempted, timeout=20, what="a first attempt")
    await page.get_by_role("button", name="Envois vers https://hooks.invalid/videoassist").click()
    log = page.locator("#deliveries-table")
    await expect(page.locator("#deliveries-title")).to_be_focused()
    row = log.locator("tr", has_text="tutorial.published")
    await expect(row).to_contain_text("En attente")
    await expect(row.locator("td").nth(3)).not_to_have_text("—")  # the last error is shown
    await assert_accessible(page, "admin reads a delivery log, in French")
    await row.get_by_role("button", name="Renvoyer").click()
    await expect(page.locator("#webhooks-status")).to_have_text("Renvoi dans un instant.")


async def test_an_admin_allows_a_site_to_embed_the_button_and_takes_it_back(
    harness: Harness, browser: Browser
) -> None:
    h = harness
    await h.records.add_user("root", "Root", hash_password("pw-root-1"), "admin", 0.0)
    page = await (await browser.new_context()).new_page()
    await log_in(page, h.url, "root", "pw-root-1", path="/admin")
    section = page.locator("#embeds")
    await expect(section.locator("#embeds-list")).to_contain_text("No site besides")
    field = section.get_by_label("Site address (origin)")
    await field.fill("https://shop.example/help")
    await field.press("Enter")
    await expect(page.locator("#embeds-status")).to_contain_text("no path")
    await expect(field).to_be_focused()
    await field.fill("https://Shop.Example")
    await section.get_by_role("button", name="Allow a site").click()
    await expect(page.locator("#embeds-status")).to_have_text(
        "https://shop.example may now embed the help button."
    )
    await expect(section.locator("#embeds-list")).to_contain_text("added by root")
    await assert_accessible(page, "admin allowed an embedding site")
    assert h.http is not None
    async with h.http.get("/embed?host=https://shop.example") as r:
        assert r.status == 200

    await section.get_by_role("button", name="Remove https://shop.example").click()
    dialog = page.get_by_role("dialog", name="Stop https://shop.example from embedding")
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("button", name="Remove").click()
    await expect(page.locator("#embeds-status")).to_have_text(
        "https://shop.example may no longer embed the help button."
    )
    async with h.http.get("/embed?host=https://shop.example") as r:
        assert r.status == 403


async def test_an_admin_finds_a_customer_reads_their_requests_and_erases_them(
    harness: Harness, browser: Browser
) -> None:
    h = harness
    await h.records.add_user("root", "Root", hash_password("pw-root-1"), "admin", 0.0)
    await h.records.saw_customer("cust-42", "Jane Doe", "jane@example.com", 1_700_000_000.0)
    await h.records.save_ticket(
        TicketRow(
            id="t-42",
            topic="",
            description="router",
            status="ended",
            queued_at=1_700_000_000.0,
            ended_at=1_700_000_100.0,
            end_reason="cancelled",
            customer_ref="cust-42",
        )
    )
    await h.records.save_ticket_context("t-42", {"orderId": "A-1"}, 1_700_000_000.0)
    page = await (await browser.new_context()).new_page()
    await log_in(page, h.url, "root", "pw-root-1", path="/admin")
    section = page.locator("#customers")
    await section.get_by_label("Reference, name or email").fill("jane")
    await section.get_by_label("Reference, name or email").press("Enter")
    await section.get_by_role("button", name="Open Jane Doe (jane@example.com)").click()
    profile = page.locator("#customer-profile")
    await expect(profile).to_be_focused()
    await expect(profile.get_by_role("heading", name="Jane Doe")).to_be_visible()
    await expect(profile.locator("#customer-requests")).to_contain_text("orderId: A-1")
    href = await profile.get_by_role("link", name="Export everything (ZIP)").get_attribute("href")
    assert href == "/api/admin/customers/cust-42/export"
    await assert_accessible(page, "admin reading a customer")
    await profile.get_by_role("button", name="Erase this customer").click()
    dialog = page.get_by_role("dialog", name="Erase cust-42?")
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("button", name="Erase this customer").click()
    await expect(page.locator("#customers-status")).to_have_text("cust-42 was erased.")
    assert await h.records.customer("cust-42") is None

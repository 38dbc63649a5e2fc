"""/reports in Chromium: a supervisor logs in with the keyboard and reads a call's figures."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.support.calls import live_call
from tests.support.harness import Harness
from tests.support.pages import assert_accessible
from videoassist.auth import hash_password


async def test_a_supervisor_reads_todays_figures_and_staffing_in_two_languages(
    harness: Harness, browser: Browser
) -> None:
    customer, agent, session_id, _ = await live_call(harness)
    assert (await agent.call("hangup", {"session_id": session_id})) == {"ok": True}
    await customer.inbox.next("session_ended")
    await harness.service.settled()
    await harness.records.add_user("sue", "Sue", hash_password("pw-sue-1"), "supervisor", 0.0)

    context = await browser.new_context(locale="en-GB")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{harness.url}/reports")
    await expect(page.get_by_label("Username")).to_be_focused()
    await assert_accessible(page, "reports login")
    await page.keyboard.type("sue")
    await page.keyboard.press("Tab")
    await page.keyboard.type("pw-sue-1")
    await page.keyboard.press("Enter")

    await expect(page.locator("#status")).to_have_text("1 rows.")
    figures = page.get_by_role("table", name="Offered, answered and abandoned")
    await expect(figures.get_by_role("columnheader", name="Service level (%)")).to_be_visible()
    row = figures.locator("tbody tr")
    await expect(row).to_have_count(1)
    await expect(row.locator("td").nth(0)).to_have_text("general")  # queue
    await expect(row.locator("td").nth(1)).to_have_text("1")  # offered
    await expect(row.locator("td").nth(2)).to_have_text("1")  # answered
    staffing = page.get_by_role("table", name="Agents needed and staffed per interval")
    await expect(staffing.locator("tbody tr")).to_have_count(7)  # a week of days
    await expect(page.locator("#figures-chart canvas")).to_have_count(1)
    await assert_accessible(page, "reports loaded")

    # The export links are real: the CSV carries the call's session.
    href = await page.get_by_role("link", name="Sessions (CSV)").get_attribute("href")
    assert href is not None
    response = await page.request.get(f"{harness.url}{href}")
    assert response.ok and session_id in await response.text()

    # Per agent, from the keyboard; then in French.
    await page.get_by_label("Per", exact=True).select_option("agent")
    await page.get_by_role("button", name="Show").press("Enter")
    await expect(figures.get_by_role("columnheader", name="Agent")).to_be_visible()
    await page.get_by_label("Language").select_option("fr")
    await expect(page.get_by_role("heading", name="Rapports historiques")).to_be_visible()
    await expect(page.get_by_role("columnheader", name="Conseiller", exact=True)).to_be_visible()
    await assert_accessible(page, "reports in French")
    assert errors == []
    await context.close()


async def test_an_agent_is_told_reports_are_for_supervisors(
    harness: Harness, browser: Browser
) -> None:
    await harness.records.add_user("al", "Al", hash_password("pw-al-1"), "agent", 0.0)
    context = await browser.new_context(locale="en-GB")
    page = await context.new_page()
    await page.goto(f"{harness.url}/reports")
    await page.get_by_label("Username").fill("al")
    await page.get_by_label("Password").fill("pw-al-1")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Only supervisors and admins read reports."
    )
    await expect(page.locator("#reports")).to_be_hidden()
    await context.close()

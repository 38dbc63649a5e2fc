"""Browser steps the end-to-end tests share: logging in to the console, a live call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, expect

from tests.support.harness import Harness
from videoassist.auth import hash_password


async def log_in(page: Page, url: str, username: str, password: str, path: str = "/agent") -> None:
    await page.goto(f"{url}{path}")
    await page.get_by_label("Username", exact=True).fill(username)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Log in").click()


async def live_call_in_browsers(
    browser: Browser, harness: Harness, locale: str = "en-US", **context: Any
) -> tuple[Page, Page]:
    """(customer, agent): two browser contexts (made with ``context``'s options) in a connected
    call with agent Alice; the customer's browser asks for ``locale`` (the console is English)."""
    await harness.records.add_user("alice", "Alice", hash_password("pw-alice-1"), "agent", 0.0)
    agent = await (await browser.new_context(**context)).new_page()
    customer = await (await browser.new_context(locale=locale, **context)).new_page()
    await log_in(agent, harness.url, "alice", "pw-alice-1")
    await agent.get_by_role("button", name="Ready").click()
    await expect(agent.locator("#state")).to_have_text("Ready")
    await customer.goto(harness.url)
    # By id and by text key: the customer's words depend on the locale.
    await customer.locator("#help").click()
    await agent.get_by_role("button", name="Accept").click()
    await expect(customer.locator("#live-status")).to_have_attribute(
        "data-i18n", "status.connected", timeout=20_000
    )
    await expect(agent.locator("#live-status")).to_have_text("Connected.", timeout=20_000)
    return customer, agent


AXE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"


async def assert_accessible(page: Page, state: str) -> None:
    """Run axe-core (web/package.json pins it) on the page as it is now; fail on any violation,
    naming the rule and the elements. ``state`` says which state of the page this is."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated rather than added as a <script>: the pages' CSP allows no inline script.
        await page.evaluate(AXE.read_text())
    result = await page.evaluate(
        """() => window.axe.run(document, {resultTypes: ["violations"]}).then((r) =>
            r.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
            })))"""
    )
    assert result == [], f"{state}: accessibility violations: {result}"

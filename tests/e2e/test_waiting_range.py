"""The waiting view tells the customer a range, in their language, in a polite live region
(issue 16)."""

from __future__ import annotations

import re
from dataclasses import replace

from playwright.async_api import Browser, expect

from tests.support.harness import Harness, wait_until
from tests.support.pages import assert_accessible
from videoassist.desk.config import DEFAULT_QUEUE
from videoassist.desk.events import AgentReady, AgentSignedIn, ConfigChanged

NBSP = "\u00a0"


async def one_agent_ringing_for_someone_else(harness: Harness) -> None:
    """One agent on, their console ringing (for long enough) for a customer ahead: the next
    customer must wait for an agent to free up, so they are told a range."""
    service = harness.service
    config = service.desk.config
    general = replace(config.queues[DEFAULT_QUEUE], ring_timeout=600.0)
    await service.submit(
        ConfigChanged(replace(config, queues={DEFAULT_QUEUE: general}), service.now())
    )
    await service.submit(AgentSignedIn("a1", "Alice", service.now()))
    await service.submit(AgentReady("a1", service.now()))
    ahead = await harness.tap()
    await harness.customer(ahead["token"])
    await wait_until(lambda: service.desk.agent_state("a1").value == "offered")


async def test_a_waiting_customer_reads_a_range_of_minutes(
    harness: Harness, browser: Browser
) -> None:
    await one_agent_ringing_for_someone_else(harness)
    page = await (await browser.new_context(locale="en-US")).new_page()
    await page.goto(harness.url)
    await page.get_by_role("button", name="Get help").click()
    await expect(page.locator("#position")).to_have_text("2")
    eta = page.locator("#eta")
    await expect(eta).to_have_text(
        re.compile(r"^Expected wait: (up to \d+ minutes|about \d+ to \d+ minutes)\.$")
    )
    # What the desk told the page, worded: the top rounded up to whole minutes.
    (ticket_id,) = [t for t in harness.service.desk.queue if harness.service.desk.position(t) == 2]
    _, wait = harness.service.desk.wait(ticket_id)
    assert wait is not None and wait.kind == "range" and wait.high is not None
    assert f"{-(-int(wait.high) // 60)} minutes" in (await eta.text_content() or "")
    # Said politely: the line sits in the waiting view's polite live region.
    await expect(page.locator("div[aria-live=polite]:has(#eta)")).to_contain_text("Expected wait")
    await assert_accessible(page, "customer waiting with a range")


async def test_the_range_in_french(harness: Harness, browser: Browser) -> None:
    await one_agent_ringing_for_someone_else(harness)
    page = await (await browser.new_context(locale="fr-FR")).new_page()
    await page.goto(harness.url)
    await page.get_by_role("button", name="Obtenir de l’aide").click()
    await expect(page.locator("#position")).to_have_text("2")
    await expect(page.locator("#eta")).to_have_text(
        re.compile(
            rf"^Attente prévue{NBSP}: (jusqu’à \d+ minutes|entre \d+ et \d+ minutes environ)\.$"
        )
    )
    await assert_accessible(page, "customer waiting with a range, French")

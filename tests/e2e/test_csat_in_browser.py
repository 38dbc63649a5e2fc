"""After a call the customer page asks for a rating, with the keyboard, in English or French."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from tests.support.calls import ready_agent
from tests.support.harness import Harness, Party, wait_until
from tests.support.pages import assert_accessible


async def _call_then_hang_up(harness: Harness, page: Page, agent: Party) -> str:
    """The page taps for help, the agent (a socket.io client) answers, then hangs up."""
    await page.goto(harness.url)
    await page.get_by_role("button", name="Get help").click()
    offer = await agent.inbox.next("offer")
    session_id: str = (await agent.call("accept", {"ticket_id": offer["ticket_id"]}))["session_id"]
    await expect(page.locator("#live")).to_be_visible()
    assert (await agent.call("hangup", {"session_id": session_id})) == {"ok": True}
    await expect(page.locator("#ended")).to_be_visible()
    return str(offer["ticket_id"])


async def test_the_customer_rates_the_call_with_the_keyboard(
    harness: Harness, browser: Browser
) -> None:
    agent = await ready_agent(harness)
    context = await browser.new_context()
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    ticket_id = await _call_then_hang_up(harness, page, agent)

    form = page.locator("#csat")
    await expect(form).to_be_visible()
    await assert_accessible(page, "customer rating")
    # Sending with nothing chosen says what to do and sends nothing.
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator("#csat-status")).to_have_text("Choose a rating from 1 to 5, or skip.")
    await expect(page.get_by_role("radio", name="1 \u2013 poor")).to_be_focused()
    # Arrow keys move through the radio group, as in any form.
    for _ in range(3):
        await page.keyboard.press("ArrowDown")
    await expect(page.get_by_role("radio", name="4")).to_be_checked()
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Anything to add? (optional)")).to_be_focused()
    await page.keyboard.type("Clear and quick")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Send")).to_be_focused()
    await page.keyboard.press("Enter")

    await expect(page.locator("#csat-status")).to_have_text("Thank you for your answer.")
    await expect(form).to_be_hidden()
    await expect(page.get_by_role("button", name="Get help again")).to_be_focused()
    row = await harness.records.csat_of(ticket_id)
    assert row is not None and (row["score"], row["comment"]) == (4, "Clear and quick")
    await assert_accessible(page, "customer rated")
    assert errors == []
    await context.close()


async def test_skipping_sends_nothing_and_the_question_is_in_french(
    harness: Harness, browser: Browser
) -> None:
    agent = await ready_agent(harness)
    context = await browser.new_context(locale="fr-FR")
    page = await context.new_page()
    await page.goto(harness.url)
    await expect(page.get_by_label("Langue")).to_have_value("fr")
    await page.get_by_role("button", name="Obtenir de l\u2019aide").click()
    offer = await agent.inbox.next("offer")
    session_id = (await agent.call("accept", {"ticket_id": offer["ticket_id"]}))["session_id"]
    await expect(page.locator("#live")).to_be_visible()
    assert (await agent.call("hangup", {"session_id": session_id})) == {"ok": True}

    await expect(page.locator("#csat-title")).to_have_text(
        "Comment s\u2019est passé votre appel\u202f?"
    )
    await expect(
        page.get_by_role("group", name="Votre note, de 1 (mauvais) à 5 (excellent)")
    ).to_be_visible()
    await assert_accessible(page, "customer rating in French")
    await page.get_by_role("button", name="Passer").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#csat")).to_be_hidden()
    await expect(
        page.get_by_role("button", name="Demander à nouveau de l\u2019aide")
    ).to_be_focused()
    await harness.service.settled()
    await wait_until(lambda: harness.hub.peer_connections == 0, what="server peers closed")
    assert await harness.records.csat_of(offer["ticket_id"]) is None
    await context.close()

"""The pages as a customer or an agent meets them: what they say when things do not go to plan."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from tests.support.harness import Harness
from videoassist.auth import hash_password


async def test_a_customer_who_leaves_the_line_is_told_so_and_sees_no_error(
    harness: Harness, browser: Browser
) -> None:
    page = await (await browser.new_context()).new_page()
    # The page's clock runs under the test's hand, so that the acknowledgement timeout the bug
    # waited for (10 s) can pass at once.
    await page.clock.install()
    await page.goto(harness.url)
    await page.get_by_role("button", name="Get help").click()
    await expect(page.locator("#waiting")).to_be_visible()
    await page.get_by_role("button", name="Cancel").click()
    await expect(page.locator("#start")).to_be_visible()
    await expect(page.locator("#message")).to_have_text("You left the line.")
    await page.clock.run_for(15_000)
    await expect(page.locator("#message.error")).to_have_count(0)


async def log_in(page: Page, url: str, username: str, password: str) -> None:
    await page.goto(f"{url}/agent")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()


async def test_a_second_console_tab_takes_over_once_and_the_first_says_why(
    harness: Harness, browser: Browser
) -> None:
    await harness.records.add_user("alice", "Alice", hash_password("pw-alice-1"), "agent", 0.0)
    context = await browser.new_context()
    first = await context.new_page()
    sockets: list[str] = []
    first.on("websocket", lambda ws: sockets.append(ws.url))
    # The first tab's clock is the test's: the reconnect it used to schedule can be run at once.
    await first.clock.install()
    await log_in(first, harness.url, "alice", "pw-alice-1")
    await expect(first.locator("#state")).to_have_text("Away")

    second = await context.new_page()
    await second.goto(f"{harness.url}/agent")
    await expect(second.locator("#state")).to_have_text("Away")
    await expect(first.locator("#message")).to_contain_text("open in another tab")

    await first.clock.run_for(30_000)
    await first.evaluate("1")  # a websocket opened by the timers above is reported before this
    assert len(sockets) == 1, sockets
    await second.get_by_role("button", name="Ready").click()
    await expect(second.locator("#state")).to_have_text("Ready")
    await expect(second.locator("#message")).to_be_hidden()


async def test_an_admin_on_the_agent_console_is_sent_to_the_admin_page(
    harness: Harness, browser: Browser
) -> None:
    await harness.records.add_user("root", "Root", hash_password("pw-root-12"), "admin", 0.0)
    page = await (await browser.new_context()).new_page()
    await log_in(page, harness.url, "root", "pw-root-12")
    await expect(page.locator("#idle-text")).to_contain_text("for agents and supervisors")
    await expect(page.get_by_role("link", name="Go to the admin page")).to_have_attribute(
        "href", "/admin"
    )
    await expect(page.get_by_role("button", name="Ready")).to_be_hidden()
    await expect(page.locator("#message")).to_be_hidden()


async def test_a_notice_clears_itself_but_an_error_stays(
    harness: Harness, browser: Browser
) -> None:
    page = await (await browser.new_context()).new_page()
    await page.clock.install()
    await page.goto(f"{harness.url}/agent")
    box = page.locator("#message")
    await page.evaluate(
        """async () => {
            const { showMessage } = await import("/static/shared/signaling.js");
            showMessage(document.getElementById("message"), "You missed an offer.");
        }"""
    )
    await expect(box).to_have_text("You missed an offer.")
    await page.clock.run_for(11_000)
    await expect(box).to_be_hidden()
    await page.get_by_label("Username").fill("nobody")
    await page.get_by_label("Password").fill("wrong-password")
    await page.get_by_role("button", name="Log in").click()
    await expect(box).to_have_class("message error")
    await page.clock.run_for(60_000)
    await expect(box).to_be_visible()

"""The help button on another site's page: one script tag, a call in an iframe, postMessage with
exact origins only, and a reload that finds the customer where they were."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import jwt
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, Page, expect

from tests.support.harness import Harness
from tests.support.harness import test_settings as settings_for
from tests.support.pages import assert_accessible, log_in
from tests.support.ports import free_port
from videoassist.auth import hash_password

SECRET = "embed-secret-for-the-tests-0123456789"

HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A shop</title>
<script>
  window.videoassistSettings = {topic: "setup", label: "Video help", language: "en"};
  window.videoassist = window.videoassist || function () {
    (window.videoassist.q = window.videoassist.q || []).push(arguments);
  };
  window.states = [];
  videoassist("on", "state", (event) => window.states.push(event.state));
  videoassist("setUser", "%(token)s");
  videoassist("setContext", {orderId: "A-1029", "device.model": "X200", "bad key": "left out"});
</script>
<script async src="%(server)s/static/sdk/help.js"></script>
</head><body><main><h1>A shop</h1><p>Our products.</p></main></body></html>
"""

THIRD_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Elsewhere</title>
</head><body><main><h1>Elsewhere</h1></main></body></html>"""


async def serve_page(port: int, html: str) -> web.AppRunner:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


@pytest_asyncio.fixture(loop_scope="session")
async def shop(tmp_path: Path) -> AsyncIterator[tuple[Harness, str, str]]:
    """(help server, the shop's URL, a third origin's URL): the shop may embed, the third not."""
    shop_port, third_port = free_port(), free_port()
    shop_origin = f"http://127.0.0.1:{shop_port}"
    harness = Harness(settings_for(tmp_path, allowed_origins=(shop_origin,), embed_secret=SECRET))
    await harness.start()
    token = jwt.encode(
        {
            "sub": "cust-42",
            "aud": "videoassist",
            "exp": int(time.time()) + 600,
            "name": "Jane Doe",
            "email": "jane@example.com",
        },
        SECRET,
        algorithm="HS256",
    )
    shop_runner = await serve_page(shop_port, HOST_PAGE % {"server": harness.url, "token": token})
    third_runner = await serve_page(third_port, THIRD_PAGE)
    try:
        yield harness, f"{shop_origin}/", f"http://127.0.0.1:{third_port}/"
    finally:
        await shop_runner.cleanup()
        await third_runner.cleanup()
        await harness.stop()


async def ready_agent_page(browser: Browser, harness: Harness) -> Page:
    await harness.records.add_user("alice", "Alice", hash_password("pw-alice-1"), "agent", 0.0)
    agent = await (await browser.new_context()).new_page()
    await log_in(agent, harness.url, "alice", "pw-alice-1")
    await agent.get_by_role("button", name="Ready").click()
    await expect(agent.locator("#state")).to_have_text("Ready")
    return agent


async def test_the_button_on_another_site_opens_a_call_in_an_iframe(
    shop: tuple[Harness, str, str], browser: Browser
) -> None:
    harness, shop_url, _ = shop
    agent = await ready_agent_page(browser, harness)
    page = await (await browser.new_context()).new_page()
    await page.goto(shop_url)
    button = page.get_by_role("button", name="Video help")
    await expect(button).to_be_visible()
    await assert_accessible(page, "a host page with the help button")
    await button.click()
    frame = page.frame_locator("iframe[title='Video help']")
    await expect(frame.get_by_role("button", name="Get help")).to_be_visible()
    # The host's topic is chosen, and the host's signed user rides along with the tap.
    await expect(frame.get_by_label("What do you need help with?")).to_have_value("setup")
    await frame.get_by_role("button", name="Get help").click()
    await expect(frame.locator("#waiting")).to_be_visible()
    ticket = next(iter(harness.service.desk.tickets.values()))
    assert (ticket.topic, ticket.customer_ref) == ("setup", "cust-42")

    # A reload of the host page finds the customer in their place in line, panel open.
    await page.reload()
    frame = page.frame_locator("iframe[title='Video help']")
    await expect(frame.locator("#waiting")).to_be_visible(timeout=20_000)
    await expect(agent.locator("#offer")).to_be_visible()
    await agent.get_by_role("button", name="Accept").click()
    await expect(frame.locator("#live-status")).to_have_text("Connected.", timeout=20_000)
    assert await page.evaluate("window.states.includes('live')")
    # The agent sees who it is (the signed identity's claims) and what the shop said of it
    # (setContext, queued before the script loaded; the key out of bounds left out).
    await expect(agent.locator("#customer-ref")).to_have_text(
        "Jane Doe (jane@example.com) · ref cust-42"
    )
    await expect(agent.locator("#app-context")).to_contain_text("orderId: A-1029")
    await expect(agent.locator("#app-context")).to_contain_text("device.model: X200")
    await expect(agent.locator("#app-context")).not_to_contain_text("bad key")
    # The customer's camera runs inside the iframe: the agent receives its picture.
    await agent.wait_for_function(
        "() => { const v = document.getElementById('remote'); return v && v.videoWidth > 0; }",
        timeout=20_000,
    )
    await assert_accessible(page, "a host page with a call in its help panel")


async def test_a_site_not_allowed_cannot_frame_the_page_nor_steer_it(
    shop: tuple[Harness, str, str], browser: Browser
) -> None:
    harness, shop_url, third_url = shop
    # The embedded page for a site not on the list is refused outright; for the shop, only the
    # shop may frame it.
    assert harness.http is not None
    async with harness.http.get(f"/embed?host={third_url.rstrip('/')}") as r:
        assert r.status == 403
    async with harness.http.get(f"/embed?host={shop_url.rstrip('/')}") as r:
        assert r.status == 200
        assert f"frame-ancestors {shop_url.rstrip('/')}" in r.headers["Content-Security-Policy"]
    third = await (await browser.new_context()).new_page()
    await third.goto(third_url)
    # A window it opened on the shop's embedded page ignores its messages: they come from the
    # wrong origin and not from the page around it.
    async with third.expect_popup() as opened:
        await third.evaluate(
            "(url) => { window.child = window.open(url); }",
            f"{harness.url}/embed?host={shop_url.rstrip('/')}",
        )
    popup = await opened.value
    await expect(popup.get_by_role("button", name="Get help")).to_be_visible()
    await third.evaluate(
        """() => window.child.postMessage(
            {videoassist: 1, type: "configure", topic: "billing", user: null}, "*")"""
    )
    await popup.evaluate("() => new Promise((resolve) => setTimeout(resolve, 0))")
    await expect(popup.get_by_label("What do you need help with?")).to_have_value("")

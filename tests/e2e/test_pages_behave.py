"""The pages as a customer or an agent meets them: what they say when things do not go to plan."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from playwright.async_api import Browser, Route, async_playwright, expect

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support.harness import Harness, wait_until
from tests.support.harness import test_settings as settings_for
from tests.support.pages import assert_accessible, live_call_in_browsers, log_in
from videoassist.auth import hash_password
from videoassist.desk.config import DEFAULT_QUEUE
from videoassist.desk.events import ConfigChanged
from videoassist.http.keys import SIO
from videoassist.tls import self_signed


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
    await assert_accessible(first, "agent console replaced")

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
    await assert_accessible(page, "agent console for an admin")
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


async def test_the_agent_learns_that_the_customer_declined_and_marks_go_with_the_old_picture(
    harness: Harness, browser: Browser
) -> None:
    customer, agent = await live_call_in_browsers(browser, harness)
    await agent.get_by_role("button", name="Ask for screen").click()
    await expect(customer.get_by_role("alertdialog")).to_be_visible()
    await assert_accessible(customer, "customer asked for their screen")
    await customer.get_by_role("button", name="Not now").click()
    await expect(agent.locator("#live-status")).to_have_text(
        "The customer chose not to share their screen for now."
    )

    # A mark on the camera picture, then the customer shares their screen: the mark goes.
    async def shown(ids: list[str]) -> bool:
        return bool(await customer.evaluate("() => window.videoassist.marks('live')") == ids)

    reply = await agent.evaluate(
        """(sessionId) => new Promise((resolve) => window.videoassist.socket.emit(
            "annotate",
            {session_id: sessionId, annotation: {kind: "rect", id: "r1", x: 0.2, y: 0.2,
                                                 w: 0.3, h: 0.3}},
            resolve))""",
        harness.service.desk.agent_session("u1"),
    )
    assert reply["ok"], reply
    await wait_until(lambda: shown(["r1"]), what="the mark at the customer")
    await customer.get_by_role("button", name="Share my screen").click()
    await wait_until(lambda: shown([]), what="the live marks cleared at the customer")
    await expect(agent.locator("#customer-source")).to_have_text("Customer is sharing their screen")


async def test_the_callback_note_and_its_link_fit_a_phone_screen(
    harness: Harness, browser: Browser
) -> None:
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    page = await context.new_page()
    await page.goto(harness.url)
    await page.get_by_role("button", name="Get help").click()
    await page.get_by_role("button", name="Call me back instead").click()
    await expect(page.locator("#callback-note")).to_contain_text("/#t=")
    await assert_accessible(page, "customer waiting for a callback, on a phone")
    widths = await page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"


COUNT_CAMERA_REQUESTS = """
window.cameraRequests = 0;
const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = (constraints) => {
    window.cameraRequests += 1;
    return original(constraints);
};
"""


SAYS_WHY = """
window.whyShown = [];
const asking = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = (constraints) => {
    const why = document.getElementById("camera-why");
    window.whyShown.push(Boolean(why && !why.hidden));
    return asking(constraints);
};
"""


async def test_the_camera_is_asked_for_only_when_an_agent_answers_and_is_off_while_waiting(
    harness: Harness, browser: Browser
) -> None:
    await harness.records.add_user("alice", "Alice", hash_password("pw-alice-1"), "agent", 0.0)
    config = harness.service.desk.config
    general = replace(config.queues[DEFAULT_QUEUE], max_length=1)
    full = replace(config, queues={**config.queues, DEFAULT_QUEUE: general})
    await harness.service.submit(ConfigChanged(full, harness.service.now()))
    # The one place in line is taken, by a customer whose page is connected.
    first = await harness.customer((await harness.tap())["token"])

    page = await (await browser.new_context()).new_page()
    await page.add_init_script(COUNT_CAMERA_REQUESTS)
    await page.add_init_script(SAYS_WHY)
    await page.goto(harness.url)
    await page.get_by_role("button", name="Get help").click()
    await expect(page.get_by_role("button", name="Leave a callback request")).to_be_visible()
    await assert_accessible(page, "customer, line full")
    assert await page.evaluate("window.cameraRequests") == 0

    # Room in line: waiting asks for nothing; the camera is off unless the customer checks it.
    await harness.service.submit(ConfigChanged(config, harness.service.now()))
    await page.get_by_role("button", name="Get help").click()
    camera_off = page.get_by_text("Your camera and microphone stay off while you wait")
    await expect(camera_off).to_be_visible()
    await expect(page.get_by_label("Your camera, as the agent will see it")).to_be_hidden()
    assert await page.evaluate("window.cameraRequests") == 0
    await assert_accessible(page, "customer waiting, camera off")
    await page.get_by_role("button", name="Check my camera").click()
    await page.wait_for_function("() => document.getElementById('self-view').videoWidth > 0")
    assert await page.evaluate("window.cameraRequests") == 1
    await assert_accessible(page, "customer waiting, checking the camera")
    await page.get_by_role("button", name="Turn my camera off").click()
    await expect(page.get_by_label("Your camera, as the agent will see it")).to_be_hidden()

    # The first customer leaves and an agent answers: now the browser is asked.
    await first.call("cancel")
    agent = await (await browser.new_context()).new_page()
    await log_in(agent, harness.url, "alice", "pw-alice-1")
    await agent.get_by_role("button", name="Ready").click()
    await agent.get_by_role("button", name="Accept").click()
    await expect(page.locator("#live-status")).to_have_text("Connected.", timeout=20_000)
    assert await page.evaluate("window.cameraRequests") == 2
    # The request at connect came with the sentence saying why (the preview's was asked for).
    assert await page.evaluate("window.whyShown") == [False, True]


STAGE_IN_VIEW = """() => {
    const box = document.querySelector("#live .stage").getBoundingClientRect();
    return box.top >= 0 && box.bottom <= innerHeight && box.height > 300;
}"""


async def test_at_1280_by_800_the_agent_sees_picture_tools_and_chat_without_scrolling(
    harness: Harness, browser: Browser
) -> None:
    _, agent = await live_call_in_browsers(browser, harness)
    await agent.set_viewport_size({"width": 1280, "height": 800})
    sizes = await agent.evaluate(
        "() => [document.documentElement.scrollHeight, innerHeight, scrollY]"
    )
    assert sizes[0] <= sizes[1], f"the console scrolls: {sizes}"
    for control in ("Hang up", "Send", "Freeze", "Arrow"):
        await agent.get_by_role("button", name=control, exact=True).focus()
        assert await agent.evaluate(STAGE_IN_VIEW), f"focus on {control} hides the picture"
    await expect(agent.get_by_role("textbox", name="Message")).to_be_in_viewport()
    await assert_accessible(agent, "agent in a call at 1280x800")


async def test_on_a_tablet_the_agent_reaches_picture_tools_and_chat_with_no_sideways_scroll(
    harness: Harness, browser: Browser
) -> None:
    """Portrait tablet (768x1024): one column, the picture first; everything in reach."""
    _, agent = await live_call_in_browsers(browser, harness)
    await agent.set_viewport_size({"width": 768, "height": 1024})
    assert await agent.evaluate(NO_SIDEWAYS_SCROLL), "the console scrolls sideways"
    await expect(agent.locator("#remote")).to_be_in_viewport()
    for control in ("Hang up", "Send", "Freeze", "Arrow"):
        button = agent.get_by_role("button", name=control, exact=True)
        await button.scroll_into_view_if_needed()
        await expect(button).to_be_in_viewport()
        box = await button.bounding_box()
        assert box is not None and box["width"] >= 24 and box["height"] >= 24, (control, box)
    await expect(agent.get_by_role("textbox", name="Message")).to_be_enabled()
    await assert_accessible(agent, "agent in a call at 768x1024")


SENDING = """(kind) => {
    const sender = window.videoassist.peer.getSenders().find(
        (s) => s.track && s.track.kind === kind);
    return sender.track.enabled;
}"""


NO_SIDEWAYS_SCROLL = (
    "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
)


async def test_on_a_phone_the_customer_mutes_stops_video_and_each_side_sees_the_other_s_state(
    harness: Harness, browser: Browser
) -> None:
    customer, agent = await live_call_in_browsers(browser, harness)
    await customer.set_viewport_size({"width": 390, "height": 844})
    # Full-screen picture with the controls floating over it: no sideways scroll, and the
    # controls are on screen without scrolling.
    assert await customer.evaluate(NO_SIDEWAYS_SCROLL)
    for control in ("Mute mic", "Stop my video", "Hang up"):
        await expect(customer.get_by_role("button", name=control, exact=True)).to_be_in_viewport()
    await assert_accessible(customer, "customer in a call on a phone")

    await customer.get_by_role("button", name="Mute mic").click()
    await expect(customer.get_by_role("button", name="Unmute mic")).to_have_attribute(
        "aria-pressed", "true"
    )
    assert await customer.evaluate(SENDING, "audio") is False
    await expect(agent.locator("#customer-media")).to_have_text("Customer muted.")
    await customer.get_by_role("button", name="Stop my video").click()
    assert await customer.evaluate(SENDING, "video") is False
    await expect(agent.locator("#customer-media")).to_have_text(
        "Customer muted; customer's camera is off."
    )
    await assert_accessible(agent, "agent, the customer muted with the camera off")
    await customer.get_by_role("button", name="Start my video").click()
    await customer.get_by_role("button", name="Unmute mic").click()
    assert await customer.evaluate(SENDING, "video") is True
    await expect(agent.locator("#customer-media")).to_have_text("")

    # The agent's camera: a picture while on, words instead of a black box when off.
    camera_off = customer.get_by_text("The agent's camera is off.")
    await expect(camera_off).to_be_hidden()
    await agent.get_by_role("button", name="Stop my video").click()
    await expect(camera_off).to_be_visible(timeout=15_000)
    await assert_accessible(customer, "customer on a phone, the agent's camera off")
    await agent.get_by_role("button", name="Start my video").click()
    await expect(camera_off).to_be_hidden(timeout=15_000)

    cameras = await customer.evaluate(
        "() => navigator.mediaDevices.enumerateDevices().then("
        "(ds) => ds.filter((d) => d.kind === 'videoinput').length)"
    )
    flip = customer.get_by_role("button", name="Switch front/back camera")
    await (expect(flip).to_be_visible() if cameras >= 2 else expect(flip).to_be_hidden())
    assert await customer.evaluate(NO_SIDEWAYS_SCROLL)


async def test_a_call_over_https_works_end_to_end(tmp_path: Path, browser: Browser) -> None:
    cert, key = self_signed(tmp_path / "tls", "127.0.0.1")
    harness = Harness(settings_for(tmp_path, tls_cert=str(cert), tls_key=str(key)))
    await harness.start()
    try:
        assert harness.url.startswith("https://")
        # The browser is not told to trust the certificate, as a phone trying the LAN mode
        # is not: the person accepts it once.
        customer, _ = await live_call_in_browsers(browser, harness, ignore_https_errors=True)
        assert await customer.evaluate("window.isSecureContext")
        assert await customer.evaluate("location.protocol") == "https:"
    finally:
        await harness.stop()


async def test_the_console_says_why_over_plain_http_from_a_network_address(
    harness: Harness,
) -> None:
    port = harness.url.rsplit(":", 1)[1]
    async with async_playwright() as pw:
        # The browser resolves a network-looking name to the loopback server: plain HTTP to a
        # host that is not local, as a phone on the LAN would see it.
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP support.example.test 127.0.0.1"],
        )
        try:
            page = await browser.new_page()
            await page.goto(f"http://support.example.test:{port}/agent")
            assert not await page.evaluate("window.isSecureContext")
            await expect(page.locator("#message")).to_contain_text("plain HTTP")
            await expect(page.locator("#message")).to_contain_text("https://")
            # The customer's page says it too, in their language.
            french = await browser.new_page(locale="fr-FR")
            await french.goto(f"http://support.example.test:{port}/")
            await expect(french.locator("#message")).to_contain_text("HTTP simple")
            await expect(french.locator("#message")).to_contain_text("https://")
        finally:
            await browser.close()


async def test_the_agent_works_a_call_from_the_keyboard(harness: Harness, browser: Browser) -> None:
    customer, agent = await live_call_in_browsers(browser, harness)
    await expect(agent.locator("#call-timer")).to_have_text(re.compile(r"^\d+:\d\d$"))
    await expect(agent.locator("#quality")).to_have_class(re.compile(r"\b(good|fair)\b"))

    await agent.keyboard.press("Alt+m")
    await expect(agent.get_by_role("button", name="Unmute mic")).to_have_attribute(
        "aria-pressed", "true"
    )

    async def customer_marks() -> list[str]:
        return list(await customer.evaluate("() => window.videoassist.marks('live')"))

    # An arrow placed with the arrow keys and Enter, no pointer at all.
    await agent.locator("#marks").focus()
    for key in ["ArrowLeft"] * 5 + ["Enter"] + ["ArrowRight"] * 8 + ["ArrowDown"] * 4:
        await agent.keyboard.press(key)
    await agent.keyboard.press("Enter")
    await wait_until(lambda: _count(customer_marks, 1), what="the arrow at the customer")
    await assert_accessible(agent, "agent placing marks with the keyboard")

    await agent.keyboard.press("Alt+z")
    await wait_until(lambda: _count(customer_marks, 0), what="the arrow undone")
    await agent.keyboard.press("Alt+f")
    await expect(customer.locator("#still")).to_be_visible()
    await agent.keyboard.press("Alt+h")
    await expect(agent.locator("#wrapup")).to_be_visible()


async def _count(marks: Callable[[], Awaitable[list[str]]], n: int) -> bool:
    return len(await marks()) == n


FAKE_HIDDEN_TAB_WITH_NOTIFICATIONS = """
Object.defineProperty(document, "hidden", { get: () => true });
window.shown = [];
window.Notification = class {
    static permission = "granted";
    static requestPermission() { return Promise.resolve("granted"); }
    constructor(title, options) { window.shown.push({ title, body: options.body }); }
    close() {}
};
"""


async def test_an_offer_to_a_console_in_a_hidden_tab_shows_a_desktop_notification(
    harness: Harness, browser: Browser
) -> None:
    await harness.records.add_user("alice", "Alice", hash_password("pw-alice-1"), "agent", 0.0)
    agent = await (await browser.new_context()).new_page()
    await agent.add_init_script(FAKE_HIDDEN_TAB_WITH_NOTIFICATIONS)
    await log_in(agent, harness.url, "alice", "pw-alice-1")
    await agent.get_by_role("button", name="Ready").click()
    await expect(agent.locator("#state")).to_have_text("Ready")
    customer = await (await browser.new_context()).new_page()
    await customer.goto(harness.url)
    await customer.get_by_label("What do you need help with?").select_option("setup")
    await customer.get_by_role("button", name="Get help").click()
    await expect(agent.locator("#offer")).to_be_visible()
    shown = await agent.evaluate("window.shown")
    assert shown == [{"title": "Incoming help request", "body": "Setting up a device"}]


async def test_an_agent_who_missed_the_only_customer_is_offered_them_again_on_ready(
    tmp_path: Path, browser: Browser
) -> None:
    """Issue 13's bug: after a miss and Ready again, the only waiting customer was not offered
    for about 30 s while the console said "1 waiting"."""
    harness = Harness(settings_for(tmp_path, ring_timeout=1.0))
    await harness.start()
    try:
        await harness.records.add_user("alice", "Alice", hash_password("pw-alice-1"), "agent", 0.0)
        agent = await (await browser.new_context()).new_page()
        await log_in(agent, harness.url, "alice", "pw-alice-1")
        await agent.get_by_role("button", name="Ready").click()
        await expect(agent.locator("#state")).to_have_text("Ready")
        customer = await harness.customer((await harness.tap())["token"])
        await expect(agent.locator("#offer")).to_be_visible()
        # Nobody answers: the offer rings out and the console says so.
        await expect(agent.locator("#message")).to_have_text("You missed an offer.", timeout=15_000)
        await expect(agent.locator("#offer")).to_be_hidden()
        await expect(agent.locator("#waiting-count")).to_have_text("1 waiting")
        await assert_accessible(agent, "agent after a missed offer")
        await expect(agent.locator("#state")).to_have_text("Away")  # one miss sets Away (RONA)
        await agent.get_by_role("button", name="Ready").click()
        # Ready again: the same customer rings at once (well within the old 30 s skip).
        await expect(agent.locator("#offer")).to_be_visible()
        await agent.get_by_role("button", name="Accept").click()
        await expect(agent.locator("#live")).to_be_visible()
        await customer.close()
    finally:
        await harness.stop()


async def test_a_tap_whose_answer_is_lost_is_sent_again_and_makes_one_ticket(
    harness: Harness, browser: Browser
) -> None:
    page = await (await browser.new_context()).new_page()
    keys: list[str | None] = []

    async def lose_the_first_answer(route: Route) -> None:
        keys.append(route.request.headers.get("idempotency-key"))
        if len(keys) == 1:
            await route.fetch()  # the server makes the ticket; its answer never arrives
            await route.abort("connectionreset")
        else:
            await route.continue_()

    await page.route("**/api/tickets", lose_the_first_answer)
    await page.goto(harness.url)
    await page.get_by_role("button", name="Get help").click()
    await expect(page.locator("#waiting")).to_be_visible()
    assert len(keys) == 2 and keys[0] is not None and keys[0] == keys[1]
    await wait_until(lambda: any(t.connected for t in harness.service.desk.tickets.values()))
    assert len(harness.service.desk.tickets) == 1
    ticket_id = next(iter(harness.service.desk.tickets))
    assert harness.service.desk.position(ticket_id) == 1

    # A new tap after leaving is a new request: a new key.
    await page.get_by_role("button", name="Cancel").click()
    await expect(page.locator("#start")).to_be_visible()
    await page.get_by_role("button", name="Get help").click()
    await expect(page.locator("#waiting")).to_be_visible()
    assert len(keys) == 3 and keys[2] not in (None, keys[0])


async def test_a_server_stopping_closes_the_pages_connections_itself(
    tmp_path: Path, browser: Browser
) -> None:
    """socket.io-client does not answer Engine.IO's CLOSE packet: unless the server closes each
    page's websocket itself, the HTTP server waits on its handler until Engine.IO gives the
    page up (ping interval + timeout, 10 s; the shutdown timeout is a minute here). Closed by
    the server, the stop takes a few hundredths of a second; half the ping bound is allowed."""
    harness = Harness(settings_for(tmp_path), shutdown_timeout=60.0)
    await harness.start()
    try:
        await live_call_in_browsers(browser, harness)
        assert len(harness.app[SIO].eio.sockets) == 2
        stopping = asyncio.ensure_future(harness.stop())  # drain, then the HTTP shutdown
        await wait_until(stopping.done, 5, "stopped without waiting on the pages' websockets")
        await stopping
    finally:
        await harness.stop()

"""Guidance tools in two real browsers: chat both ways, freeze and unfreeze, a customer photo."""

from __future__ import annotations

import cv2
import numpy as np
from playwright.async_api import Browser, expect

from tests.support.harness import Harness, wait_until
from tests.support.pages import assert_accessible, live_call_in_browsers


async def test_chat_freeze_and_photo_between_two_browsers(
    harness: Harness, browser: Browser
) -> None:
    customer, agent = await live_call_in_browsers(browser, harness)
    errors: list[str] = []
    for page in (agent, customer):
        page.on("pageerror", lambda exc: errors.append(str(exc)))

    # Chat both ways, typed with the keyboard.
    await customer.get_by_role("textbox", name="Message").fill("The light is still red")
    await customer.keyboard.press("Enter")
    await expect(agent.locator("#chat .chat-log")).to_contain_text(
        "Customer: The light is still red"
    )
    await agent.get_by_role("textbox", name="Message").fill("Hold the reset button for ten seconds")
    await agent.keyboard.press("Enter")
    await expect(customer.locator("#chat .chat-log")).to_contain_text(
        "Alice: Hold the reset button for ten seconds"
    )
    await expect(customer.locator("#chat .chat-log")).to_contain_text("You: The light is still red")

    # Real-time text: the agent sees the customer's draft as it is typed.
    await customer.get_by_label("Real-time text").check()
    await customer.get_by_role("textbox", name="Message").press_sequentially("I cannot hear")
    await expect(agent.locator("#chat .chat-draft")).to_have_text("Typing: I cannot hear")

    # Freeze: both sides show the same still; unfreeze returns to live.
    await agent.get_by_role("button", name="Freeze").click()
    await expect(customer.locator("#still")).to_be_visible()
    await expect(agent.locator("#still")).to_be_visible()
    await assert_accessible(agent, "agent frozen")
    await assert_accessible(customer, "customer frozen")
    width = await customer.locator("#still").evaluate(
        "(img) => img.decode().then(() => img.naturalWidth)"
    )
    assert width > 0
    assert await customer.locator("#still").get_attribute("src") == await agent.locator(
        "#still"
    ).get_attribute("src")
    await agent.get_by_role("button", name="Unfreeze").click()
    await expect(customer.locator("#still")).to_be_hidden()

    # A photo from the customer shows up on the agent's console.
    image = np.zeros((90, 120, 3), np.uint8)
    image[:, :] = (40, 160, 240)
    await customer.locator("#photo-file").set_input_files(
        files=[
            {
                "name": "router.jpg",
                "mimeType": "image/jpeg",
                "buffer": bytes(cv2.imencode(".jpg", image)[1]),
            }
        ]
    )
    thumb = agent.locator("#photos img")
    await expect(thumb).to_have_count(1)
    assert await thumb.evaluate("(img) => img.decode().then(() => img.naturalWidth)") == 120
    await agent.locator("#photos button").click()
    await expect(agent.locator("#still")).to_be_visible()
    await assert_accessible(agent, "agent with a photo")
    assert errors == []


def _reddish(png: bytes) -> int:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR).astype(int)
    b, g, r = image[..., 0], image[..., 1], image[..., 2]
    return int(((r > 200) & (g < 110) & (b < 110)).sum())


async def test_an_arrow_drawn_by_the_agent_appears_over_the_customers_preview(
    harness: Harness, browser: Browser
) -> None:
    customer, agent = await live_call_in_browsers(browser, harness)
    stage = customer.locator(".stage")
    before = _reddish(await stage.screenshot())

    await agent.get_by_role("button", name="Arrow").click()
    await agent.locator("#remote").scroll_into_view_if_needed()
    box = await agent.locator("#remote").bounding_box()
    assert box is not None
    start = (box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.3)
    end = (box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.7)
    await agent.mouse.move(*start)
    await agent.mouse.down()
    await agent.mouse.move(*end, steps=8)
    await agent.mouse.up()

    red = before

    async def red_pixels() -> int:
        nonlocal red
        red = _reddish(await stage.screenshot())
        return red

    async def arrow_shown() -> bool:
        return await red_pixels() >= before + 300

    async def arrow_gone() -> bool:
        return await red_pixels() <= before + 100

    await wait_until(
        arrow_shown,
        10,
        what=lambda: f"the arrow over the customer's preview: red pixels {before} -> {red}",
        interval=0.2,  # each probe is a screenshot
    )

    await agent.get_by_role("button", name="Undo").click()
    await wait_until(
        arrow_gone,
        10,
        what=lambda: f"the arrow gone after Undo: {red} red pixels",
        interval=0.2,
    )

"""The operator's page as an admin sets it up and a customer then meets it: branding (name,
logo, accent colour), the topics in the admin's order, opening hours before a tap."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np
from playwright.async_api import Browser, expect

from tests.support.harness import Harness
from tests.support.harness import test_settings as settings_for
from tests.support.pages import assert_accessible, log_in
from videoassist.auth import hash_password

SHOP = "https://shop.example"
PLUM = "#7a1f5c"
DASH = "\u2013"  # en dash, between days and between times


def _logo(path: Path) -> Path:
    picture = np.zeros((60, 120, 3), np.uint8)
    picture[:, :60] = (92, 31, 122)  # BGR
    cv2.imwrite(str(path), picture)
    return path


async def test_an_admin_brands_the_page_orders_topics_and_customers_see_it_with_the_hours(
    tmp_path: Path, browser: Browser
) -> None:
    harness = Harness(settings_for(tmp_path, allowed_origins=(SHOP,)))
    await harness.start()
    try:
        await _scenario(harness, browser, tmp_path)
    finally:
        await harness.stop()


async def _scenario(harness: Harness, browser: Browser, tmp_path: Path) -> None:
    await harness.records.add_user("root", "Root", hash_password("pw-root-1"), "admin", 0.0)
    admin = await (await browser.new_context()).new_page()
    problems: list[str] = []
    admin.on("pageerror", lambda exc: problems.append(str(exc)))
    await log_in(admin, harness.url, "root", "pw-root-1", path="/admin")
    await expect(admin.locator("#topics-table")).to_contain_text("billing")

    # Branding: a pale accent is refused with its ratio, a dark one is kept; a logo goes up.
    await admin.get_by_label("Company name").fill("Acme Support")
    await admin.get_by_label("Accent colour").fill("#ffcc00")
    await admin.get_by_role("button", name="Save name and colour").click()
    await expect(admin.locator("#branding-status")).to_contain_text("contrast of 1.51:1")
    await expect(admin.get_by_label("Accent colour")).to_be_focused()
    await assert_accessible(admin, "admin, accent refused")
    await admin.get_by_label("Accent colour").fill(PLUM)
    await admin.get_by_role("button", name="Save name and colour").click()
    await expect(admin.locator("#branding-status")).to_have_text("Name and colour saved.")
    await admin.get_by_label("Logo image").set_input_files(_logo(tmp_path / "logo.png"))
    await admin.get_by_role("button", name="Upload logo").click()
    await expect(admin.locator("#branding-status")).to_have_text("Logo uploaded.")
    await expect(admin.get_by_role("img", name="Current logo")).to_be_visible()

    # Topic order with the keyboard: billing up twice; focus stays on the button.
    rows = admin.locator("#topics-table tbody tr td:first-child")
    before = await rows.all_inner_texts()
    assert before == ["setup", "connectivity", "device", "billing", "other"]  # as created
    move_up = admin.get_by_role("button", name="Move topic billing up")
    await move_up.focus()
    await admin.keyboard.press("Enter")
    await expect(rows).to_have_text(["setup", "connectivity", "billing", "device", "other"])
    await expect(move_up).to_be_focused()
    await admin.keyboard.press("Enter")
    await expect(rows).to_have_text(["setup", "billing", "connectivity", "device", "other"])
    await expect(admin.locator("#topics-status")).to_have_text(
        "Topic billing moved up: number 2 of 5."
    )
    await assert_accessible(admin, "admin, branding set and topics ordered")

    # Billing goes to a queue that is closed now: open 9:00-17:00 on every day but today in
    # Paris and the days either side of it (set through the API: the queue form has its own
    # test).
    today = dt.datetime.now(ZoneInfo("Europe/Paris")).weekday()
    open_days = [d for d in range(7) if d not in {today, (today + 1) % 7, (today - 1) % 7}]
    hours = {
        "timezone": "Europe/Paris",
        "windows": [{"day": d, "start": 540, "end": 1020} for d in open_days],
    }
    status = await admin.evaluate(
        """async ([hours]) => {
            const put = (path, body) => fetch(path, {method: "PUT",
                headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
            const queue = await put("/api/admin/queues/office", {name: "Office", hours});
            const topic = await put("/api/admin/topics/billing",
                {label: "Billing", queue_id: "office"});
            return [queue.status, topic.status];
        }""",
        [hours],
    )
    assert status == [201, 200]
    assert problems == []

    # The customer's page, in the operator's colours, topics in the admin's order.
    customer = await (await browser.new_context()).new_page()
    customer.on("pageerror", lambda exc: problems.append(str(exc)))
    await customer.goto(harness.url)
    await expect(customer.locator("#brand-name")).to_have_text("Acme Support")
    await expect(customer.get_by_role("heading", level=1)).to_contain_text("Acme Support")
    logo = customer.locator("#brand-logo")
    await expect(logo).to_be_visible()
    assert await logo.evaluate("(img) => img.complete && img.naturalWidth") == 120
    assert await logo.evaluate("(img) => new URL(img.src).origin") == harness.url
    help_colour = await customer.get_by_role("button", name="Get help").evaluate(
        "(b) => getComputedStyle(b).backgroundColor"
    )
    assert help_colour == "rgb(122, 31, 92)"
    options = await customer.locator("#topic option").all_inner_texts()
    assert options[1:3] == ["Setting up a device", "Billing"]

    # A closed topic says when it opens, before any tap, in the customer's language.
    hours_text = customer.locator("#hours")
    await expect(hours_text).to_be_hidden()
    await customer.get_by_label("What do you need help with?").select_option("billing")
    said = f"Closed right now. Open {_in_words(open_days)}, Europe/Paris."
    await expect(hours_text).to_have_text(said)
    await assert_accessible(customer, "customer, branded, closed topic")
    await customer.get_by_label("Language").select_option("fr")
    await expect(hours_text).to_contain_text("Fermé pour le moment. Ouvert ")
    await expect(hours_text).to_contain_text(f"9:00{DASH}17:00, Europe/Paris.")
    await customer.get_by_label("Langue").select_option("en")
    await customer.get_by_label("What do you need help with?").select_option("setup")
    await expect(hours_text).to_be_hidden()

    # The embedded page is the same page, branded the same way.
    embedded = await (await browser.new_context()).new_page()
    await embedded.goto(f"{harness.url}/embed?host={SHOP}")
    await expect(embedded.locator("#brand-name")).to_have_text("Acme Support")
    await expect(embedded.locator("#brand-logo")).to_be_visible()
    assert problems == []


def _in_words(days: list[int]) -> str:
    """The days as the page runs them together: consecutive days with the same times."""
    names = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    runs: list[list[int]] = []
    for d in days:
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    times = f"9:00{DASH}17:00"
    return ", ".join(
        f"{names[r[0]]} {times}" if len(r) == 1 else f"{names[r[0]]}{DASH}{names[r[-1]]} {times}"
        for r in runs
    )

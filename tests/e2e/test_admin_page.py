"""The admin page in a real browser: log in, create a queue with the form, fix a mistake."""

from __future__ import annotations

import time

from playwright.async_api import Browser, expect

from tests.support.harness import Harness
from tests.support.pages import assert_accessible
from videoassist.auth import hash_password
from videoassist.http.keys import LOGIN_THROTTLE


async def test_an_admin_creates_a_queue_with_the_form_and_sees_errors_by_the_field(
    harness: Harness, browser: Browser
) -> None:
    await harness.records.add_user("root", "Root", hash_password("pw-root-1"), "admin", 0.0)
    context = await browser.new_context()
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    # Console errors other than HTTP statuses we cause on purpose (CSP refusals show up here).
    page.on(
        "console",
        lambda msg: (
            problems.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on("response", lambda r: problems.append(r.url) if r.status == 404 else None)

    await page.goto(f"{harness.url}/admin")
    await assert_accessible(page, "admin login")
    await page.get_by_label("Username", exact=True).fill("root")
    await page.get_by_label("Password", exact=True).fill("pw-root-1")
    await page.get_by_role("button", name="Log in").click()
    queues = page.locator("#queues-table")
    await expect(queues).to_contain_text("general")
    await assert_accessible(page, "admin signed in")

    form = page.locator("#queue-form")
    await form.get_by_label("ID").fill("vpn")
    await form.get_by_label("Name").fill("VPN")
    await form.get_by_role("button", name="Add skill").click()
    await form.get_by_label("Skill", exact=True).fill("vpn")
    await form.get_by_label("Level", exact=True).select_option("3")
    await form.get_by_label("Strategy").select_option("best_skill")
    await form.get_by_label("Maximum wait (seconds)").fill("300")
    await form.get_by_label("Overflow to").select_option("general")
    await form.get_by_label("Time zone").fill("Europe/Paris")
    await form.get_by_role("button", name="Add opening window").click()
    await form.get_by_label("Opens").fill("09:00")
    await form.get_by_label("Closes").fill("17:30")
    await form.get_by_role("button", name="Save queue").click()
    # No queue or agent has the skill vpn yet: a new skill is confirmed, not made by a typo.
    await (
        page.get_by_role("dialog", name="Add the new skill vpn?")
        .get_by_role("button", name="Add new skill")
        .click()
    )

    await expect(page.locator("#queue-form-status")).to_have_text("Queue vpn created.")
    row = queues.locator("tr", has_text="VPN")
    await expect(row).to_contain_text("vpn 3")
    await expect(row).to_contain_text("Best skilled agent")
    await expect(row).to_contain_text("Mon 09:00\u201317:30 (Europe/Paris)")
    queue = harness.service.desk.config.queues["vpn"]
    assert dict(queue.skills) == {"vpn": 3}
    assert (queue.overflow_to, queue.max_wait) == ("general", 300.0)
    assert queue.hours.windows == ((0, 540, 1050),)

    # A time zone the server does not know: the message is by the form, the field is marked.
    timezone = form.get_by_label("Time zone")
    await timezone.fill("Mars/Olympus_Mons")
    await form.get_by_role("button", name="Save queue").click()
    await expect(page.locator("#queue-form-status")).to_have_text(
        "Time zone: unknown time zone 'Mars/Olympus_Mons'"
    )
    await expect(timezone).to_be_focused()
    await expect(timezone).to_have_attribute("aria-invalid", "true")
    await assert_accessible(page, "admin form with an error")
    assert harness.service.desk.config.queues["vpn"].hours.timezone == "Europe/Paris"

    # The new queue is offered to topics at once.
    await expect(page.locator("#topic-queue")).to_contain_text("VPN (vpn)")
    await context.close()
    assert not problems, problems


async def test_an_admin_lifts_the_login_waits_of_a_name_with_the_form(
    harness: Harness, browser: Browser
) -> None:
    await harness.records.add_user("root", "Root", hash_password("pw-root-1"), "admin", 0.0)
    await harness.records.add_user("alice", "Alice", hash_password("pw-alice-1"), "agent", 0.0)
    throttle = harness.app[LOGIN_THROTTLE]
    # The throttle's time stands still: its first wait (1 s) must not run out while a slow
    # machine drives the browser.
    frozen = time.time()
    throttle.clock = lambda: frozen
    for _ in range(harness.settings.login_max_failures):
        await throttle.failed("alice", "192.0.2.7")  # alice mistyping, from her own machine
    assert throttle.waiting()
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{harness.url}/admin")
    await page.get_by_label("Username", exact=True).fill("root")
    await page.get_by_label("Password", exact=True).fill("pw-root-1")
    await page.get_by_role("button", name="Log in").click()
    form = page.locator("#unlock-form")
    await form.get_by_label("Login name").fill("alice")
    await form.get_by_role("button", name="Lift waits").click()
    await expect(page.locator("#unlock-form-status")).to_have_text(
        "alice may log in again (1 wait lifted)."
    )
    assert not [key for key, _ in throttle.waiting() if key.username == "alice"]
    await assert_accessible(page, "admin after lifting login waits")
    await form.get_by_role("button", name="Lift waits").click()
    await expect(page.locator("#unlock-form-status")).to_have_text("alice had no login waits.")
    await context.close()

"""The recording consent prompt in Chromium: a queue that asks, the customer answers by keyboard,
both sides show the state in their live regions (role status), and afterwards a trainer finds
the recording in the library and plays it."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.integration.test_recording import recording_policy
from tests.support.harness import Harness, wait_until
from tests.support.pages import assert_accessible, live_call_in_browsers, log_in
from videoassist.auth import hash_password
from videoassist.http.keys import RECORDINGS


async def test_the_customer_is_asked_says_yes_by_keyboard_and_both_sides_see_it(
    browser: Browser, harness: Harness
) -> None:
    await recording_policy(harness, "ask")
    customer, agent = await live_call_in_browsers(browser, harness)

    prompt = customer.get_by_role("alertdialog", name="May we record this call?")
    await expect(prompt).to_be_visible(timeout=10_000)
    yes = prompt.get_by_role("button", name="Yes, record")
    await expect(yes).to_be_focused()  # the question takes the focus: one key answers it
    await assert_accessible(customer, "the recording question")
    assert not harness.hub.sessions or all(
        s.recorder is None for s in harness.hub.sessions.values()
    )

    await customer.keyboard.press("Enter")
    await expect(prompt).to_be_hidden()
    indicator = customer.get_by_role("status").filter(has_text="This call is being recorded.")
    await expect(indicator).to_be_visible(timeout=10_000)
    # The agent's side says it too, in a status region (announced by screen readers).
    await expect(agent.get_by_role("status").filter(has_text="Recording")).to_be_visible(
        timeout=10_000
    )
    await expect(agent.locator("#recording-indicator")).to_have_attribute("aria-live", "polite")
    await expect(customer.locator("#recording-indicator")).to_have_attribute("aria-live", "polite")
    await expect(agent.locator("#recording-pause")).to_be_visible(timeout=10_000)
    await wait_until(
        lambda: any(s.recorder is not None for s in harness.hub.sessions.values()),
        what="the recorder started",
    )
    await assert_accessible(customer, "a recorded call")
    await assert_accessible(agent, "a recorded call, agent")

    await agent.get_by_role("button", name="Hang up").click()
    await wait_until(lambda: not harness.hub.sessions, 20, what="media closed")
    await harness.app[RECORDINGS].close()
    rows = [
        row
        for session_id in list(harness.service.desk.sessions)
        for row in await harness.records.recordings_of(session_id)
    ]
    assert [r["consent"] for r in rows] == ["accepted"], rows
    assert rows[0]["size"] > 0 and rows[0]["files"], rows

    # A trainer finds it in the library and plays it: the customer's picture and the agent's.
    await harness.records.add_user(
        "tina", "Tina Trainer", hash_password("pw-tina-12"), "trainer", 0
    )
    trainer = await (await browser.new_context(locale="en-US")).new_page()
    await log_in(trainer, harness.url, "tina", "pw-tina-12", path="/trainer")
    row = trainer.locator(f'[id="rec-{rows[0]["id"]}"]')
    await expect(row).to_contain_text("Alice", timeout=10_000)
    await row.get_by_role("button", name="Play").click()
    await trainer.wait_for_function("() => document.getElementById('rec-main').readyState >= 2")
    await trainer.evaluate("document.getElementById('rec-main').play()")
    await trainer.wait_for_function(
        "() => { const v = document.getElementById('rec-main');"
        " return !v.paused && v.currentTime > 0.5 && v.videoWidth > 0; }",
        timeout=15_000,
    )
    await trainer.wait_for_function(
        "() => { const i = document.getElementById('rec-inset');"
        " return !i.paused && i.currentTime > 0.3 && i.videoWidth > 0; }",
        timeout=15_000,
    )


async def test_a_no_in_french_is_kept_and_nothing_is_recorded(
    browser: Browser, harness: Harness
) -> None:
    await recording_policy(harness, "ask")
    customer, _agent = await live_call_in_browsers(browser, harness, locale="fr-FR")
    prompt = customer.get_by_role("alertdialog", name="Pouvons-nous enregistrer cet appel ?")
    await expect(prompt).to_be_visible(timeout=10_000)
    await prompt.get_by_role("button", name="Non").click()
    await expect(prompt).to_be_hidden()
    indicator = customer.locator("#recording-indicator")
    await expect(indicator).to_have_attribute("data-i18n", "recording.off", timeout=10_000)
    await expect(indicator).to_contain_text("pas enregistr")  # in French
    await harness.service.settled()
    assert all(s.recorder is None for s in harness.hub.sessions.values())

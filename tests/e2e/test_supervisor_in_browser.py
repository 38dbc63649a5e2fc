"""A supervisor on the wallboard in Chromium: a customer appears waiting, the call goes live,
and every state of the page passes axe-core."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.support.harness import Harness, wait_until
from tests.support.pages import assert_accessible, log_in
from videoassist.app import _restore_room
from videoassist.auth import hash_password
from videoassist.desk import ServerEvent
from videoassist.desk.events import MediaMoved
from videoassist.http.keys import DELIVERY, PLANE


async def test_a_supervisor_sees_a_customer_wait_and_the_call_go_live(
    browser: Browser, harness: Harness
) -> None:
    await harness.records.add_user("sue", "Sue", hash_password("pw-sue-1"), "supervisor", 0.0)
    await harness.records.add_user("alice", "Alice", hash_password("pw-alice-1"), "agent", 0.0)
    board = await (await browser.new_context()).new_page()
    await log_in(board, harness.url, "sue", "pw-sue-1", path="/supervisor")
    await expect(board.locator("#link-state")).to_have_text("Live")
    waiting = board.get_by_role("table", name="Customers in line, best placed first in each queue")
    await expect(waiting).to_contain_text("Nobody is waiting.")
    await assert_accessible(board, "an empty floor")

    agent = await (await browser.new_context()).new_page()
    await log_in(agent, harness.url, "alice", "pw-alice-1")
    await expect(agent.locator("#state")).to_have_text("Away")
    agents = board.get_by_role("table", name="Agents signed in")
    await expect(agents.get_by_role("row", name="Alice")).to_contain_text("Away")

    customer = await (await browser.new_context()).new_page()
    await customer.goto(harness.url)
    await customer.locator("#help").click()
    row = waiting.get_by_role("row").nth(1)
    await expect(row).to_contain_text("Waiting")
    await expect(row.get_by_role("button", name="Move")).to_be_visible()
    queues = board.get_by_role("table", name="Queues today")
    await expect(queues.get_by_role("row", name="General")).to_contain_text("1")
    await assert_accessible(board, "a customer waiting")

    # The confirmation dialog, reached and left by keyboard.
    await row.get_by_role("button", name="Priority").focus()
    await board.keyboard.press("Enter")
    dialog = board.get_by_role("dialog", name="Change priority")
    await expect(dialog).to_be_visible()
    await expect(board.locator("#confirm-priority")).to_be_focused()
    await assert_accessible(board, "the confirmation dialog")
    await board.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()

    await agent.get_by_role("button", name="Ready").click()
    await agent.get_by_role("button", name="Accept").click()
    calls = board.get_by_role("table", name="Calls in progress")
    await expect(calls.get_by_role("row", name="Alice")).to_be_visible(timeout=10_000)
    await expect(agents.get_by_role("row", name="Alice")).to_contain_text("In a call")
    await expect(waiting).to_contain_text("Nobody is waiting.")
    await expect(calls.get_by_role("row", name="Alice")).to_contain_text("—")
    await assert_accessible(board, "a live call")

    # Listening in, by keyboard: the customer's camera plays on the wallboard, nothing is sent.
    await calls.get_by_role("button", name="Listen in on Alice's call").focus()
    await board.keyboard.press("Enter")
    watch = board.get_by_role("region", name="Listening in")
    await expect(watch).to_be_visible()
    await expect(board.locator("#watch-status")).to_have_text(
        "Listening only: nobody hears you.", timeout=10_000
    )
    await expect(board.get_by_role("button", name="Listen only")).to_have_attribute(
        "aria-pressed", "true"
    )
    video = board.get_by_label("The customer's video")

    async def playing() -> bool:
        return bool(await video.evaluate("v => v.videoWidth > 0 && v.currentTime > 0"))

    await wait_until(playing, 30, what="the customer's video playing on the wallboard")
    sent = await board.evaluate(
        """async () => {
            const report = await window.videoassist.watching.pc.getStats();
            let sent = 0, decoded = 0;
            report.forEach((s) => {
                if (s.type === "outbound-rtp") sent += s.packetsSent || 0;
                if (s.type === "inbound-rtp" && s.kind === "video") decoded += s.framesDecoded || 0;
            });
            return {sent, decoded};
        }"""
    )
    assert sent["sent"] == 0 and sent["decoded"] > 0, sent
    await assert_accessible(board, "listening in on a call")

    # The call's media moves to another node (here opened again on the same one: what the
    # pages see is the same): every page, the wallboard included, offers anew, and the
    # wallboard plays the customer's video again in the same mode.
    await board.evaluate("() => { window.__before = window.videoassist.watching.pc; }")
    (session,) = [s for s in harness.service.desk.sessions.values() if s.ended_at is None]
    plane = harness.app[PLANE]
    await plane.close_session(session.call_id)
    plane.open(session.call_id, session.ticket_id, session.agent_id, False)
    await _restore_room(harness.records, harness.rooms, session.call_id)
    now = harness.service.now()
    await harness.service.submit(MediaMoved(session.call_id, now - 6.0, now))  # tells both
    moved = {"session_id": session.id}  # as the desk's node tells a call's watchers
    await harness.app[DELIVERY].to_watchers(session.call_id, ServerEvent.MEDIA_MOVED, moved)

    async def new_connection() -> bool:
        return bool(
            await board.evaluate(
                "() => Boolean(window.videoassist.watching)"
                " && window.videoassist.watching.pc !== window.__before"
            )
        )

    await wait_until(new_connection, 15, what="the wallboard's new peer connection")
    await wait_until(playing, 30, what="the customer's video playing again on the wallboard")
    await expect(board.locator("#watch-status")).to_have_text(
        "Listening only: nobody hears you.", timeout=10_000
    )

    # Joining the call: the customer is told, in their page's live region.
    await board.get_by_role("button", name="Join the call").click()
    await expect(board.locator("#watch-status")).to_have_text(
        "In the call: the customer and the agent hear you.", timeout=10_000
    )
    await expect(customer.locator("#supervision-indicator")).to_have_text(
        "A supervisor joined the call and can hear you.", timeout=10_000
    )
    await expect(agent.locator("#live-status")).to_contain_text("A supervisor joined the call")
    await board.get_by_role("button", name="Leave").click()
    await expect(watch).to_be_hidden()
    await expect(customer.locator("#supervision-indicator")).to_have_text(
        "The supervisor left the call.", timeout=10_000
    )
    await harness.service.settled()
    actions = [r["action"] for r in await harness.records.audit_rows()]
    assert actions == ["monitor", "monitor", "barge", "leave"]  # joined again after the move

    # The same floor in French: the markup and everything the script drew, with no English
    # left over, and the same keys in both languages.
    await board.get_by_label("Language").select_option("fr")
    await expect(board.locator("html")).to_have_attribute("lang", "fr")
    live = board.get_by_role("table", name="Appels en cours, par conseiller")
    await expect(live.get_by_role("button", name="Écouter l\u2019appel de Alice")).to_be_visible()
    floor = board.get_by_role("table", name="Conseillers connectés")
    await expect(floor.get_by_role("row", name="Alice")).to_contain_text("En appel")
    await expect(board.locator("#link-state")).to_have_text("En direct")
    keys = await board.evaluate(
        "() => [Object.keys(window.videoassist.texts.en).sort(),"
        " Object.keys(window.videoassist.texts.fr).sort()]"
    )
    assert keys[0] == keys[1]
    shown = await board.locator("main").inner_text()
    english = (
        "Waiting now",
        "Live calls",
        "Agents signed in",
        "Listen in",
        "Set away",
        "Sign out",
        "Customer:",
        "Nobody is waiting",
        "In a call",
        "Log out",
        "How service level is counted",
        "answered within",
    )
    assert [word for word in english if word in shown] == []
    await assert_accessible(board, "the wallboard in French")

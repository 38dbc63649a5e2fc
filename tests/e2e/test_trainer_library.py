"""The trainer library in Chromium: log in, filter recordings, play one with its annotations
drawn over the picture from the sidecar (and hidden with the toggle), the agent's inset playing
along, and chat lines on the time line that seek; keyboard and axe, English and French.

The recording's files are encoded at test time (tests.support.library)."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from tests.support.harness import Harness
from tests.support.library import CHAT_TEXT, seed_recording
from tests.support.pages import assert_accessible, log_in
from videoassist.auth import hash_password
from videoassist.http.keys import RECORDINGS

T0 = 1_700_000_000.0

# Pixels of the overlay canvas that something was drawn on.
INKED = """() => {
  const c = document.getElementById("rec-marks");
  const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
  return n;
}"""


async def _library(harness: Harness, browser: Browser, role: str = "trainer") -> Page:
    await harness.records.add_user("tina", "Tina Trainer", hash_password("pw-tina-12"), role, 0.0)
    await harness.records.add_user("alice", "Alice", hash_password("pw-alice-1"), "agent", 0.0)
    root = harness.app[RECORDINGS].root
    await seed_recording(
        harness.records, "r1", topic="setup", agents=(("u2", "resolved"),), started_at=T0, root=root
    )
    await seed_recording(
        harness.records, "r2", topic="billing", agents=(("u2", "escalated"),), started_at=T0 + 86400
    )
    page = await (await browser.new_context(locale="en-US")).new_page()
    await log_in(page, harness.url, "tina", "pw-tina-12", path="/trainer")
    await expect(page.locator("#recordings tbody tr")).to_have_count(2)
    return page


async def _seek(page: Page, seconds: float) -> None:
    await page.evaluate(f"window.videoassist.player.seekMedia({seconds})")
    await page.wait_for_function(
        f"() => Math.abs(document.getElementById('rec-main').currentTime - {seconds}) < 0.05"
        " && !document.getElementById('rec-main').seeking"
    )


class TestTrainerLibrary:
    async def test_trainer_filters_and_plays_a_recording_with_its_marks_and_chat(
        self, harness: Harness, browser: Browser
    ) -> None:
        page = await _library(harness, browser)
        await expect(page.locator("#count")).to_have_text("2 recordings")
        await expect(page.locator("#read-only")).to_be_hidden()
        await expect(page.locator("#rec-r2")).to_contain_text("Not recorded")
        await expect(page.locator("#rec-r1")).to_contain_text("Alice")
        await assert_accessible(page, "library")

        # Filters, by keyboard: the topic, then the disposition that excludes everything.
        await page.get_by_label("Topic", exact=True).select_option("setup")
        await page.get_by_role("button", name="Filter").focus()
        await page.keyboard.press("Enter")
        await expect(page.locator("#recordings tbody tr")).to_have_count(1)
        await expect(page.locator("#count")).to_have_text("1 recording")
        await page.get_by_label("Disposition", exact=True).select_option("escalated")
        await page.get_by_role("button", name="Filter").click()
        await expect(page.locator("#count")).to_have_text("No recording matches these filters.")
        await page.get_by_role("button", name="Clear").click()
        await expect(page.locator("#recordings tbody tr")).to_have_count(2)

        play = page.locator("#rec-r1").get_by_role("button", name="Play")
        await play.focus()
        await page.keyboard.press("Enter")
        await expect(page.locator("#player-title")).to_be_focused()
        await page.wait_for_function("() => document.getElementById('rec-main').readyState >= 2")
        await expect(page.locator("#rec-inset")).to_be_visible()

        # Before the mark is drawn (0.5 s) nothing is on the picture.
        await _seek(page, 0.2)
        await expect(page.locator("#marks-status")).to_have_text("0 annotations on the picture")
        assert await page.evaluate(INKED) == 0

        # The chat line is on the time line; choosing it seeks to 1.5 s, where the mark shows.
        chat = page.get_by_role("button", name=f"Go to 0:01 Alice: {CHAT_TEXT}")
        await chat.focus()
        await page.keyboard.press("Enter")
        await page.wait_for_function(
            "() => Math.abs(document.getElementById('rec-main').currentTime - 1.5) < 0.05"
        )
        await expect(page.locator("#marks-status")).to_have_text("1 annotations on the picture")
        await page.wait_for_function(f"() => ({INKED})() > 100")
        await assert_accessible(page, "playing a recording")

        # The toggle hides the marks, and shows them again.
        await page.get_by_label("Show annotations").uncheck()
        await expect(page.locator("#marks-status")).to_have_text("Annotations hidden")
        assert await page.evaluate(INKED) == 0
        await page.get_by_label("Show annotations").check()
        await page.wait_for_function(f"() => ({INKED})() > 100")

        # Removed at 2.5 s.
        await _seek(page, 2.7)
        await expect(page.locator("#marks-status")).to_have_text("0 annotations on the picture")
        assert await page.evaluate(INKED) == 0

        # Playing: the agent's inset plays along with the customer's picture.
        await _seek(page, 0.0)
        await page.evaluate("document.getElementById('rec-main').play()")
        await page.wait_for_function(
            "() => { const i = document.getElementById('rec-inset');"
            " return !i.paused && i.currentTime > 0.3; }"
        )

    async def test_library_in_french(self, harness: Harness, browser: Browser) -> None:
        page = await _library(harness, browser)
        await page.get_by_label("Language").select_option("fr")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Bibliothèque de formation")
        await expect(page.locator("#count")).to_have_text("2 enregistrements")
        await expect(page.locator("#rec-r2")).to_contain_text("Non enregistré")
        await page.locator("#rec-r1").get_by_role("button", name="Lire").click()
        await expect(page.locator("#no-chat")).to_be_hidden()
        await expect(page.get_by_label("Afficher les annotations")).to_be_checked()
        await assert_accessible(page, "library in French")

    async def test_supervisors_read_only_and_agents_are_refused(
        self, harness: Harness, browser: Browser
    ) -> None:
        page = await _library(harness, browser, role="supervisor")
        await expect(page.locator("#read-only")).to_be_visible()
        await page.get_by_role("button", name="Log out").click()
        await page.get_by_label("Username").fill("alice")
        await page.get_by_label("Password").fill("pw-alice-1")
        await page.get_by_role("button", name="Log in").click()
        await expect(page.locator("#message")).to_contain_text("This page is for trainers")
        await expect(page.locator("#library")).to_be_hidden()
        await assert_accessible(page, "login refused")


REPLAY = """async () => {
  const player = await import("/static/shared/recording-player.js");
  const rect = (id, at) => ({ id, kind: "rect", x: 0.1, y: 0.1, w: 0.2, h: 0.2, created_at: at });
  const pen = { id: "p", kind: "pen", points: [[0, 0]], created_at: 1 };
  const laser = { id: "l", kind: "laser", at: [0.5, 0.5], created_at: 4.5 };
  const room = { annotations: { live: [rect("old", 0)] } };
  const moved = { ...rect("old", 0), x: 0.5 };
  const text = [
    { at: 0, kind: "recording_started", data: { room } },
    { at: 1, kind: "annotate", data: { target: "live", ...pen } },
    { at: 1.2, kind: "annotate_points", data: { id: "p", points: [[0.5, 0.5], [0.6, 0.6]] } },
    { at: 2, kind: "annotation_moved", data: { id: "old", annotation: moved } },
    { at: 3, kind: "freeze", data: { still_id: "s1" } },
    { at: 3.5, kind: "annotate", data: { target: "s1", ...rect("on-still", 3.5) } },
    { at: 4, kind: "unfreeze", data: {} },
    { at: 4.5, kind: "laser", data: { target: "live", annotation: laser } },
    { at: 5, kind: "annotations_clear", data: { target: "live" } },
    { at: 5.5, kind: "chat", data: { redacted: true } },
  ].map((l) => JSON.stringify(l)).join("\\n") + '\\n{"at": 6, "kind": "ann';
  const lines = player.parseSidecar(text);
  const name = (m) => m.id + (m.points ? ":" + m.points.length : "") + (m.x === 0.5 ? "@" : "");
  const ids = (t) => player.marksAt(lines, t).map(name);
  const at = {};
  for (const t of [0, 1.1, 1.5, 2, 3.7, 4.6, 5, 6]) at[t] = ids(t);
  return { count: lines.length, at, chat: player.chatLines(lines) };
}"""


async def test_the_sidecar_replays_to_the_marks_on_show_at_any_moment(
    harness: Harness, browser: Browser
) -> None:
    """Snapshot, pen points, moves, a freeze (marks on the still while frozen), a laser, a clear,
    a redacted chat line; a torn last line is left out."""
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{harness.url}/trainer")
    result = await page.evaluate(REPLAY)
    assert result["count"] == 10
    assert result["at"] == {
        "0": ["old"],
        "1.1": ["old", "p:1"],
        "1.5": ["old", "p:3"],
        "2": ["old@", "p:3"],
        "3.7": ["on-still"],  # frozen: the marks on the still
        "4.6": ["old@", "p:3", "l"],
        "5": ["l"],  # a clear leaves the laser to fade
        "6": [],
    }
    assert result["chat"] == [{"at": 5.5, "name": "", "from": "", "text": None, "redacted": True}]


OPEN_TUTORIAL = """async (url) => {
  const { TutorialPlayer } = await import("/static/shared/tutorial-player.js");
  const box = document.createElement("section");
  box.setAttribute("aria-label", "Tutorial");
  const call = document.createElement("audio");
  call.volume = 0.8;
  document.querySelector("main").append(box, call);
  window.reports = [];
  window.callAudio = call;
  window.tutorial = new TutorialPlayer({
    container: box, callAudio: call, report: (kind, data) => window.reports.push({ kind, ...data }),
  });
  window.tutorial.open({
    id: "tut1", title: "Reset the router", url, start: 0.5,
    chapters: [{ title: "Find the button", at: 0 }, { title: "Hold it", at: 2 }],
  });
}"""


async def test_a_tutorial_plays_beside_the_call_ducking_or_pausing_its_sound(
    harness: Harness, browser: Browser
) -> None:
    """web/shared/tutorial-player.js on its own: opened at its start, the call's sound lowered
    or muted while it plays and restored after, chapters seek, opened/position/finished are
    reported. (The file is a recording's, fetched with the trainer's link.)"""
    page = await _library(harness, browser)
    (row,) = [r for r in await page.evaluate("window.videoassist.rows") if r["id"] == "r1"]
    url = next(f["url"] for f in row["files"] if f["name"] == "customer.webm")
    await page.evaluate(OPEN_TUTORIAL, url)
    await expect(page.get_by_role("heading", name="Reset the router")).to_be_focused()
    await page.wait_for_function("() => window.reports.some((r) => r.kind === 'opened')")
    opened = await page.evaluate("window.reports[0]")
    assert opened["kind"] == "opened" and opened["tutorial_id"] == "tut1"
    await assert_accessible(page, "tutorial open")

    video = page.locator("#tutorial-video")
    await page.evaluate("document.getElementById('tutorial-video').play()")
    await page.wait_for_function("() => window.callAudio.volume === 0.2 && !window.callAudio.muted")
    await page.evaluate("document.getElementById('tutorial-video').pause()")
    await page.wait_for_function("() => window.callAudio.volume === 0.8")
    await page.get_by_label("Paused").check()
    await page.get_by_role("button", name="0:02 Hold it").click()
    await page.wait_for_function("() => window.callAudio.muted")
    await expect(video).to_have_js_property("ended", True, timeout=10_000)
    await page.wait_for_function("() => window.reports.some((r) => r.kind === 'finished')")
    assert not await page.evaluate("window.callAudio.muted")
    positions = await page.evaluate("window.reports.filter((r) => r.kind === 'position')")
    assert any(p["position"] >= 2.0 for p in positions)
    await expect(page.locator("#tutorial-status")).to_have_text("Tutorial finished.")
    await page.get_by_role("button", name="Close the tutorial").click()
    assert (await page.evaluate("window.reports.at(-1)"))["kind"] == "closed"


async def test_a_trainer_edits_a_draft_at_the_moments_the_player_shows(
    harness: Harness, browser: Browser
) -> None:
    """Trim, a cut, a chapter, a blur dragged over the picture, a mark left out, the poster;
    refusals (a chapter inside the cut) leave the draft as it was and say why."""
    page = await _library(harness, browser)
    await page.locator("#rec-r1").get_by_role("button", name="Play").click()
    await page.wait_for_function("() => document.getElementById('rec-main').readyState >= 2")
    editor = page.get_by_role("region", name="Make a tutorial from this recording")
    await expect(editor.locator("#edit-trim")).to_have_text(
        "Starts at 0:00, ends at 0:03: the tutorial lasts 0:03."
    )
    draft = "window.videoassist.editor.draft"

    await _seek(page, 0.25)
    await editor.get_by_role("button", name="Start here").click()
    await _seek(page, 1.0)
    await editor.get_by_role("button", name="Cut from here").click()
    await _seek(page, 1.4)
    await editor.get_by_role("button", name="Cut to here").click()
    await expect(editor.get_by_role("list", name="Cut out")).to_contain_text("From 0:01 to 0:01")
    await _seek(page, 1.2)
    await editor.get_by_label("Chapter title").fill("Inside the cut")
    await editor.get_by_role("button", name="Add a chapter here").click()
    await expect(editor.locator("#edit-status")).to_have_text(
        "A chapter must start in a part that is kept."
    )
    await _seek(page, 2.0)
    await editor.get_by_label("Chapter title").fill("Hold the button")
    await editor.get_by_label("Chapter title").press("Enter")
    await expect(editor.get_by_role("list", name="Chapters")).to_contain_text(
        "0:02 Hold the button"
    )

    # A blur dragged over the left half of the picture, for one second from 2.0 s.
    await editor.get_by_label("Seconds").fill("1")
    await editor.get_by_role("button", name="Draw a blur").click()
    await page.locator("#rec-main").scroll_into_view_if_needed()
    box = await page.locator("#rec-main").bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.2)
    await page.mouse.down()
    await page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.6, steps=4)
    await page.mouse.up()
    await expect(editor.get_by_role("list", name="Blur personal data")).to_contain_text(
        "From 0:02 to 0:03"
    )
    await editor.get_by_label("0:00 rect").uncheck()
    await editor.get_by_role("button", name="Use this frame").click()
    await editor.get_by_label("Title", exact=True).fill("Reset the router")
    await editor.get_by_label("Tags (separated by commas)").fill("Router, reset, router")
    await assert_accessible(page, "editing a tutorial")

    await editor.get_by_role("button", name="Save the draft").click()
    await expect(editor.locator("#edit-status")).to_have_text("Draft saved.")
    await expect(editor.locator("#flow-state")).to_have_text("A draft, not published yet.")
    got = await page.evaluate(draft)
    assert got["trim"] == {"in": 0.25, "out": 3.0}
    assert got["cuts"] == [[1.0, 1.4]]
    assert got["chapters"] == [{"title": "Hold the button", "at": 2.0}]
    (blur,) = got["blurs"]
    assert (blur["start"], blur["end"]) == (2.0, 3.0)
    assert abs(blur["x"] - 0.1) < 0.02 and abs(blur["w"] - 0.3) < 0.02
    assert got["keep_annotations"] == []
    assert got["poster"] == 2.0
    assert got["title"] == "Reset the router" and got["tags"] == ["router", "reset"]


async def test_a_trainer_publishes_revises_reverts_renders_and_shares_a_tutorial(
    harness: Harness, browser: Browser
) -> None:
    page = await _library(harness, browser)
    await page.locator("#rec-r1").get_by_role("button", name="Play").click()
    editor = page.get_by_role("region", name="Make a tutorial from this recording")
    await editor.get_by_label("Title", exact=True).fill("Reset the router")
    await editor.get_by_role("button", name="Save the draft").click()
    state = editor.locator("#flow-state")
    await expect(state).to_have_text("A draft, not published yet.")
    await expect(editor).to_contain_text("A tutorial gets its links once published.")
    await editor.get_by_role("button", name="Publish").click()
    await expect(state).to_have_text("Published (version 1).")

    # Editing a published tutorial makes a draft; reverting drops it.
    await editor.get_by_label("Title", exact=True).fill("Reset the router, step by step")
    await editor.get_by_role("button", name="Save the draft").click()
    await expect(state).to_have_text(
        "Published (version 1), with unpublished changes in the draft."
    )
    await editor.get_by_role("button", name="Revert the draft to the published version").click()
    await expect(state).to_have_text("Published (version 1).")
    await editor.get_by_role("button", name="Versions").click()
    await expect(editor.get_by_role("list", name="Versions")).to_contain_text("Version 1")

    # Render: the percentage moves to the end.
    await editor.get_by_role("button", name="Render", exact=True).click()
    await expect(editor.locator("#flow-progress-text")).to_have_text("Rendered.", timeout=60_000)
    assert await page.evaluate("document.getElementById('flow-progress').value") == 1

    # Links: the QR code loads; a public link works without login until it is revoked.
    await page.wait_for_function(
        "() => document.querySelector('#tutorial-workflow img').naturalWidth > 0"
    )
    await editor.get_by_role("button", name="Make public").click()
    public = editor.locator("#flow-public a")
    url = await public.get_attribute("href")
    assert url is not None
    stranger = await (await browser.new_context()).new_page()
    await stranger.goto(url)
    await expect(stranger.get_by_role("heading", name="Reset the router")).to_be_visible()
    await stranger.wait_for_function(
        "() => document.getElementById('tutorial-video').readyState >= 1"
    )
    await expect(stranger.locator("#tutorial-chapters")).to_be_hidden()  # no chapters
    await assert_accessible(stranger, "public tutorial page")
    await assert_accessible(page, "tutorial workflow, public")
    await editor.get_by_role("button", name="Revoke the public link").click()
    await expect(editor.locator("#flow-public")).to_have_text("Only staff can open it.")
    await stranger.reload()
    await expect(stranger.locator("#message")).to_contain_text("not available")

    # The stable link is for staff: the trainer's browser plays it.
    stable = await editor.locator("#tutorial-workflow a").first.get_attribute("href")
    assert stable is not None and stable.startswith("/tutorials/")
    viewer = await page.context.new_page()
    await viewer.goto(f"{harness.url}{stable}")
    await expect(viewer.get_by_role("heading", name="Reset the router")).to_be_visible()

    # Back to it later from the list of tutorials: a new draft from the published version.
    await page.reload()
    await expect(page.get_by_role("list", name="Tutorials")).to_contain_text(
        "Reset the router published"
    )
    await page.get_by_role("button", name="Edit Reset the router").click()
    await expect(editor.get_by_label("Title", exact=True)).to_have_value("Reset the router")
    await expect(state).to_have_text("Published (version 1).")

    await page.get_by_label("Language").select_option("fr")
    await expect(page.locator("#flow-state")).to_have_text("Publié (version 1).")

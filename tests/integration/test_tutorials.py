"""Tutorials through the real application: the trainer's workflow and versions, search,
renders served through signed links, public links and their revocation, retention, pushing
to a customer in a call, waiting customers watching, and deflection counting."""

from __future__ import annotations

import time
from typing import Any

import av
import cv2
import numpy as np
import pytest

from tests.support.harness import Harness, Party, wait_until
from tests.support.recordings import finished_recording
from videoassist.http.keys import RECORDINGS, TUTORIALS

EDIT: dict[str, Any] = {
    "title": "Reset the router",
    "description": "When the light blinks red.",
    "topic": None,
    "tags": ["router", "wifi"],
    "trim": {"in": 1.5, "out": 5.5},
    "cuts": [[2.0, 2.2]],
    "chapters": [{"title": "Find the button", "at": 1.5}, {"title": "Press it", "at": 3.0}],
    "keep_annotations": "all",
    "blurs": [{"start": 1.5, "end": 2.0, "x": 0.0, "y": 0.0, "w": 0.2, "h": 0.2}],
    "poster": 3.0,
}


class Staff:
    def __init__(self, h: Harness, cookies: dict[str, str]) -> None:
        self.h = h
        self.cookies = cookies

    async def req(
        self, who: str | None, method: str, path: str, body: Any = None
    ) -> tuple[int, Any]:
        assert self.h.http is not None
        headers = {"Cookie": f"va_session={self.cookies[who]}"} if who else {}
        options: dict[str, Any] = {"headers": headers}
        if body is not None:
            options["json"] = body
        async with self.h.http.request(method, path, **options) as r:
            if r.content_type == "application/json":
                return r.status, await r.json()
            return r.status, await r.read()


@pytest.fixture
async def staff(harness: Harness) -> Staff:
    cookies = {
        role: await harness.add_staff(f"{role}1", role)
        for role in ("trainer", "agent", "supervisor", "admin")
    }
    await finished_recording(harness.records, harness.app[RECORDINGS].root)
    return Staff(harness, cookies)


async def _made(s: Staff, edit: dict[str, Any] | None = None) -> str:
    status, body = await s.req(
        "trainer", "POST", "/api/tutorials", {"recording_id": "r1", "title": "Reset"}
    )
    assert status == 201, body
    tutorial_id: str = body["id"]
    status, body = await s.req(
        "trainer", "PUT", f"/api/tutorials/{tutorial_id}/draft", edit or EDIT
    )
    assert status == 200, body
    return tutorial_id


async def _published(s: Staff, edit: dict[str, Any] | None = None, *, rendered: bool = True) -> str:
    tutorial_id = await _made(s, edit)
    status, body = await s.req("trainer", "POST", f"/api/tutorials/{tutorial_id}/publish")
    assert status == 200, body
    if rendered:
        await s.h.app[TUTORIALS].settled()
    return tutorial_id


class TestWorkflow:
    async def test_a_draft_is_apart_from_the_published_version_and_versions_are_kept(
        self, staff: Staff
    ) -> None:
        tid = await _made(staff)
        _, body = await staff.req("trainer", "GET", f"/api/tutorials/{tid}")
        assert body["state"] == "draft" and body["published"] is None
        assert body["draft"]["title"] == "Reset the router"

        _, body = await staff.req("trainer", "POST", f"/api/tutorials/{tid}/publish")
        assert body["tutorial"]["state"] == "published" and not body["tutorial"]["has_draft"]
        published = body["tutorial"]["published"]
        assert published["version"] == 1
        # Output times: kept 1.5..2.0 and 2.2..5.5 (3.8 s); 3.0 lands at 0.5 + 0.8.
        assert published["duration"] == pytest.approx(3.8)
        assert [c["at"] for c in published["chapters"]] == [0.0, pytest.approx(1.3)]
        assert published["poster"] == pytest.approx(1.3)

        # Editing makes a draft; viewers still get version 1.
        edited = {**EDIT, "title": "Reset the router (new)"}
        await staff.req("trainer", "PUT", f"/api/tutorials/{tid}/draft", edited)
        _, body = await staff.req("agent", "GET", f"/api/tutorials/{tid}")
        assert body["published"]["title"] == "Reset the router" and body["draft"] is None
        _, body = await staff.req("supervisor", "GET", f"/api/tutorials/{tid}")
        assert body["draft"]["title"] == "Reset the router (new)" and body["has_draft"]

        # Revert drops the draft; publishing again makes version 2 and keeps version 1.
        status, body = await staff.req("trainer", "DELETE", f"/api/tutorials/{tid}/draft")
        assert status == 200 and body["draft"] is None
        status, _ = await staff.req("trainer", "POST", f"/api/tutorials/{tid}/publish")
        assert status == 409  # nothing to publish
        await staff.req("trainer", "PUT", f"/api/tutorials/{tid}/draft", edited)
        await staff.req("admin", "POST", f"/api/tutorials/{tid}/publish")
        _, body = await staff.req("supervisor", "GET", f"/api/tutorials/{tid}/versions")
        assert [(v["version"], v["edit"]["title"]) for v in body["versions"]] == [
            (2, "Reset the router (new)"),
            (1, "Reset the router"),
        ]
        await staff.h.app[TUTORIALS].settled()

    async def test_reverting_a_tutorial_never_published_is_a_conflict(self, staff: Staff) -> None:
        tid = await _made(staff)
        status, body = await staff.req("trainer", "DELETE", f"/api/tutorials/{tid}/draft")
        assert status == 409 and body["error"]["code"] == "conflict"

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"trim": {"in": 4.0, "out": 3.0}}, "trim"),
            ({"chapters": [{"title": "Late", "at": 5.9}]}, "chapters.0.at"),
            ({"poster": 2.1}, "poster"),  # in the cut
            ({"cuts": [[0.0, 9.0]]}, "cuts"),
            ({"tags": ["x" * 41]}, "tags.0"),
        ],
    )
    async def test_edits_that_do_not_fit_the_recording_are_refused(
        self, staff: Staff, change: dict[str, Any], field: str
    ) -> None:
        tid = await _made(staff)
        status, body = await staff.req(
            "trainer", "PUT", f"/api/tutorials/{tid}/draft", {**EDIT, **change}
        )
        assert status == 422, body
        assert body["error"]["message"].startswith(field), body

    async def test_agents_see_published_tutorials_only_and_write_nothing(
        self, staff: Staff
    ) -> None:
        tid = await _made(staff)
        status, _ = await staff.req("agent", "GET", f"/api/tutorials/{tid}")
        assert status == 404
        status, _ = await staff.req("agent", "PUT", f"/api/tutorials/{tid}/draft", EDIT)
        assert status == 403
        status, _ = await staff.req("supervisor", "POST", f"/api/tutorials/{tid}/publish")
        assert status == 403
        status, _ = await staff.req(None, "GET", "/api/tutorials")
        assert status == 401


class TestSearch:
    async def test_hits_are_ranked_filtered_and_jump_to_the_moment(self, staff: Staff) -> None:
        in_title = await _published(
            staff, {**EDIT, "title": "Router reset", "topic": "setup"}, rendered=False
        )
        in_text = await _published(
            staff,
            {
                **EDIT,
                "title": "Billing basics",
                "description": "no router here... router",
                "topic": "billing",
                "tags": [],
            },
            rendered=False,
        )
        _, body = await staff.req("agent", "GET", "/api/tutorials?q=router")
        assert {h["id"] for h in body["tutorials"]} == {in_title, in_text}
        _, body = await staff.req("agent", "GET", "/api/tutorials?q=router&topic=billing")
        assert [h["id"] for h in body["tutorials"]] == [in_text]

        # Chat text: the hit says where it was said (source 2.5 -> output 0.5 + 0.3), in
        # which chapter (the first: "Press it" starts at 1.3).
        _, body = await staff.req("agent", "GET", "/api/tutorials?q=reset+butt&topic=setup")
        hit = body["tutorials"][0]
        assert hit["id"] == in_title
        assert hit["at"] == pytest.approx(0.8) and hit["chapter"] == 0
        # A chapter title jumps to its chapter; an annotation label to when it was drawn.
        _, body = await staff.req("agent", "GET", "/api/tutorials?q=press+it&topic=setup")
        assert body["tutorials"][0]["chapter"] == 1
        assert body["tutorials"][0]["at"] == pytest.approx(1.3)

    async def test_drafts_are_found_by_trainers_and_never_by_agents(self, staff: Staff) -> None:
        tid = await _made(staff, {**EDIT, "title": "Secret draft"})
        shown = await _published(staff, rendered=False)
        # Without words: the newest first, drafts for trainers only.
        _, body = await staff.req("agent", "GET", "/api/tutorials")
        assert [(h["id"], h["state"]) for h in body["tutorials"]] == [(shown, "published")]
        _, body = await staff.req("trainer", "GET", "/api/tutorials?state=draft")
        assert [(h["id"], h["state"]) for h in body["tutorials"]] == [(tid, "draft")]
        _, body = await staff.req("agent", "GET", "/api/tutorials?q=secret")
        assert body["tutorials"] == []
        _, body = await staff.req("agent", "GET", "/api/tutorials?q=secret&state=draft")
        assert body["tutorials"] == []
        _, body = await staff.req("trainer", "GET", "/api/tutorials?q=secret")
        assert [(h["id"], h["state"]) for h in body["tutorials"]] == [(tid, "draft")]


class TestRendersAndLinks:
    async def test_publishing_renders_an_mp4_served_through_a_signed_link(
        self, staff: Staff
    ) -> None:
        tid = await _made(staff)
        _, body = await staff.req("trainer", "POST", f"/api/tutorials/{tid}/publish")
        job = body["job"]
        await staff.h.app[TUTORIALS].settled()
        _, job = await staff.req("trainer", "GET", f"/api/renders/{job['id']}")
        assert job["state"] == "done" and job["progress"] == 1.0, job
        _, body = await staff.req("agent", "GET", f"/api/tutorials/{tid}")
        url = body["published"]["media"]["mp4"]
        status, data = await staff.req(None, "GET", url)
        assert status == 200 and data[4:8] == b"ftyp"
        # A link re-pointed at another file, or tampered with, is refused.
        status, _ = await staff.req(None, "GET", url.replace("video.mp4", "video.webm"))
        assert status == 403
        status, _ = await staff.req(None, "GET", url[:-3] + "abc")
        assert status == 403

    async def test_the_poster_is_cut_from_the_render_with_its_blur(self, staff: Staff) -> None:
        """The poster image: the frame at the poster time of the rendered video (so a blur over
        personal data is in it too), served through a signed link like the video, and gone
        with the public link when that is revoked."""
        edit = {
            **EDIT,
            "cuts": [],
            "blurs": [{"start": 1.5, "end": 5.5, "x": 0.0, "y": 0.0, "w": 0.5, "h": 0.5}],
            "poster": 3.0,
        }
        tid = await _published(staff, edit)
        _, body = await staff.req("agent", "GET", f"/api/tutorials/{tid}")
        url = body["published"]["poster_image"]
        assert url and "/media/poster.jpg?sig=" in url
        status, data = await staff.req(None, "GET", url)
        assert status == 200 and data[:3] == b"\xff\xd8\xff"  # a JPEG
        poster = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
        with av.open(str(staff.h.app[TUTORIALS].root / tid / "1.mp4")) as video:
            first = next(video.decode(video=0))
        assert poster.shape == (first.height, first.width)
        h, w = poster.shape
        detail = lambda img: float(cv2.Laplacian(img, cv2.CV_64F).var())  # noqa: E731
        blurred, clear = detail(poster[: h // 2, : w // 2]), detail(poster[h // 2 :, w // 2 :])
        assert blurred * 5 < clear, (blurred, clear)
        # Public viewers get it too, and lose it with the public link.
        _, made = await staff.req("trainer", "PUT", f"/api/tutorials/{tid}/public")
        _, public = await staff.req(None, "GET", f"/api/public/tutorials/{made['token']}")
        assert (await staff.req(None, "GET", public["poster_image"]))[0] == 200
        await staff.req("trainer", "DELETE", f"/api/tutorials/{tid}/public")
        assert (await staff.req(None, "GET", public["poster_image"]))[0] == 403
        # A link to the poster is not a link to the video.
        status, _ = await staff.req(None, "GET", url.replace("poster.jpg", "video.mp4"))
        assert status == 403

    async def test_a_webm_render_can_be_asked_for_and_cancelled(self, staff: Staff) -> None:
        tid = await _published(staff)
        status, job = await staff.req(
            "trainer", "POST", f"/api/tutorials/{tid}/renders", {"format": "webm"}
        )
        assert status == 202 and job["state"] in ("queued", "running")
        status, job = await staff.req("trainer", "DELETE", f"/api/renders/{job['id']}")
        assert status == 200
        await staff.h.app[TUTORIALS].settled()
        _, job = await staff.req("trainer", "GET", f"/api/renders/{job['id']}")
        assert job["state"] in ("cancelled", "done")
        status, job = await staff.req(
            "trainer", "POST", f"/api/tutorials/{tid}/renders", {"format": "webm"}
        )
        await staff.h.app[TUTORIALS].settled()
        _, job = await staff.req("trainer", "GET", f"/api/renders/{job['id']}")
        assert job["state"] == "done"
        status, _ = await staff.req(None, "GET", job["url"])
        assert status == 200
        path = staff.h.settings.data_dir / "tutorials" / tid / "1.webm"
        with av.open(str(path)) as c:
            assert c.streams.video[0].codec_context.name in ("vp9", "libvpx-vp9")

    async def test_a_render_of_a_missing_recording_file_says_why(self, staff: Staff) -> None:
        tid = await _made(staff)
        (staff.h.app[RECORDINGS].root / "call-1" / "customer.webm").unlink()
        _, body = await staff.req("trainer", "POST", f"/api/tutorials/{tid}/publish")
        await staff.h.app[TUTORIALS].settled()
        _, job = await staff.req("trainer", "GET", f"/api/renders/{body['job']['id']}")
        assert job["state"] == "failed" and "customer.webm" in job["error"]

    @pytest.mark.settings(public_url="https://help.example.com/")
    async def test_the_qr_code_names_the_configured_public_address(self, staff: Staff) -> None:
        from videoassist.http.tutorials import _qr_svg

        tid = await _published(staff)
        status, svg = await staff.req("trainer", "GET", f"/api/tutorials/{tid}/qr.svg")
        assert status == 200
        path = await staff.h.app[TUTORIALS].qr_target(tid, "stable")
        # Not the Host the request came in on (127.0.0.1:port) but the configured address.
        assert svg == _qr_svg(f"https://help.example.com{path}")
        assert svg != _qr_svg(f"{staff.h.url}{path}")

    async def test_a_public_link_works_without_login_until_revoked(self, staff: Staff) -> None:
        tid = await _published(staff)
        status, _ = await staff.req("trainer", "GET", f"/api/tutorials/{tid}/qr.svg?target=public")
        assert status == 409
        _, made = await staff.req("trainer", "PUT", f"/api/tutorials/{tid}/public")
        token = made["token"]
        status, body = await staff.req(None, "GET", f"/api/public/tutorials/{token}")
        assert status == 200 and body["title"] == "Reset the router"
        video = body["media"]["mp4"]
        assert (await staff.req(None, "GET", video))[0] == 200
        status, svg = await staff.req("supervisor", "GET", f"/api/tutorials/{tid}/qr.svg")
        assert status == 200 and b"<svg" in svg
        status, _ = await staff.req("trainer", "DELETE", f"/api/tutorials/{tid}/public")
        assert status == 204
        assert (await staff.req(None, "GET", f"/api/public/tutorials/{token}"))[0] == 404
        assert (await staff.req(None, "GET", video))[0] == 403
        # Made public again: a new token; the old one stays dead.
        _, again = await staff.req("trainer", "PUT", f"/api/tutorials/{tid}/public")
        assert again["token"] != token


class TestRetention:
    @pytest.mark.settings(recording_retention_days=30.0)
    async def test_the_recording_of_a_published_tutorial_is_kept(self, staff: Staff) -> None:
        old = time.time() - 40 * 86400
        recordings = staff.h.app[RECORDINGS]
        await finished_recording(staff.h.records, recordings.root, "r2", "call-2", ended_at=old)
        await finished_recording(staff.h.records, recordings.root, "r3", "call-3", ended_at=old)
        for rec in ("r2", "r3"):
            status, body = await staff.req(
                "trainer", "POST", "/api/tutorials", {"recording_id": rec, "title": rec}
            )
            assert status == 201
            if rec == "r2":
                await staff.req("trainer", "POST", f"/api/tutorials/{body['id']}/publish")
        await staff.h.app[TUTORIALS].settled()
        assert await recordings.purge() == 1  # r3: a draft only does not keep its recording
        assert await staff.h.records.recording("r2") is not None
        assert (recordings.root / "call-2" / "customer.webm").exists()
        assert await staff.h.records.recording("r3") is None


async def _live_call(h: Harness, cookie: str) -> tuple[Party, Party, str, str, str]:
    """An agent in a live call with a new customer: (agent, customer, ticket id, the agent's
    session id, the customer's call id)."""
    agent = await h.agent(cookie)
    ticket = await h.tap()
    customer = await h.customer(ticket["token"])
    assert (await agent.call("ready")) == {"ok": True}
    offer = await agent.inbox.next("offer")
    accepted = await agent.call("accept", {"ticket_id": offer["ticket_id"]})
    matched = await customer.inbox.next("matched")
    return agent, customer, ticket["ticket_id"], accepted["session_id"], matched["session_id"]


class TestPush:
    async def test_the_agent_pushes_a_chapter_and_sees_it_opened_and_finished(
        self, staff: Staff
    ) -> None:
        h = staff.h
        tid = await _published(staff)
        agent, customer, _, session_id, call_id = await _live_call(h, staff.cookies["agent"])
        noted: list[Any] = []

        async def listener(event: Any) -> None:
            noted.append(event)

        h.rooms.subscribe(listener)
        reply = await agent.call(
            "tutorial_push", {"session_id": session_id, "tutorial_id": tid, "chapter": 1}
        )
        assert reply["ok"] is True, reply
        pushed = await customer.inbox.next("tutorial_pushed")
        assert pushed["push_id"] == reply["push_id"] and pushed["session_id"] == call_id
        assert pushed["start"] == pytest.approx(1.3) and pushed["chapter"] == 1
        (note,) = [e for e in noted if e.kind == "tutorial_push"]  # the recording keeps it
        assert note.call_id == call_id and note.data["push_id"] == reply["push_id"]
        assert (await staff.req(None, "GET", pushed["tutorial"]["media"]["mp4"]))[0] == 200
        for state, position in (("opened", 1.3), ("finished", 3.8)):
            ack = await customer.call(
                "tutorial_progress",
                {
                    "tutorial_id": tid,
                    "push_id": reply["push_id"],
                    "state": state,
                    "position": position,
                },
            )
            assert ack == {"ok": True}
        await wait_until(
            lambda: (
                [d["state"] for e, d in agent.inbox.events if e == "tutorial_progress"]
                == ["opened", "finished"]
            ),
            what="the agent told of opened and finished",
        )
        report = await agent.inbox.next("tutorial_progress")
        assert report["session_id"] == session_id and report["tutorial_id"] == tid

    async def test_a_push_of_an_unpublished_tutorial_or_a_missing_chapter_is_not_found(
        self, staff: Staff
    ) -> None:
        draft = await _made(staff)
        published = await _published(staff)
        agent, *_, session_id, _ = await _live_call(staff.h, staff.cookies["agent"])
        for data in ({"tutorial_id": draft}, {"tutorial_id": published, "chapter": 7}):
            reply = await agent.call("tutorial_push", {"session_id": session_id, **data})
            assert reply["error"]["code"] == "not_found", reply


class TestWaitingCustomers:
    async def test_watching_keeps_the_place_and_leaving_after_counts_as_self_served(
        self, staff: Staff
    ) -> None:
        h = staff.h
        tid = await _published(staff)
        ticket = await h.tap()
        customer = await h.customer(ticket["token"])
        before = await customer.call("sync")
        listed = await customer.call("tutorials")
        assert [t["id"] for t in listed["tutorials"]] == [tid]
        assert (await staff.req(None, "GET", listed["tutorials"][0]["media"]["mp4"]))[0] == 200
        ack = await customer.call(
            "tutorial_progress", {"tutorial_id": tid, "state": "opened", "position": 0.0}
        )
        assert ack == {"ok": True}
        after = await customer.call("sync")
        assert after["position"] == before["position"] and after["state"] == "queued"
        assert (await customer.call("cancel")) == {"ok": True}
        await h.app[TUTORIALS].settled()
        store = h.app[TUTORIALS].store
        rows = await store.deflections()
        assert [(r["ticket_id"], r["tutorials"]) for r in rows] == [(ticket["ticket_id"], [tid])]

    @pytest.mark.settings(customer_grace=0.5)
    async def test_closing_the_page_after_watching_counts_once_the_grace_is_over(
        self, staff: Staff
    ) -> None:
        """A closed tab is a leave too, once the grace for coming back has passed; a customer
        who comes back within it keeps their place and is not counted; nobody twice."""
        h = staff.h
        tid = await _published(staff)
        store = h.app[TUTORIALS].store

        async def watched() -> tuple[dict[str, Any], Any]:
            ticket = await h.tap()
            customer = await h.customer(ticket["token"])
            await customer.call("tutorials")
            ack = await customer.call(
                "tutorial_progress", {"tutorial_id": tid, "state": "opened", "position": 0.0}
            )
            assert ack == {"ok": True}
            return ticket, customer

        back, page = await watched()
        await page.close()  # the tab closes ...
        again = await h.customer(back["token"])  # ... and the customer comes back in time
        assert (await again.call("sync"))["state"] == "queued"

        gone, page = await watched()
        await page.close()
        await wait_until(
            lambda: h.service.desk.ticket_state(gone["ticket_id"]) == "abandoned",
            10,
            what="the grace over",
        )
        await h.service.settled()
        await h.app[TUTORIALS].settled()
        rows = await store.deflections()
        assert [(r["ticket_id"], r["tutorials"]) for r in rows] == [(gone["ticket_id"], [tid])]
        # Written again (a restart's closing of tickets, a replay): still counted once.
        ticket_row = await h.records.ticket(gone["ticket_id"])
        assert ticket_row is not None
        await h.app[TUTORIALS].left_line(gone["ticket_id"], "", "general")
        assert len(await store.deflections()) == 1
        assert (await again.call("sync"))["state"] == "queued"  # never counted while waiting

    async def test_leaving_without_watching_is_not_counted(self, staff: Staff) -> None:
        h = staff.h
        await _published(staff)
        customer = await h.customer((await h.tap())["token"])
        await customer.call("tutorials")
        assert (await customer.call("cancel")) == {"ok": True}
        await h.app[TUTORIALS].settled()
        assert await h.app[TUTORIALS].store.deflections() == []

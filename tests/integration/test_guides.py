"""Guides: an admin writes a topic's checklist; the agent in a call of that topic ticks steps,
and the ticks are kept with the session."""

from __future__ import annotations

from typing import Any

from tests.support.calls import ready_agent
from tests.support.harness import Harness

GUIDE = ["Ask for the model number", "Check the cable", "Restart the router"]


async def request(
    h: Harness, method: str, path: str, cookie: str | None, body: Any = None
) -> tuple[int, Any]:
    assert h.http is not None
    cookies = {"va_session": cookie} if cookie else {}
    async with h.http.request(method, path, json=body, cookies=cookies) as r:
        return r.status, await r.json()


async def router_topic(h: Harness) -> str:
    admin = await h.add_staff("root", role="admin")
    status, _ = await request(
        h, "PUT", "/api/admin/topics/router", admin, {"label": "Router", "queue_id": "general"}
    )
    assert status in (200, 201)
    return admin


async def call_on(h: Harness, topic: str) -> tuple[str, str]:
    """Alice accepts a customer who chose ``topic``: (alice's cookie, session id)."""
    cookie = await h.add_staff("alice")
    agent = await ready_agent(h, cookie=cookie)
    ticket = await h.tap(topic=topic)
    await h.customer(ticket["token"])
    await agent.inbox.next("offer")
    reply = await agent.call("accept", {"ticket_id": ticket["ticket_id"]})
    return cookie, reply["session_id"]


class TestAdminWritesGuides:
    async def test_a_guide_is_saved_in_order_without_repeats_and_read_back(
        self, harness: Harness
    ) -> None:
        admin = await router_topic(harness)
        path = "/api/admin/topics/router/guide"
        status, body = await request(harness, "PUT", path, admin, {"steps": [*GUIDE, GUIDE[0]]})
        assert status == 200, body
        assert [s["text"] for s in body["steps"]] == GUIDE
        status, body = await request(harness, "GET", path, admin)
        assert [s["text"] for s in body["steps"]] == GUIDE

    async def test_guides_are_for_admins_known_topics_and_bounded(self, harness: Harness) -> None:
        admin = await router_topic(harness)
        agent = await harness.add_staff("bob")
        path = "/api/admin/topics/router/guide"
        assert (await request(harness, "PUT", path, None, {"steps": GUIDE}))[0] == 401
        assert (await request(harness, "PUT", path, agent, {"steps": GUIDE}))[0] == 403
        assert (await request(harness, "GET", path, agent))[0] == 403
        unknown = "/api/admin/topics/nope/guide"
        assert (await request(harness, "PUT", unknown, admin, {"steps": GUIDE}))[0] == 404
        for steps in (["x"] * 31, ["x" * 201], [" "]):
            assert (await request(harness, "PUT", path, admin, {"steps": steps}))[0] == 422
        assert (await request(harness, "GET", path, admin))[1]["steps"] == []


class TestAgentTicksSteps:
    async def test_ticks_are_kept_with_the_session_and_survive_a_reorder(
        self, harness: Harness
    ) -> None:
        h = harness
        admin = await router_topic(h)
        await request(h, "PUT", "/api/admin/topics/router/guide", admin, {"steps": GUIDE})
        cookie, session_id = await call_on(h, "router")
        status, context = await request(
            h, "GET", f"/api/agent/sessions/{session_id}/context", cookie
        )
        assert status == 200, context
        steps = context["guide"]["steps"]
        assert [s["text"] for s in steps] == GUIDE
        assert context["guide"]["ticked"] == []
        ticks = f"/api/agent/sessions/{session_id}/ticks"
        for step in steps[:2]:
            assert (await request(h, "PUT", ticks, cookie, {"step_id": step["id"], "done": True}))[
                0
            ] == 200
        status, body = await request(
            h, "PUT", ticks, cookie, {"step_id": steps[0]["id"], "done": False}
        )
        assert body["ticked"] == [steps[1]["id"]]
        # The admin reorders the guide mid-call: the tick stays on its step.
        await request(
            h, "PUT", "/api/admin/topics/router/guide", admin, {"steps": list(reversed(GUIDE))}
        )
        _, context = await request(h, "GET", f"/api/agent/sessions/{session_id}/context", cookie)
        assert context["guide"]["ticked"] == [steps[1]["id"]]
        [kept] = await h.records.session_ticks(session_id)
        assert kept["text"] == "Check the cable"

    async def test_an_unknown_step_or_someone_else_s_session_is_refused(
        self, harness: Harness
    ) -> None:
        h = harness
        admin = await router_topic(h)
        await request(h, "PUT", "/api/admin/topics/router/guide", admin, {"steps": GUIDE})
        cookie, session_id = await call_on(h, "router")
        bob = await h.add_staff("bob")
        ticks = f"/api/agent/sessions/{session_id}/ticks"
        _, context = await request(h, "GET", f"/api/agent/sessions/{session_id}/context", cookie)
        first = context["guide"]["steps"][0]["id"]
        assert (await request(h, "PUT", ticks, cookie, {"step_id": "nope", "done": True}))[0] == 404
        assert (await request(h, "PUT", ticks, bob, {"step_id": first, "done": True}))[0] == 403
        assert (await request(h, "PUT", ticks, None, {"step_id": first, "done": True}))[0] == 401
        assert await h.records.session_ticks(session_id) == []

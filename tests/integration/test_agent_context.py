"""The agent's context panel over HTTP: the customer's earlier calls, notes kept as the agent
types, and the lines of the queues they serve; only for the agent holding the session."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from tests.support.calls import ready_agent
from tests.support.harness import Harness, Party, wait_until

SECRET = "context-secret-0123456789abcdefghijklmnopqrstuvwxyz"


def identity(ref: str, **extra: Any) -> str:
    claims = {"sub": ref, "aud": "videoassist", "exp": int(time.time()) + 600, **extra}
    return jwt.encode(claims, SECRET, algorithm="HS256")


async def signed_call(
    h: Harness,
    agent: Party,
    ref: str | None,
    description: str = "",
    context: dict[str, str] | None = None,
    **claims: Any,
) -> tuple[Party, str]:
    """A customer (with the signed identity ``ref``, if any) taps and ``agent`` accepts."""
    body: dict[str, Any] = {"topic": "", "description": description}
    if ref is not None:
        body["identity"] = identity(ref, **claims)
    if context is not None:
        body["context"] = context
    assert h.http is not None
    async with h.http.post("/api/tickets", json=body) as r:
        ticket = await r.json()
        assert r.status == 201, ticket
    customer = await h.customer(ticket["token"])
    await agent.inbox.next("offer")
    reply = await agent.call("accept", {"ticket_id": ticket["ticket_id"]})
    await customer.inbox.next("matched")
    return customer, reply["session_id"]


async def get(h: Harness, path: str, cookie: str | None) -> tuple[int, Any]:
    assert h.http is not None
    cookies = {"va_session": cookie} if cookie else {}
    async with h.http.get(path, cookies=cookies) as r:
        return r.status, await r.json()


async def put_note(h: Harness, session_id: str, note: str, cookie: str | None) -> int:
    assert h.http is not None
    cookies = {"va_session": cookie} if cookie else {}
    async with h.http.put(
        f"/api/agent/sessions/{session_id}/note", json={"note": note}, cookies=cookies
    ) as r:
        return r.status


class TestContext:
    @pytest.mark.settings(embed_secret=SECRET)
    async def test_the_customer_earlier_calls_come_with_agent_outcome_and_note(
        self, harness: Harness
    ) -> None:
        h = harness
        cookie = await h.add_staff("alice")
        agent = await ready_agent(h, cookie=cookie)
        _, first = await signed_call(h, agent, "cust-7")
        await agent.call("hangup", {"session_id": first})
        await agent.call(
            "wrap_up", {"session_id": first, "disposition": "follow_up", "note": "router reset"}
        )
        await wait_until(
            lambda: h.service.desk.agent_session("u1") is None, what="alice wrapped up"
        )
        await agent.call("ready")
        _, second = await signed_call(h, agent, "cust-7", "no internet again")

        status, body = await get(h, f"/api/agent/sessions/{second}/context", cookie)
        assert status == 200, body
        assert body["customer"]["ref"] == "cust-7"
        assert body["topic"]["description"] == "no internet again"
        [earlier] = body["previous"]
        assert earlier["session_id"] == first
        assert (earlier["agent"], earlier["disposition"], earlier["note"]) == (
            "Alice",
            "follow_up",
            "router reset",
        )
        assert earlier["recordings"] is None  # an agent may not watch recordings

    @pytest.mark.settings(embed_secret=SECRET)
    async def test_the_agent_sees_the_name_and_email_the_signed_identity_gives(
        self, harness: Harness
    ) -> None:
        h = harness
        cookie = await h.add_staff("alice")
        agent = await ready_agent(h, cookie=cookie)
        _, first = await signed_call(
            h, agent, "cust-9", name="  Jane   Doe ", email="jane@example.com"
        )
        status, body = await get(h, f"/api/agent/sessions/{first}/context", cookie)
        assert status == 200, body
        customer = body["customer"]
        assert (customer["ref"], customer["name"], customer["email"]) == (
            "cust-9",
            "Jane Doe",
            "jane@example.com",
        )
        first_contact = customer["first_contact"]
        await agent.call("hangup", {"session_id": first})
        await agent.call("wrap_up", {"session_id": first, "disposition": "resolved"})
        await wait_until(lambda: h.service.desk.agent_session("u1") is None, what="wrapped up")
        await agent.call("ready")
        # A later tap without the claims keeps them; bad claims are left out, never stored.
        _, second = await signed_call(h, agent, "cust-9", email="not an email", name=7)
        status, body = await get(h, f"/api/agent/sessions/{second}/context", cookie)
        customer = body["customer"]
        assert (customer["name"], customer["email"]) == ("Jane Doe", "jane@example.com")
        assert customer["first_contact"] == first_contact
        row = await h.records.customer("cust-9")
        assert row is not None and row["last_contact"] >= row["first_contact"]

    @pytest.mark.settings(embed_secret=SECRET)
    async def test_the_apps_context_is_kept_with_the_request_and_shown_to_the_agent(
        self, harness: Harness
    ) -> None:
        """The SDK's setContext: a few key/values travel with the tap, are kept with the
        ticket and shown to the agent with this call and with the earlier ones."""
        h = harness
        cookie = await h.add_staff("alice")
        agent = await ready_agent(h, cookie=cookie)
        given = {"orderId": "A-1029", "device.model": "X200 <b>pro</b>"}
        _, first = await signed_call(h, agent, "cust-3", context=given)
        status, body = await get(h, f"/api/agent/sessions/{first}/context", cookie)
        assert status == 200 and body["context"] == given  # as text: the page escapes nothing
        await agent.call("hangup", {"session_id": first})
        await agent.call("wrap_up", {"session_id": first, "disposition": "resolved"})
        await wait_until(lambda: h.service.desk.agent_session("u1") is None, what="wrapped up")
        await agent.call("ready")
        _, second = await signed_call(h, agent, "cust-3")
        status, body = await get(h, f"/api/agent/sessions/{second}/context", cookie)
        assert body["context"] == {} and body["previous"][0]["context"] == given

    @pytest.mark.parametrize(
        "context",
        [
            {f"k{i}": "v" for i in range(11)},  # too many keys
            {"has space": "v"},  # a key out of the alphabet
            {"k" * 41: "v"},  # a key too long
            {"note": "x" * 201},  # a value too long
            {"n": 5},  # not a string
            ["orderId", "A-1"],  # not an object
        ],
    )
    async def test_a_context_out_of_bounds_is_refused_and_nothing_is_queued(
        self, harness: Harness, context: Any
    ) -> None:
        assert harness.http is not None
        async with harness.http.post("/api/tickets", json={"context": context}) as r:
            body = await r.json()
        assert r.status == 422 and body["error"]["code"] == "invalid", body
        assert "context" in body["error"]["message"]
        assert harness.service.desk.tickets == {}

    @pytest.mark.settings(embed_secret=SECRET, identity_required=True)
    async def test_with_identity_required_an_anonymous_tap_is_refused(
        self, harness: Harness
    ) -> None:
        assert harness.http is not None
        for body in ({}, {"identity": "not-a-token"}, {"identity": identity("c", exp=1)}):
            async with harness.http.post("/api/tickets", json=body) as r:
                answer = await r.json()
            assert r.status == 401 and answer["error"]["code"] == "identity_required", answer
        assert harness.service.desk.tickets == {}
        async with harness.http.post("/api/tickets", json={"identity": identity("c-1")}) as r:
            assert r.status == 201

    async def test_an_anonymous_customer_has_no_earlier_calls(self, harness: Harness) -> None:
        cookie = await harness.add_staff("alice")
        agent = await ready_agent(harness, cookie=cookie)
        _, session_id = await signed_call(harness, agent, None)
        status, body = await get(harness, f"/api/agent/sessions/{session_id}/context", cookie)
        assert status == 200
        assert body["customer"] == {"ref": None, "name": None, "email": None, "first_contact": None}
        assert body["previous"] == []


class TestNotes:
    async def test_notes_are_kept_as_typed_and_read_back(self, harness: Harness) -> None:
        cookie = await harness.add_staff("alice")
        agent = await ready_agent(harness, cookie=cookie)
        _, session_id = await signed_call(harness, agent, None)
        assert await put_note(harness, session_id, "model X", cookie) == 200
        assert await put_note(harness, session_id, "model X200, firmware 3", cookie) == 200
        _, body = await get(harness, f"/api/agent/sessions/{session_id}/context", cookie)
        assert body["note"] == "model X200, firmware 3"

    async def test_only_the_agent_holding_the_session_reads_or_writes_it(
        self, harness: Harness
    ) -> None:
        alice = await harness.add_staff("alice")
        bob = await harness.add_staff("bob")
        supervisor = await harness.add_staff("sue", role="supervisor")
        agent = await ready_agent(harness, cookie=alice)
        _, session_id = await signed_call(harness, agent, None)
        await put_note(harness, session_id, "mine", alice)
        for cookie, status in ((None, 401), (bob, 403), (supervisor, 403)):
            assert (await get(harness, f"/api/agent/sessions/{session_id}/context", cookie))[
                0
            ] == status
            assert await put_note(harness, session_id, "theirs", cookie) == status
        assert await harness.records.session_note(session_id) == "mine"

    async def test_a_note_over_the_size_cap_is_refused(self, harness: Harness) -> None:
        cookie = await harness.add_staff("alice")
        agent = await ready_agent(harness, cookie=cookie)
        _, session_id = await signed_call(harness, agent, None)
        assert await put_note(harness, session_id, "x" * 2001, cookie) == 422
        assert await harness.records.session_note(session_id) == ""


class TestQueueLines:
    async def test_waiting_and_longest_wait_of_the_served_queues(self, harness: Harness) -> None:
        cookie = await harness.add_staff("alice")
        agent = await harness.agent(cookie)
        assert (await get(harness, "/api/agent/queues", None))[0] == 401
        _, body = await get(harness, "/api/agent/queues", cookie)
        assert [(q["waiting"], q["longest_since"]) for q in body["queues"]] == [(0, None)]
        ticket = await harness.tap()
        await harness.customer(ticket["token"])
        await wait_until(
            lambda: harness.service.desk.ticket_state(ticket["ticket_id"]) == "queued",
            what="the customer in line",
        )
        _, body = await get(harness, "/api/agent/queues", cookie)
        [line] = body["queues"]
        assert line["waiting"] == 1
        assert line["longest_since"] <= body["at"]
        await agent.close()

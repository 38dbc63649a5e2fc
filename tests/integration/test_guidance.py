"""In-call guidance with real clients: chat both ways, freeze-frame stills, customer photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.support.harness import Harness, Party, wait_until
from tests.support.peers import ClientPeer


async def _call(harness: Harness) -> tuple[Party, Party, str, dict[str, str]]:
    agent = await harness.agent(await harness.add_staff("alice"))
    assert (await agent.call("ready")) == {"ok": True}
    ticket = await harness.tap()
    customer = await harness.customer(ticket["token"])
    await agent.inbox.next("offer")
    session_id = (await agent.call("accept", {"ticket_id": ticket["ticket_id"]}))["session_id"]
    await customer.inbox.next("matched")
    return customer, agent, session_id, ticket


class TestChat:
    async def test_messages_go_both_ways_in_order_and_are_logged(self, harness: Harness) -> None:
        customer, agent, session_id, _ = await _call(harness)
        assert (
            await customer.call("chat", {"session_id": session_id, "text": "I can't hear you"})
        )["ok"]
        assert (await agent.call("chat", {"session_id": session_id, "text": "Typing instead"}))[
            "ok"
        ]
        got = await agent.inbox.next("chat")
        assert (got["from"], got["text"]) == ("customer", "I can't hear you")

        def chats() -> list[dict[str, object]]:
            return [d for e, d in customer.inbox.events if e == "chat"]

        await wait_until(lambda: len(chats()) == 2, what="both messages at the customer")
        assert [(m["from"], m["name"]) for m in chats()] == [
            ("customer", "Customer"),
            ("agent", "Alice"),
        ]
        events = await harness.records.call_events_of(session_id)
        assert [e["kind"] for e in events] == ["chat", "chat"]
        room = await agent.call("room", {"session_id": session_id})
        assert [m["text"] for m in room["chat"]] == ["I can't hear you", "Typing instead"]

    async def test_nobody_outside_the_call_can_chat_into_it(self, harness: Harness) -> None:
        _, _, session_id, _ = await _call(harness)
        outsider = await harness.customer((await harness.tap())["token"])
        reply = await outsider.call("chat", {"session_id": session_id, "text": "hi"})
        assert reply["error"]["code"] == "forbidden"
        assert await harness.records.call_events_of(session_id) == []

    @pytest.mark.parametrize("text", ["", "x" * 1001])
    async def test_empty_or_oversized_messages_are_refused(
        self, harness: Harness, text: str
    ) -> None:
        customer, _, session_id, _ = await _call(harness)
        reply = await customer.call("chat", {"session_id": session_id, "text": text})
        assert reply["error"]["code"] == "invalid"


class TestFreeze:
    async def test_freezing_captures_a_full_quality_still_both_sides_can_fetch(
        self, harness: Harness
    ) -> None:
        customer, agent, session_id, _ = await _call(harness)
        peer = ClientPeer("red")
        agent_peer = ClientPeer("blue")
        try:
            await peer.connect(customer.client, "/customer", session_id)
            await agent_peer.connect(agent.client, "/agent", session_id)
            await agent_peer.wait_for_video(count=3)
            reply = await agent.call("freeze", {"session_id": session_id})
            assert reply["ok"] is True
            frozen = await customer.inbox.next("frozen")
            assert frozen["still_id"] == reply["id"]
            async with harness.http.get(frozen["url"]) as r:
                assert r.status == 200
                assert r.headers["Content-Type"] == "image/jpeg"
                image = cv2.imdecode(np.frombuffer(await r.read(), np.uint8), cv2.IMREAD_COLOR)
            assert image.shape[:2] == (240, 320)  # the customer's own resolution
            b, g, r_ = image.reshape(-1, 3).mean(axis=0)
            assert r_ > 150 and g < 90 and b < 90, "the still shows the customer's red video"

            assert (await agent.call("unfreeze", {"session_id": session_id}))["ok"]
            await customer.inbox.next("unfrozen")
            kinds = [e["kind"] for e in await harness.records.call_events_of(session_id)]
            assert kinds == ["freeze", "unfreeze"]
        finally:
            await peer.close()
            await agent_peer.close()

    async def test_a_still_link_is_useless_when_tampered_with(self, harness: Harness) -> None:
        customer, agent, session_id, _ = await _call(harness)
        peer = ClientPeer("red")
        try:
            await peer.connect(customer.client, "/customer", session_id)
            await wait_until(
                lambda: (
                    harness.hub.sessions[session_id].participants["customer"].fanouts.get("video")
                    is not None
                    and harness.hub.sessions[session_id]
                    .participants["customer"]
                    .fanouts["video"]
                    .latest
                    is not None
                ),
                what="customer video at the server",
            )
            item = await agent.call("freeze", {"session_id": session_id})
            other = item["url"].replace(item["id"], "0" * 16)
            async with harness.http.get(other) as r:
                assert r.status == 403
            async with harness.http.get(item["url"].split("?")[0]) as r:
                assert r.status == 403
        finally:
            await peer.close()

    async def test_only_the_agent_can_freeze(self, harness: Harness) -> None:
        customer, _, session_id, _ = await _call(harness)
        reply = await customer.call("freeze", {"session_id": session_id})
        assert reply["error"]["code"] == "unknown_event"


class TestPhotos:
    def _jpeg(self) -> bytes:
        image = np.zeros((120, 160, 3), np.uint8)
        image[:, :] = (0, 200, 0)
        return bytes(cv2.imencode(".jpg", image)[1])

    async def test_a_customer_photo_reaches_the_agent_cleaned(self, harness: Harness) -> None:
        _, agent, session_id, ticket = await _call(harness)
        async with harness.http.post(
            f"/api/calls/{session_id}/photos",
            data=self._jpeg(),
            headers={"Authorization": f"Bearer {ticket['token']}", "Content-Type": "image/jpeg"},
        ) as r:
            assert r.status == 201, await r.text()
            item = await r.json()
        photo = await agent.inbox.next("photo")
        assert photo["id"] == item["id"]
        async with harness.http.get(photo["url"]) as r:
            assert r.status == 200
            image = cv2.imdecode(np.frombuffer(await r.read(), np.uint8), cv2.IMREAD_COLOR)
        assert image.shape[:2] == (120, 160)

    @pytest.mark.parametrize(
        ("content_type", "body", "status"),
        [
            ("image/jpeg", b"\xff\xd8\xff" + b"not really a jpeg" * 10, 415),
            ("text/plain", b"hello", 415),
            ("image/png", b"\xff\xd8\xff\xe0", 415),
        ],
    )
    async def test_things_that_are_not_images_are_refused(
        self, harness: Harness, content_type: str, body: bytes, status: int
    ) -> None:
        _, agent, session_id, ticket = await _call(harness)
        async with harness.http.post(
            f"/api/calls/{session_id}/photos",
            data=body,
            headers={"Authorization": f"Bearer {ticket['token']}", "Content-Type": content_type},
        ) as r:
            assert r.status == status
        assert "photo" not in agent.inbox.names()

    @pytest.mark.settings(photo_max_bytes=1000)
    async def test_an_oversized_photo_is_refused(self, harness: Harness) -> None:
        _, _, session_id, ticket = await _call(harness)
        async with harness.http.post(
            f"/api/calls/{session_id}/photos",
            data=b"\xff\xd8\xff" + b"0" * 5000,
            headers={"Authorization": f"Bearer {ticket['token']}", "Content-Type": "image/jpeg"},
        ) as r:
            assert r.status == 413

    async def test_only_the_calls_customer_can_upload(self, harness: Harness) -> None:
        _, _, session_id, _ = await _call(harness)
        other = await harness.tap()
        for headers in ({}, {"Authorization": f"Bearer {other['token']}"}):
            async with harness.http.post(
                f"/api/calls/{session_id}/photos",
                data=self._jpeg(),
                headers={**headers, "Content-Type": "image/jpeg"},
            ) as r:
                assert r.status in (401, 403)

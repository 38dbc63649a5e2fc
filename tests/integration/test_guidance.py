"""In-call guidance with real clients: chat both ways, freeze-frame stills, customer photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.support.calls import live_call
from tests.support.harness import Harness, wait_until
from tests.support.peers import ClientPeer


class TestChat:
    async def test_messages_go_both_ways_in_order_and_are_logged(self, harness: Harness) -> None:
        customer, agent, session_id, _ = await live_call(harness)
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
        _, _, session_id, _ = await live_call(harness)
        outsider = await harness.customer((await harness.tap())["token"])
        reply = await outsider.call("chat", {"session_id": session_id, "text": "hi"})
        assert reply["error"]["code"] == "forbidden"
        assert await harness.records.call_events_of(session_id) == []

    @pytest.mark.parametrize("text", ["", "x" * 1001])
    async def test_empty_or_oversized_messages_are_refused(
        self, harness: Harness, text: str
    ) -> None:
        customer, _, session_id, _ = await live_call(harness)
        reply = await customer.call("chat", {"session_id": session_id, "text": text})
        assert reply["error"]["code"] == "invalid"


class TestFreeze:
    async def test_freezing_captures_a_full_quality_still_both_sides_can_fetch(
        self, harness: Harness
    ) -> None:
        customer, agent, session_id, _ = await live_call(harness)
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
        customer, agent, session_id, _ = await live_call(harness)
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
        customer, _, session_id, _ = await live_call(harness)
        reply = await customer.call("freeze", {"session_id": session_id})
        assert reply["error"]["code"] == "unknown_event"


class TestPhotos:
    def _jpeg(self) -> bytes:
        image = np.zeros((120, 160, 3), np.uint8)
        image[:, :] = (0, 200, 0)
        return bytes(cv2.imencode(".jpg", image)[1])

    async def test_a_customer_photo_reaches_the_agent_cleaned(self, harness: Harness) -> None:
        _, agent, session_id, ticket = await live_call(harness)
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
        _, agent, session_id, ticket = await live_call(harness)
        async with harness.http.post(
            f"/api/calls/{session_id}/photos",
            data=body,
            headers={"Authorization": f"Bearer {ticket['token']}", "Content-Type": content_type},
        ) as r:
            assert r.status == status
        assert "photo" not in agent.inbox.names()

    @pytest.mark.settings(photo_max_bytes=1000)
    async def test_an_oversized_photo_is_refused(self, harness: Harness) -> None:
        _, _, session_id, ticket = await live_call(harness)
        async with harness.http.post(
            f"/api/calls/{session_id}/photos",
            data=b"\xff\xd8\xff" + b"0" * 5000,
            headers={"Authorization": f"Bearer {ticket['token']}", "Content-Type": "image/jpeg"},
        ) as r:
            assert r.status == 413

    async def test_only_the_calls_customer_can_upload(self, harness: Harness) -> None:
        _, _, session_id, _ = await live_call(harness)
        other = await harness.tap()
        for headers in ({}, {"Authorization": f"Bearer {other['token']}"}):
            async with harness.http.post(
                f"/api/calls/{session_id}/photos",
                data=self._jpeg(),
                headers={**headers, "Content-Type": "image/jpeg"},
            ) as r:
                assert r.status in (401, 403)


ARROW = {"kind": "arrow", "id": "a1", "from": [0.2, 0.2], "to": [0.5, 0.6], "color": "red"}


class TestAnnotations:
    async def test_an_agents_arrow_reaches_the_customer_stamped_by_the_server(
        self, harness: Harness
    ) -> None:
        customer, agent, session_id, _ = await live_call(harness)
        forged = {**ARROW, "author": "Mallory"}
        reply = await agent.call("annotate", {"session_id": session_id, "annotation": forged})
        assert reply["error"]["code"] == "invalid", "clients cannot name the author"
        reply = await agent.call("annotate", {"session_id": session_id, "annotation": ARROW})
        assert reply == {"ok": True, "id": "a1"}
        got = await customer.inbox.next("annotation")
        assert got["target"] == "live"
        mark = got["annotation"]
        assert (mark["kind"], mark["author"], mark["from"], mark["to"]) == (
            "arrow",
            "Alice",
            [0.2, 0.2],
            [0.5, 0.6],
        )
        assert mark["created_at"] >= 0
        room = await customer.call("room", {"session_id": session_id})
        assert [m["id"] for m in room["annotations"]["live"]] == ["a1"]

    async def test_a_pen_stroke_arrives_in_batches_and_can_be_removed_or_cleared(
        self, harness: Harness
    ) -> None:
        customer, agent, session_id, _ = await live_call(harness)
        pen = {"kind": "pen", "id": "p1", "points": [[0.1, 0.1], [0.2, 0.15]]}
        assert (await agent.call("annotate", {"session_id": session_id, "annotation": pen}))["ok"]
        more = {"session_id": session_id, "id": "p1", "points": [[0.3, 0.2], [0.4, 0.3]]}
        assert (await agent.call("annotate_points", more)) == {"ok": True}
        extra = await customer.inbox.next("annotation_points")
        assert extra["points"] == [[0.3, 0.2], [0.4, 0.3]]
        room = await agent.call("room", {"session_id": session_id})
        assert len(room["annotations"]["live"][0]["points"]) == 4

        assert (await agent.call("annotate", {"session_id": session_id, "annotation": ARROW}))["ok"]
        ref = {"session_id": session_id, "id": "p1"}
        assert (await agent.call("annotation_remove", ref)) == {"ok": True}
        assert (await customer.inbox.next("annotation_removed"))["id"] == "p1"
        cleared = await agent.call("annotations_clear", {"session_id": session_id})
        assert cleared == {"ok": True, "removed": 1}
        await customer.inbox.next("annotations_cleared")
        kinds = [e["kind"] for e in await harness.records.call_events_of(session_id)]
        assert kinds == [
            "annotate",
            "annotate_points",
            "annotate",
            "annotation_remove",
            "annotations_clear",
        ]

    async def test_the_laser_pointer_is_relayed_but_never_kept(self, harness: Harness) -> None:
        customer, agent, session_id, _ = await live_call(harness)
        laser = {"kind": "laser", "id": "l1", "at": [0.5, 0.5]}
        assert (await agent.call("annotate", {"session_id": session_id, "annotation": laser}))["ok"]
        assert (await customer.inbox.next("laser"))["annotation"]["at"] == [0.5, 0.5]
        assert await harness.records.call_events_of(session_id) == []
        room = await agent.call("room", {"session_id": session_id})
        assert room["annotations"] == {}

    @pytest.mark.parametrize(
        "bad",
        [
            {**ARROW, "to": [1.5, 0.5]},
            {**ARROW, "kind": "bomb"},
            {"kind": "pen", "id": "p", "points": [[0.1, 0.1]] * 300},
            {"kind": "text", "id": "t", "at": [0.1, 0.1], "text": "x" * 201},
        ],
        ids=["off-frame", "unknown-kind", "too-many-points", "long-text"],
    )
    async def test_bad_marks_are_refused_and_nothing_is_shown(
        self, harness: Harness, bad: dict[str, object]
    ) -> None:
        customer, agent, session_id, _ = await live_call(harness)
        reply = await agent.call("annotate", {"session_id": session_id, "annotation": bad})
        assert reply["error"]["code"] == "invalid"
        assert "annotation" not in customer.inbox.names()

    async def test_customers_cannot_draw_and_outsiders_cannot_draw_into_a_call(
        self, harness: Harness
    ) -> None:
        customer, _, session_id, _ = await live_call(harness)
        reply = await customer.call("annotate", {"session_id": session_id, "annotation": ARROW})
        assert reply["error"]["code"] == "unknown_event"
        outsider = await harness.agent(await harness.add_staff("mallory"))
        reply = await outsider.call("annotate", {"session_id": session_id, "annotation": ARROW})
        assert reply["error"]["code"] == "forbidden"
        assert "annotation" not in customer.inbox.names()


class TestStickyMarks:
    async def test_a_sticky_arrow_follows_the_picture_and_is_greyed_when_lost(
        self, harness: Harness
    ) -> None:
        from tests.support.peers import PanningTrack

        customer, agent, session_id, _ = await live_call(harness)
        track = PanningTrack(speed=2.0)
        peer = ClientPeer(track)
        try:
            await peer.connect(customer.client, "/customer", session_id)
            session = harness.hub.sessions[session_id]
            await wait_until(lambda: session._customer_frame() is not None, what="video at server")
            arrow = {**ARROW, "id": "s1", "sticky": True}
            reply = await agent.call("annotate", {"session_id": session_id, "annotation": arrow})
            assert reply["ok"], reply

            def moves() -> list[dict[str, object]]:
                return [
                    d["annotation"] for e, d in customer.inbox.events if e == "annotation_moved"
                ]

            await wait_until(lambda: len(moves()) >= 5, timeout=20, what="several moves")
            latest = moves()[-1]
            assert latest["id"] == "s1" and not latest.get("lost")
            # The camera pans left, so the object (and the arrow on it) moves right.
            assert latest["from"][0] > ARROW["from"][0] + 0.01
            assert abs(latest["from"][1] - ARROW["from"][1]) < 0.02

            track.blank()
            lost = await agent.inbox.next("annotation_lost", timeout=20)
            assert lost == {"target": "live", "id": "s1"}
            await wait_until(lambda: bool(moves()[-1].get("lost")), what="greyed for the customer")
            room = await customer.call("room", {"session_id": session_id})
            assert room["annotations"]["live"][0]["lost"] is True
        finally:
            await peer.close()

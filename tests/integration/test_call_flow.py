"""A customer taps, an agent accepts, and real video flows both ways through the server."""

from __future__ import annotations

import pytest
import socketio

from tests.support.calls import ready_agent, ringing
from tests.support.harness import Harness, wait_until
from tests.support.peers import ClientPeer, dominant_colour


async def _matched(harness: Harness):
    """A tapped customer and a ready agent who accepted: returns (customer, agent, session_id)."""
    agent = await ready_agent(harness)
    ticket = await harness.tap(topic="setup", description="router blinks red")
    customer = await harness.customer(ticket["token"])
    offer = await agent.inbox.next("offer")
    assert offer["ticket_id"] == ticket["ticket_id"]
    assert offer["topic"] == "setup"
    accepted = await agent.call("accept", {"ticket_id": ticket["ticket_id"]})
    session_id = accepted["session_id"]
    matched = await customer.inbox.next("matched")
    assert matched["session_id"] == session_id
    return customer, agent, session_id, ticket


class TestTwoWayCall:
    async def test_video_from_each_side_arrives_at_the_other(self, harness: Harness) -> None:
        customer, agent, session_id, ticket = await _matched(harness)
        customer_peer, agent_peer = ClientPeer("red"), ClientPeer("blue")
        try:
            await customer_peer.connect(customer.client, "/customer", session_id)
            await agent_peer.connect(agent.client, "/agent", session_id)
            await agent_peer.wait_for_video(count=5)
            await customer_peer.wait_for_video(count=5)
            assert dominant_colour(agent_peer.video_frames[-1]) == "red"
            assert dominant_colour(customer_peer.video_frames[-1]) == "blue"
            await wait_until(lambda: agent_peer.audio_frames > 5, what="audio at the agent")
            await wait_until(lambda: customer_peer.audio_frames > 5, what="audio at the customer")
        finally:
            await customer_peer.close()
            await agent_peer.close()

        assert (await agent.call("hangup", {"session_id": session_id})) == {"ok": True}
        ended = await customer.inbox.next("session_ended")
        assert ended == {"session_id": session_id, "reason": "agent_hung_up"}
        await agent.inbox.next("session_ended")
        await wait_until(lambda: not harness.hub.sessions, what="media session closed")

        wrapped = await agent.call(
            "wrap_up", {"session_id": session_id, "disposition": "resolved", "note": "reset router"}
        )
        assert wrapped == {"ok": True}
        row = await harness.records.session(session_id)
        assert row is not None
        assert row["ticket_id"] == ticket["ticket_id"]
        assert row["queued_at"] <= row["answered_at"] <= row["ended_at"]
        assert row["end_reason"] == "agent_hung_up"
        assert (row["disposition"], row["note"]) == ("resolved", "reset router")
        state = await agent.call("sync")
        assert state["state"] == "ready"

    async def test_customer_hangup_ends_session_and_media(self, harness: Harness) -> None:
        customer, agent, session_id, _ = await _matched(harness)
        peer = ClientPeer("red")
        try:
            await peer.connect(customer.client, "/customer", session_id)
            assert harness.hub.peer_connections == 1
            assert (await customer.call("hangup", {"session_id": session_id})) == {"ok": True}
            ended = await agent.inbox.next("session_ended")
            assert ended["reason"] == "customer_hung_up"
            await wait_until(lambda: harness.hub.peer_connections == 0, what="peer closed")
        finally:
            await peer.close()


class TestAuthentication:
    async def test_a_forged_ticket_token_is_refused(self, harness: Harness) -> None:
        ticket = await harness.tap()
        forged = ticket["token"][:-2] + ("AA" if not ticket["token"].endswith("AA") else "BB")
        with pytest.raises(socketio.exceptions.ConnectionError):
            await harness.customer(forged)

    async def test_a_missing_token_is_refused(self, harness: Harness) -> None:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await harness.customer("")

    async def test_the_agent_console_needs_a_login(self, harness: Harness) -> None:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await harness.agent("not-a-session")

    async def test_staff_without_the_agent_role_cannot_open_the_console(
        self, harness: Harness
    ) -> None:
        cookie = await harness.add_staff("trainer1", role="trainer")
        with pytest.raises(socketio.exceptions.ConnectionError):
            await harness.agent(cookie)

    async def test_a_closed_ticket_cannot_reconnect(self, harness: Harness) -> None:
        ticket = await harness.tap()
        customer = await harness.customer(ticket["token"])
        assert (await customer.call("cancel")) == {"ok": True}
        await customer.close()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await harness.customer(ticket["token"])


class TestAuthorization:
    async def test_an_agent_cannot_join_a_session_that_is_not_theirs(
        self, harness: Harness
    ) -> None:
        _, _, session_id, _ = await _matched(harness)
        intruder = await harness.agent(await harness.add_staff("mallory"))
        offer = {"session_id": session_id, "type": "offer", "sdp": "v=0\r\n" * 4}
        for event, data in [
            ("rtc_offer", offer),
            ("rtc_candidate", {"session_id": session_id, "candidate": ""}),
            ("hangup", {"session_id": session_id}),
            ("wrap_up", {"session_id": session_id, "disposition": "resolved"}),
        ]:
            reply = await intruder.call(event, data)
            assert reply["error"]["code"] in ("forbidden", "illegal_transition"), (event, reply)
        assert session_id in harness.hub.sessions
        assert harness.hub.peer_connections == 0

    async def test_a_customer_cannot_signal_into_another_customers_session(
        self, harness: Harness
    ) -> None:
        _, _, session_id, _ = await _matched(harness)
        other = await harness.customer((await harness.tap())["token"])
        reply = await other.call(
            "rtc_offer", {"session_id": session_id, "type": "offer", "sdp": "v=0\r\n" * 4}
        )
        assert reply["error"]["code"] == "forbidden"
        reply = await other.call("hangup", {"session_id": session_id})
        assert reply["error"]["code"] == "forbidden"

    async def test_an_agent_cannot_accept_an_offer_made_to_someone_else(
        self, harness: Harness
    ) -> None:
        agent = await ready_agent(harness, "alice")
        _, ticket = await ringing(harness, agent)
        other = await harness.agent(await harness.add_staff("bob"))
        reply = await other.call("accept", {"ticket_id": ticket["ticket_id"]})
        assert reply["error"]["code"] == "forbidden"


class TestPayloadValidation:
    @pytest.mark.parametrize(
        ("event", "data"),
        [
            ("accept", {}),
            ("accept", {"ticket_id": "../../etc"}),
            ("accept", {"ticket_id": "x" * 65}),
            ("away", {"reason": "holiday"}),
            ("wrap_up", {"session_id": "s", "disposition": "great"}),
            ("wrap_up", {"session_id": "s", "disposition": "resolved", "note": "n" * 2001}),
            ("rtc_offer", {"session_id": "s", "type": "answer", "sdp": "v=0" * 10}),
            ("rtc_offer", {"session_id": "s", "type": "offer", "sdp": "v" * 40000}),
            ("ready", {"extra": 1}),
            ("ready", ["not", "an", "object"]),
        ],
    )
    async def test_bad_payloads_get_an_invalid_error_and_change_nothing(
        self, harness: Harness, event: str, data: object
    ) -> None:
        agent = await harness.agent(await harness.add_staff("alice"))
        before = harness.service.desk.dump()
        reply = await agent.client.call(event, data, namespace="/agent", timeout=5)
        assert reply["error"]["code"] == "invalid"
        assert harness.service.desk.dump() == before


class TestEventGuard:
    @pytest.mark.parametrize("name", ["disconnect", "connect", "no_such_event", "on_ready"])
    async def test_reserved_or_unknown_event_names_get_an_error_and_change_nothing(
        self, harness: Harness, name: str
    ) -> None:
        agent = await ready_agent(harness)
        before = harness.service.desk.dump()
        reply = await agent.client.call(name, {}, namespace="/agent", timeout=5)
        assert reply["error"]["code"] == "unknown_event"
        assert harness.service.desk.dump() == before
        assert (await agent.call("sync"))["state"] == "ready"

    async def test_an_event_with_extra_arguments_is_refused(self, harness: Harness) -> None:
        agent = await ready_agent(harness)
        reply = await agent.client.call("ready", ({}, {}), namespace="/agent", timeout=5)
        assert reply["error"]["code"] == "invalid"

    async def test_a_refused_connection_says_why(self, harness: Harness) -> None:
        client = socketio.AsyncClient(reconnection=False)
        reasons: list[object] = []
        client.on("connect_error", reasons.append, namespace="/agent")
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(
                harness.url, namespaces=["/agent"], transports=["websocket"], wait_timeout=5
            )
        assert reasons == [{"message": "please log in", "data": {"code": "login_required"}}]

    async def test_a_refused_customer_connection_carries_a_code_for_the_page(
        self, harness: Harness
    ) -> None:
        client = socketio.AsyncClient(reconnection=False)
        reasons: list[object] = []
        client.on("connect_error", reasons.append, namespace="/customer")
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(
                harness.url,
                namespaces=["/customer"],
                transports=["websocket"],
                auth={"token": "forged"},
                wait_timeout=5,
            )
        assert reasons == [
            {"message": "invalid or expired ticket token", "data": {"code": "invalid_token"}}
        ]


class TestNoGapBeforeMedia:
    async def test_a_customer_who_sees_the_call_live_can_offer_at_once(
        self, harness: Harness
    ) -> None:
        """The desk marks the call live and the media session exists in the same step: a
        customer polling sync never sees a live call whose offer is refused as no_session."""
        agent = await ready_agent(harness)
        ticket = await harness.tap()
        customer = await harness.customer(ticket["token"])
        await agent.inbox.next("offer")
        await agent.client.emit("accept", {"ticket_id": ticket["ticket_id"]}, namespace="/agent")
        state = await customer.call("sync")
        while state["state"] != "live":
            state = await customer.call("sync")
        peer = ClientPeer("red")
        try:
            await peer.connect(customer.client, "/customer", state["session_id"])
        finally:
            await peer.close()

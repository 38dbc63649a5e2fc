"""Ring timeouts, dropped connections, media that never connects, and draining on shutdown."""

from __future__ import annotations

import pytest
from aiortc import RTCSessionDescription

from tests.support.calls import live_call, ready_agent, ringing
from tests.support.harness import Harness, wait_until
from tests.support.peers import ClientPeer
from videoassist.http.keys import NAMESPACES
from videoassist.store.records import Records


class TestRingNoAnswer:
    @pytest.mark.settings(ring_timeout=0.3)
    async def test_unanswered_offer_sets_agent_away_and_keeps_customer_first(
        self, harness: Harness
    ) -> None:
        alice = await ready_agent(harness, "alice")
        first = await harness.tap()
        second = await harness.tap()
        await harness.customer(first["token"])
        await harness.customer(second["token"])
        offer = await alice.inbox.next("offer")
        assert offer["ticket_id"] == first["ticket_id"]

        state = await alice.inbox.next("agent_state", after=len(alice.inbox.events))
        assert state == {"state": "away", "reason": "missed_offer"}
        assert harness.service.desk.position(first["ticket_id"]) == 1
        assert harness.service.desk.ticket_state(first["ticket_id"]) == "queued"

        bob = await ready_agent(harness, "bob")
        offer = await bob.inbox.next("offer")
        assert offer["ticket_id"] == first["ticket_id"]


class TestAgentConnectionLost:
    async def test_an_offer_to_an_agent_who_drops_goes_to_the_next_agent_at_once(
        self, harness: Harness
    ) -> None:
        alice = await ready_agent(harness, "alice")
        _, ticket = await ringing(harness, alice)
        bob = await ready_agent(harness, "bob")
        await alice.close()
        offer = await bob.inbox.next("offer", timeout=5)
        assert offer["ticket_id"] == ticket["ticket_id"]
        assert harness.service.desk.agent_state("u1") == "offline"

    @pytest.mark.settings(
        call_resume_window=0
    )  # with a window: tests/integration/test_call_resume.py
    async def test_an_agent_who_drops_mid_call_ends_the_session_and_its_media(
        self, harness: Harness
    ) -> None:
        customer, agent, session_id, _ = await live_call(harness)
        peer = ClientPeer("red")
        try:
            await peer.connect(customer.client, "/customer", session_id)
            await agent.close()
            ended = await customer.inbox.next("session_ended")
            assert ended == {"session_id": session_id, "reason": "agent_disconnected"}
            await wait_until(lambda: harness.hub.peer_connections == 0, what="media torn down")
        finally:
            await peer.close()
        row = await harness.records.session(session_id)
        assert row["end_reason"] == "agent_disconnected"

    async def test_a_second_console_replaces_the_first_without_signing_out(
        self, harness: Harness
    ) -> None:
        cookie = await harness.add_staff("alice")
        first = await ready_agent(harness, cookie=cookie)
        second = await harness.agent(cookie)
        await wait_until(lambda: not first.client.connected, what="old console disconnected")
        assert (await second.call("sync"))["state"] == "ready"

    async def test_a_console_reloaded_in_wrap_up_finds_the_wrap_up_where_it_was(
        self, harness: Harness
    ) -> None:
        cookie = await harness.add_staff("alice")
        agent = await ready_agent(harness, cookie=cookie)
        customer, _, session_id, _ = await live_call(harness, agent)
        assert (await customer.call("hangup", {"session_id": session_id}))["ok"]
        await agent.inbox.next("session_ended")
        await agent.close()
        back = await harness.agent(cookie)
        view = await back.call("sync")
        assert (view["state"], view["session_id"]) == ("wrap_up", session_id)
        reply = await back.call("wrap_up", {"session_id": session_id, "disposition": "resolved"})
        assert reply == {"ok": True}, reply
        assert harness.service.desk.agent_state("u1") == "ready"

    @pytest.mark.settings(agent_grace=0.3)
    async def test_an_away_agent_whose_console_stays_gone_is_signed_out_after_the_grace(
        self, harness: Harness
    ) -> None:
        agent = await harness.agent(await harness.add_staff("alice"))
        assert (await agent.call("away", {"reason": "break"}))["ok"]
        await agent.close()
        assert harness.service.desk.agent_state("u1") == "away"  # a reload would find it
        await wait_until(
            lambda: harness.service.desk.agent_state("u1") == "offline", what="signed out"
        )

    async def test_logging_out_while_away_signs_out_at_once(self, harness: Harness) -> None:
        cookie = await harness.add_staff("alice")
        agent = await harness.agent(cookie)
        assert (await agent.call("away", {"reason": "break"}))["ok"]
        async with harness.http.post("/api/logout", cookies={"va_session": cookie}) as r:
            assert r.status == 204
        # Well before the 10 s grace.
        await wait_until(
            lambda: harness.service.desk.agent_state("u1") == "offline", 3, what="signed out"
        )


class TestCustomerConnectionLost:
    @pytest.mark.settings(customer_grace=0.5)
    async def test_a_waiting_customer_who_stays_away_past_the_grace_is_abandoned(
        self, harness: Harness
    ) -> None:
        ticket = await harness.tap()
        customer = await harness.customer(ticket["token"])
        assert (await customer.call("sync"))["state"] == "queued"
        await customer.close()
        await wait_until(
            lambda: harness.service.desk.ticket_state(ticket["ticket_id"]) == "abandoned",
            what="ticket abandoned",
        )
        await harness.service.settled()  # the desk changes before its effects are written
        row = await harness.records.ticket(ticket["ticket_id"])
        assert (row["status"], row["end_reason"]) == ("abandoned", "customer_left")

    async def test_a_waiting_customer_who_reconnects_in_time_keeps_their_place(
        self, harness: Harness
    ) -> None:
        first = await harness.tap()
        second = await harness.tap()
        customer = await harness.customer(first["token"])
        await harness.customer(second["token"])
        await customer.close()
        await wait_until(
            lambda: not harness.service.desk.tickets[first["ticket_id"]].connected,
            what="drop noticed",
        )
        agent = await ready_agent(harness, "alice")
        offer = await agent.inbox.next("offer")
        assert offer["ticket_id"] == second["ticket_id"], "a dropped customer is not offered"
        assert (await agent.call("decline", {"ticket_id": second["ticket_id"]}))["ok"]

        back = await harness.customer(first["token"])
        state = await back.call("sync")
        assert (state["state"], state["position"]) == ("offered", 1)
        offer = await agent.inbox.next("offer", after=len(agent.inbox.events) - 1)
        assert offer["ticket_id"] == first["ticket_id"]

    @pytest.mark.settings(
        call_resume_window=0
    )  # with a window: tests/integration/test_call_resume.py
    async def test_a_customer_who_drops_mid_call_ends_the_session(self, harness: Harness) -> None:
        customer, agent, _, _ = await live_call(harness)
        await customer.close()
        ended = await agent.inbox.next("session_ended")
        assert ended["reason"] == "customer_disconnected"
        assert (await agent.call("sync"))["state"] == "wrap_up"


class TestMediaFailures:
    @pytest.mark.settings(media_connect_timeout=1.0)
    async def test_media_that_never_connects_ends_the_session(self, harness: Harness) -> None:
        customer, agent, session_id, _ = await live_call(harness)
        peer = ClientPeer("red")
        await peer.pc.setLocalDescription(await peer.pc.createOffer())
        # Send the offer but never act on the answer: ICE never completes on the server.
        reply = await customer.call(
            "rtc_offer",
            {"session_id": session_id, "type": "offer", "sdp": peer.pc.localDescription.sdp},
        )
        assert reply["ok"] is True
        await peer.close()
        ended = await agent.inbox.next("session_ended", timeout=10)
        assert ended["reason"] == "media_failed"
        await customer.inbox.next("session_ended")
        await wait_until(lambda: harness.hub.peer_connections == 0, what="media torn down")

    async def test_candidates_trickled_after_the_offer_connect_the_call(
        self, harness: Harness
    ) -> None:
        customer, agent, session_id, _ = await live_call(harness)
        peer = ClientPeer("red")
        agent_peer = ClientPeer("blue")
        try:
            await peer.pc.setLocalDescription(await peer.pc.createOffer())
            sdp = peer.pc.localDescription.sdp
            lines = sdp.split("\r\n")
            candidates = [line[2:] for line in lines if line.startswith("a=candidate:")]
            assert candidates, "aiortc put no candidates in its offer"
            # As a browser does: no candidates and no end-of-candidates in the offer itself.
            bare = "\r\n".join(
                line
                for line in lines
                if not line.startswith(("a=candidate:", "a=end-of-candidates"))
            )
            reply = await customer.call(
                "rtc_offer", {"session_id": session_id, "type": "offer", "sdp": bare}
            )
            assert reply["ok"] is True
            await peer.pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))
            for candidate in candidates:
                reply = await customer.call(
                    "rtc_candidate",
                    {"session_id": session_id, "candidate": candidate, "sdpMLineIndex": 0},
                )
                assert reply == {"ok": True}
            await agent_peer.connect(agent.client, "/agent", session_id)
            await agent_peer.wait_for_video(count=3)
        finally:
            await peer.close()
            await agent_peer.close()

    async def test_a_malformed_candidate_is_refused(self, harness: Harness) -> None:
        customer, _, session_id, _ = await live_call(harness)
        peer = ClientPeer("red")
        try:
            await peer.connect(customer.client, "/customer", session_id)
            reply = await customer.call(
                "rtc_candidate", {"session_id": session_id, "candidate": "candidate:1 1 udp"}
            )
            assert reply["error"]["code"] == "bad_candidate"
        finally:
            await peer.close()

    async def test_an_offer_with_too_many_media_sections_is_refused_before_aiortc(
        self, harness: Harness
    ) -> None:
        customer, _, session_id, _ = await live_call(harness)
        sdp = "v=0\r\n" + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" * 5
        reply = await customer.call(
            "rtc_offer", {"session_id": session_id, "type": "offer", "sdp": sdp}
        )
        assert reply["error"]["code"] == "bad_offer"
        assert harness.hub.peer_connections == 0

    async def test_an_unusable_offer_is_refused_and_leaks_no_peer_connection(
        self, harness: Harness
    ) -> None:
        customer, _, session_id, _ = await live_call(harness)
        reply = await customer.call(
            "rtc_offer", {"session_id": session_id, "type": "offer", "sdp": "v=0\r\nnonsense\r\n"}
        )
        assert reply["error"]["code"] == "bad_offer"
        assert harness.hub.peer_connections == 0

    @pytest.mark.settings(max_peer_connections=1)
    async def test_peer_connections_beyond_the_node_limit_are_refused(
        self, harness: Harness
    ) -> None:
        customer, agent, session_id, _ = await live_call(harness)
        first, second = ClientPeer("red"), ClientPeer("blue")
        try:
            await first.connect(customer.client, "/customer", session_id)
            await second.pc.setLocalDescription(await second.pc.createOffer())
            reply = await agent.call(
                "rtc_offer",
                {"session_id": session_id, "type": "offer", "sdp": second.pc.localDescription.sdp},
            )
            assert reply["error"]["code"] == "media_busy"
            assert harness.hub.peer_connections == 1
        finally:
            await first.close()
            await second.close()


class TestDrain:
    @pytest.mark.settings(call_resume_window=0)  # with a window: handed over (test_call_resume)
    async def test_shutdown_ends_live_calls_politely_and_keeps_waiting_customers(
        self, harness: Harness
    ) -> None:
        customer, _, session_id, _ = await live_call(harness)
        waiting = await harness.tap()
        waiting_customer = await harness.customer(waiting["token"])
        assert (await waiting_customer.call("sync"))["position"] == 1

        await harness.runner.shutdown()  # what SIGTERM runs first: on_shutdown → drain
        ended = await customer.inbox.next("session_ended")
        assert ended["reason"] == "server_shutdown"
        async with harness.http.post("/api/tickets", json={}) as response:
            assert response.status == 503
            assert (await response.json())["error"]["code"] == "unavailable"
        async with harness.http.get("/readyz") as response:
            assert response.status == 503
        await wait_until(lambda: not waiting_customer.client.connected, what="clients let go")
        customers = harness.app[NAMESPACES][0]
        await wait_until(lambda: not customers._sids, what="server ran its disconnect handlers")

        records = Records.open(harness.settings.db_url)
        try:
            row = await records.ticket(waiting["ticket_id"])
            assert row["status"] == "queued"
            session = await records.session(session_id)
            assert session["end_reason"] == "server_shutdown"
        finally:
            await records.close()


class TestLoginLifecycle:
    async def test_logging_out_closes_the_console_and_signs_the_agent_out(
        self, harness: Harness
    ) -> None:
        cookie = await harness.add_staff("alice")
        agent = await ready_agent(harness, cookie=cookie)
        async with harness.http.post("/api/logout", cookies={"va_session": cookie}) as r:
            assert r.status == 204
        await wait_until(lambda: not agent.client.connected, what="console closed")
        await wait_until(
            lambda: harness.service.desk.agent_state("u1") == "offline", what="signed out"
        )
        async with harness.http.get("/api/me", cookies={"va_session": cookie}) as r:
            assert r.status == 401


class TestSilentParties:
    @pytest.mark.settings(media_connect_timeout=0.5)
    async def test_a_party_that_never_starts_media_ends_the_session(self, harness: Harness) -> None:
        customer, agent, _, _ = await live_call(harness)
        ended = await agent.inbox.next("session_ended", timeout=10)
        assert ended["reason"] == "media_failed"
        await customer.inbox.next("session_ended")

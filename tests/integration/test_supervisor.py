"""The supervisors' floor through the real server: the wallboard a /supervisor socket is pushed,
the actions it takes, and who may open it."""

from __future__ import annotations

from typing import Any

import pytest
import socketio

from tests.support.harness import Harness, Party, connect_socket, wait_until
from videoassist.app import desk_config
from videoassist.desk import ConfigChanged
from videoassist.http.keys import NAMESPACES
from videoassist.routing_config import agent_id_of


def last_floor(party: Party) -> dict[str, Any] | None:
    floors = [data for event, data in party.inbox.events if event == "floor"]
    return floors[-1] if floors else None


def floor_shows(party: Party, check: Any) -> Any:
    def held() -> bool:
        floor = last_floor(party)
        return floor is not None and bool(check(floor))

    return held


async def agent_id(h: Harness, username: str) -> str:
    row = await h.records.user_by_name(username)
    assert row is not None
    return agent_id_of(row["id"])


class TestTheWallboard:
    async def test_a_supervisor_sees_a_customer_wait_then_the_call_go_live_each_within_1_s(
        self, harness: Harness
    ) -> None:
        h = harness
        sue = await h._party("/supervisor", cookie=await h.add_staff("sue", "supervisor"))
        alice = await h.agent(await h.add_staff("alice"))
        alice_id = await agent_id(h, "alice")
        first = await sue.call("sync")
        assert first["ok"] is True and first["waiting"] == []

        ticket = await h.tap(topic="setup")
        ticket_id = ticket["ticket_id"]
        await h.customer(ticket["token"])  # the page connects: the customer is in line
        await wait_until(
            floor_shows(sue, lambda f: [w["ticket_id"] for w in f["waiting"]] == [ticket_id]),
            timeout=1.0,
            what="the waiting customer on the wallboard",
        )
        floor = last_floor(sue)
        assert floor is not None
        assert floor["queues"][0]["waiting"] == 1 and floor["waiting"][0]["topic"] == "setup"

        assert (await alice.call("ready")) == {"ok": True}
        offer = await alice.inbox.next("offer")
        accepted = await alice.call("accept", {"ticket_id": offer["ticket_id"]})

        def live(f: dict[str, Any]) -> bool:
            agents = {a["id"]: a for a in f["agents"]}
            return (
                [c["session_id"] for c in f["calls"]] == [accepted["session_id"]]
                and agents[alice_id]["state"] == "busy"
                and f["waiting"] == []
            )

        await wait_until(floor_shows(sue, live), timeout=1.0, what="the live call on the wallboard")
        floor = last_floor(sue)
        assert floor is not None
        (call,) = floor["calls"]
        assert (call["agent_name"], call["topic"], call["recording"]) == ("Alice", "setup", "off")
        assert "quality" in call  # sampled every 2 s once media flows (test_supervision.py)
        assert floor["queues"][0]["answered"] == 1

    @pytest.mark.settings(wallboard_interval=0.2)
    async def test_a_burst_of_changes_is_pushed_as_one_picture_not_one_per_event(
        self, harness: Harness
    ) -> None:
        h = harness
        sue = await h._party("/supervisor", cookie=await h.add_staff("sue", "supervisor"))
        alice = await h.agent(await h.add_staff("alice"))
        await wait_until(floor_shows(sue, lambda f: len(f["agents"]) == 1), what="alice shown")
        before = len(sue.inbox.events)
        for _ in range(20):  # 40 desk events, each one a change of the floor
            assert (await alice.call("ready")) == {"ok": True}
            assert (await alice.call("away")) == {"ok": True}
        await wait_until(
            floor_shows(sue, lambda f: f["agents"][0]["reason"] == "away"),
            what="the last state on the wallboard",
        )
        floors = [e for e, _ in sue.inbox.events[before:] if e == "floor"]
        assert 1 <= len(floors) < 40


class TestSupervisorActions:
    async def test_each_action_changes_the_desk_and_writes_an_audit_row(
        self, harness: Harness
    ) -> None:
        h = harness
        sue = await h._party("/supervisor", cookie=await h.add_staff("sue", "supervisor"))
        alice = await h.agent(await h.add_staff("alice"))
        await h.agent(await h.add_staff("bob"))
        alice_id, bob_id = await agent_id(h, "alice"), await agent_id(h, "bob")
        await h.records.put_queue("billing", "Billing", {})
        stored = await h.records.load_config()
        await h.service.submit(ConfigChanged(desk_config(stored, h.settings), h.service.now()))
        ticket = await h.tap()
        customer = await h.customer(ticket["token"])
        ticket_id = ticket["ticket_id"]
        desk = h.service.desk

        assert (await alice.call("ready")) == {"ok": True}
        await alice.inbox.next("offer")
        reply = await sue.call("set_away", {"agent_id": alice_id, "reason": "meeting"})
        assert reply == {"ok": True}
        assert desk.agent_state(alice_id) == "away"
        assert desk.ticket_state(ticket_id) == "queued"  # back in line, not lost
        told = [d for e, d in alice.inbox.events if e == "agent_state" and d.get("by")]
        assert told == [{"state": "away", "reason": "meeting", "by": "sue"}]

        move = {"ticket_id": ticket_id, "queue_id": "billing"}
        assert (await sue.call("move", move)) == {"ok": True}
        assert desk.tickets[ticket_id].queue_id == "billing"
        assert (await customer.inbox.next("moved"))["reason"] == "supervisor"
        priority = {"ticket_id": ticket_id, "priority": 42}
        assert (await sue.call("set_priority", priority)) == {"ok": True}
        assert desk.tickets[ticket_id].priority == 42

        assert (await sue.call("sign_out", {"agent_id": alice_id})) == {"ok": True}
        assert desk.agent_state(alice_id) == "offline"
        assert (await alice.inbox.next("signed_out")) == {"by": "sue"}
        await wait_until(lambda: not alice.client.connected, what="alice's console closed")
        assert desk.agent_state(bob_id) == "away"  # nobody else was touched

        await h.service.settled()
        rows = await h.records.audit_rows()
        sue_id = await agent_id(h, "sue")
        assert [
            (r["actor_id"], r["actor_name"], r["action"], r["subject_kind"], r["subject_id"])
            for r in rows
        ] == [
            (sue_id, "sue", "set_away", "agent", alice_id),
            (sue_id, "sue", "move", "ticket", ticket_id),
            (sue_id, "sue", "set_priority", "ticket", ticket_id),
            (sue_id, "sue", "sign_out", "agent", alice_id),
        ]
        assert rows[1]["detail"] == {"from": "general", "to": "billing"}
        assert all(r["at"] > 0 for r in rows)
        stored_ticket = await h.records.ticket(ticket_id)
        assert (stored_ticket["queue_id"], stored_ticket["priority"]) == ("billing", 42)

    async def test_a_refused_action_changes_nothing_and_writes_no_audit_row(
        self, harness: Harness
    ) -> None:
        h = harness
        sue = await h._party("/supervisor", cookie=await h.add_staff("sue", "supervisor"))
        ticket = await h.tap()
        await h.customer(ticket["token"])
        reply = await sue.call("move", {"ticket_id": ticket["ticket_id"], "queue_id": "nowhere"})
        assert reply["error"]["code"] == "not_found"
        reply = await sue.call("set_priority", {"ticket_id": ticket["ticket_id"], "priority": 500})
        assert reply["error"]["code"] == "invalid"
        reply = await sue.call("set_away", {"agent_id": "u999"})
        assert reply["error"]["code"] == "not_found"
        await h.service.settled()
        assert await h.records.audit_rows() == []


async def refusal(harness: Harness, **credentials: str) -> object:
    """What a /supervisor connection with ``credentials`` is told when it is refused."""
    client = socketio.AsyncClient(reconnection=False)
    reasons: list[object] = []
    client.on("connect_error", reasons.append, namespace="/supervisor")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connect_socket(client, harness.url, "/supervisor", **credentials)
    (reason,) = reasons
    return reason


class TestWhoGetsIn:
    @pytest.mark.parametrize(
        ("role", "code"),
        [("agent", "wrong_role"), ("trainer", "wrong_role"), (None, "login_required")],
    )
    async def test_only_supervisors_and_admins_open_the_wallboard(
        self, harness: Harness, role: str | None, code: str
    ) -> None:
        credentials = {"cookie": await harness.add_staff("someone", role)} if role else {}
        reason = await refusal(harness, **credentials)
        assert isinstance(reason, dict) and reason["data"] == {"code": code}

    async def test_a_customer_with_a_ticket_token_is_refused(self, harness: Harness) -> None:
        ticket = await harness.tap()
        reason = await refusal(harness, token=ticket["token"], cookie=ticket["token"])
        assert isinstance(reason, dict) and reason["data"] == {"code": "login_required"}

    @pytest.mark.parametrize("role", ["supervisor", "admin"])
    async def test_supervisors_and_admins_get_in_and_logging_out_closes_it(
        self, harness: Harness, role: str
    ) -> None:
        cookie = await harness.add_staff("boss", role)
        party = await harness._party("/supervisor", cookie=cookie)
        assert (await party.call("sync"))["ok"] is True
        assert harness.http is not None
        async with harness.http.post(
            "/api/logout", headers={"Cookie": f"va_session={cookie}"}
        ) as r:
            assert r.status == 204
        await wait_until(lambda: not party.client.connected, what="the wallboard closed")
        supervisors = harness.app[NAMESPACES][-1]
        assert not supervisors.sids


def told(party: Party, event: str = "supervision") -> list[Any]:
    return [data for name, data in party.inbox.events if name == event]


class TestSupervisingALiveCall:
    """The socket side of monitor, whisper, barge and leave (the media itself is in
    tests/integration/test_supervision.py): who is told what, the audit rows, the call's
    events reaching the watcher."""

    async def test_monitor_whisper_barge_leave_tell_the_right_party_and_are_audited(
        self, harness: Harness
    ) -> None:
        from tests.integration.test_authorization_matrix import (
            supervisor_offer_without_candidates,
        )
        from tests.support.calls import live_call

        h = harness
        sue = await h._party("/supervisor", cookie=await h.add_staff("sue", "supervisor"))
        customer, agent, session_id, ticket = await live_call(h)
        call_id = h.service.desk.sessions[session_id].call_id

        async def supervise(mode: str) -> dict[str, Any]:
            sdp = await supervisor_offer_without_candidates()
            reply = await sue.call(
                "supervise", {"session_id": session_id, "mode": mode, "type": "offer", "sdp": sdp}
            )
            assert reply.get("type") == "answer", reply
            return reply

        # Monitor: nobody is told; the watcher gets the call room's state and then its events.
        reply = await supervise("monitor")
        assert reply["mode"] == "monitor" and "annotations" in reply["room"]
        mark = {"kind": "arrow", "id": "a1", "from": [0.1, 0.1], "to": [0.5, 0.5]}
        drawn = await agent.call(
            "annotate", {"session_id": session_id, "target": "live", "annotation": mark}
        )
        assert "error" not in drawn, drawn
        event = await sue.inbox.next("call_event")
        assert event["call_id"] == call_id and event["kind"] == "annotate"
        await h.service.settled()
        assert told(agent) == [] and told(customer) == []

        # Whisper: the agent is told, the customer is not.
        await supervise("whisper")
        assert await agent.inbox.next("supervision") == {
            "session_id": session_id,
            "mode": "whisper",
        }
        # Barge: both are; the customer names the call as their own events do.
        await supervise("barge")
        assert await customer.inbox.next("supervision") == {"session_id": call_id, "mode": "barge"}
        await wait_until(lambda: len(told(agent)) == 2)
        assert told(agent)[-1] == {"session_id": session_id, "mode": "barge"}
        # Leave: both hear the supervisor go.
        assert (await sue.call("leave", {"session_id": session_id})) == {"ok": True}
        await wait_until(lambda: len(told(agent)) == 3 and len(told(customer)) == 2)
        assert told(agent)[-1]["mode"] is None and told(customer)[-1]["mode"] is None
        assert h.hub.session(call_id).supervisors == {}
        # Left: the call's events no longer reach the supervisor.
        events = len(told(sue, "call_event"))
        await agent.call("annotations_clear", {"session_id": session_id, "target": "live"})
        await h.service.settled()
        assert len(told(sue, "call_event")) == events

        rows = await h.records.audit_rows()
        sue_id = await agent_id(h, "sue")
        assert [(r["actor_id"], r["action"], r["subject_kind"], r["subject_id"]) for r in rows] == [
            (sue_id, action, "session", session_id)
            for action in ("monitor", "whisper", "barge", "leave")
        ]
        assert rows[0]["detail"]["ticket_id"] == ticket["ticket_id"]

    async def test_a_closed_wallboard_leaves_the_call(self, harness: Harness) -> None:
        from tests.integration.test_authorization_matrix import (
            supervisor_offer_without_candidates,
        )
        from tests.support.calls import live_call

        h = harness
        sue = await h._party("/supervisor", cookie=await h.add_staff("sue", "supervisor"))
        customer, _agent, session_id, _ = await live_call(h)
        call_id = h.service.desk.sessions[session_id].call_id
        sdp = await supervisor_offer_without_candidates()
        data = {"session_id": session_id, "mode": "barge", "type": "offer", "sdp": sdp}
        assert (await sue.call("supervise", data))["mode"] == "barge"
        await customer.inbox.next("supervision")
        await sue.client.disconnect()
        await wait_until(lambda: h.hub.session(call_id).supervisors == {})
        await wait_until(lambda: told(customer)[-1]["mode"] is None)
        await h.service.settled()
        assert [r["action"] for r in await h.records.audit_rows()] == ["barge", "leave"]

    async def test_supervising_a_call_that_is_not_live_is_refused_and_not_audited(
        self, harness: Harness
    ) -> None:
        from tests.integration.test_authorization_matrix import (
            supervisor_offer_without_candidates,
        )

        h = harness
        sue = await h._party("/supervisor", cookie=await h.add_staff("sue", "supervisor"))
        sdp = await supervisor_offer_without_candidates()
        data = {"session_id": "nosuchcall", "mode": "monitor", "type": "offer", "sdp": sdp}
        assert (await sue.call("supervise", data))["error"]["code"] == "no_session"
        reply = await sue.call("leave", {"session_id": "nosuchcall"})
        assert reply["error"]["code"] == "forbidden"
        reply = await sue.call("supervise", {**data, "mode": "shout"})
        assert reply["error"]["code"] == "invalid"
        await h.service.settled()
        assert await h.records.audit_rows() == []

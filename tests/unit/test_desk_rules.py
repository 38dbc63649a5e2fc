"""The desk's rules, one behaviour per test: who is offered what, when, and how things end."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.desk_helpers import (
    desk_config,
    ghost_tap,
    make_desk,
    notes,
    offers,
    one,
    ready_agent,
    ring_timer,
    snapshot,
    start_session,
    tap,
)
from videoassist.desk import (
    AgentAway,
    AgentReady,
    AgentSignedIn,
    AgentSignedOut,
    AgentState,
    AnnounceDue,
    CancelTimer,
    CustomerCancelled,
    CustomerLeft,
    CustomerReturned,
    DeskConfig,
    DeskError,
    DrainStarted,
    HungUp,
    IllegalTransition,
    MediaFailed,
    NotAllowed,
    OfferAccepted,
    OfferDeclined,
    QueueConfig,
    Refused,
    RematchDue,
    SaveSession,
    SaveTicket,
    StopMedia,
    TicketState,
    TopicRoute,
    WrapUpDone,
)
from videoassist.desk.estimate import QueueStats
from videoassist.desk.events import Effect

A = AgentState
T = TicketState

# --------------------------------------------------------------------------- taps


class TestTap:
    def test_a_tap_queues_the_customer_and_saves_the_ticket(self) -> None:
        config = desk_config(QueueConfig("general"), topics=(TopicRoute("wifi", "general"),))
        desk = make_desk(config)
        effects = ghost_tap(desk, "t1", 5.0, topic="wifi")
        assert desk.queue == ["t1"]
        row = one(effects, SaveTicket).row
        assert (row.id, row.topic, row.status, row.queued_at) == ("t1", "wifi", "joining", 5.0)
        effects = desk.handle(CustomerReturned("t1", 6.0))  # the page connects
        assert desk.queue == ["t1"]
        row = one(effects, SaveTicket).row
        assert (row.id, row.status, row.queued_at) == ("t1", "queued", 5.0)

    def test_tapping_twice_with_one_ticket_is_refused_naming_the_state(self) -> None:
        desk = make_desk()
        tap(desk, "t1", 1.0)
        before = snapshot(desk)
        with pytest.raises(IllegalTransition) as info:
            tap(desk, "t1", 2.0)
        assert str(info.value) == "ticket t1 cannot 'tap' while 'queued'"
        assert snapshot(desk) == before


# --------------------------------------------------------------------------- matching


class TestOffers:
    def test_waiting_customers_are_offered_in_the_order_they_tapped(self) -> None:
        desk = make_desk()
        for at, ticket_id in enumerate(["t-c", "t-a", "t-b"]):
            tap(desk, ticket_id, float(at))
        assert offers(ready_agent(desk, "a1", 10.0)) == [("a1", "t-c")]
        assert offers(ready_agent(desk, "a2", 11.0)) == [("a2", "t-a")]
        assert offers(ready_agent(desk, "a3", 12.0)) == [("a3", "t-b")]

    def test_a_customer_is_offered_to_the_longest_idle_ready_agent(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a3", 1.0)
        ready_agent(desk, "a1", 2.0)
        ready_agent(desk, "a2", 3.0)
        assert offers(tap(desk, "t1", 4.0)) == [("a3", "t1")]
        assert offers(tap(desk, "t2", 5.0)) == [("a1", "t2")]

    def test_saying_ready_again_does_not_reset_an_agents_idle_time(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        ready_agent(desk, "a2", 2.0)
        assert desk.handle(AgentReady("a1", 3.0)) == []
        assert offers(tap(desk, "t1", 4.0)) == [("a1", "t1")]

    def test_an_agent_back_from_wrap_up_waits_behind_agents_idle_longer(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        session_id = start_session(desk, "a1", "t1", 2.0)
        ready_agent(desk, "a2", 5.0)
        desk.handle(HungUp(session_id, "agent", "a1", 10.0))
        desk.handle(WrapUpDone("a1", session_id, "resolved", "", 11.0))
        assert offers(tap(desk, "t2", 12.0)) == [("a2", "t2")]

    def test_an_offer_tells_the_agent_who_waits_for_what_and_for_how_long(self) -> None:
        config = desk_config(QueueConfig("general"), topics=(TopicRoute("tv", "general"),))
        desk = make_desk(config, ring_timeout=15.0)
        tap(desk, "t1", 100.0, topic="tv", description="no picture")
        effects = ready_agent(desk, "a1", 130.0)
        (offer,) = notes(effects, "offer", "a1")
        assert offer.data == {
            "ticket_id": "t1",
            "topic": "tv",
            "description": "no picture",
            "queue_id": "general",
            "priority": 0,
            "callback": False,
            "transfer": False,
            "waited": 30.0,
            "ring_timeout": 15.0,
        }
        assert desk.agent_state("a1") is A.OFFERED
        assert desk.ticket_state("t1") is T.OFFERED
        assert desk.queue == ["t1"], "an offered customer keeps their place until answered"


# --------------------------------------------------------------------------- ring timeout


class TestRingTimeout:
    def test_an_offer_sets_a_timer_due_one_ring_timeout_after_it(self) -> None:
        desk = make_desk(ring_timeout=15.0)
        ready_agent(desk, "a1", 1.0)
        timer = ring_timer(tap(desk, "t1", 10.0))
        assert timer.at == 25.0
        assert timer.event.at == 25.0
        assert (timer.event.agent_id, timer.event.ticket_id) == ("a1", "t1")

    def test_an_unanswered_offer_puts_the_customer_back_first_and_the_agent_away(self) -> None:
        """RONA: redirect on no answer."""
        desk = make_desk(ring_timeout=15.0)
        ready_agent(desk, "a1", 1.0)
        timer = ring_timer(tap(desk, "t1", 10.0))
        tap(desk, "t2", 12.0)

        effects = desk.handle(timer.event)

        assert desk.ticket_state("t1") is T.QUEUED
        assert desk.queue == ["t1", "t2"]
        assert desk.tickets["t1"].queued_at == 10.0
        assert desk.agent_state("a1") is A.AWAY
        assert desk.agents["a1"].away_reason == "missed_offer"
        (state,) = notes(effects, "agent_state", "a1")
        assert state.data == {"state": "away", "reason": "missed_offer"}
        assert CancelTimer(timer.key) in effects
        assert offers(ready_agent(desk, "a2", 30.0)) == [("a2", "t1")]

    def test_a_timer_that_fires_after_the_offer_was_accepted_changes_nothing(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        timer = ring_timer(tap(desk, "t1", 2.0))
        desk.handle(OfferAccepted("a1", "t1", 3.0))
        before = snapshot(desk)
        assert desk.handle(timer.event) == []
        assert snapshot(desk) == before

    def test_a_timer_from_an_earlier_offer_of_the_same_ticket_changes_nothing(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        first = ring_timer(tap(desk, "t1", 2.0))
        desk.handle(AgentAway("a1", 3.0))
        second = ring_timer(desk.handle(AgentReady("a1", 4.0)))
        assert first.event.offer_id != second.event.offer_id

        before = snapshot(desk)
        assert desk.handle(first.event) == []
        assert snapshot(desk) == before

        desk.handle(second.event)
        assert desk.agent_state("a1") is A.AWAY

    def test_a_timer_that_fires_after_the_customer_cancelled_changes_nothing(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        timer = ring_timer(tap(desk, "t1", 2.0))
        desk.handle(CustomerCancelled("t1", 3.0))
        before = snapshot(desk)
        assert desk.handle(timer.event) == []
        assert snapshot(desk) == before


# --------------------------------------------------------------------------- decline


class TestDecline:
    def test_a_declined_offer_goes_to_the_next_longest_idle_agent(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        ready_agent(desk, "a2", 2.0)
        ready_agent(desk, "a3", 3.0)
        tap(desk, "t1", 4.0)
        effects = desk.handle(OfferDeclined("a1", "t1", 5.0))
        assert offers(effects) == [("a2", "t1")]
        assert desk.agent_state("a1") is A.READY

    def test_a_declined_ticket_is_not_offered_to_the_decliner_again_until_reoffer_after(
        self,
    ) -> None:
        desk = make_desk()  # reoffer_after: 30 s
        ready_agent(desk, "a1", 1.0)
        tap(desk, "t1", 2.0)
        assert offers(desk.handle(OfferDeclined("a1", "t1", 3.0))) == []
        desk.handle(AgentAway("a1", 4.0))
        assert offers(desk.handle(AgentReady("a1", 5.0))) == []
        assert desk.ticket_state("t1") is T.QUEUED
        assert offers(ready_agent(desk, "a2", 6.0)) == [("a2", "t1")]
        assert offers(desk.handle(OfferDeclined("a2", "t1", 7.0))) == []
        assert desk.ticket_state("t1") is T.QUEUED
        assert offers(desk.handle(RematchDue(33.0))) == [("a1", "t1")]

    def test_a_decliner_is_still_offered_the_next_customer(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        tap(desk, "t1", 2.0)
        desk.handle(OfferDeclined("a1", "t1", 3.0))
        assert offers(tap(desk, "t2", 4.0)) == [("a1", "t2")]
        assert desk.queue == ["t1", "t2"]
        assert desk.ticket_state("t1") is T.QUEUED

    def test_only_the_agent_offered_the_ticket_can_decline_or_accept_it(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        ready_agent(desk, "a2", 2.0)
        tap(desk, "t1", 3.0)
        before = snapshot(desk)
        with pytest.raises(NotAllowed):
            desk.handle(OfferDeclined("a2", "t1", 4.0))
        with pytest.raises(NotAllowed):
            desk.handle(OfferAccepted("a2", "t1", 4.0))
        assert snapshot(desk) == before


# --------------------------------------------------------------------------- customer goes away


class TestCustomerGoesAway:
    def test_cancelling_while_offered_withdraws_the_offer_from_the_agent(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        tap(desk, "t1", 2.0)
        effects = desk.handle(CustomerCancelled("t1", 3.0))
        assert desk.agent_state("a1") is A.READY
        assert [n.data for n in notes(effects, "offer_withdrawn", "a1")] == [{"ticket_id": "t1"}]
        assert [n.data for n in notes(effects, "agent_state", "a1")] == [{"state": "ready"}]
        assert desk.ticket_state("t1") is T.CANCELLED
        assert desk.queue == []
        assert [n.data for n in notes(effects, "closed", "t1")] == [{"reason": "cancelled"}]
        row = one(effects, SaveTicket).row
        assert (row.status, row.ended_at, row.end_reason) == ("cancelled", 3.0, "cancelled")

    def test_cancelling_moves_everyone_behind_up_a_place_at_the_next_announcement(self) -> None:
        desk = make_desk()
        for at, ticket_id in enumerate(["t1", "t2", "t3"]):
            tap(desk, ticket_id, float(at))
        desk.handle(AnnounceDue(4.0))
        effects = desk.handle(CustomerCancelled("t1", 5.0))
        assert notes(effects, "queue") == [], "positions wait for the announcement tick"
        effects = desk.handle(AnnounceDue(6.0))
        assert [(n.target_id, n.data["position"]) for n in notes(effects, "queue")] == [
            ("t2", 1),
            ("t3", 2),
        ]

    def test_leaving_while_waiting_keeps_the_ticket_for_the_grace_period(self) -> None:
        desk = make_desk()
        tap(desk, "t1", 1.0)
        effects = desk.handle(CustomerLeft("t1", 2.0))
        assert desk.ticket_state("t1") is T.QUEUED
        assert desk.queue == ["t1"]
        assert notes(effects, "closed") == []

    def test_leaving_while_live_ends_the_session_as_customer_disconnected(self) -> None:
        """With no resume window (tests/unit/test_call_resume.py has the window)."""
        desk = make_desk(DeskConfig(call_resume_window=0))
        ready_agent(desk, "a1", 1.0)
        session_id = start_session(desk, "a1", "t1", 2.0)
        effects = desk.handle(CustomerLeft("t1", 10.0))
        row = one(effects, SaveSession).row
        assert (row.id, row.ended_at, row.end_reason) == (session_id, 10.0, "customer_disconnected")
        assert StopMedia(session_id) in effects
        assert desk.ticket_state("t1") is T.ENDED
        assert desk.agent_state("a1") is A.WRAP_UP
        ended = {"session_id": session_id, "reason": "customer_disconnected"}
        assert [n.data for n in notes(effects, "session_ended", "t1")] == [ended]
        # The agent is also told how long the wrap-up may take (the queue's limit).
        assert [n.data for n in notes(effects, "session_ended", "a1")] == [
            {**ended, "wrap_up_seconds": 120.0}
        ]


# --------------------------------------------------------------------------- agent goes away


class TestAgentGoesAway:
    def test_signing_out_while_offered_requeues_the_ticket_at_once(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        timer = ring_timer(tap(desk, "t1", 2.0))
        tap(desk, "t2", 3.0)
        ready_agent(desk, "a2", 4.0)  # takes t2; t1 is still ringing at a1
        ready_agent(desk, "a3", 5.0)

        effects = desk.handle(AgentSignedOut("a1", 6.0))

        assert desk.agent_state("a1") is A.OFFLINE
        assert CancelTimer(timer.key) in effects
        assert offers(effects) == [("a3", "t1")]
        assert desk.queue == ["t1", "t2"]

    def test_signing_out_while_offered_with_nobody_else_ready_leaves_the_ticket_first(
        self,
    ) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        tap(desk, "t1", 2.0)
        tap(desk, "t2", 3.0)
        desk.handle(AgentSignedOut("a1", 4.0))
        assert desk.ticket_state("t1") is T.QUEUED
        assert desk.queue == ["t1", "t2"]

    def test_signing_out_while_busy_ends_the_session_as_agent_disconnected(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        session_id = start_session(desk, "a1", "t1", 2.0)
        effects = desk.handle(AgentSignedOut("a1", 10.0))
        row = one(effects, SaveSession).row
        assert (row.id, row.ended_at, row.end_reason) == (session_id, 10.0, "agent_disconnected")
        assert StopMedia(session_id) in effects
        assert [n.data for n in notes(effects, "session_ended", "t1")] == [
            {"session_id": session_id, "reason": "agent_disconnected"}
        ]
        assert desk.ticket_state("t1") is T.ENDED
        assert desk.agent_state("a1") is A.OFFLINE
        assert session_id not in desk.sessions, "nobody is left to wrap the session up"


# --------------------------------------------------------------------------- sessions


class TestHangUp:
    @pytest.mark.parametrize(
        ("by", "by_id"),
        [
            ("customer", "t2"),  # another customer
            ("agent", "a2"),  # another agent
            ("customer", "a1"),  # the agent's id claimed as a customer
            ("agent", "t1"),  # the customer's id claimed as an agent
        ],
    )
    def test_hang_up_by_someone_not_in_the_session_is_not_allowed(
        self, by: Any, by_id: str
    ) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        session_id = start_session(desk, "a1", "t1", 2.0)
        ready_agent(desk, "a2", 3.0)
        tap(desk, "t2", 4.0)
        before = snapshot(desk)
        with pytest.raises(NotAllowed):
            desk.handle(HungUp(session_id, by, by_id, 5.0))
        assert snapshot(desk) == before

    @pytest.mark.parametrize(("by", "by_id"), [("customer", "t1"), ("agent", "a1")])
    def test_either_side_can_hang_up_and_the_end_reason_says_who(self, by: Any, by_id: str) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        session_id = start_session(desk, "a1", "t1", 2.0)
        effects = desk.handle(HungUp(session_id, by, by_id, 9.0))
        assert one(effects, SaveSession).row.end_reason == f"{by}_hung_up"
        assert desk.ticket_state("t1") is T.ENDED
        assert desk.agent_state("a1") is A.WRAP_UP

    def test_a_media_failure_ends_the_session_once(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        session_id = start_session(desk, "a1", "t1", 2.0)
        effects = desk.handle(MediaFailed(session_id, 9.0, detail="ice failed"))
        assert one(effects, SaveSession).row.end_reason == "media_failed"
        before = snapshot(desk)
        assert desk.handle(MediaFailed(session_id, 10.0)) == []
        assert snapshot(desk) == before


class TestWrapUp:
    def test_wrap_up_with_a_disposition_makes_the_agent_ready_and_saves_the_session(
        self,
    ) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        session_id = start_session(desk, "a1", "t1", 2.0)
        desk.handle(HungUp(session_id, "customer", "t1", 9.0))
        effects = desk.handle(WrapUpDone("a1", session_id, "follow_up", "call back", 12.0))
        row = one(effects, SaveSession).row
        assert (row.id, row.disposition, row.note, row.wrapped_up_at) == (
            session_id,
            "follow_up",
            "call back",
            12.0,
        )
        assert (row.ended_at, row.end_reason) == (9.0, "customer_hung_up")
        assert desk.agent_state("a1") is A.READY
        assert session_id not in desk.sessions

    def test_a_wrapped_up_agent_is_offered_the_next_waiting_customer(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        session_id = start_session(desk, "a1", "t1", 2.0)
        tap(desk, "t2", 4.0)
        desk.handle(HungUp(session_id, "agent", "a1", 9.0))
        effects = desk.handle(WrapUpDone("a1", session_id, "resolved", "", 12.0))
        assert offers(effects) == [("a1", "t2")]

    def test_an_unknown_disposition_is_refused_and_changes_nothing(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        session_id = start_session(desk, "a1", "t1", 2.0)
        desk.handle(HungUp(session_id, "agent", "a1", 9.0))
        before = snapshot(desk)
        with pytest.raises(DeskError) as info:
            desk.handle(WrapUpDone("a1", session_id, "fixed-ish", "", 12.0))
        assert info.value.status == 400
        assert snapshot(desk) == before

    def test_only_the_sessions_agent_can_wrap_it_up(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        session_id = start_session(desk, "a1", "t1", 2.0)
        desk.handle(HungUp(session_id, "agent", "a1", 9.0))
        ready_agent(desk, "a2", 10.0)
        before = snapshot(desk)
        with pytest.raises(NotAllowed):
            desk.handle(WrapUpDone("a2", session_id, "resolved", "", 12.0))
        assert snapshot(desk) == before


# --------------------------------------------------------------------------- drain


class TestDrain:
    def test_draining_refuses_new_customers_and_changes_nothing_else(self) -> None:
        desk = make_desk()
        tap(desk, "t1", 1.0)
        desk.handle(DrainStarted(2.0))
        before = snapshot(desk)
        with pytest.raises(Refused) as info:
            tap(desk, "t2", 3.0)
        assert info.value.status == 503
        assert snapshot(desk) == before

    def test_draining_ends_live_sessions_as_server_shutdown(self) -> None:
        """Without a resume window (with one, live calls are handed over: test_call_resume)."""
        desk = make_desk(DeskConfig(call_resume_window=0))
        ready_agent(desk, "a1", 1.0)
        wrapping = start_session(desk, "a1", "t1", 2.0)
        desk.handle(HungUp(wrapping, "customer", "t1", 5.0))
        ready_agent(desk, "a2", 6.0)
        live_a = start_session(desk, "a2", "t2", 7.0)
        ready_agent(desk, "a3", 9.0)
        live_b = start_session(desk, "a3", "t3", 10.0)

        effects = desk.handle(DrainStarted(20.0))

        ended = {e.row.id: e.row.end_reason for e in effects if isinstance(e, SaveSession)}
        assert ended == {live_a: "server_shutdown", live_b: "server_shutdown"}
        assert {e.session_id for e in effects if isinstance(e, StopMedia)} == {live_a, live_b}
        assert desk.sessions[wrapping].end_reason == "customer_hung_up"
        assert desk.agent_state("a2") is A.WRAP_UP
        assert desk.agent_state("a3") is A.WRAP_UP

    def test_draining_offers_no_one_new(self) -> None:
        desk = make_desk()
        tap(desk, "t1", 1.0)
        desk.handle(DrainStarted(2.0))
        effects = ready_agent(desk, "a1", 3.0)
        assert offers(effects) == []
        assert desk.ticket_state("t1") is T.QUEUED


class TestClosedTickets:
    def test_a_withdrawn_offer_cancels_its_ring_timer(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        timer = ring_timer(tap(desk, "t1", 2.0))
        effects = desk.handle(CustomerCancelled("t1", 3.0))
        assert CancelTimer(timer.key) in effects

    def test_closed_tickets_leave_the_open_set_and_only_the_newest_are_remembered(self) -> None:
        desk = make_desk(closed_limit=2)
        for n in range(4):
            tap(desk, f"t{n}", float(n))
            desk.handle(CustomerCancelled(f"t{n}", n + 0.5))
        assert desk.tickets == {}
        assert list(desk.closed) == ["t2", "t3"]
        assert desk.ticket_state("t3") is T.CANCELLED
        assert desk.ticket_state("t0") is None


# --------------------------------------------------------------------------- announcements


def told_range(low: float, high: float) -> dict[str, object]:
    return {"kind": "range", "low": low, "high": high}


def queue_notes(effects: list[Effect]) -> dict[str, dict[str, object]]:
    return {n.target_id: dict(n.data) for n in notes(effects, "queue")}


class TestQueueAnnouncements:
    def test_a_waiting_customer_is_told_position_and_estimated_wait(self) -> None:
        desk = make_desk()
        desk.stats["general"] = QueueStats(default_handle=100.0)
        ready_agent(desk, "a1", 1.0)
        start_session(desk, "a1", "t1", 2.0)
        tap(desk, "t2", 4.0)
        tap(desk, "t3", 5.0)
        stats = desk.stats["general"]
        assert queue_notes(desk.handle(AnnounceDue(6.0))) == {
            "t2": {
                "position": 1,
                "estimated_wait": 50.0,
                "agents_available": 1,
                "queue_id": "general",
                "ringing": False,
                "wait": told_range(*stats.wait_range(1, 1)),
            },
            "t3": {
                "position": 2,
                "estimated_wait": 150.0,
                "agents_available": 1,
                "queue_id": "general",
                "ringing": False,
                "wait": told_range(*stats.wait_range(2, 1)),
            },
        }

    def test_a_tap_alone_announces_nothing(self) -> None:
        desk = make_desk()
        assert queue_notes(tap(desk, "t1", 1.0)) == {}

    def test_with_nobody_staffed_there_is_no_estimate(self) -> None:
        desk = make_desk()
        desk.handle(AgentSignedIn("a1", "A1", 0.0))  # signed in but away: not staffed
        tap(desk, "t1", 1.0)
        assert queue_notes(desk.handle(AnnounceDue(2.0))) == {
            "t1": {
                "position": 1,
                "estimated_wait": None,
                "agents_available": 0,
                "queue_id": "general",
                "ringing": False,
                "wait": {"kind": "unstaffed", "low": None, "high": None},
            }
        }

    def test_customers_are_told_again_only_when_their_position_or_estimate_changed(
        self,
    ) -> None:
        desk = make_desk()
        tap(desk, "t1", 1.0)
        tap(desk, "t2", 2.0)
        assert set(queue_notes(desk.handle(AnnounceDue(3.0)))) == {"t1", "t2"}
        assert queue_notes(desk.handle(AnnounceDue(4.0))) == {}
        desk.handle(AgentSignedIn("a1", "A1", 5.0))
        desk.handle(AgentAway("a1", 6.0, reason="lunch"))
        assert queue_notes(desk.handle(AnnounceDue(7.0))) == {}, "an Away agent changes nothing"
        desk.handle(CustomerCancelled("t1", 8.0))
        assert queue_notes(desk.handle(AnnounceDue(9.0))) == {
            "t2": {
                "position": 1,
                "estimated_wait": None,
                "agents_available": 0,
                "queue_id": "general",
                "ringing": False,
                "wait": {"kind": "unstaffed", "low": None, "high": None},
            }
        }

    def test_an_agent_coming_on_updates_every_waiting_customers_estimate(self) -> None:
        desk = make_desk()
        tap(desk, "t1", 1.0)
        tap(desk, "t2", 2.0)
        desk.handle(AnnounceDue(2.5))
        ready_agent(desk, "a1", 3.0)  # offered t1; t1 is still in line until answered
        stats = desk.stats["general"]
        assert queue_notes(desk.handle(AnnounceDue(4.0))) == {
            "t1": {
                "position": 1,
                "estimated_wait": stats.position_wait(1, 1),
                "agents_available": 1,
                "queue_id": "general",
                "ringing": True,  # a1's console rings for t1
                "wait": {"kind": "ringing", "low": None, "high": None},
            },
            "t2": {
                "position": 2,
                "estimated_wait": stats.position_wait(2, 1),
                "agents_available": 1,
                "queue_id": "general",
                "ringing": False,
                "wait": told_range(*stats.wait_range(2, 1)),
            },
        }

    def test_an_answered_customer_is_no_longer_told_about_the_queue(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        tap(desk, "t1", 2.0)
        desk.handle(OfferAccepted("a1", "t1", 3.0))
        assert "t1" not in queue_notes(desk.handle(AnnounceDue(4.0)))
        assert desk.position("t1") is None

    def test_agents_are_told_how_many_wait_in_their_queues_when_it_changes(self) -> None:
        desk = make_desk()
        desk.handle(AgentSignedIn("a1", "A1", 0.0))
        tap(desk, "t1", 1.0)
        tap(desk, "t2", 2.0)
        effects = desk.handle(AnnounceDue(3.0))
        assert [n.data for n in notes(effects, "waiting", "a1")] == [{"waiting": 2}]
        assert notes(desk.handle(AnnounceDue(4.0)), "waiting") == []

    def test_an_agent_who_answers_is_told_the_count_again_even_when_it_came_back(self) -> None:
        # The ringing customer counted as waiting (1); answered, the line is empty; another taps
        # before the next announcement: the count is 1 again, but the console, which read the
        # empty line when the call started, must hear it.
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        tap(desk, "t1", 2.0)
        assert [n.data for n in notes(desk.handle(AnnounceDue(3.0)), "waiting", "a1")] == [
            {"waiting": 1}
        ]
        desk.handle(OfferAccepted("a1", "t1", 4.0))
        tap(desk, "t2", 5.0)
        effects = desk.handle(AnnounceDue(6.0))
        assert [n.data for n in notes(effects, "waiting", "a1")] == [{"waiting": 1}]


class TestBackAfterAMiss:
    """An agent who let an offer ring out and says Ready again is there now: the customer
    they missed is offered to them at once, not after the skip; a decline is a choice, and its
    skip stands."""

    def test_ready_again_after_a_miss_is_offered_the_customer_at_once(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        timer = ring_timer(tap(desk, "t1", 2.0))
        desk.handle(timer.event)  # rings out: a1 is set Away (max_missed 1)
        assert desk.agent_state("a1") is A.AWAY
        assert offers(desk.handle(AgentReady("a1", 30.0))) == [("a1", "t1")]

    def test_another_ready_agent_still_gets_the_missed_customer_first(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        timer = ring_timer(tap(desk, "t1", 2.0))
        ready_agent(desk, "a2", 3.0)
        assert offers(desk.handle(timer.event)) == [("a2", "t1")]

    def test_a_declined_customer_waits_out_the_skip_for_that_agent(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        tap(desk, "t1", 2.0)
        effects = desk.handle(OfferDeclined("a1", "t1", 3.0))
        assert offers(effects) == []
        desk.handle(AgentAway("a1", 4.0))
        assert offers(desk.handle(AgentReady("a1", 5.0))) == []


class TestRinging:
    def test_the_customer_is_told_an_agent_is_answering_then_back_in_line_if_it_rings_out(
        self,
    ) -> None:
        desk = make_desk()
        tap(desk, "t1", 1.0)
        desk.handle(AnnounceDue(2.0))
        timer = ring_timer(ready_agent(desk, "a1", 3.0))
        ringing = [n.data["ringing"] for n in notes(desk.handle(AnnounceDue(4.0)), "queue", "t1")]
        assert ringing == [True]
        desk.handle(timer.event)
        after = [n.data["ringing"] for n in notes(desk.handle(AnnounceDue(25.0)), "queue", "t1")]
        assert after == [False]

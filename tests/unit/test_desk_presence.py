"""Presence (issue 3): unanswered and declined offers, wrap-up limits, away reasons, agents whose
console is gone, customers whose connection drops, and callbacks.

Each class is one rule of the spec; each test name says what the desk does.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.desk_helpers import (
    agent,
    desk_config,
    make_desk,
    notes,
    offers,
    one,
    ready_agent,
    ring_timer,
    snapshot,
    start_session,
    tap,
    timers,
)
from videoassist.desk import (
    AgentAway,
    AgentReady,
    AgentSignedIn,
    AgentSignedOut,
    AgentState,
    CallbackJoinTimedOut,
    CallbackRequested,
    CancelTimer,
    CustomerGraceExpired,
    CustomerLeft,
    CustomerReturned,
    Desk,
    DeskConfig,
    HungUp,
    IllegalTransition,
    MaxWaitReached,
    OfferAccepted,
    OfferDeclined,
    QueueConfig,
    RematchDue,
    SaveAgentState,
    SaveSession,
    SaveTicket,
    SetTimer,
    StartMedia,
    TicketState,
    TopicRoute,
    WrapUpDone,
    WrapUpTimedOut,
)

A = AgentState
T = TicketState


def one_queue(**queue: Any) -> DeskConfig:
    return desk_config(QueueConfig("general", **queue))


# --------------------------------------------------------------------------- no answer (RONA)


class TestNoAnswer:
    """RONA with ``max_missed=2``: two unanswered offers in a row set the agent Away."""

    def rona_desk(self) -> Desk:
        desk = make_desk(one_queue(ring_timeout=20.0, max_missed=2))  # reoffer_after: 30 s
        ready_agent(desk, "a1", 0.0)
        return desk

    def test_the_first_miss_keeps_the_agent_ready_and_the_customer_in_place(self) -> None:
        desk = self.rona_desk()
        timer = ring_timer(tap(desk, "t1", 1.0))
        tap(desk, "t2", 2.0)
        ready_agent(desk, "a2", 3.0)  # takes t2
        effects = desk.handle(timer.event)  # at 21
        assert desk.agent_state("a1") is A.READY
        assert SaveAgentState("a1", "ready", None, 21.0) in effects
        assert [n.data for n in notes(effects, "offer_missed", "a1")] == [
            {"ticket_id": "t1", "missed": 1}
        ]
        assert desk.ticket_state("t1") is T.QUEUED
        assert desk.queue == ["t1", "t2"]

    def test_the_missed_customer_is_not_offered_to_that_agent_until_reoffer_after(self) -> None:
        desk = self.rona_desk()
        timer = ring_timer(tap(desk, "t1", 1.0))
        effects = desk.handle(timer.event)  # at 21
        assert offers(effects) == []
        (rematch,) = timers(effects, RematchDue)
        assert (rematch.key, rematch.at, rematch.event) == ("rematch:t1:a1", 51.0, RematchDue(51.0))
        assert offers(desk.handle(RematchDue(40.0))) == []
        assert offers(desk.handle(rematch.event)) == [("a1", "t1")]

    def test_the_second_miss_in_a_row_sets_the_agent_away_with_reason_missed_offer(self) -> None:
        desk = self.rona_desk()
        desk.handle(ring_timer(tap(desk, "t1", 1.0)).event)  # first miss at 21; t1 skipped
        second = ring_timer(tap(desk, "t2", 22.0))  # offered to a1 at once
        effects = desk.handle(second.event)  # at 42
        assert desk.agent_state("a1") is A.AWAY
        assert desk.agents["a1"].away_reason == "missed_offer"
        assert SaveAgentState("a1", "away", "missed_offer", 42.0) in effects
        assert [n.data for n in notes(effects, "agent_state", "a1")] == [
            {"state": "away", "reason": "missed_offer"}
        ]
        assert [n.data["missed"] for n in notes(effects, "offer_missed", "a1")] == [2]
        assert desk.ticket_state("t2") is T.QUEUED

    def test_an_accept_resets_the_count_of_misses(self) -> None:
        desk = self.rona_desk()
        desk.handle(ring_timer(tap(desk, "t1", 1.0)).event)  # first miss at 21
        tap(desk, "t2", 22.0)
        desk.handle(OfferAccepted("a1", "t2", 23.0))
        session_id = desk.agents["a1"].session_id
        assert session_id is not None
        desk.handle(HungUp(session_id, "agent", "a1", 30.0))
        desk.handle(WrapUpDone("a1", session_id, "resolved", "", 31.0))
        effects = desk.handle(ring_timer(tap(desk, "t3", 32.0)).event)  # at 52
        assert [n.data["missed"] for n in notes(effects, "offer_missed", "a1")] == [1]
        assert SaveAgentState("a1", "away", "missed_offer", 52.0) not in effects
        assert desk.agent_state("a1") is not A.AWAY

    def test_a_decline_is_an_answer_and_resets_the_count_of_misses(self) -> None:
        desk = self.rona_desk()
        desk.handle(ring_timer(tap(desk, "t1", 1.0)).event)  # first miss at 21; t1 skipped
        tap(desk, "t2", 22.0)  # offered to a1 at once
        desk.handle(OfferDeclined("a1", "t2", 23.0))  # t2 skipped too
        effects = desk.handle(ring_timer(tap(desk, "t3", 24.0)).event)  # missed at 44
        assert [n.data["missed"] for n in notes(effects, "offer_missed", "a1")] == [1]
        assert desk.agent_state("a1") is A.READY, "one miss since the decline, not two in a row"

    def test_by_default_one_miss_sets_the_agent_away(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 0.0)
        desk.handle(ring_timer(tap(desk, "t1", 1.0)).event)
        assert (desk.agent_state("a1"), desk.agents["a1"].away_reason) == (A.AWAY, "missed_offer")


# --------------------------------------------------------------------------- decline


class TestDeclineCoolDown:
    def test_a_decline_skips_the_agent_for_reoffer_after_with_a_rematch_timer(self) -> None:
        desk = make_desk(desk_config(QueueConfig("general"), reoffer_after=10.0))
        ready_agent(desk, "a1", 1.0)
        tap(desk, "t1", 2.0)
        effects = desk.handle(OfferDeclined("a1", "t1", 3.0))
        assert desk.agent_state("a1") is A.READY
        assert desk.ticket_state("t1") is T.QUEUED
        assert offers(effects) == []
        assert timers(effects, RematchDue) == [SetTimer("rematch:t1:a1", 13.0, RematchDue(13.0))]

    def test_after_the_cool_down_rematch_due_offers_the_customer_to_the_agent_again(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        tap(desk, "t1", 2.0)
        desk.handle(OfferDeclined("a1", "t1", 3.0))
        assert offers(desk.handle(RematchDue(32.9))) == [], "still cooling down"
        assert offers(desk.handle(RematchDue(33.0))) == [("a1", "t1")]

    def test_the_declined_customer_keeps_their_place_ahead_of_later_ones(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        tap(desk, "t1", 2.0)
        desk.handle(OfferDeclined("a1", "t1", 3.0))
        assert offers(tap(desk, "t2", 4.0)) == [("a1", "t2")]
        assert desk.queue == ["t1", "t2"]
        assert offers(ready_agent(desk, "a2", 5.0)) == [("a2", "t1")]


# --------------------------------------------------------------------------- wrap-up limit


class TestWrapUpLimit:
    def ended_session(self, desk: Desk) -> str:
        ready_agent(desk, "a1", 0.0)
        session_id = start_session(desk, "a1", "t1", 1.0)
        desk.handle(HungUp(session_id, "customer", "t1", 10.0))
        return session_id

    def test_ending_a_session_sets_a_timer_for_the_queues_wrap_up_limit(self) -> None:
        desk = make_desk(one_queue(wrap_up_limit=30.0))
        ready_agent(desk, "a1", 0.0)
        session_id = start_session(desk, "a1", "t1", 1.0)
        effects = desk.handle(HungUp(session_id, "customer", "t1", 10.0))
        assert timers(effects, WrapUpTimedOut) == [
            SetTimer("wrap:a1", 40.0, WrapUpTimedOut("a1", session_id, 40.0))
        ]

    def test_when_wrap_up_times_out_the_agent_is_ready_and_the_session_saved_without_disposition(
        self,
    ) -> None:
        desk = make_desk(one_queue(wrap_up_limit=30.0))
        session_id = self.ended_session(desk)
        effects = desk.handle(WrapUpTimedOut("a1", session_id, 40.0))
        assert desk.agent_state("a1") is A.READY
        row = one(effects, SaveSession).row
        assert (row.id, row.disposition, row.note, row.wrapped_up_at) == (
            session_id,
            None,
            None,
            40.0,
        )
        assert (row.ended_at, row.end_reason) == (10.0, "customer_hung_up")
        assert [n.data for n in notes(effects, "wrap_up_expired", "a1")] == [
            {"session_id": session_id}
        ]
        assert session_id not in desk.sessions

    def test_an_agent_made_ready_by_the_limit_is_offered_the_next_customer(self) -> None:
        desk = make_desk(one_queue(wrap_up_limit=30.0))
        session_id = self.ended_session(desk)
        tap(desk, "t2", 20.0)
        assert offers(desk.handle(WrapUpTimedOut("a1", session_id, 40.0))) == [("a1", "t2")]

    def test_a_wrap_up_timer_that_fires_after_the_agent_wrapped_up_changes_nothing(self) -> None:
        desk = make_desk(one_queue(wrap_up_limit=30.0))
        session_id = self.ended_session(desk)
        effects = desk.handle(WrapUpDone("a1", session_id, "resolved", "", 20.0))
        assert CancelTimer("wrap:a1") in effects
        before = snapshot(desk)
        assert desk.handle(WrapUpTimedOut("a1", session_id, 40.0)) == []
        assert snapshot(desk) == before

    def test_a_wrap_up_timer_of_an_earlier_session_changes_nothing(self) -> None:
        desk = make_desk(one_queue(wrap_up_limit=30.0))
        first = self.ended_session(desk)
        desk.handle(WrapUpDone("a1", first, "resolved", "", 20.0))
        second = start_session(desk, "a1", "t2", 21.0)
        desk.handle(HungUp(second, "agent", "a1", 25.0))
        before = snapshot(desk)
        assert desk.handle(WrapUpTimedOut("a1", first, 40.0)) == []
        assert snapshot(desk) == before
        assert desk.agent_state("a1") is A.WRAP_UP

    def test_each_queue_has_its_own_wrap_up_limit(self) -> None:
        config = desk_config(
            QueueConfig("general"),
            QueueConfig("quick", wrap_up_limit=5.0),
            topics=(TopicRoute("quick", "quick"),),
            agents=(agent("a1", "general", "quick"),),
        )
        desk = make_desk(config)
        ready_agent(desk, "a1", 0.0)
        session_id = start_session(desk, "a1", "t1", 1.0, topic="quick")
        effects = desk.handle(HungUp(session_id, "agent", "a1", 10.0))
        assert [t.at for t in timers(effects, WrapUpTimedOut)] == [15.0]


# --------------------------------------------------------------------------- away reasons


class TestAwayReasons:
    @pytest.mark.parametrize("reason", ["break", "meeting", "training"])
    def test_the_reason_for_going_away_is_recorded_and_shown_to_the_agent(
        self, reason: str
    ) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        effects = desk.handle(AgentAway("a1", 2.0, reason=reason))
        assert effects[0] == SaveAgentState("a1", "away", reason, 2.0)
        assert [n.data for n in notes(effects, "agent_state", "a1")] == [
            {"state": "away", "reason": reason}
        ]
        assert desk.agents["a1"].away_reason == reason

    def test_signing_in_records_away_with_reason_signed_in(self) -> None:
        desk = make_desk()
        effects = desk.handle(AgentSignedIn("a1", "A1", 1.0))
        assert SaveAgentState("a1", "away", "signed_in", 1.0) in effects

    def test_changing_reason_while_away_records_the_new_one(self) -> None:
        desk = make_desk()
        desk.handle(AgentSignedIn("a1", "A1", 1.0))
        effects = desk.handle(AgentAway("a1", 2.0, reason="lunch"))
        assert SaveAgentState("a1", "away", "lunch", 2.0) in effects

    def test_going_ready_clears_the_reason(self) -> None:
        desk = make_desk()
        desk.handle(AgentSignedIn("a1", "A1", 1.0))
        desk.handle(AgentAway("a1", 2.0, reason="training"))
        effects = desk.handle(AgentReady("a1", 3.0))
        assert SaveAgentState("a1", "ready", None, 3.0) in effects
        assert desk.agents["a1"].away_reason is None

    def test_going_away_while_offered_puts_the_customer_back_at_once(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        timer = ring_timer(tap(desk, "t1", 2.0))
        effects = desk.handle(AgentAway("a1", 3.0, reason="break"))
        assert CancelTimer(timer.key) in effects
        assert SaveAgentState("a1", "away", "break", 3.0) in effects
        assert desk.ticket_state("t1") is T.QUEUED
        assert offers(ready_agent(desk, "a2", 4.0)) == [("a2", "t1")]


# --------------------------------------------------------------------------- agent presence


class TestAgentConsoleGone:
    def test_an_offer_in_flight_to_an_agent_who_signs_out_is_requeued_at_its_old_place(
        self,
    ) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        timer = ring_timer(tap(desk, "t1", 2.0))
        tap(desk, "t2", 3.0)
        effects = desk.handle(AgentSignedOut("a1", 4.0))
        assert CancelTimer(timer.key) in effects
        assert timers(effects, RematchDue) == [], "requeued at once, no cool-down"
        assert desk.ticket_state("t1") is T.QUEUED
        assert desk.queue == ["t1", "t2"]
        assert offers(ready_agent(desk, "a1", 5.0)) == [("a1", "t1")]

    def test_a_signed_out_agent_is_out_of_every_pool_and_never_offered_a_customer(self) -> None:
        config = desk_config(
            QueueConfig("general"),
            QueueConfig("billing"),
            topics=(TopicRoute("invoice", "billing"),),
            agents=(agent("a1", "general", "billing"),),
        )
        desk = make_desk(config)
        ready_agent(desk, "a1", 1.0)
        assert all("a1" in pool for pool in desk.routing.pools.values())
        desk.handle(AgentSignedOut("a1", 2.0))
        assert not any("a1" in pool for pool in desk.routing.pools.values())
        assert offers(tap(desk, "t1", 3.0)) == []
        assert offers(tap(desk, "t2", 4.0, topic="invoice")) == []
        assert desk.staffed() == 0

    def test_signing_out_in_wrap_up_drops_the_wrap_up_and_its_timer(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        session_id = start_session(desk, "a1", "t1", 2.0)
        desk.handle(HungUp(session_id, "customer", "t1", 10.0))
        effects = desk.handle(AgentSignedOut("a1", 11.0))
        assert CancelTimer("wrap:a1") in effects
        assert session_id not in desk.sessions
        assert desk.agent_state("a1") is A.OFFLINE


# --------------------------------------------------------------------------- customer presence


class TestCustomerGrace:
    def test_a_customer_who_drops_keeps_their_place_for_the_grace_period(self) -> None:
        desk = make_desk()  # customer_grace: 60 s
        tap(desk, "t1", 1.0)
        tap(desk, "t2", 2.0)
        effects = desk.handle(CustomerLeft("t1", 3.0))
        assert timers(effects, CustomerGraceExpired) == [
            SetTimer("grace:t1", 63.0, CustomerGraceExpired("t1", 63.0))
        ]
        assert desk.ticket_state("t1") is T.QUEUED
        assert [desk.position("t1"), desk.position("t2")] == [1, 2]

    def test_the_grace_period_comes_from_the_config(self) -> None:
        desk = make_desk(desk_config(QueueConfig("general"), customer_grace=10.0))
        tap(desk, "t1", 1.0)
        (timer,) = timers(desk.handle(CustomerLeft("t1", 3.0)), CustomerGraceExpired)
        assert timer.at == 13.0

    def test_a_customer_who_is_away_is_not_offered_to_anyone(self) -> None:
        desk = make_desk()
        tap(desk, "t1", 1.0)
        tap(desk, "t2", 2.0)
        desk.handle(CustomerLeft("t1", 3.0))
        assert offers(ready_agent(desk, "a1", 4.0)) == [("a1", "t2")]
        assert offers(ready_agent(desk, "a2", 5.0)) == []
        assert desk.ticket_state("t1") is T.QUEUED

    def test_a_customer_who_returns_is_offerable_again_at_the_same_place(self) -> None:
        desk = make_desk()
        tap(desk, "t1", 1.0)
        tap(desk, "t2", 2.0)
        tap(desk, "t3", 3.0)
        desk.handle(CustomerLeft("t1", 4.0))
        assert offers(ready_agent(desk, "a1", 5.0)) == [("a1", "t2")]
        effects = desk.handle(CustomerReturned("t1", 6.0))
        assert CancelTimer("grace:t1") in effects
        assert offers(ready_agent(desk, "a2", 7.0)) == [("a2", "t1")], "ahead of t3"

    def test_when_the_grace_period_ends_the_ticket_is_abandoned_and_counted(self) -> None:
        desk = make_desk()
        tap(desk, "t1", 1.0)
        desk.handle(CustomerLeft("t1", 3.0))
        effects = desk.handle(CustomerGraceExpired("t1", 63.0))
        assert desk.ticket_state("t1") is T.ABANDONED
        row = one(effects, SaveTicket).row
        assert (row.status, row.ended_at, row.end_reason) == ("abandoned", 63.0, "customer_left")
        assert [n.data for n in notes(effects, "closed", "t1")] == [{"reason": "customer_left"}]
        assert desk.stats["general"].abandoned == 1
        assert desk.queue == []

    def test_a_grace_timer_of_a_customer_who_came_back_changes_nothing(self) -> None:
        desk = make_desk()
        tap(desk, "t1", 1.0)
        desk.handle(CustomerLeft("t1", 3.0))
        desk.handle(CustomerReturned("t1", 4.0))
        before = snapshot(desk)
        assert desk.handle(CustomerGraceExpired("t1", 63.0)) == []
        assert snapshot(desk) == before

    def test_a_customer_who_drops_while_offered_goes_back_to_their_place_and_the_agent_is_told(
        self,
    ) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        timer = ring_timer(tap(desk, "t1", 2.0))
        effects = desk.handle(CustomerLeft("t1", 3.0))
        assert desk.ticket_state("t1") is T.QUEUED
        assert desk.agent_state("a1") is A.READY
        assert CancelTimer(timer.key) in effects
        assert [n.data for n in notes(effects, "offer_withdrawn", "a1")] == [{"ticket_id": "t1"}]
        assert [t.key for t in timers(effects, CustomerGraceExpired)] == ["grace:t1"]

    def test_a_closed_ticket_cannot_come_back(self) -> None:
        desk = make_desk()
        tap(desk, "t1", 1.0)
        desk.handle(CustomerLeft("t1", 2.0))
        desk.handle(CustomerGraceExpired("t1", 62.0))
        before = snapshot(desk)
        with pytest.raises(IllegalTransition):
            desk.handle(CustomerReturned("t1", 63.0))
        assert snapshot(desk) == before


# --------------------------------------------------------------------------- callbacks


class TestCallback:
    def test_a_callback_request_keeps_the_customers_place(self) -> None:
        desk = make_desk(one_queue(max_wait=60.0))
        tap(desk, "t1", 1.0)
        tap(desk, "t2", 2.0)
        effects = desk.handle(CallbackRequested("t1", 3.0))
        assert [n.data for n in notes(effects, "callback_confirmed", "t1")] == [{"ticket_id": "t1"}]
        assert one(effects, SaveTicket).row.callback is True
        assert CancelTimer("maxwait:t1") in effects, "no max wait for a callback"
        assert [desk.position("t1"), desk.position("t2")] == [1, 2]

    def test_a_callback_customer_keeps_their_place_with_no_connection_at_all(self) -> None:
        desk = make_desk()
        tap(desk, "t1", 1.0, callback=True)
        tap(desk, "t2", 2.0)
        effects = desk.handle(CustomerLeft("t1", 3.0))
        assert timers(effects, CustomerGraceExpired) == []
        effects = ready_agent(desk, "a1", 1000.0)
        assert offers(effects) == [("a1", "t1")]
        (offer,) = notes(effects, "offer", "a1")
        assert offer.data["callback"] is True

    def test_a_callback_tap_sets_no_max_wait_timer(self) -> None:
        desk = make_desk(one_queue(max_wait=60.0))
        assert timers(tap(desk, "t1", 1.0, callback=True), MaxWaitReached) == []

    def test_a_customer_who_dropped_and_asks_for_a_callback_is_offerable_and_never_abandoned(
        self,
    ) -> None:
        desk = make_desk()
        tap(desk, "t1", 1.0)
        desk.handle(CustomerLeft("t1", 2.0))
        effects = desk.handle(CallbackRequested("t1", 3.0))
        assert CancelTimer("grace:t1") in effects
        assert desk.handle(CustomerGraceExpired("t1", 62.0)) == []
        assert offers(ready_agent(desk, "a1", 63.0)) == [("a1", "t1")]

    def accepted_callback(self) -> tuple[Desk, list[Any]]:
        desk = make_desk()  # callback_join_timeout: 120 s
        tap(desk, "t1", 1.0, callback=True)
        desk.handle(CustomerLeft("t1", 2.0))
        ready_agent(desk, "a1", 10.0)
        return desk, desk.handle(OfferAccepted("a1", "t1", 11.0))

    def test_accepting_a_callback_starts_the_session_and_gives_the_customer_time_to_join(
        self,
    ) -> None:
        desk, effects = self.accepted_callback()
        start = one(effects, StartMedia)
        assert (start.session_id, start.ticket_id, start.agent_id) == ("s1", "t1", "a1")
        assert timers(effects, CallbackJoinTimedOut) == [
            SetTimer("join:s1", 131.0, CallbackJoinTimedOut("s1", 131.0))
        ]
        assert [n.data for n in notes(effects, "matched", "t1")] == [
            {"session_id": "s1", "agent_name": "A1", "callback": True}
        ]
        assert desk.ticket_state("t1") is T.LIVE

    def test_a_customer_who_does_not_join_in_time_ends_the_session_callback_not_joined(
        self,
    ) -> None:
        desk, _ = self.accepted_callback()
        effects = desk.handle(CallbackJoinTimedOut("s1", 131.0))
        row = one(effects, SaveSession).row
        assert (row.id, row.end_reason) == ("s1", "callback_not_joined")
        assert desk.ticket_state("t1") is T.ENDED
        assert desk.agent_state("a1") is A.WRAP_UP

    def test_a_customer_who_joins_in_time_cancels_the_join_timer(self) -> None:
        desk, _ = self.accepted_callback()
        effects = desk.handle(CustomerReturned("t1", 30.0))
        assert CancelTimer("join:s1") in effects
        before = snapshot(desk)
        assert desk.handle(CallbackJoinTimedOut("s1", 131.0)) == []
        assert snapshot(desk) == before
        assert desk.ticket_state("t1") is T.LIVE

    def test_a_callback_customer_still_connected_when_accepted_needs_no_join_timer(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        tap(desk, "t1", 2.0, callback=True)
        effects = desk.handle(OfferAccepted("a1", "t1", 3.0))
        assert timers(effects, CallbackJoinTimedOut) == []

    def test_a_live_customer_cannot_ask_for_a_callback(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        start_session(desk, "a1", "t1", 2.0)
        before = snapshot(desk)
        with pytest.raises(IllegalTransition):
            desk.handle(CallbackRequested("t1", 5.0))
        assert snapshot(desk) == before

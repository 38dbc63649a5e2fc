"""Transfers (issue 3): an agent hands a live session on, blind to a queue or warm to a named
Ready agent. Either way the customer is not sent to the back of a line.
"""

from __future__ import annotations

import dataclasses

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
    AgentState,
    CustomerLeft,
    CustomerReturned,
    Desk,
    DeskError,
    HandOverMedia,
    HungUp,
    IllegalTransition,
    NotAllowed,
    OfferAccepted,
    OfferDeclined,
    QueueConfig,
    Refused,
    SaveSession,
    SaveTicket,
    StartMedia,
    StopMedia,
    TicketState,
    TopicRoute,
    TransferRequested,
    UnknownSubject,
    WrapUpTimedOut,
)
from videoassist.desk.events import Effect

A = AgentState
T = TicketState


def in_a_call() -> Desk:
    """a1 (general) is in session s1 with t1, tapped at 10; b1 (billing) is signed in, Away."""
    config = desk_config(
        QueueConfig("general"),
        QueueConfig("billing"),
        topics=(TopicRoute("invoice", "billing"),),
        agents=(agent("a1", "general"), agent("a2", "general"), agent("b1", "billing")),
    )
    desk = make_desk(config)
    ready_agent(desk, "a1", 0.0)
    assert start_session(desk, "a1", "t1", 10.0) == "s1"  # answered at 11
    ready_agent(desk, "b1", 12.0)
    desk.handle(AgentAway("b1", 13.0))
    return desk


# --------------------------------------------------------------------------- blind


class TestBlindTransfer:
    def test_the_customer_goes_into_the_target_queue_keeping_their_original_queued_at(
        self,
    ) -> None:
        desk = in_a_call()
        tap(desk, "t2", 20.0, topic="invoice")  # waiting in billing since 20
        effects = desk.handle(TransferRequested("s1", "a1", 30.0, queue_id="billing"))
        ticket = desk.tickets["t1"]
        assert (ticket.state, ticket.queue_id, ticket.queued_at) == (T.QUEUED, "billing", 10.0)
        assert one(effects, SaveTicket).row.queue_id == "billing"
        assert [desk.position("t1"), desk.position("t2")] == [1, 2], "not sent to the back"
        assert [n.data for n in notes(effects, "transferred", "t1")] == [{"queue_id": "billing"}]

    def test_the_agent_goes_to_wrap_up_and_the_call_stops(self) -> None:
        desk = in_a_call()
        effects = desk.handle(TransferRequested("s1", "a1", 30.0, queue_id="billing"))
        assert desk.agent_state("a1") is A.WRAP_UP
        assert StopMedia("s1") in effects
        row = one(effects, SaveSession).row
        assert (row.id, row.ended_at, row.end_reason) == ("s1", 30.0, "transferred")
        assert [n.data for n in notes(effects, "session_ended", "a1")] == [
            {"session_id": "s1", "reason": "transferred", "wrap_up_seconds": 120.0}
        ]
        assert [t.key for t in timers(effects, WrapUpTimedOut)] == ["wrap:a1"]

    def test_the_target_queues_agent_is_offered_the_customer_and_starts_a_new_call(self) -> None:
        desk = in_a_call()
        tap(desk, "t2", 20.0, topic="invoice")
        desk.handle(TransferRequested("s1", "a1", 30.0, queue_id="billing"))
        assert offers(desk.handle(AgentReady("b1", 31.0))) == [("b1", "t1")]
        effects = desk.handle(OfferAccepted("b1", "t1", 32.0))
        assert one(effects, StartMedia).session_id == "s2"
        assert desk.live_call("customer", "t1") == ("s2", "s2")

    def test_a_transfer_to_a_queue_that_does_not_exist_is_refused_and_changes_nothing(
        self,
    ) -> None:
        desk = in_a_call()
        before = snapshot(desk)
        with pytest.raises(UnknownSubject):
            desk.handle(TransferRequested("s1", "a1", 30.0, queue_id="nowhere"))
        assert snapshot(desk) == before


class TestTransferRefusals:
    @pytest.mark.parametrize(
        ("event", "error"),
        [
            (TransferRequested("s1", "a2", 30.0, queue_id="billing"), NotAllowed),
            (TransferRequested("s-none", "a1", 30.0, queue_id="billing"), UnknownSubject),
            (TransferRequested("s1", "a1", 30.0), DeskError),
            (TransferRequested("s1", "a1", 30.0, queue_id="billing", to_agent_id="a2"), DeskError),
            (TransferRequested("s1", "a1", 30.0, to_agent_id="b1"), Refused),  # Away
            (TransferRequested("s1", "a1", 30.0, to_agent_id="a1"), Refused),  # busy: themself
        ],
        ids=["not-theirs", "no-session", "nowhere", "both", "target-away", "themself"],
    )
    def test_a_transfer_that_cannot_be_done_is_refused_and_changes_nothing(
        self, event: TransferRequested, error: type[DeskError]
    ) -> None:
        desk = in_a_call()
        ready_agent(desk, "a2", 20.0)
        before = snapshot(desk)
        with pytest.raises(error) as info:
            desk.handle(event)
        assert type(info.value) is error
        assert snapshot(desk) == before

    def test_an_ended_session_cannot_be_transferred(self) -> None:
        desk = in_a_call()
        desk.handle(HungUp("s1", "customer", "t1", 20.0))
        before = snapshot(desk)
        with pytest.raises(IllegalTransition):
            desk.handle(TransferRequested("s1", "a1", 30.0, queue_id="billing"))
        assert snapshot(desk) == before


# --------------------------------------------------------------------------- warm


def ringing_warm_transfer() -> tuple[Desk, list[Effect]]:
    desk = in_a_call()
    ready_agent(desk, "a2", 20.0)
    return desk, desk.handle(TransferRequested("s1", "a1", 30.0, to_agent_id="a2"))


class TestWarmTransfer:
    def test_the_named_agent_is_offered_the_session_as_a_transfer(self) -> None:
        desk, effects = ringing_warm_transfer()
        (offer,) = notes(effects, "offer", "a2")
        assert (offer.data["ticket_id"], offer.data["transfer"]) == ("t1", True)
        assert ring_timer(effects).at == 50.0
        assert desk.agent_state("a2") is A.OFFERED
        assert desk.agent_state("a1") is A.BUSY, "the first agent stays until the second joins"
        assert desk.ticket_state("t1") is T.LIVE

    def test_on_accept_the_second_agent_takes_over_the_same_call(self) -> None:
        desk, _ = ringing_warm_transfer()
        effects = desk.handle(OfferAccepted("a2", "t1", 31.0))
        assert HandOverMedia("s1", "a2") in effects
        assert not [e for e in effects if isinstance(e, StopMedia | StartMedia)]
        rows = {e.row.id: e.row for e in effects if isinstance(e, SaveSession)}
        assert (rows["s1"].ended_at, rows["s1"].end_reason) == (31.0, "transferred")
        assert (rows["s2"].agent_id, rows["s2"].call_id, rows["s2"].queued_at) == ("a2", "s1", 10.0)
        assert desk.live_call("customer", "t1") == ("s2", "s1")
        assert desk.live_call("agent", "a2") == ("s2", "s1")

    def test_on_accept_the_first_agent_goes_to_wrap_up_and_the_customer_is_told(self) -> None:
        desk, _ = ringing_warm_transfer()
        effects = desk.handle(OfferAccepted("a2", "t1", 31.0))
        assert desk.agent_state("a1") is A.WRAP_UP
        assert desk.agent_state("a2") is A.BUSY
        assert [n.data for n in notes(effects, "session_ended", "a1")] == [
            {"session_id": "s1", "reason": "transferred", "wrap_up_seconds": 120.0}
        ]
        assert [n.data for n in notes(effects, "agent_changed", "t1")] == [{"agent_name": "A2"}]
        (started,) = notes(effects, "session_started", "a2")
        assert (started.data["session_id"], started.data["call_id"]) == ("s2", "s1")

    def test_hanging_up_after_a_warm_transfer_ends_the_one_call(self) -> None:
        desk, _ = ringing_warm_transfer()
        desk.handle(OfferAccepted("a2", "t1", 31.0))
        effects = desk.handle(HungUp("s2", "customer", "t1", 40.0))
        assert StopMedia("s1") in effects
        assert [n.data for n in notes(effects, "session_ended", "t1")] == [
            {"session_id": "s1", "reason": "customer_hung_up"}
        ]
        assert desk.ticket_state("t1") is T.ENDED

    def test_both_legs_count_as_one_contact_in_the_handle_time(self) -> None:
        desk, _ = ringing_warm_transfer()  # answered at 11
        desk.handle(OfferAccepted("a2", "t1", 31.0))  # first leg: 20 s
        desk.handle(HungUp("s2", "customer", "t1", 71.0))  # second leg: 40 s
        assert desk.stats["general"].average_handle == 60.0, "one contact of 20 s + 40 s"

    def test_a_declined_warm_transfer_tells_the_first_agent_and_the_call_goes_on(self) -> None:
        desk, _ = ringing_warm_transfer()
        effects = desk.handle(OfferDeclined("a2", "t1", 31.0))
        assert [n.data for n in notes(effects, "transfer_failed", "a1")] == [
            {"ticket_id": "t1", "reason": "declined"}
        ]
        assert not [e for e in effects if isinstance(e, StopMedia | HandOverMedia)]
        assert (desk.agent_state("a1"), desk.agent_state("a2")) == (A.BUSY, A.READY)
        assert desk.live_call("customer", "t1") == ("s1", "s1")

    def test_an_unanswered_warm_transfer_tells_the_first_agent_and_the_call_goes_on(self) -> None:
        desk, effects = ringing_warm_transfer()
        effects = desk.handle(ring_timer(effects).event)
        assert [n.data for n in notes(effects, "transfer_failed", "a1")] == [
            {"ticket_id": "t1", "reason": "no_answer"}
        ]
        assert desk.agent_state("a1") is A.BUSY
        assert desk.agent_state("a2") is A.AWAY, "RONA applies to transfers too"
        assert desk.live_call("customer", "t1") == ("s1", "s1")

    def test_a_second_transfer_while_one_is_ringing_is_refused(self) -> None:
        desk, _ = ringing_warm_transfer()
        before = snapshot(desk)
        with pytest.raises(IllegalTransition):
            desk.handle(TransferRequested("s1", "a1", 32.0, queue_id="billing"))
        assert snapshot(desk) == before

    def test_the_customer_leaving_while_the_transfer_rings_withdraws_it(self) -> None:
        desk, _ = ringing_warm_transfer()
        desk.config = dataclasses.replace(desk.config, call_resume_window=30.0)
        effects = desk.handle(CustomerLeft("t1", 32.0))
        assert [n.data for n in notes(effects, "offer_withdrawn", "a2")] == [{"ticket_id": "t1"}]
        assert [n.data for n in notes(effects, "transfer_failed", "a1")] == [
            {"ticket_id": "t1", "reason": "customer_left"}
        ]
        assert desk.agent_state("a2") is A.READY
        # The call itself waits for the customer to come back (CALL_RESUME_WINDOW).
        assert desk.ticket_state("t1") is T.LIVE and desk.agent_state("a1") is A.BUSY
        desk.handle(CustomerReturned("t1", 33.0))
        assert desk.live_call("customer", "t1") == ("s1", "s1")

    def test_the_second_agent_going_away_fails_the_transfer(self) -> None:
        desk, _ = ringing_warm_transfer()
        effects = desk.handle(AgentAway("a2", 32.0))
        assert [n.data for n in notes(effects, "transfer_failed", "a1")] == [
            {"ticket_id": "t1", "reason": "unavailable"}
        ]
        assert desk.live_call("customer", "t1") == ("s1", "s1")

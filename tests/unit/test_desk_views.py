"""What the shells may read: the views a page gets after (re)connecting, and the small queries
that spare the gateway and the HTTP handlers from reading the desk's dicts."""

from __future__ import annotations

from tests.unit.desk_helpers import (
    desk_config,
    make_desk,
    ready_agent,
    session_of,
    start_session,
    tap,
)
from videoassist.desk import (
    AgentAway,
    CustomerCancelled,
    CustomerLeft,
    CustomerReturned,
    DeskConfig,
    HungUp,
    OfferAccepted,
    QueueConfig,
    Restored,
    RestoredTicket,
    TopicRoute,
    TransferRequested,
    WrapUpDone,
)


def two_queues() -> DeskConfig:
    return desk_config(
        QueueConfig("general"), QueueConfig("billing"), topics=(TopicRoute("invoice", "billing"),)
    )


class TestCustomerView:
    def test_a_waiting_customer_sees_their_place_estimate_and_queue(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 0.0)
        desk.handle(AgentAway("a1", 0.5))
        tap(desk, "t1", 1.0)
        tap(desk, "t2", 2.0, callback=True)
        assert desk.customer_view("t2", 3.0) == {
            "state": "queued",
            "session_id": None,
            "position": 2,
            "estimated_wait": None,  # nobody staffed: a1 is Away
            "wait": {"kind": "unstaffed", "low": None, "high": None},
            "agents_available": 0,
            "queue_id": "general",
            "callback": True,
        }

    def test_the_estimate_and_staffing_are_those_of_the_tickets_queue(self) -> None:
        desk = make_desk(two_queues())
        ready_agent(desk, "a1", 0.0)  # in general only
        tap(desk, "t1", 1.0, topic="invoice")
        view = desk.customer_view("t1", 2.0)
        assert (view["queue_id"], view["agents_available"], view["estimated_wait"]) == (
            "billing",
            0,
            None,
        )
        assert view["position"] == 1

    def test_a_ringing_ticket_is_still_waiting_in_line_to_its_customer(self) -> None:
        desk = make_desk()
        tap(desk, "t1", 1.0)
        ready_agent(desk, "a1", 2.0)
        view = desk.customer_view("t1", 3.0)
        assert (view["state"], view["position"], view["estimated_wait"]) == ("offered", 1, 90.0)

    def test_a_customer_in_a_call_sees_the_call_id_and_no_place_in_line(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 0.0)
        session_id = start_session(desk, "a1", "t1", 1.0)
        view = desk.customer_view("t1", 3.0)
        assert (view["state"], view["session_id"]) == ("live", session_id)
        assert (view["position"], view["estimated_wait"]) == (None, None)
        assert view["agents_available"] == 1

    def test_after_a_warm_transfer_the_customer_still_names_the_first_call(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 0.0)
        call_id = start_session(desk, "a1", "t1", 1.0)
        ready_agent(desk, "a2", 2.0)
        desk.handle(TransferRequested(call_id, "a1", 3.0, to_agent_id="a2"))
        desk.handle(OfferAccepted("a2", "t1", 4.0))
        assert session_of(desk, "t1") != call_id
        assert desk.customer_view("t1", 5.0)["session_id"] == call_id

    def test_a_closed_ticket_shows_only_how_it_ended(self) -> None:
        desk = make_desk()
        tap(desk, "t1", 1.0)
        desk.handle(CustomerCancelled("t1", 2.0))
        assert desk.customer_view("t1", 3.0) == {"state": "cancelled"}

    def test_a_ticket_the_desk_does_not_know_shows_as_closed(self) -> None:
        desk = make_desk(closed_limit=1)
        tap(desk, "t1", 1.0)
        tap(desk, "t2", 2.0)
        desk.handle(CustomerCancelled("t1", 3.0))
        desk.handle(CustomerCancelled("t2", 4.0))  # t1 is forgotten
        assert desk.customer_view("t1", 5.0) == {"state": "closed"}
        assert desk.customer_view("never", 5.0) == {"state": "closed"}


class TestCustomerAway:
    def test_a_connected_customer_is_not_away(self) -> None:
        desk = make_desk()
        tap(desk, "t1", 1.0)
        assert not desk.customer_away("t1")

    def test_a_dropped_customer_is_away_until_they_return(self) -> None:
        desk = make_desk()
        tap(desk, "t1", 1.0)
        desk.handle(CustomerLeft("t1", 2.0))
        assert desk.customer_away("t1")
        desk.handle(CustomerReturned("t1", 3.0))
        assert not desk.customer_away("t1")

    def test_a_ticket_restored_after_a_restart_waits_for_its_customer(self) -> None:
        desk = make_desk()
        restored = RestoredTicket("t1", "", "", "general", 0, 10.0, callback=False)
        desk.handle(Restored((restored,), {}, 100.0))
        assert desk.customer_away("t1")

    def test_closed_and_unknown_tickets_have_nobody_to_come_back(self) -> None:
        desk = make_desk()
        tap(desk, "t1", 1.0)
        desk.handle(CustomerLeft("t1", 2.0))
        desk.handle(CustomerCancelled("t1", 3.0))
        assert not desk.customer_away("t1")
        assert not desk.customer_away("never")


class TestSessionsAndAgents:
    def test_an_agent_has_a_session_from_the_accept_until_the_wrap_up(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 0.0)
        assert desk.agent_session("a1") is None
        session_id = start_session(desk, "a1", "t1", 1.0)
        assert desk.agent_session("a1") == session_id
        desk.handle(HungUp(session_id, "customer", "t1", 5.0))
        assert desk.agent_session("a1") == session_id, "still theirs while wrapping up"
        desk.handle(WrapUpDone("a1", session_id, "resolved", "", 6.0))
        assert desk.agent_session("a1") is None

    def test_an_agent_who_is_not_signed_in_has_no_session(self) -> None:
        assert make_desk().agent_session("a1") is None

    def test_a_session_names_its_agent_until_it_is_wrapped_up(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 0.0)
        session_id = start_session(desk, "a1", "t1", 1.0)
        assert desk.session_agent(session_id) == "a1"
        desk.handle(HungUp(session_id, "agent", "a1", 5.0))
        assert desk.session_agent(session_id) == "a1"
        desk.handle(WrapUpDone("a1", session_id, "resolved", "", 6.0))
        assert desk.session_agent(session_id) is None
        assert desk.session_agent("never") is None

    def test_each_leg_of_a_warm_transfer_names_its_own_agent(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 0.0)
        first = start_session(desk, "a1", "t1", 1.0)
        ready_agent(desk, "a2", 2.0)
        desk.handle(TransferRequested(first, "a1", 3.0, to_agent_id="a2"))
        desk.handle(OfferAccepted("a2", "t1", 4.0))
        second = desk.agent_session("a2")
        assert second is not None and second != first
        assert (desk.session_agent(first), desk.session_agent(second)) == ("a1", "a2")


class TestCustomersInAQueue:
    def test_waiting_ringing_and_live_customers_count_closed_ones_do_not(self) -> None:
        desk = make_desk(two_queues())
        ready_agent(desk, "a1", 0.0)
        start_session(desk, "a1", "t1", 1.0)  # live in general
        tap(desk, "t2", 3.0)  # waiting in general
        tap(desk, "t3", 4.0)
        desk.handle(CustomerCancelled("t3", 5.0))
        tap(desk, "t4", 6.0, topic="invoice")
        assert (desk.customers_in("general"), desk.customers_in("billing")) == (2, 1)
        assert desk.customers_in("nowhere") == 0

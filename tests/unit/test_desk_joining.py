"""Ghost taps (issue 10): a tap whose page never connects holds a place for the join window
only, is never offered to an agent, and a queue holds at most ``max_joining`` of them."""

from __future__ import annotations

from tests.unit.desk_helpers import (
    desk_config,
    ghost_tap,
    make_desk,
    notes,
    offers,
    one,
    ready_agent,
    snapshot,
    tap,
    timers,
)
from videoassist.desk import (
    AgentSignedIn,
    AgentState,
    CancelTimer,
    CustomerReturned,
    IllegalTransition,
    JoinWindowExpired,
    OfferTimedOut,
    QueueConfig,
    QueueFull,
    Restored,
    RestoredTicket,
    SaveTicket,
    TicketState,
    TopicRoute,
)

A = AgentState
T = TicketState


class TestGhostTaps:
    def test_a_tap_whose_page_never_connects_is_not_offered_to_a_ready_agent(self) -> None:
        desk = make_desk(desk_config(QueueConfig("general")))
        ready_agent(desk, "a1", 0.0)
        assert offers(ghost_tap(desk, "t1", 1.0)) == []
        assert desk.ticket_state("t1") is T.JOINING
        assert desk.agent_state("a1") is A.READY

    def test_the_join_makes_the_ticket_offerable_at_the_place_it_tapped_for(self) -> None:
        desk = make_desk(desk_config(QueueConfig("general")))
        ghost_tap(desk, "t1", 1.0)
        tap(desk, "t2", 2.0)
        assert desk.position("t1") == 1 and desk.position("t2") == 2
        desk.handle(CustomerReturned("t1", 3.0))
        assert offers(ready_agent(desk, "a1", 4.0)) == [("a1", "t1")]

    def test_a_ghost_tap_holds_its_place_only_for_the_join_window(self) -> None:
        desk = make_desk(desk_config(QueueConfig("general"), join_window=15.0))
        (timer,) = timers(ghost_tap(desk, "ghost", 1.0), JoinWindowExpired)
        assert timer.at == 16.0
        tap(desk, "real", 2.0)
        assert desk.position("real") == 2
        effects = desk.handle(timer.event)
        assert desk.ticket_state("ghost") is T.ABANDONED
        assert one(effects, SaveTicket).row.end_reason == "not_joined"
        assert desk.position("real") == 1

    def test_a_ghost_tap_counts_neither_as_an_arrival_nor_as_abandoned(self) -> None:
        desk = make_desk(desk_config(QueueConfig("general"), join_window=15.0))
        (timer,) = timers(ghost_tap(desk, "ghost", 1.0), JoinWindowExpired)
        desk.handle(timer.event)
        stats = desk.stats["general"]
        assert (stats.offered, stats.abandoned) == (0, 0)
        tap(desk, "real", 30.0)
        assert (stats.offered, stats.abandoned) == (1, 0)

    def test_the_join_window_timer_is_stale_once_the_customer_joined(self) -> None:
        desk = make_desk(desk_config(QueueConfig("general"), join_window=15.0))
        (timer,) = timers(ghost_tap(desk, "t1", 1.0), JoinWindowExpired)
        effects = desk.handle(CustomerReturned("t1", 2.0))
        assert CancelTimer(timer.key) in effects
        before = snapshot(desk)
        assert desk.handle(timer.event) == []
        assert snapshot(desk) == before

    def test_a_callback_tap_is_not_offered_until_its_customer_joins(self) -> None:
        desk = make_desk(desk_config(QueueConfig("general")))
        ready_agent(desk, "a1", 0.0)
        assert offers(ghost_tap(desk, "t1", 1.0, callback=True)) == []
        effects = desk.handle(CustomerReturned("t1", 2.0))
        assert offers(effects) == [("a1", "t1")]

    def test_ghost_taps_never_set_a_ready_agent_away(self) -> None:
        desk = make_desk(desk_config(QueueConfig("general"), join_window=15.0))
        ready_agent(desk, "a1", 0.0)
        fired = []
        for n in range(10):
            fired += timers(ghost_tap(desk, f"g{n}", 1.0 + n), JoinWindowExpired)
        for timer in fired:
            effects = desk.handle(timer.event)
            assert timers(effects, OfferTimedOut) == []
        assert desk.agent_state("a1") is A.READY
        assert desk.tickets == {}

    def test_joining_a_closed_ticket_is_refused(self) -> None:
        desk = make_desk(desk_config(QueueConfig("general"), join_window=15.0))
        (timer,) = timers(ghost_tap(desk, "t1", 1.0), JoinWindowExpired)
        desk.handle(timer.event)
        before = snapshot(desk)
        try:
            desk.handle(CustomerReturned("t1", 20.0))
        except IllegalTransition as exc:
            assert str(exc) == "ticket t1 cannot 'join' while 'abandoned'"
        else:
            raise AssertionError("joining a closed ticket was accepted")
        assert snapshot(desk) == before

    def test_joining_tickets_do_not_make_the_line_look_full(self) -> None:
        desk = make_desk(desk_config(QueueConfig("general", max_length=2)))
        for n in range(5):
            ghost_tap(desk, f"g{n}", 1.0 + n)
        tap(desk, "real", 10.0)  # would be QueueFull if ghosts counted
        tap(desk, "real2", 11.0)
        try:
            tap(desk, "real3", 12.0)
        except QueueFull:
            pass
        else:
            raise AssertionError("the line's joined customers are not capped")


class TestJoiningCap:
    def test_a_tap_beyond_the_cap_pushes_out_the_ticket_joining_longest(self) -> None:
        desk = make_desk(desk_config(QueueConfig("general"), max_joining=3))
        for n in range(3):
            ghost_tap(desk, f"g{n}", 1.0 + n, device_id=f"d{n}")
        effects = ghost_tap(desk, "g3", 10.0)
        assert desk.ticket_state("g0") is T.ABANDONED
        assert CancelTimer("joining:g0") in effects
        assert [n.data for n in notes(effects, "closed", "g0")] == [{"reason": "not_joined"}]
        assert sorted(t for t in desk.tickets) == ["g1", "g2", "g3"]
        tap(desk, "again", 11.0, device_id="d0")  # the pushed-out ticket freed its browser

    def test_a_real_customer_waits_behind_at_most_the_cap_of_ghosts(self) -> None:
        desk = make_desk(desk_config(QueueConfig("general"), max_joining=30))
        for n in range(150):
            ghost_tap(desk, f"g{n}", 1.0 + n * 0.01)
        tap(desk, "real", 5.0)
        assert desk.position("real") == 30  # 29 ghosts left: the real tap pushed one out

    def test_joined_customers_are_never_pushed_out(self) -> None:
        desk = make_desk(desk_config(QueueConfig("general"), max_joining=1))
        tap(desk, "real", 1.0)
        for n in range(5):
            ghost_tap(desk, f"g{n}", 2.0 + n)
        assert desk.ticket_state("real") is T.QUEUED
        assert desk.position("real") == 1

    def test_the_cap_is_per_queue(self) -> None:
        config = desk_config(
            QueueConfig("general"),
            QueueConfig("billing"),
            topics=(TopicRoute("invoice", "billing"),),
            max_joining=1,
        )
        desk = make_desk(config)
        ghost_tap(desk, "g1", 1.0)
        ghost_tap(desk, "g2", 2.0, topic="invoice")
        assert desk.ticket_state("g1") is desk.ticket_state("g2") is T.JOINING
        ghost_tap(desk, "g3", 3.0)
        assert desk.ticket_state("g1") is T.ABANDONED
        assert desk.ticket_state("g2") is T.JOINING


class TestRestart:
    def test_a_restored_ticket_that_never_joined_gets_only_a_join_window(self) -> None:
        desk = make_desk(desk_config(QueueConfig("general"), join_window=15.0))
        restored = (
            RestoredTicket("ghost", "", "", "general", 0, 1.0, callback=True, joined=False),
            RestoredTicket("real", "", "", "general", 0, 2.0, callback=True),
        )
        effects = desk.handle(Restored(restored, {"a1": "ready"}, 100.0))
        assert desk.ticket_state("ghost") is T.JOINING
        (timer,) = timers(effects, JoinWindowExpired)
        assert (timer.event.ticket_id, timer.at) == ("ghost", 115.0)
        # a1 was Ready before the restart: signing in makes them Ready again, and offered.
        assert offers(desk.handle(AgentSignedIn("a1", "A1", 101.0))) == [("a1", "real")]
        desk.handle(timer.event)
        assert desk.ticket_state("ghost") is T.ABANDONED

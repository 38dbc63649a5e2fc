"""A live call outlives a dropped connection and a restart (issue 15): the desk waits
``call_resume_window`` for the party (or, after a restart, both parties) to come back, tells
the other party, records the interruption on the session, and ends the call only when the
wait runs out."""

from __future__ import annotations

from tests.unit.desk_helpers import make_desk, notes, one, ready_agent, start_session, timers
from videoassist.desk import AgentState, Desk, DeskConfig, TicketState
from videoassist.desk.events import (
    AgentDropped,
    AgentReturned,
    CallResumeExpired,
    CancelTimer,
    CustomerLeft,
    CustomerReturned,
    DrainStarted,
    Effect,
    HungUp,
    MediaFailed,
    MediaMoved,
    Restored,
    RestoredCall,
    SaveSession,
    SetTimer,
    StartMedia,
    StopMedia,
)

A, T = AgentState, TicketState
WINDOW = 30.0


def live_call() -> tuple[Desk, str]:
    desk = make_desk(DeskConfig(call_resume_window=WINDOW))
    ready_agent(desk, "a1", 1.0)
    return desk, start_session(desk, "a1", "t1", 2.0)


def resume_timer(effects: list[Effect]) -> SetTimer:
    (timer,) = timers(effects, CallResumeExpired)
    return timer


class TestCustomerDrops:
    def test_the_call_waits_and_the_agent_is_told(self) -> None:
        desk, session_id = live_call()
        effects = desk.handle(CustomerLeft("t1", 10.0))
        assert desk.ticket_state("t1") is T.LIVE
        assert desk.agent_state("a1") is A.BUSY
        assert StopMedia(session_id) not in effects
        assert resume_timer(effects).at == 10.0 + WINDOW
        (told,) = notes(effects, "peer_dropped", "a1")
        assert told.data == {"session_id": session_id, "party": "customer", "seconds": WINDOW}
        assert one(effects, SaveSession).row.interruptions == 1

    def test_back_in_time_the_call_goes_on_and_the_session_shows_the_gap(self) -> None:
        desk, session_id = live_call()
        timer = resume_timer(desk.handle(CustomerLeft("t1", 10.0)))
        effects = desk.handle(CustomerReturned("t1", 14.5))
        assert CancelTimer(timer.key) in effects
        assert [n.data for n in notes(effects, "peer_returned", "a1")] == [
            {"session_id": session_id, "party": "customer"}
        ]
        row = one(effects, SaveSession).row
        assert (row.interruptions, row.interrupted_seconds, row.ended_at) == (1, 4.5, None)
        # The late timer, had it fired, changes nothing.
        assert desk.handle(timer.event) == []
        assert desk.ticket_state("t1") is T.LIVE

    def test_not_back_in_time_the_call_ends_as_customer_disconnected(self) -> None:
        desk, session_id = live_call()
        timer = resume_timer(desk.handle(CustomerLeft("t1", 10.0)))
        effects = desk.handle(timer.event)
        row = one(effects, SaveSession).row
        assert (row.end_reason, row.ended_at, row.interrupted_seconds) == (
            "customer_disconnected",
            10.0 + WINDOW,
            WINDOW,
        )
        assert StopMedia(session_id) in effects
        assert desk.agent_state("a1") is A.WRAP_UP

    def test_media_failing_while_they_are_away_does_not_end_the_call(self) -> None:
        desk, session_id = live_call()
        desk.handle(CustomerLeft("t1", 10.0))
        effects = desk.handle(MediaFailed(session_id, 12.0, "customer connection failed"))
        assert effects == [] and desk.ticket_state("t1") is T.LIVE

    def test_the_agent_may_hang_up_while_waiting(self) -> None:
        desk, session_id = live_call()
        timer = resume_timer(desk.handle(CustomerLeft("t1", 10.0)))
        effects = desk.handle(HungUp(session_id, "agent", "a1", 12.0))
        assert CancelTimer(timer.key) in effects
        row = one(effects, SaveSession).row
        assert row.ended_at == 12.0 and row.interrupted_seconds == 2.0
        assert desk.handle(timer.event) == []


class TestAgentDrops:
    def test_the_call_waits_for_the_console_and_resumes(self) -> None:
        desk, session_id = live_call()
        effects = desk.handle(AgentDropped("a1", 10.0))
        assert desk.agent_state("a1") is A.BUSY and desk.agent_dropped("a1")
        (told,) = notes(effects, "peer_dropped", "t1")
        assert told.data == {"session_id": session_id, "party": "agent", "seconds": WINDOW}
        effects = desk.handle(AgentReturned("a1", 13.0))
        assert not desk.agent_dropped("a1")
        assert [n.data["party"] for n in notes(effects, "peer_returned", "t1")] == ["agent"]
        view = desk.agent_view("a1", 13.0)
        assert view["state"] == "busy" and view["session"]["session_id"] == session_id
        # The console's call timer goes on from the answer, not from the return.
        answered = desk.sessions[session_id].answered_at
        assert answered is not None
        assert view["session"]["elapsed"] == round(13.0 - answered, 1)

    def test_not_back_in_time_the_call_ends_and_the_agent_is_signed_out(self) -> None:
        desk, _ = live_call()
        timer = resume_timer(desk.handle(AgentDropped("a1", 10.0)))
        effects = desk.handle(timer.event)
        assert one(effects, SaveSession).row.end_reason == "agent_disconnected"
        assert desk.agent_state("a1") is A.OFFLINE
        assert desk.ticket_state("t1") is T.ENDED

    def test_a_ready_agent_dropping_is_signed_out_at_once(self) -> None:
        desk = make_desk(DeskConfig(call_resume_window=WINDOW))
        ready_agent(desk, "a1", 1.0)
        desk.handle(AgentDropped("a1", 2.0))
        assert desk.agent_state("a1") is A.OFFLINE

    def test_both_away_the_call_waits_for_the_last_one(self) -> None:
        desk, _ = live_call()
        timer = resume_timer(desk.handle(AgentDropped("a1", 10.0)))
        effects = desk.handle(CustomerLeft("t1", 11.0))
        assert timers(effects, CallResumeExpired) == []
        assert notes(effects, "peer_dropped") == []  # nobody left to tell
        desk.handle(CustomerReturned("t1", 12.0))
        assert desk.agent_dropped("a1")
        effects = desk.handle(AgentReturned("a1", 15.0))
        assert CancelTimer(timer.key) in effects
        row = one(effects, SaveSession).row
        assert (row.interruptions, row.interrupted_seconds) == (1, 5.0)


class TestDrain:
    def test_a_drain_hands_live_calls_over_to_the_next_process(self) -> None:
        """Nothing about a live call is written or ended while draining: it stays live in the
        records for the next process to restore, whatever the connections and media do as
        this one goes away."""
        desk, session_id = live_call()
        assert desk.handle(DrainStarted(20.0)) == []
        for event in (
            AgentDropped("a1", 20.1),
            CustomerLeft("t1", 20.2),
            MediaFailed(session_id, 20.3, "agent connection failed"),
        ):
            assert desk.handle(event) == []
        assert desk.ticket_state("t1") is T.LIVE and desk.agent_state("a1") is A.BUSY

    def test_without_a_window_a_drain_ends_them(self) -> None:
        desk = make_desk(DeskConfig(call_resume_window=0))
        ready_agent(desk, "a1", 1.0)
        session_id = start_session(desk, "a1", "t1", 2.0)
        effects = desk.handle(DrainStarted(20.0))
        assert one(effects, SaveSession).row.end_reason == "server_shutdown"
        assert StopMedia(session_id) in effects


def restored_call(**fields: object) -> RestoredCall:
    values: dict[str, object] = {
        "session_id": "s9",
        "call_id": "s9",
        "ticket_id": "t9",
        "agent_id": "a9",
        "agent_name": "Ada",
        "topic": "",
        "description": "router",
        "queue_id": "general",
        "priority": 0,
        "queued_at": 100.0,
        "answered_at": 110.0,
    }
    values.update(fields)
    return RestoredCall(**values)


class TestRestart:
    def test_a_restored_call_opens_media_and_waits_for_both(self) -> None:
        desk = make_desk(DeskConfig(call_resume_window=WINDOW))
        effects = desk.handle(Restored((), {}, 200.0, (restored_call(interruptions=1),)))
        assert StartMedia("s9", "t9", "a9", True) in effects
        assert desk.ticket_state("t9") is T.LIVE and desk.agent_state("a9") is A.BUSY
        assert desk.agent_dropped("a9") and desk.customer_away("t9")
        assert resume_timer(effects).at == 200.0 + WINDOW
        assert desk.live_call("customer", "t9") is not None
        desk.handle(CustomerReturned("t9", 203.0))
        effects = desk.handle(AgentReturned("a9", 204.0))
        row = one(effects, SaveSession).row
        assert (row.interruptions, row.interrupted_seconds, row.ended_at) == (2, 4.0, None)

    def test_a_wait_under_way_at_the_stop_goes_on_as_one_interruption(self) -> None:
        """The customer had dropped at 190 and the process stopped before they came back: the
        restored call carries that wait on, timed from 190, instead of counting another. Its
        window starts at the restart (the pages need time to find the new process)."""
        desk = make_desk(DeskConfig(call_resume_window=WINDOW))
        call = restored_call(interruptions=1, interrupted_seconds=2.0, away_since=190.0)
        effects = desk.handle(Restored((), {}, 200.0, (call,)))
        assert resume_timer(effects).at == 200.0 + WINDOW
        assert one(effects, SaveSession).row.away_since == 190.0
        desk.handle(CustomerReturned("t9", 203.0))
        row = one(desk.handle(AgentReturned("a9", 206.0)), SaveSession).row
        assert (row.interruptions, row.interrupted_seconds, row.away_since) == (1, 18.0, None)

    def test_a_wait_is_kept_with_the_session_while_it_lasts(self) -> None:
        desk, session_id = live_call()
        dropped = one(desk.handle(CustomerLeft("t1", 10.0)), SaveSession).row
        assert (dropped.interruptions, dropped.away_since) == (1, 10.0)
        back = one(desk.handle(CustomerReturned("t1", 12.5)), SaveSession).row
        assert (back.id, back.interrupted_seconds, back.away_since) == (session_id, 2.5, None)

    def test_nobody_back_it_ends_as_server_restart(self) -> None:
        desk = make_desk(DeskConfig(call_resume_window=WINDOW))
        timer = resume_timer(desk.handle(Restored((), {}, 200.0, (restored_call(),))))
        effects = desk.handle(timer.event)
        assert one(effects, SaveSession).row.end_reason == "server_restart"
        assert desk.agent_state("a9") is A.OFFLINE and desk.ticket_state("t9") is T.ENDED

    def test_one_back_the_other_not_it_ends_for_the_one_who_did_not_come(self) -> None:
        desk = make_desk(DeskConfig(call_resume_window=WINDOW))
        timer = resume_timer(desk.handle(Restored((), {}, 200.0, (restored_call(),))))
        desk.handle(AgentReturned("a9", 201.0))
        effects = desk.handle(timer.event)
        assert one(effects, SaveSession).row.end_reason == "customer_disconnected"
        assert desk.agent_state("a9") is A.WRAP_UP


class TestMediaMoved:
    def test_the_call_goes_on_and_the_session_counts_the_gap(self) -> None:
        desk, session_id = live_call()
        call_id = desk.sessions[session_id].call_id
        effects = desk.handle(MediaMoved(call_id, 10.0, 16.5))
        row = one(effects, SaveSession).row
        assert (row.interruptions, row.interrupted_seconds, row.ended_at) == (1, 6.5, None)
        assert StopMedia(session_id) not in effects and not notes(effects, "session_ended", "a1")
        assert desk.ticket_state("t1") is T.LIVE and desk.agent_state("a1") is A.BUSY
        # Both parties offer media anew: the agent by session, the customer by call.
        assert [n.data for n in notes(effects, "media_moved", "a1")] == [{"session_id": session_id}]
        assert [n.data for n in notes(effects, "media_moved", "t1")] == [{"session_id": call_id}]

    def test_a_call_that_has_ended_is_left_alone(self) -> None:
        desk, session_id = live_call()
        call_id = desk.sessions[session_id].call_id
        desk.handle(HungUp(session_id, "agent", "a1", 12.0))
        assert desk.handle(MediaMoved(call_id, 10.0, 16.5)) == []

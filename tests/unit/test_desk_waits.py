"""Honest waits (issue 16): what a waiting customer is told, on hand-made desk states, and a
property over random desk histories: the range is ordered and non-negative, and never grows
while the customer moves up with staffing unchanged. Also the ranked set behind positions
(issue 10: a position is O(log n)), against a plain count.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.desk_helpers import ghost_tap, make_desk, ready_agent, start_session, tap
from videoassist.desk import (
    AgentAway,
    AgentReady,
    AgentSignedIn,
    AgentSignedOut,
    AnnounceDue,
    CustomerCancelled,
    Desk,
    DeskError,
    HungUp,
    Notify,
    OfferAccepted,
    WrapUpDone,
)
from videoassist.desk.estimate import (
    MIN_SCORES,
    PRIOR_BAND,
    QueueStats,
    WaitRange,
    erlang_quantile,
    erlang_score,
)
from videoassist.desk.lines import RankedSet


def told(desk: Desk, ticket_id: str) -> WaitRange:
    _, wait = desk.wait(ticket_id)
    assert wait is not None
    return wait


def busy_floor(desk: Desk, agents: int, at: float = 0.0) -> None:
    """``agents`` agents, each in a call with a customer tapped before anyone else."""
    for i in range(agents):
        ready_agent(desk, f"a{i}", at)
        start_session(desk, f"a{i}", f"busy{i}", at + 0.1)


class TestWhatTheCustomerIsTold:
    def test_a_customer_tapping_while_an_agent_is_free_is_told_so_not_a_wait(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 0.0)
        ghost_tap(desk, "t1", 1.0)  # the page's first answer, before it connects
        assert told(desk, "t1") == WaitRange("free")
        assert desk.customer_view("t1", 1.0)["wait"] == {"kind": "free", "low": None, "high": None}

    def test_while_an_agent_is_rung_the_customer_is_being_connected(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 0.0)
        tap(desk, "t1", 1.0)  # offered to a1 at once
        assert told(desk, "t1") == WaitRange("ringing")

    def test_with_nobody_staffed_there_is_a_message_and_no_number(self) -> None:
        desk = make_desk()
        desk.handle(AgentSignedIn("a1", "A1", 0.0))  # signed in, Away: not staffed
        tap(desk, "t1", 1.0)
        assert told(desk, "t1") == WaitRange("unstaffed")

    def test_one_ahead_the_range_is_later_than_for_the_first_in_line(self) -> None:
        desk = make_desk()
        busy_floor(desk, 1)
        tap(desk, "t1", 2.0)
        tap(desk, "t2", 3.0)
        first, second = told(desk, "t1"), told(desk, "t2")
        assert first.kind == second.kind == "range"
        assert first.low is not None and first.high is not None
        assert second.low is not None and second.high is not None
        assert 0 <= first.low < first.high
        assert 0 <= second.low < second.high
        assert first.low <= second.low and first.high < second.high

    def test_the_range_is_the_models_band_before_there_is_history(self) -> None:
        desk = make_desk()
        busy_floor(desk, 2)
        tap(desk, "t1", 2.0)
        stats = desk.stats["general"]
        rate = 2 / stats.handle_estimate  # no handle times yet: the default, 180 s
        low, high = (erlang_quantile(1, rate, z) for z in PRIOR_BAND)
        assert told(desk, "t1") == WaitRange("range", math.floor(low), math.ceil(high))

    def test_when_staffing_drops_the_range_may_grow_and_says_why(self) -> None:
        desk = make_desk()
        busy_floor(desk, 2)
        tap(desk, "t1", 2.0)
        tap(desk, "t2", 3.0)
        desk.handle(AnnounceDue(4.0))
        before = told(desk, "t2")
        desk.handle(AgentSignedOut("a1", 5.0))  # ends a1's call: one agent left
        assert desk.staffed("general") == 1
        notes = [
            e
            for e in desk.handle(AnnounceDue(6.0))
            if isinstance(e, Notify) and e.target_id == "t2"
        ]
        after = told(desk, "t2")
        assert after.high is not None and before.high is not None
        assert after.high > before.high, "half the agents: a longer wait, told at once"
        assert notes and notes[0].data["agents_available"] == 1

    def test_moving_up_with_the_same_agents_never_lengthens_what_was_told(self) -> None:
        desk = make_desk()
        busy_floor(desk, 1)
        tap(desk, "t1", 2.0)
        tap(desk, "t2", 3.0)
        desk.handle(AnnounceDue(4.0))
        before = told(desk, "t2")
        # Very long calls end meanwhile: the handle-time estimate jumps up...
        for _ in range(30):
            desk.stats["general"].handled(3_000.0)
        desk.handle(CustomerCancelled("t1", 5.0))  # ...but t2 moved up, nothing else changed
        after = told(desk, "t2")
        assert after.high is not None and before.high is not None
        assert after.high <= before.high

    def test_an_agent_coming_on_shortens_the_range(self) -> None:
        desk = make_desk()
        busy_floor(desk, 1)
        tap(desk, "t1", 2.0)
        tap(desk, "t2", 3.0)
        desk.handle(AnnounceDue(4.0))
        before = told(desk, "t2")
        desk.handle(AgentSignedIn("b1", "B1", 5.0))  # signed in Away: staffed, not Ready
        desk.handle(AgentAway("b1", 5.5, reason="lunch"))
        assert told(desk, "t2") == before, "an Away agent changes nothing"
        ready_agent(desk, "b2", 6.0)  # takes t1 at once; t2 is now first with two agents
        after = told(desk, "t2")
        assert after.high is not None and before.high is not None
        assert after.high < before.high


class TestCalibration:
    def test_quantile_and_score_are_inverse(self) -> None:
        for departures in (1, 2, 7, 40, 5_000):
            for z in (-1.5, -0.3, 0.0, 0.8, 1.75):
                wait = erlang_quantile(departures, 0.02, z)
                assert math.isclose(erlang_score(departures, 0.02, wait), z, abs_tol=1e-9)

    def test_one_departure_is_close_to_the_exponential(self) -> None:
        for q, z in ((0.1, -1.2816), (0.5, 0.0), (0.9, 1.2816)):
            exact = -math.log(1 - q) / 0.01
            assert math.isclose(erlang_quantile(1, 0.01, z), exact, rel_tol=0.08)

    def test_the_band_follows_the_queues_own_waits(self) -> None:
        stats = QueueStats(default_handle=100.0)
        assert stats.band == PRIOR_BAND
        rate = stats.service_rate(1)
        for i in range(MIN_SCORES - 1):
            stats.scored(1, rate, 2 * 100.0 * (1 + i / MIN_SCORES))  # waits run long
        assert stats.band == PRIOR_BAND, "too little history: the model's band"
        stats.scored(1, rate, 200.0)
        low, high = stats.wait_range(1, 1)
        assert low > 100.0, "waits ran about twice the model: the range moved up with them"
        assert high >= 2 * 100.0 * (1 + (MIN_SCORES - 2) / MIN_SCORES) * 0.9

    def test_answered_customers_calibrate_their_queue(self) -> None:
        desk = make_desk()
        busy_floor(desk, 1)
        at = 2.0
        for i in range(MIN_SCORES):
            tap(desk, f"t{i}", at)
            # The one agent's call ends; the next customer is offered and answered.
            session = desk.agents["a0"].session_id
            assert session is not None
            desk.handle(HungUp(session, "agent", "a0", at + 500))
            desk.handle(WrapUpDone("a0", session, "resolved", "", at + 500))
            desk.handle(OfferAccepted("a0", f"t{i}", at + 501))
            at += 501
        assert desk.stats["general"].history["scored"] == MIN_SCORES
        assert desk.stats["general"].band != PRIOR_BAND


class TestQueueLevel:
    def test_the_wallboard_says_what_erlang_c_stands_on(self) -> None:
        desk = make_desk()
        busy_floor(desk, 2)
        (queue,) = desk.floor(10.0)["queues"]
        assert queue["history"] == {"handled": 0, "arrivals": 2, "scored": 0}
        assert queue["handle_time"] == desk.stats["general"].handle_estimate == 180.0
        assert queue["expected_wait"] is not None


# --------------------------------------------------------------------------- properties

step = st.tuples(
    st.sampled_from(["tap", "tap", "tap", "agent", "accept", "end", "cancel", "away", "tick"]),
    st.integers(0, 50),
    st.floats(0.5, 1500.0),
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(step, min_size=5, max_size=150))
def test_ranges_are_ordered_and_never_grow_as_the_customer_moves_up(
    steps: list[tuple[str, int, float]],
) -> None:
    desk = make_desk()
    busy_floor(desk, 2)  # a line from the start: two agents in calls, customers waiting
    at = 1.0
    taps = 0
    for _ in range(8):
        taps += 1
        tap(desk, f"t{taps}", at)
    last: dict[str, tuple[int, int, float]] = {}  # ticket -> (position, staffed, high) told
    for action, pick, gap in steps:
        at += gap
        try:
            if action == "tap":
                taps += 1
                tap(desk, f"t{taps}", at)
            elif action == "agent":
                name = f"a{pick % 4}"  # a0 and a1 are the two on the floor from the start
                if name in desk.agents:
                    desk.handle(AgentReady(name, at))  # back from Away
                else:
                    ready_agent(desk, name, at)
            elif action == "accept":
                offered = [a for a in desk.agents.values() if a.ticket_id and a.session_id is None]
                if offered:
                    a = offered[pick % len(offered)]
                    desk.handle(OfferAccepted(a.id, a.ticket_id or "", at))
            elif action == "end":
                busy = [a for a in desk.agents.values() if a.session_id is not None]
                if busy:
                    a = busy[pick % len(busy)]
                    session = a.session_id or ""
                    if desk.sessions[session].ended_at is None:
                        desk.handle(HungUp(session, "agent", a.id, at))
                    desk.handle(WrapUpDone(a.id, session, "resolved", "", at))
            elif action == "cancel":
                waiting = desk.queue
                if waiting:
                    desk.handle(CustomerCancelled(waiting[pick % len(waiting)], at))
            elif action == "away":
                ready = [a for a in desk.agents.values() if a.state.value == "ready"]
                if ready:
                    desk.handle(AgentAway(ready[pick % len(ready)].id, at))
            else:
                desk.handle(AnnounceDue(at))
        except DeskError:
            pass  # a refused event changes nothing
        for ticket_id in desk.queue:
            position, wait = desk.wait(ticket_id)
            assert position is not None and wait is not None
            if wait.kind != "range":
                continue
            assert wait.low is not None and wait.high is not None
            assert 0 <= wait.low <= wait.high
            staffed = desk.staffed("general")
            before = last.get(ticket_id)
            if before is not None and staffed == before[1] and position <= before[0]:
                assert wait.high <= before[2], (ticket_id, before, position, wait)
            if action == "tick":
                last[ticket_id] = (position, staffed, wait.high)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(0, 30), st.integers(0, 30)), min_size=1, max_size=400
    )
)
def test_the_ranked_set_counts_like_a_plain_scan(ops: list[tuple[bool, int, int]]) -> None:
    ranked, plain = RankedSet(load=4), set()
    for add, a, b in ops:
        key = (a, b)
        if add:
            if key not in plain:
                ranked.add(key)
                plain.add(key)
        else:
            assert ranked.discard(key) == (key in plain)
            plain.discard(key)
        probe = (b, a)
        assert ranked.rank(probe) == sum(1 for k in plain if k < probe)
        assert list(ranked) == sorted(plain) and len(ranked) == len(plain)

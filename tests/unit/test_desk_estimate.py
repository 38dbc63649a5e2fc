"""Wait estimates (issue 3) and the handle times they rest on: Erlang C once a queue has history,
a moving average before that.

Expected values come from the textbook formula, computed here independently of the recurrence
the module uses:

    C(N, A) = (A^N / N!) * N / (N - A)  /  (sum_{k<N} A^k / k!  +  (A^N / N!) * N / (N - A))
"""

from __future__ import annotations

import math

import pytest

from tests.unit.desk_helpers import make_desk, ready_agent, start_session, tap
from videoassist.desk import (
    AgentSignedIn,
    CustomerGraceExpired,
    CustomerLeft,
    HungUp,
    MediaFailed,
    WrapUpDone,
)
from videoassist.desk.estimate import (
    MIN_HISTORY,
    QueueStats,
    erlang_c,
    erlang_c_asa,
    erlang_c_service_level,
)


def textbook_erlang_c(agents: int, traffic: float) -> float:
    waiting = traffic**agents / math.factorial(agents) * agents / (agents - traffic)
    idle = sum(traffic**k / math.factorial(k) for k in range(agents))
    return waiting / (idle + waiting)


class TestErlangC:
    def test_two_agents_and_one_erlang_wait_a_third_of_the_time(self) -> None:
        assert erlang_c(agents=2, traffic=1.0) == pytest.approx(1 / 3)

    def test_one_agent_waits_as_often_as_they_are_busy(self) -> None:
        assert erlang_c(agents=1, traffic=0.5) == pytest.approx(0.5)  # M/M/1: C = rho

    @pytest.mark.parametrize(
        ("agents", "traffic"), [(3, 2.0), (5, 4.5), (10, 8.0), (20, 15.0), (50, 45.0)]
    )
    def test_the_probability_of_waiting_matches_the_textbook_formula(
        self, agents: int, traffic: float
    ) -> None:
        assert erlang_c(agents, traffic) == pytest.approx(textbook_erlang_c(agents, traffic))

    @pytest.mark.parametrize(
        ("agents", "traffic", "expected"),
        [(0, 1.0, 1.0), (2, 0.0, 0.0), (2, 2.0, 1.0), (2, 3.0, 1.0)],
        ids=["nobody", "no-traffic", "saturated", "overloaded"],
    )
    def test_the_edges(self, agents: int, traffic: float, expected: float) -> None:
        assert erlang_c(agents, traffic) == expected

    def test_the_average_speed_of_answer(self) -> None:
        # ASA = C * AHT / (N - A) = 1/3 * 120 / (2 - 1)
        assert erlang_c_asa(2, 1.0, 120.0) == pytest.approx(40.0)
        assert erlang_c_asa(10, 8.0, 180.0) == pytest.approx(
            textbook_erlang_c(10, 8.0) * 180.0 / 2.0
        )

    @pytest.mark.parametrize(("agents", "traffic"), [(0, 1.0), (2, 2.0), (2, 5.0)])
    def test_a_queue_that_cannot_keep_up_has_no_average_speed_of_answer(
        self, agents: int, traffic: float
    ) -> None:
        assert erlang_c_asa(agents, traffic, 120.0) is None

    def test_the_service_level(self) -> None:
        # SL = 1 - C * exp(-(N - A) * T / AHT)
        expected = 1 - (1 / 3) * math.exp(-(2 - 1) * 15.0 / 120.0)
        assert erlang_c_service_level(2, 1.0, 120.0, 15.0) == pytest.approx(expected)
        assert erlang_c_service_level(2, 2.0, 120.0, 15.0) == 0.0


class TestQueueStats:
    def test_nobody_staffed_gives_no_estimate(self) -> None:
        stats = QueueStats()
        assert stats.expected_wait(staffed=0, now=0.0) is None
        assert stats.position_wait(1, staffed=0) is None

    def test_a_queue_with_no_history_expects_no_wait(self) -> None:
        assert QueueStats().expected_wait(staffed=1, now=0.0) == 0.0

    def test_before_enough_history_the_estimate_is_the_average_of_recent_waits(self) -> None:
        stats = QueueStats()
        for n in range(MIN_HISTORY - 1):  # one arrival short of Erlang C
            stats.arrived(n * 10.0)
        for _ in range(MIN_HISTORY):
            stats.handled(5.0)
        stats.answered_after(10.0, service_level=15.0)
        stats.answered_after(20.0, service_level=15.0)
        assert stats.expected_wait(staffed=1, now=90.0) == 15.0

    def test_before_enough_handled_sessions_the_estimate_is_the_average_of_recent_waits(
        self,
    ) -> None:
        stats = QueueStats()
        for n in range(MIN_HISTORY):
            stats.arrived(n * 10.0)
        for _ in range(MIN_HISTORY - 1):  # one session short of Erlang C
            stats.handled(5.0)
        stats.answered_after(7.0, service_level=15.0)
        assert stats.expected_wait(staffed=1, now=90.0) == 7.0

    def test_with_enough_history_the_estimate_is_erlang_cs_average_speed_of_answer(self) -> None:
        stats = QueueStats()
        for n in range(MIN_HISTORY):
            stats.arrived(n * 10.0)  # 9 gaps in 90 s: 0.1 arrivals a second
        for _ in range(MIN_HISTORY):
            stats.handled(5.0)  # 5 s each: 0.5 Erlang
        stats.answered_after(99.0, service_level=15.0)  # not used once Erlang C applies
        # One agent: C = 0.5, ASA = 0.5 * 5 / (1 - 0.5) = 5 s.
        assert stats.expected_wait(staffed=1, now=90.0) == 5.0
        # Two agents: C(2, 0.5) = 0.1, ASA = 0.1 * 5 / 1.5 = 0.3 s.
        assert stats.expected_wait(staffed=2, now=90.0) == round(
            textbook_erlang_c(2, 0.5) * 5.0 / 1.5, 1
        )

    def test_the_arrival_rate_counts_the_quiet_time_since_the_last_arrival(self) -> None:
        stats = QueueStats()
        for n in range(MIN_HISTORY):
            stats.arrived(n * 10.0)
        assert stats.arrival_rate(90.0) == pytest.approx(0.1)
        assert stats.arrival_rate(180.0) == pytest.approx(0.05)
        for _ in range(MIN_HISTORY):
            stats.handled(5.0)
        # 0.25 Erlang on one agent: C = 0.25, ASA = 0.25 * 5 / 0.75
        assert stats.expected_wait(staffed=1, now=180.0) == round(0.25 * 5 / 0.75, 1)

    def test_an_overloaded_queue_falls_back_to_the_average_of_recent_waits(self) -> None:
        stats = QueueStats()
        for n in range(MIN_HISTORY):
            stats.arrived(float(n))  # one a second
        for _ in range(MIN_HISTORY):
            stats.handled(60.0)  # 60 Erlang on one agent
        stats.answered_after(300.0, service_level=15.0)
        assert stats.expected_wait(staffed=1, now=9.0) == 300.0

    def test_answers_within_the_service_level_are_counted(self) -> None:
        stats = QueueStats()
        stats.answered_after(15.0, service_level=15.0)
        stats.answered_after(15.1, service_level=15.0)
        assert (stats.answered, stats.answered_in_level) == (2, 1)


class TestHandleTimes:
    """The average handle time of a queue, and the per-position wait it gives."""

    def test_without_history_the_default_handle_time_is_used(self) -> None:
        stats = QueueStats(default_handle=100.0)
        assert stats.average_handle == 100.0
        assert stats.position_wait(1, staffed=1) == 50.0

    def test_the_wait_drains_the_customers_ahead_at_n_agents_per_handle_time(self) -> None:
        stats = QueueStats(default_handle=100.0)
        assert stats.position_wait(3, staffed=1) == 250.0
        assert stats.position_wait(3, staffed=2) == 125.0
        assert stats.position_wait(4, staffed=2) == 175.0

    def test_the_wait_follows_the_handle_times_recorded(self) -> None:
        stats = QueueStats(default_handle=100.0)
        stats.handled(40.0)
        assert stats.position_wait(1, staffed=1) == 20.0

    def test_the_average_moves_over_the_last_window_of_handles(self) -> None:
        stats = QueueStats(window=3)
        for seconds in (30.0, 60.0, 90.0, 120.0):
            stats.handled(seconds)
        assert stats.average_handle == 90.0

    def test_negative_handle_times_are_ignored(self) -> None:
        stats = QueueStats(default_handle=100.0)
        stats.handled(-5.0)
        assert stats.average_handle == 100.0
        stats.handled(40.0)
        stats.handled(-5.0)
        assert stats.average_handle == 40.0

    def test_the_desk_records_each_sessions_handle_time_in_its_queue(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        first = start_session(desk, "a1", "t1", 99.0)  # answered at 100
        desk.handle(HungUp(first, "agent", "a1", 160.0))
        assert desk.stats["general"].average_handle == 60.0
        desk.handle(WrapUpDone("a1", first, "resolved", "", 161.0))
        second = start_session(desk, "a1", "t2", 199.0)  # answered at 200
        desk.handle(MediaFailed(second, 240.0))
        assert desk.stats["general"].average_handle == 50.0


class TestQueueSnapshot:
    def test_the_desk_counts_arrivals_answers_and_abandons_per_queue(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 0.0)
        start_session(desk, "a1", "t1", 10.0)  # answered after 1 s
        tap(desk, "t2", 20.0)
        desk.handle(CustomerLeft("t2", 21.0))
        desk.handle(CustomerGraceExpired("t2", 81.0))
        (general,) = desk.queue_snapshot(82.0)
        assert general["answered"] == 1
        assert general["answered_in_service_level"] == 1
        assert general["abandoned"] == 1
        assert desk.stats["general"].offered == 2

    def test_the_snapshot_shows_waiting_staffed_ready_and_expected_wait(self) -> None:
        desk = make_desk()
        desk.handle(AgentSignedIn("a1", "A1", 0.0))  # Away: not staffed
        ready_agent(desk, "a2", 0.0)
        session_id = start_session(desk, "a2", "t1", 1.0)
        desk.handle(HungUp(session_id, "agent", "a2", 61.0))  # wrap-up counts as staffed
        tap(desk, "t2", 62.0)
        (general,) = desk.queue_snapshot(63.0)
        assert {k: general[k] for k in ("waiting", "staffed", "ready", "open")} == {
            "waiting": 1,
            "staffed": 1,
            "ready": 0,
            "open": True,
        }
        assert general["expected_wait"] == 1.0  # the one wait so far, before Erlang C

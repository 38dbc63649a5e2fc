"""Routing (issue 3): queues and topics, skills, strategies, priorities, length, hours, max wait.

Each class is one rule of the spec; each test name says what the desk does.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.unit.desk_helpers import (
    agent,
    desk_config,
    ghost_tap,
    local_time,
    make_desk,
    notes,
    offers,
    one,
    ready_agent,
    snapshot,
    start_session,
    tap,
    timers,
)
from videoassist.desk import (
    AgentReady,
    AgentSignedIn,
    CancelTimer,
    ConfigChanged,
    CustomerCancelled,
    Desk,
    DeskConfig,
    DrainStarted,
    HungUp,
    MaxWaitReached,
    OfferAccepted,
    OfferDeclined,
    OpenHours,
    QueueClosed,
    QueueConfig,
    QueueFull,
    Refused,
    SaveTicket,
    SetTimer,
    TicketState,
    TopicRoute,
    UnknownTopic,
    WrapUpDone,
)

T = TicketState

# --------------------------------------------------------------------------- queues and topics


def two_queues(**general: Any) -> DeskConfig:
    return desk_config(
        QueueConfig("general", **general),
        QueueConfig("billing"),
        topics=(TopicRoute("invoice", "billing"),),
        agents=(
            agent("a1", "general"),
            agent("a2", "billing"),
            agent("a3", "general", "billing"),
        ),
    )


class TestTopicRouting:
    def test_a_topic_routes_the_customer_to_its_queue(self) -> None:
        desk = make_desk(two_queues())
        effects = ghost_tap(desk, "t1", 1.0, topic="invoice")
        assert desk.tickets["t1"].queue_id == "billing"
        assert one(effects, SaveTicket).row.queue_id == "billing"

    def test_a_customer_without_a_topic_goes_to_the_default_queue(self) -> None:
        desk = make_desk(two_queues())
        tap(desk, "t1", 1.0, topic="")
        assert desk.tickets["t1"].queue_id == "general"

    def test_an_unknown_topic_is_refused_naming_the_known_ones_and_changes_nothing(self) -> None:
        desk = make_desk(two_queues())
        before = snapshot(desk)
        with pytest.raises(UnknownTopic) as info:
            tap(desk, "t1", 1.0, topic="something else")
        assert (info.value.status, info.value.code) == (422, "invalid")
        assert info.value.message == "topic: unknown topic (known: invoice)"
        assert snapshot(desk) == before

    def test_with_no_topics_configured_every_topic_is_unknown(self) -> None:
        desk = make_desk()
        with pytest.raises(UnknownTopic, match=r"\(known: none configured\)$"):
            tap(desk, "t1", 1.0, topic="invoice")

    def test_an_unknown_topic_is_refused_as_such_even_while_draining(self) -> None:
        """Trying again after the restart would not help it, so that is not what it is told."""
        desk = make_desk(two_queues())
        desk.handle(DrainStarted(1.0))
        with pytest.raises(UnknownTopic):
            tap(desk, "t1", 2.0, topic="something else")
        with pytest.raises(Refused):
            tap(desk, "t2", 2.0, topic="invoice")

    def test_customers_keep_their_queue_when_their_topic_is_removed(self) -> None:
        desk = make_desk(two_queues())
        tap(desk, "t1", 1.0, topic="invoice")
        desk.handle(ConfigChanged(replace(desk.config, topics={}), 2.0))
        assert desk.tickets["t1"].queue_id == "billing"
        assert desk.position("t1") == 1
        with pytest.raises(UnknownTopic):
            tap(desk, "t2", 3.0, topic="invoice")

    def test_agents_are_offered_only_customers_of_their_own_queues(self) -> None:
        desk = make_desk(two_queues())
        ready_agent(desk, "a1", 1.0)
        assert offers(tap(desk, "t1", 2.0, topic="invoice")) == []
        assert desk.ticket_state("t1") is T.QUEUED
        assert offers(ready_agent(desk, "a2", 3.0)) == [("a2", "t1")]
        assert offers(tap(desk, "t2", 4.0)) == [("a1", "t2")]

    def test_an_agent_in_several_queues_takes_whoever_waited_longest_across_them(self) -> None:
        desk = make_desk(two_queues())
        tap(desk, "t1", 1.0)
        tap(desk, "t2", 2.0, topic="invoice")
        tap(desk, "t3", 3.0)
        assert offers(ready_agent(desk, "a3", 4.0)) == [("a3", "t1")]
        desk.handle(CustomerCancelled("t1", 5.0))  # a3 is free again
        assert desk.agents["a3"].ticket_id == "t2"

    def test_each_queue_keeps_its_own_line(self) -> None:
        desk = make_desk(two_queues())
        tap(desk, "t1", 1.0, topic="invoice")
        tap(desk, "t2", 2.0)
        tap(desk, "t3", 3.0, topic="invoice")
        assert desk.queue == ["t2", "t1", "t3"], "queues in configuration order"
        assert [desk.position(t) for t in ("t1", "t2", "t3")] == [1, 1, 2]


# --------------------------------------------------------------------------- skills


def skilled(queue_skills: dict[str, int], **agent_skills: int) -> DeskConfig:
    return desk_config(
        QueueConfig("general"),
        QueueConfig("fibre", skills=queue_skills),
        topics=(TopicRoute("fibre", "fibre"),),
        agents=(agent("a1", "general", "fibre", **agent_skills),),
    )


class TestSkills:
    @pytest.mark.parametrize(
        "skills", [{}, {"fibre": 2}, {"fibre": 1}, {"tv": 5}], ids=["none", "2", "1", "other"]
    )
    def test_an_agent_missing_the_skill_or_below_its_level_is_never_offered_the_queue(
        self, skills: dict[str, int]
    ) -> None:
        desk = make_desk(skilled({"fibre": 3}, **skills))
        ready_agent(desk, "a1", 1.0)
        assert "a1" not in desk.routing.pools["fibre"]
        assert offers(tap(desk, "t1", 2.0, topic="fibre")) == []
        assert desk.ticket_state("t1") is T.QUEUED

    @pytest.mark.parametrize("level", [3, 4, 5])
    def test_an_agent_at_or_above_the_minimum_level_is_offered_the_queue(self, level: int) -> None:
        desk = make_desk(skilled({"fibre": 3}, fibre=level))
        ready_agent(desk, "a1", 1.0)
        assert offers(tap(desk, "t1", 2.0, topic="fibre")) == [("a1", "t1")]

    def test_every_required_skill_must_be_met(self) -> None:
        needs = {"fibre": 2, "french": 1}
        desk = make_desk(skilled(needs, fibre=5))
        ready_agent(desk, "a1", 1.0)
        assert offers(tap(desk, "t1", 2.0, topic="fibre")) == []

        desk = make_desk(skilled(needs, fibre=2, french=1))
        ready_agent(desk, "a1", 1.0)
        assert offers(tap(desk, "t1", 2.0, topic="fibre")) == [("a1", "t1")]

    def test_an_agent_short_of_one_queues_skills_still_takes_their_other_queues(self) -> None:
        desk = make_desk(skilled({"fibre": 3}, fibre=1))
        tap(desk, "t1", 1.0, topic="fibre")
        tap(desk, "t2", 2.0)
        assert offers(ready_agent(desk, "a1", 3.0)) == [("a1", "t2")], "t1 waited longer"

    def test_an_agent_with_a_skill_but_not_in_the_queue_is_not_offered_it(self) -> None:
        config = desk_config(
            QueueConfig("general"),
            QueueConfig("fibre", skills={"fibre": 1}),
            topics=(TopicRoute("fibre", "fibre"),),
            agents=(agent("a1", "general", fibre=5),),
        )
        desk = make_desk(config)
        ready_agent(desk, "a1", 1.0)
        assert offers(tap(desk, "t1", 2.0, topic="fibre")) == []


# --------------------------------------------------------------------------- strategies


def one_queue(**queue: Any) -> DeskConfig:
    return desk_config(QueueConfig("general", **queue))


class TestStrategies:
    def test_longest_idle_is_the_default(self) -> None:
        assert QueueConfig("general").strategy == "longest_idle"

    @pytest.mark.parametrize(
        ("strategy", "chosen"), [("longest_idle", "a1"), ("least_occupied", "a2")]
    )
    def test_least_occupied_picks_the_agent_who_spent_the_least_of_their_shift_in_calls(
        self, strategy: str, chosen: str
    ) -> None:
        desk = make_desk(one_queue(strategy=strategy))
        ready_agent(desk, "a1", 0.0)
        desk.handle(AgentSignedIn("a2", "A2", 0.0))
        session_id = start_session(desk, "a1", "t1", 10.0)  # answered at 11
        desk.handle(HungUp(session_id, "agent", "a1", 91.0))  # 80 s of the first 91 s in a call
        desk.handle(WrapUpDone("a1", session_id, "resolved", "", 92.0))  # idle since 92
        desk.handle(AgentReady("a2", 95.0))  # idle since 95, never in a call
        assert offers(tap(desk, "t2", 100.0)) == [(chosen, "t2")]

    @pytest.mark.parametrize(
        ("strategy", "chosen"), [("longest_idle", "a1"), ("round_robin", "a2")]
    )
    def test_round_robin_picks_the_agent_offered_a_customer_longest_ago(
        self, strategy: str, chosen: str
    ) -> None:
        desk = make_desk(one_queue(strategy=strategy))
        ready_agent(desk, "a1", 0.0)
        tap(desk, "t1", 10.0)  # offered to a1...
        desk.handle(CustomerCancelled("t1", 11.0))  # ...and withdrawn: a1 idle since 11
        ready_agent(desk, "a2", 20.0)  # idle since 20, never offered anyone
        assert offers(tap(desk, "t2", 30.0)) == [(chosen, "t2")]

    @pytest.mark.parametrize(("strategy", "chosen"), [("longest_idle", "a1"), ("best_skill", "a2")])
    def test_best_skill_picks_the_agent_with_the_highest_levels_in_the_queues_skills(
        self, strategy: str, chosen: str
    ) -> None:
        config = desk_config(
            QueueConfig("general", skills={"fibre": 1, "french": 1}, strategy=strategy),
            agents=(
                agent("a1", "general", fibre=5, french=1, tv=5),  # 6 in what the queue needs
                agent("a2", "general", fibre=3, french=4),  # 7
            ),
        )
        desk = make_desk(config)
        ready_agent(desk, "a1", 1.0)
        ready_agent(desk, "a2", 2.0)
        assert offers(tap(desk, "t1", 3.0)) == [(chosen, "t1")]

    def test_best_skill_breaks_ties_by_idle_time(self) -> None:
        config = desk_config(
            QueueConfig("general", skills={"fibre": 1}, strategy="best_skill"),
            agents=(agent("a1", "general", fibre=3), agent("a2", "general", fibre=3)),
        )
        desk = make_desk(config)
        ready_agent(desk, "a2", 1.0)
        ready_agent(desk, "a1", 2.0)
        assert offers(tap(desk, "t1", 3.0)) == [("a2", "t1")]

    def test_each_queue_uses_its_own_strategy(self) -> None:
        config = desk_config(
            QueueConfig("general"),
            QueueConfig("fibre", skills={"fibre": 1}, strategy="best_skill"),
            topics=(TopicRoute("fibre", "fibre"),),
            agents=(
                agent("a1", "general", "fibre", fibre=1),
                agent("a2", "general", "fibre", fibre=5),
            ),
        )
        desk = make_desk(config)
        ready_agent(desk, "a1", 1.0)
        ready_agent(desk, "a2", 2.0)
        assert offers(tap(desk, "t1", 3.0, topic="fibre")) == [("a2", "t1")]
        assert offers(tap(desk, "t2", 4.0)) == [("a1", "t2")]


# --------------------------------------------------------------------------- priorities


class TestPriority:
    def test_a_higher_priority_customer_is_offered_before_an_earlier_lower_one(self) -> None:
        desk = make_desk()
        tap(desk, "t1", 1.0)
        tap(desk, "t2", 2.0, priority=3)
        assert desk.queue == ["t2", "t1"]
        assert offers(ready_agent(desk, "a1", 3.0)) == [("a1", "t2")]

    def test_within_a_priority_the_first_to_tap_is_offered_first(self) -> None:
        desk = make_desk()
        tap(desk, "t1", 1.0, priority=1)
        tap(desk, "t2", 2.0)
        tap(desk, "t3", 3.0, priority=1)
        tap(desk, "t4", 4.0)
        assert desk.queue == ["t1", "t3", "t2", "t4"]
        offered = [offers(ready_agent(desk, f"a{n}", 10.0 + n))[0][1] for n in range(1, 5)]
        assert offered == ["t1", "t3", "t2", "t4"]

    def test_a_topic_gives_its_customers_its_priority(self) -> None:
        config = desk_config(
            QueueConfig("general"), topics=(TopicRoute("outage", "general", priority=5),)
        )
        desk = make_desk(config)
        tap(desk, "t1", 1.0)
        tap(desk, "t2", 2.0, topic="outage")
        assert desk.tickets["t2"].priority == 5
        (offer,) = notes(ready_agent(desk, "a1", 3.0), "offer", "a1")
        assert (offer.data["ticket_id"], offer.data["priority"]) == ("t2", 5)

    @pytest.mark.parametrize(("from_tap", "from_topic", "kept"), [(4, 2, 4), (1, 5, 5)])
    def test_the_higher_of_the_taps_and_the_topics_priority_counts(
        self, from_tap: int, from_topic: int, kept: int
    ) -> None:
        config = desk_config(
            QueueConfig("general"), topics=(TopicRoute("vip", "general", priority=from_topic),)
        )
        desk = make_desk(config)
        effects = ghost_tap(desk, "t1", 1.0, topic="vip", priority=from_tap)
        assert desk.tickets["t1"].priority == kept
        assert one(effects, SaveTicket).row.priority == kept


class TestPriorityAging:
    """With ``priority_aging`` a customer's score is priority + aging x minutes waited."""

    def aging_desk(self, aging: float) -> Desk:
        return make_desk(one_queue(priority_aging=aging))

    def test_a_long_waiting_low_priority_customer_overtakes_a_newer_higher_one(self) -> None:
        desk = self.aging_desk(1.0)
        tap(desk, "low", 0.0)
        tap(desk, "high", 150.0, priority=2)  # 2.5 minutes later: aging made up the 2 points
        assert desk.queue == ["low", "high"]
        assert offers(ready_agent(desk, "a1", 200.0)) == [("a1", "low")]

    def test_until_aging_makes_up_the_difference_the_higher_priority_goes_first(self) -> None:
        desk = self.aging_desk(1.0)
        tap(desk, "low", 0.0)
        tap(desk, "high", 90.0, priority=2)  # 1.5 minutes later: 0.5 points short
        assert offers(ready_agent(desk, "a1", 10_000.0)) == [("a1", "high")]

    def test_without_aging_priority_always_wins(self) -> None:
        desk = self.aging_desk(0.0)
        tap(desk, "low", 0.0)
        tap(desk, "high", 10_000.0, priority=1)
        assert offers(ready_agent(desk, "a1", 10_001.0)) == [("a1", "high")]

    @pytest.mark.parametrize(("ready_at", "chosen"), [(45.0, "flat"), (120.0, "aging")])
    def test_an_agent_in_two_queues_compares_the_scores_at_the_moment_they_become_ready(
        self, ready_at: float, chosen: str
    ) -> None:
        config = desk_config(
            QueueConfig("general", priority_aging=1.0),
            QueueConfig("sales"),
            topics=(TopicRoute("buy", "sales", priority=1),),
            agents=(agent("a1", "general", "sales"),),
        )
        desk = make_desk(config)
        tap(desk, "aging", 0.0)  # score: minutes waited
        tap(desk, "flat", 30.0, topic="buy")  # score: 1
        assert offers(ready_agent(desk, "a1", ready_at)) == [("a1", chosen)]


# --------------------------------------------------------------------------- queue length


class TestQueueLength:
    def test_a_tap_beyond_max_length_is_refused_as_queue_full_and_changes_nothing(self) -> None:
        desk = make_desk(one_queue(max_length=2))
        tap(desk, "t1", 1.0)
        tap(desk, "t2", 2.0)
        before = snapshot(desk)
        with pytest.raises(QueueFull) as info:
            tap(desk, "t3", 3.0)
        assert (info.value.code, info.value.status) == ("queue_full", 503)
        assert "callback" in info.value.message
        assert snapshot(desk) == before

    def test_a_callback_tap_is_still_accepted_when_the_line_is_full(self) -> None:
        desk = make_desk(one_queue(max_length=1))
        tap(desk, "t1", 1.0)
        tap(desk, "t2", 2.0, callback=True)
        assert desk.tickets["t2"].callback
        assert desk.queue == ["t1", "t2"]

    def test_callbacks_do_not_count_towards_the_length(self) -> None:
        desk = make_desk(one_queue(max_length=1))
        tap(desk, "t1", 1.0, callback=True)
        tap(desk, "t2", 2.0)
        assert desk.queue == ["t1", "t2"]

    def test_a_customer_counts_until_answered(self) -> None:
        desk = make_desk(one_queue(max_length=1))
        ready_agent(desk, "a1", 0.0)
        tap(desk, "t1", 1.0)  # offered, not answered
        with pytest.raises(QueueFull):
            tap(desk, "t2", 2.0)
        desk.handle(OfferAccepted("a1", "t1", 3.0))
        tap(desk, "t2", 4.0)

    def test_each_queue_has_its_own_length(self) -> None:
        config = desk_config(
            QueueConfig("general", max_length=1),
            QueueConfig("billing"),
            topics=(TopicRoute("invoice", "billing"),),
        )
        desk = make_desk(config)
        tap(desk, "t1", 1.0)
        tap(desk, "t2", 2.0, topic="invoice")
        assert desk.ticket_state("t2") is T.QUEUED


# --------------------------------------------------------------------------- opening hours

PARIS = "Europe/Paris"
MONDAY_TUESDAY_9_TO_5 = OpenHours(PARIS, ((0, 9 * 60, 17 * 60), (1, 9 * 60, 17 * 60)))


class TestOpeningHours:
    def hours_desk(self) -> Desk:
        return make_desk(
            desk_config(
                QueueConfig("general"),
                QueueConfig("billing", hours=MONDAY_TUESDAY_9_TO_5),
                topics=(TopicRoute("invoice", "billing"),),
            )
        )

    @pytest.mark.parametrize(
        "when",
        [(2024, 3, 4, 9, 0), (2024, 3, 4, 16, 59), (2024, 3, 5, 12, 0)],
        ids=["monday-9:00", "monday-16:59", "tuesday-noon"],
    )
    def test_a_tap_inside_opening_hours_is_queued(self, when: tuple[int, ...]) -> None:
        desk = self.hours_desk()
        tap(desk, "t1", local_time(PARIS, *when), topic="invoice")
        assert desk.ticket_state("t1") is T.QUEUED

    @pytest.mark.parametrize(
        "when",
        [(2024, 3, 4, 8, 59), (2024, 3, 4, 17, 0), (2024, 3, 6, 10, 0), (2024, 3, 10, 12, 0)],
        ids=["monday-8:59", "monday-17:00", "wednesday", "sunday"],
    )
    def test_a_tap_outside_opening_hours_is_refused_as_closed_and_changes_nothing(
        self, when: tuple[int, ...]
    ) -> None:
        desk = self.hours_desk()
        before = snapshot(desk)
        with pytest.raises(QueueClosed) as info:
            tap(desk, "t1", local_time(PARIS, *when), topic="invoice")
        assert (info.value.code, info.value.status) == ("closed", 503)
        assert snapshot(desk) == before

    def test_a_queue_without_hours_is_always_open_while_another_is_closed(self) -> None:
        desk = self.hours_desk()
        sunday = local_time(PARIS, 2024, 3, 10, 12, 0)
        tap(desk, "t1", sunday)
        assert desk.ticket_state("t1") is T.QUEUED
        is_open = {q["id"]: q["open"] for q in desk.queue_snapshot(sunday)}
        assert is_open == {"general": True, "billing": False}

    def test_hours_are_read_in_the_queues_time_zone_across_daylight_saving(self) -> None:
        # 9:30 in Paris is 8:30 UTC in winter and 7:30 UTC in summer.
        utc_hours = OpenHours("UTC", MONDAY_TUESDAY_9_TO_5.windows)
        for month_day, utc_hour in (((3, 4), 8), ((4, 1), 7)):
            paris_930 = local_time(PARIS, 2024, *month_day, 9, 30)
            assert paris_930 == local_time("UTC", 2024, *month_day, utc_hour, 30)
            assert MONDAY_TUESDAY_9_TO_5.is_open(paris_930)
            assert not utc_hours.is_open(paris_930)


# --------------------------------------------------------------------------- max wait


def overflowing(**general: Any) -> DeskConfig:
    return desk_config(
        QueueConfig("general", max_wait=60.0, overflow_to="backup", **general),
        QueueConfig("backup", max_wait=30.0),
        topics=(TopicRoute("backup", "backup"),),
        agents=(agent("a1", "general"), agent("b1", "backup")),
    )


class TestMaxWait:
    def test_a_tap_sets_a_timer_for_the_queues_max_wait(self) -> None:
        desk = make_desk(overflowing())
        (timer,) = timers(tap(desk, "t1", 1.0), MaxWaitReached)
        assert (timer.key, timer.at, timer.event) == (
            "maxwait:t1",
            61.0,
            MaxWaitReached("t1", "general", 61.0),
        )

    def test_at_max_wait_the_customer_overflows_keeping_their_original_queued_at(self) -> None:
        desk = make_desk(overflowing())
        tap(desk, "t1", 1.0)
        tap(desk, "t2", 30.0, topic="backup")
        effects = desk.handle(MaxWaitReached("t1", "general", 61.0))
        ticket = desk.tickets["t1"]
        assert (ticket.queue_id, ticket.queued_at) == ("backup", 1.0)
        assert one(effects, SaveTicket).row.queue_id == "backup"
        assert [n.data for n in notes(effects, "moved", "t1")] == [
            {"queue_id": "backup", "reason": "overflow"}
        ]
        assert [desk.position("t1"), desk.position("t2")] == [1, 2]
        assert offers(ready_agent(desk, "b1", 62.0)) == [("b1", "t1")]

    def test_overflow_arms_the_max_wait_of_the_next_queue(self) -> None:
        desk = make_desk(overflowing())
        tap(desk, "t1", 1.0)
        effects = desk.handle(MaxWaitReached("t1", "general", 61.0))
        (timer,) = timers(effects, MaxWaitReached)
        assert (timer.at, timer.event) == (91.0, MaxWaitReached("t1", "backup", 91.0))

    def test_without_an_overflow_queue_the_customer_is_offered_a_callback(self) -> None:
        desk = make_desk(overflowing())
        tap(desk, "t1", 1.0, topic="backup")
        effects = desk.handle(MaxWaitReached("t1", "backup", 31.0))
        assert [n.data for n in notes(effects, "callback_suggested", "t1")] == [{"waited": 30}]
        assert desk.tickets["t1"].queue_id == "backup"
        assert desk.ticket_state("t1") is T.QUEUED

    def test_a_max_wait_timer_for_a_customer_answered_or_moved_meanwhile_changes_nothing(
        self,
    ) -> None:
        desk = make_desk(overflowing())
        ready_agent(desk, "a1", 0.0)
        tap(desk, "t1", 1.0)
        desk.handle(OfferAccepted("a1", "t1", 2.0))
        tap(desk, "t2", 3.0)
        desk.handle(MaxWaitReached("t2", "general", 63.0))
        before = snapshot(desk)
        assert desk.handle(MaxWaitReached("t1", "general", 61.0)) == []
        assert desk.handle(MaxWaitReached("t2", "general", 63.0)) == []
        assert snapshot(desk) == before

    def test_a_customer_still_ringing_at_max_wait_is_looked_at_again_when_the_ring_ends(
        self,
    ) -> None:
        desk = make_desk(overflowing(ring_timeout=100.0))
        ready_agent(desk, "a1", 0.0)
        tap(desk, "t1", 1.0)  # offered to a1 until 101
        effects = desk.handle(MaxWaitReached("t1", "general", 61.0))
        assert timers(effects, MaxWaitReached) == [
            SetTimer("maxwait:t1", 101.0, MaxWaitReached("t1", "general", 101.0))
        ]
        assert desk.ticket_state("t1") is T.OFFERED

    def test_a_customer_whose_offer_fails_after_max_wait_overflows(self) -> None:
        desk = make_desk(overflowing(ring_timeout=100.0))
        ready_agent(desk, "a1", 0.0)
        tap(desk, "t1", 1.0)
        (timer,) = timers(desk.handle(MaxWaitReached("t1", "general", 61.0)), MaxWaitReached)
        desk.handle(OfferDeclined("a1", "t1", 70.0))
        desk.handle(timer.event)
        assert desk.tickets["t1"].queue_id == "backup"

    def test_a_customer_answered_after_max_wait_stays_answered(self) -> None:
        desk = make_desk(overflowing(ring_timeout=100.0))
        ready_agent(desk, "a1", 0.0)
        tap(desk, "t1", 1.0)
        (timer,) = timers(desk.handle(MaxWaitReached("t1", "general", 61.0)), MaxWaitReached)
        effects = desk.handle(OfferAccepted("a1", "t1", 70.0))
        assert CancelTimer("maxwait:t1") in effects
        assert desk.handle(timer.event) == []

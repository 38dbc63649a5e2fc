"""The supervisors' floor: service level formulas, the business day, today's figures, the
wallboard's picture, and what supervisor actions do to the desk (and the audit rows they leave)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

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
    start_session,
    tap,
)
from videoassist.desk import (
    AgentForcedOut,
    AgentSentAway,
    AnnounceDue,
    CallSupervised,
    ConfigChanged,
    ConfigError,
    CustomerCancelled,
    CustomerGraceExpired,
    CustomerLeft,
    Desk,
    DeskConfig,
    DeskError,
    HungUp,
    JoinWindowExpired,
    OfferAccepted,
    QueueConfig,
    SaveAudit,
    TicketMoved,
    TicketReprioritized,
    TopicRoute,
    UnknownSubject,
    WrapUpDone,
)
from videoassist.desk.today import Day, Figures, formula, service_level

SUE = ("u9", "sue")

# --------------------------------------------------------------------------- the formulas


# (answered waits, abandon waits, threshold, short abandon, abandons count) -> SL in percent
SERVICE_LEVELS = [
    pytest.param([], [], 15, 5, True, None, id="nothing to judge yet"),
    pytest.param([3, 10], [], 15, 5, True, 100.0, id="all answered within the threshold"),
    pytest.param([3, 15, 16, 40], [], 15, 5, True, 50.0, id="the threshold itself is within"),
    pytest.param([3, 20], [30], 15, 5, True, 100 / 3, id="an abandon counts against"),
    pytest.param([3, 20], [30], 15, 5, False, 50.0, id="abandons left out when they do not count"),
    pytest.param([3, 20], [2, 4.9], 15, 5, True, 50.0, id="short abandons never count"),
    pytest.param([3, 20], [5], 15, 5, True, 100 / 3, id="an abandon at the limit is not short"),
    pytest.param([3], [1, 2], 15, 0, True, 100 / 3, id="no short abandons when the limit is 0"),
    pytest.param([], [30], 15, 5, True, 0.0, id="only abandons: nothing answered in time"),
    pytest.param([], [30], 15, 5, False, None, id="only abandons, not counted: nothing judged"),
    pytest.param([25], [], 30, 5, True, 100.0, id="a longer threshold"),
]


class TestServiceLevelFormulas:
    @pytest.mark.parametrize(
        ("answered", "abandoned", "threshold", "short", "count", "expected"), SERVICE_LEVELS
    )
    def test_the_service_level_follows_the_queues_settings(
        self,
        answered: list[float],
        abandoned: list[float],
        threshold: float,
        short: float,
        count: bool,
        expected: float | None,
    ) -> None:
        queue = QueueConfig("q", service_level=threshold, short_abandon=short, abandons_count=count)
        figures = Figures()
        for wait in answered:
            figures.answer(wait, queue)
        for wait in abandoned:
            figures.abandon(wait, queue)
        level = figures.service_level(queue)
        if expected is None:
            assert level is None
        else:
            assert level == pytest.approx(expected)

    def test_the_bare_formula_divides_by_answered_plus_counted_abandons(self) -> None:
        assert service_level(8, 10, 6, True) == pytest.approx(50.0)
        assert service_level(8, 10, 6, False) == pytest.approx(80.0)
        assert service_level(0, 0, 0, True) is None

    def test_the_formula_in_words_names_the_threshold_and_the_rule_for_abandons(self) -> None:
        counted = formula(QueueConfig("q", service_level=20, short_abandon=8))
        assert "within 20 s" in counted and "answered + abandoned" in counted and "8 s" in counted
        left_out = formula(QueueConfig("q", abandons_count=False))
        assert "÷ answered" in left_out and "abandons are left out" in left_out

    def test_asa_and_aht_are_averages_and_absent_before_any_call(self) -> None:
        figures = Figures()
        assert figures.asa is None and figures.aht is None
        queue = QueueConfig("q")
        figures.answer(10, queue)
        figures.answer(20, queue)
        figures.handled, figures.handle_total = 2, 300.0
        assert figures.asa == 15.0 and figures.aht == 150.0


class TestServiceLevelSettings:
    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"short_abandon": -1}, "queues.general.short_abandon"),
            ({"service_level_target": 0}, "queues.general.service_level_target"),
            ({"service_level_target": 101}, "queues.general.service_level_target"),
            ({"wait_alert": 0.5}, "queues.general.wait_alert"),
            ({"service_level": 0}, "queues.general.service_level"),
        ],
    )
    def test_a_bad_service_level_setting_is_refused_naming_the_field(
        self, change: dict[str, float], field: str
    ) -> None:
        config = desk_config(replace(QueueConfig("general"), **change))
        with pytest.raises(ConfigError) as info:
            config.validate()
        assert info.value.where == field

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"time_zone": "Mars/Olympus"}, "time_zone"),
            ({"day_starts_at": "6:00"}, "day_starts_at"),
            ({"day_starts_at": "24:00"}, "day_starts_at"),
            ({"day_starts_at": "06:60"}, "day_starts_at"),
            ({"day_starts_at": "\uff10\uff16:00"}, "day_starts_at"),  # full-width digits
        ],
    )
    def test_a_bad_day_setting_is_refused_naming_the_field(
        self, change: dict[str, str], field: str
    ) -> None:
        with pytest.raises(ConfigError) as info:
            replace(DeskConfig(), **change).validate()
        assert info.value.where == field


# --------------------------------------------------------------------------- the business day

PARIS = "Europe/Paris"


def paris_day(starts_at: str = "00:00") -> Day:
    return Day(DeskConfig(time_zone=PARIS, day_starts_at=starts_at))


# (day starts at, first event, second event, whether the second starts a new day)
DAY_RESETS = [
    pytest.param("00:00", (2024, 3, 4, 23, 59), (2024, 3, 5, 0, 0), True, id="at local midnight"),
    pytest.param("00:00", (2024, 3, 4, 8, 0), (2024, 3, 4, 23, 59), False, id="same local day"),
    pytest.param("06:00", (2024, 3, 5, 5, 59), (2024, 3, 5, 6, 0), True, id="at 06:00 local"),
    pytest.param("06:00", (2024, 3, 4, 23, 0), (2024, 3, 5, 5, 0), False, id="night shift"),
    pytest.param("00:00", (2024, 3, 30, 23, 0), (2024, 3, 31, 3, 30), True, id="over a DST gap"),
    pytest.param("02:30", (2024, 3, 31, 1, 0), (2024, 3, 31, 3, 0), True, id="a start in the gap"),
    pytest.param("00:00", (2024, 3, 5, 0, 0), (2024, 3, 4, 23, 0), False, id="a late timer"),
]


class TestTheBusinessDay:
    @pytest.mark.parametrize(("starts_at", "first", "second", "new_day"), DAY_RESETS)
    def test_a_new_day_begins_at_the_configured_local_time(
        self,
        starts_at: str,
        first: tuple[int, ...],
        second: tuple[int, ...],
        new_day: bool,
    ) -> None:
        day = paris_day(starts_at)
        assert day.roll(local_time(PARIS, *first)) is False  # the first event finds the day
        assert day.roll(local_time(PARIS, *second)) is new_day

    def test_the_day_starts_at_the_configured_time_in_the_configured_zone(self) -> None:
        day = paris_day("06:00")
        day.roll(local_time(PARIS, 2024, 7, 1, 12, 0))
        assert day.date == dt.date(2024, 7, 1)
        assert day.started_at == local_time(PARIS, 2024, 7, 1, 6, 0)
        assert day.ends_at == local_time(PARIS, 2024, 7, 2, 6, 0)

    def test_figures_start_from_zero_when_an_event_of_the_next_day_arrives(self) -> None:
        desk = make_desk(replace(desk_config(QueueConfig("general")), time_zone=PARIS))
        evening = local_time(PARIS, 2024, 3, 4, 22, 0)
        ready_agent(desk, "a1", evening)
        start_session(desk, "a1", "t1", evening)
        assert desk.today["general"].answered == 1
        assert desk.floor(evening + 10)["queues"][0]["answered"] == 1
        midnight = local_time(PARIS, 2024, 3, 5, 0, 0)
        # Before any event of the new day, the picture already shows nothing counted...
        assert desk.floor(midnight + 1)["queues"][0]["answered"] == 0
        assert desk.today["general"].answered == 1  # ...and the desk has not changed
        desk.handle(AnnounceDue(midnight + 1))  # the shell's clock tick: the day turns
        assert desk.today["general"] == Figures()
        assert desk.floor(midnight + 2)["day"]["date"] == "2024-03-05"

    def test_a_new_time_zone_recuts_the_day_and_keeps_its_figures(self) -> None:
        desk = make_desk(desk_config(QueueConfig("general")))
        at = local_time("UTC", 2024, 3, 4, 23, 30)
        ready_agent(desk, "a1", at)
        start_session(desk, "a1", "t1", at)
        config = replace(desk.config, time_zone="Asia/Tokyo")
        desk.handle(ConfigChanged(config, at + 5))
        assert desk.today["general"].answered == 1
        assert desk.floor(at + 6)["day"]["date"] == "2024-03-05"  # 08:30 in Tokyo


# --------------------------------------------------------------------------- today's figures


def two_queue_desk() -> Desk:
    queues = (QueueConfig("general"), QueueConfig("billing"))
    return make_desk(desk_config(*queues, topics=(TopicRoute("invoice", "billing"),)))


class TestTodaysFigures:
    def test_answers_abandons_and_handle_times_are_counted_in_their_queue(self) -> None:
        desk = make_desk(desk_config(QueueConfig("general", short_abandon=5)))
        tap(desk, "t1", 100.0)
        tap(desk, "t2", 100.0)
        tap(desk, "t3", 100.0)
        desk.handle(CustomerCancelled("t1", 103.0))  # a short abandon
        desk.handle(CustomerLeft("t2", 110.0))
        desk.handle(CustomerGraceExpired("t2", 170.0))  # gave up after 70 s
        ready_agent(desk, "a1", 120.0)
        desk.handle(OfferAccepted("a1", "t3", 125.0))  # answered after 25 s
        session = desk.tickets["t3"].session_id
        assert session is not None
        desk.handle(HungUp(session, "agent", "a1", 185.0))  # 60 s of talk
        desk.handle(WrapUpDone("a1", session, "resolved", "", 200.0))  # 15 s of wrap-up
        figures = desk.today["general"]
        assert (figures.offered, figures.answered, figures.answered_in_level) == (3, 1, 0)
        assert (figures.abandoned, figures.short_abandoned) == (2, 1)
        assert figures.asa == 25.0
        assert figures.aht == 75.0
        row = desk.floor(200.0)["queues"][0]
        assert row["service_level"] == 0.0
        assert (row["asa"], row["aht"], row["abandoned"], row["short_abandoned"]) == (
            25.0,
            75.0,
            2,
            1,
        )

    def test_a_ghost_tap_counts_for_nothing(self) -> None:
        desk = make_desk()
        ghost_tap(desk, "t1", 1.0)
        desk.handle(JoinWindowExpired("t1", 16.0))
        assert desk.today["general"] == Figures()

    def test_waiting_and_longest_wait_count_joined_customers_in_their_queue(self) -> None:
        desk = two_queue_desk()
        tap(desk, "t1", 10.0)
        tap(desk, "t2", 20.0)
        tap(desk, "t3", 30.0, topic="invoice")
        ghost_tap(desk, "t4", 40.0)
        picture = desk.floor(50.0)
        general, billing = picture["queues"]
        assert (general["waiting"], general["joining"], general["longest_since"]) == (2, 1, 10.0)
        assert (billing["waiting"], billing["longest_since"]) == (1, 30.0)
        assert [(w["ticket_id"], w["position"]) for w in picture["waiting"]] == [
            ("t1", 1),
            ("t2", 2),
            ("t3", 1),
        ]

    def test_agents_and_calls_appear_with_their_state_and_since_when(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        ready_agent(desk, "a2", 2.0)
        desk.handle(AgentSentAway("a2", *SUE, 3.0, reason="lunch"))
        session = start_session(desk, "a1", "t1", 5.0, topic="")
        picture = desk.floor(10.0)
        agents = {a["id"]: a for a in picture["agents"]}
        assert agents["a1"]["state"] == "busy" and agents["a1"]["since"] == 6.0
        assert agents["a1"]["call"]["session_id"] == session
        assert (agents["a2"]["state"], agents["a2"]["reason"], agents["a2"]["since"]) == (
            "away",
            "lunch",
            3.0,
        )
        (call,) = picture["calls"]
        assert (call["agent_name"], call["queue_id"], call["since"]) == ("A1", "general", 6.0)
        assert call["recording"] is None and call["quality"] is None
        counts = picture["queues"][0]["agents"]
        assert (counts["busy"], counts["away"], counts["ready"]) == (1, 1, 0)
        assert picture["queues"][0]["occupancy"] == 100.0

    def test_an_alert_is_raised_below_the_target_and_past_the_wait_threshold(self) -> None:
        desk = make_desk(desk_config(QueueConfig("general", wait_alert=60, short_abandon=0)))
        tap(desk, "t1", 0.0)
        tap(desk, "t2", 0.0)
        desk.handle(CustomerCancelled("t1", 30.0))  # SL 0 % of 1
        kinds = [a["kind"] for a in desk.floor(59.0)["alerts"]]
        assert kinds == ["service_level"]
        alerts = desk.floor(61.0)["alerts"]
        assert [a["kind"] for a in alerts] == ["service_level", "longest_wait"]
        # The figures travel with the words, for a page in another language.
        assert (alerts[0]["level"], alerts[0]["target"]) == (0, 80.0)
        assert alerts[1]["seconds"] == 60

    def test_no_alert_while_the_service_level_meets_its_target(self) -> None:
        desk = make_desk(desk_config(QueueConfig("general", service_level_target=50)))
        ready_agent(desk, "a1", 0.0)
        start_session(desk, "a1", "t1", 0.0)
        assert desk.floor(5.0)["alerts"] == []

    def test_the_picture_does_not_change_while_nothing_happens(self) -> None:
        """The wallboard pushes only what changed: time passing alone changes only ``at``."""
        desk = make_desk()
        ready_agent(desk, "a1", 0.0)
        start_session(desk, "a1", "t1", 0.0)
        tap(desk, "t2", 1.0)
        first, later = desk.floor(5.0), desk.floor(6.0)
        assert first.pop("at") != later.pop("at")
        assert first == later


# --------------------------------------------------------------------------- supervisor actions


def audit_of(effects: list[object]) -> tuple[object, ...]:
    row = one(effects, SaveAudit).row  # type: ignore[arg-type]
    return (row.actor_id, row.actor_name, row.action, row.subject_kind, row.subject_id)


class TestSupervisorActions:
    def test_sending_an_agent_away_tells_them_who_and_is_audited(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        effects = desk.handle(AgentSentAway("a1", *SUE, 2.0, reason="meeting"))
        assert desk.agents["a1"].away_reason == "meeting"
        (state,) = notes(effects, "agent_state", "a1")
        assert state.data == {"state": "away", "reason": "meeting", "by": "sue"}
        assert audit_of(effects) == ("u9", "sue", "set_away", "agent", "a1")
        assert one(effects, SaveAudit).row.detail == {"reason": "meeting", "was": "ready"}

    def test_sending_away_an_agent_whose_phone_rings_puts_the_customer_back(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        tap(desk, "t1", 2.0)
        desk.handle(AgentSentAway("a1", *SUE, 3.0))
        assert desk.ticket_state("t1") == "queued" and desk.position("t1") == 1

    def test_an_unknown_away_reason_is_refused_before_anything_changes(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        with pytest.raises(DeskError):
            desk.handle(AgentSentAway("a1", *SUE, 2.0, reason="gone fishing"))
        assert desk.agent_state("a1") == "ready"

    def test_signing_out_an_agent_in_a_call_ends_it_and_tells_them(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 1.0)
        start_session(desk, "a1", "t1", 2.0)
        effects = desk.handle(AgentForcedOut("a1", *SUE, 10.0))
        assert desk.agent_state("a1") == "offline"
        assert desk.ticket_state("t1") == "ended"
        (ended,) = notes(effects, "session_ended", "t1")
        assert ended.data["reason"] == "agent_signed_out"
        assert [n.data for n in notes(effects, "signed_out", "a1")] == [{"by": "sue"}]
        assert audit_of(effects) == ("u9", "sue", "sign_out", "agent", "a1")
        assert desk.today["general"].handled == 1

    def test_moving_a_customer_puts_them_in_the_other_queues_line_and_tells_them(self) -> None:
        desk = two_queue_desk()
        tap(desk, "t1", 1.0)
        effects = desk.handle(TicketMoved("t1", "billing", *SUE, 5.0))
        ticket = desk.tickets["t1"]
        assert (ticket.queue_id, ticket.line_since, desk.position("t1")) == ("billing", 5.0, 1)
        (moved,) = notes(effects, "moved", "t1")
        assert moved.data == {"queue_id": "billing", "reason": "supervisor"}
        assert audit_of(effects) == ("u9", "sue", "move", "ticket", "t1")
        assert one(effects, SaveAudit).row.detail == {"from": "general", "to": "billing"}

    def test_moving_a_ringing_customer_withdraws_the_offer_and_offers_them_anew(self) -> None:
        config = desk_config(
            QueueConfig("general"),
            QueueConfig("billing"),
            agents=(agent("a1", "general"), agent("a2", "billing")),
        )
        desk = make_desk(config)
        ready_agent(desk, "a1", 1.0)
        tap(desk, "t1", 2.0)
        ready_agent(desk, "a2", 3.0)
        effects = desk.handle(TicketMoved("t1", "billing", *SUE, 4.0))
        assert notes(effects, "offer_withdrawn", "a1")
        assert offers(effects) == [("a2", "t1")]
        assert desk.agent_state("a1") == "ready"

    @pytest.mark.parametrize(
        ("queue_id", "error"), [("nowhere", UnknownSubject), ("general", DeskError)]
    )
    def test_a_move_to_no_queue_or_the_same_queue_is_refused(
        self, queue_id: str, error: type[DeskError]
    ) -> None:
        desk = two_queue_desk()
        tap(desk, "t1", 1.0)
        with pytest.raises(error):
            desk.handle(TicketMoved("t1", queue_id, *SUE, 2.0))
        assert desk.tickets["t1"].queue_id == "general"

    def test_a_new_priority_reorders_the_line(self) -> None:
        desk = make_desk()
        tap(desk, "t1", 1.0)
        tap(desk, "t2", 2.0)
        effects = desk.handle(TicketReprioritized("t2", 10, *SUE, 3.0))
        assert desk.queue == ["t2", "t1"]
        assert audit_of(effects) == ("u9", "sue", "set_priority", "ticket", "t2")
        assert one(effects, SaveAudit).row.detail == {"from": 0, "to": 10}

    def test_a_priority_out_of_range_is_refused(self) -> None:
        desk = make_desk()
        tap(desk, "t1", 1.0)
        with pytest.raises(DeskError):
            desk.handle(TicketReprioritized("t1", 101, *SUE, 2.0))
        assert desk.tickets["t1"].priority == 0


class TestSupervisingACall:
    """``CallSupervised``: nothing in the desk changes; a live call gets an audit row."""

    @pytest.mark.parametrize("action", ["monitor", "whisper", "barge", "leave"])
    def test_each_action_on_a_live_call_writes_its_audit_row(self, action: str) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 0.5)
        session_id = start_session(desk, "a1", "t1", 1.0)
        before = desk.dump()
        effects = desk.handle(CallSupervised(session_id, action, *SUE, 5.0))
        assert audit_of(effects) == ("u9", "sue", action, "session", session_id)
        assert one(effects, SaveAudit).row.detail == {
            "call_id": desk.sessions[session_id].call_id,
            "agent_id": "a1",
            "ticket_id": "t1",
        }
        assert [type(e) for e in effects] == [SaveAudit]
        assert desk.dump() == before

    def test_joining_needs_a_live_call_but_leaving_one_that_just_ended_is_written(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 0.5)
        session_id = start_session(desk, "a1", "t1", 1.0)
        with pytest.raises(UnknownSubject):
            desk.handle(CallSupervised("nosuch", "monitor", *SUE, 2.0))
        desk.handle(HungUp(session_id, "agent", "a1", 3.0))
        with pytest.raises(UnknownSubject):
            desk.handle(CallSupervised(session_id, "monitor", *SUE, 4.0))
        effects = desk.handle(CallSupervised(session_id, "leave", *SUE, 4.0))
        assert audit_of(effects)[2] == "leave"

    def test_an_unknown_action_is_refused(self) -> None:
        desk = make_desk()
        ready_agent(desk, "a1", 0.5)
        session_id = start_session(desk, "a1", "t1", 1.0)
        with pytest.raises(DeskError):
            desk.handle(CallSupervised(session_id, "shout", *SUE, 2.0))

"""History reports against a generated history whose figures are worked out by hand."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.unit.test_desk_floor import SERVICE_LEVELS
from videoassist import reports
from videoassist.desk.config import DeskConfig, QueueConfig
from videoassist.reports import History

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC).timestamp()  # a Monday, 00:00 UTC
H9, H10 = T0 + 9 * 3600, T0 + 10 * 3600
END = T0 + 86400
CONFIG = DeskConfig(queues={"general": QueueConfig("general", "General")})


def ticket(tid: str, at: float, status: str = "ended", **extra: Any) -> dict[str, Any]:
    row = {
        "id": tid,
        "topic": "setup",
        "status": status,
        "queued_at": at,
        "ended_at": extra.pop("ended_at", None),
        "end_reason": extra.pop("end_reason", None),
        "queue_id": "general",
        "callback": False,
        "customer_ref": None,
        "device_id": None,
    }
    row.update(extra)
    return row


def leg(sid: str, tid: str, agent: str, answered: float, **extra: Any) -> dict[str, Any]:
    row = {
        "id": sid,
        "ticket_id": tid,
        "agent_id": agent,
        "answered_at": answered,
        "ended_at": None,
        "end_reason": None,
        "disposition": None,
        "wrapped_up_at": None,
        "call_id": sid,
    }
    row.update(extra)
    return row


def history() -> History:
    """9:00-10:00: two answers (10 s and 40 s), a short abandon, a cancel after a minute, a
    ghost tap. 10:00-11:00: a repeat customer answered in 5 s and transferred, and a customer
    answered in 20 s still talking, whose earlier contact was 8 days ago."""
    return History(
        tickets=[
            ticket("old", T0 - 8 * 86400, customer_ref="ref-old"),
            ticket("t1", H9, device_id="d1"),
            ticket("t2", H9 + 600, customer_ref="ref-7", callback=True),
            ticket("t3", H9 + 1200, "abandoned", ended_at=H9 + 1203, end_reason="customer_left"),
            ticket("t4", H9 + 1800, "cancelled", ended_at=H9 + 1860, end_reason="cancelled"),
            ticket("t5", H9 + 2400, "cancelled", ended_at=H9 + 2415, end_reason="not_joined"),
            ticket("t6", H10 + 300, device_id="d1"),
            ticket("t7", H10 + 1800, "live", customer_ref="ref-old"),
        ],
        sessions=[
            leg("s1", "t1", "alice", H9 + 10, ended_at=H9 + 310, wrapped_up_at=H9 + 340),
            leg(
                "s2",
                "t2",
                "bob",
                H9 + 640,
                ended_at=H9 + 840,
                interruptions=2,
                interrupted_seconds=7.25,
            ),
            leg(
                "s6a",
                "t6",
                "alice",
                H10 + 305,
                ended_at=H10 + 365,
                end_reason="transferred",
            ),
            leg(
                "s6b",
                "t6",
                "bob",
                H10 + 380,
                ended_at=H10 + 500,
                wrapped_up_at=H10 + 520,
                call_id="s6a",
            ),
            leg("s7", "t7", "carol", H10 + 1820),
        ],
        csat=[
            {"ticket_id": "t1", "session_id": "s1", "score": 5, "comment": "=HYPERLINK(1)"},
            {"ticket_id": "t6", "session_id": "s6b", "score": 3, "comment": None},
        ],
        recordings=[
            {
                "call_id": "s1",
                "queue_id": "general",
                "started_at": H9 + 11,
                "conversation": {"talk_ratio": 0.6, "overlap": 2.0, "longest_silence": 8.0},
            },
            {  # the transferred call: analysed, belongs to alice who answered it
                "call_id": "s6a",
                "queue_id": "general",
                "started_at": H10 + 306,
                "conversation": {"talk_ratio": 0.3, "overlap": 1.0, "longest_silence": 4.0},
            },
            {  # bob's call recorded, not analysed (no audio, or before analytics existed)
                "call_id": "s2",
                "queue_id": "general",
                "started_at": H9 + 641,
                "conversation": None,
            },
        ],
        agent_events=[
            {"agent_id": "alice", "state": "ready", "at": H9},
            {"agent_id": "alice", "state": "away", "at": H9 + 1800},
            {"agent_id": "alice", "state": "ready", "at": H10},
            {"agent_id": "alice", "state": "offline", "at": H10 + 1800},
            {"agent_id": "bob", "state": "busy", "at": H9 - 3600},
        ],
        # t4 opened a tutorial while waiting, then left the line: self-served.
        deflections=[
            {"at": H9 + 1860, "ticket_id": "t4", "queue_id": "general", "tutorials": ["tu1"]},
            {"at": END + 60, "ticket_id": "late", "queue_id": "general", "tutorials": ["tu1"]},
        ],
    )


def by_key(rows: list[dict[str, Any]], key: str) -> dict[tuple[float, str], dict[str, Any]]:
    return {(row["start"], row[key]): row for row in rows}


class TestQueueReport:
    def test_hourly_figures_per_queue_match_the_worked_answers(self) -> None:
        rows = by_key(reports.interval_report(history(), CONFIG, T0, END, "hour", "queue"), "queue")
        assert set(rows) == {(H9, "general"), (H10, "general")}
        nine = rows[(H9, "general")]
        assert nine["interval_start"] == "2026-03-02T09:00+00:00"
        assert {k: nine[k] for k in reports.COLUMNS} == {
            "offered": 4,  # the ghost tap is no customer
            "answered": 2,
            "abandoned": 1,
            "short_abandoned": 1,
            "callbacks": 1,
            "transfers": 0,
            "asa": 25.0,
            "aht": 265.0,  # (300 talk + 30 wrap-up + 200) / 2
            "service_level": 33.3,  # 1 in 15 s / (2 answered + 1 abandon that counts)
            "repeat_contacts": 0,
            "csat_average": 5.0,
            "csat_responses": 1,
            "csat_rate": 50.0,
            "recordings": 2,
            "self_served": 1,
            "conversations": 1,
            "agent_talk_share": 60.0,
            "overlap_average": 2.0,
            "longest_silence_average": 8.0,
        }
        ten = rows[(H10, "general")]
        assert {k: ten[k] for k in reports.COLUMNS} == {
            "offered": 2,
            "answered": 2,
            "abandoned": 0,
            "short_abandoned": 0,
            "callbacks": 0,
            "transfers": 1,
            "asa": 12.5,
            "aht": 200.0,  # the transferred call, both legs and the wrap-up; t7 is still live
            "service_level": 50.0,  # t7 waited 20 s, past the 15 s threshold
            "repeat_contacts": 1,  # same device as t1; t7's last contact is 8 days old
            "csat_average": 3.0,
            "csat_responses": 1,
            "csat_rate": 50.0,
            "recordings": 1,
            "self_served": 0,  # the deflection after the range's end is not counted
            "conversations": 1,
            "agent_talk_share": 30.0,
            "overlap_average": 1.0,
            "longest_silence_average": 4.0,
        }

    def test_a_day_adds_the_hours_up(self) -> None:
        (day,) = reports.interval_report(history(), CONFIG, T0, END, "day", "queue")
        assert day["start"] == T0
        assert (day["offered"], day["answered"], day["abandoned"], day["transfers"]) == (6, 4, 1, 1)
        assert day["service_level"] == 40.0  # 2 in level / (4 + 1)
        assert day["aht"] == pytest.approx(243.3)
        assert (day["csat_average"], day["csat_rate"]) == (4.0, 50.0)

    def test_quarters_start_on_the_quarter_hour(self) -> None:
        rows = reports.interval_report(history(), CONFIG, T0, END, "15min", "queue")
        assert [r["start"] - H9 for r in rows] == [0, 900, 1800, 3600 + 0, 3600 + 1800]
        assert [r["offered"] for r in rows] == [2, 1, 1, 1, 1]

    def test_abandons_left_out_when_the_queue_says_so(self) -> None:
        config = DeskConfig(queues={"general": QueueConfig("general", abandons_count=False)})
        rows = reports.interval_report(history(), config, T0, END, "hour", "queue")
        assert rows[0]["service_level"] == 50.0

    def test_the_range_cuts_what_is_counted(self) -> None:
        rows = reports.interval_report(history(), CONFIG, H10, END, "hour", "queue")
        assert [r["start"] for r in rows] == [H10]

    def test_a_day_follows_the_configured_zone_and_start(self) -> None:
        config = DeskConfig(time_zone="Europe/Paris", day_starts_at="06:00")
        rows = reports.interval_report(history(), config, T0 - 86400, END, "day", "queue")
        # 09:00 UTC is 10:00 in Paris: all of it falls in the business day that began at 06:00.
        assert [r["interval_start"] for r in rows] == ["2026-03-02T06:00+01:00"]

    @pytest.mark.parametrize(
        ("answered", "abandoned", "threshold", "short", "count", "expected"), SERVICE_LEVELS
    )
    def test_the_service_level_is_the_wallboards(
        self,
        answered: list[float],
        abandoned: list[float],
        threshold: float,
        short: float,
        count: bool,
        expected: float | None,
    ) -> None:
        """The wallboard's table of cases, through a report built from rows."""
        queue = QueueConfig("q", service_level=threshold, short_abandon=short, abandons_count=count)
        config = DeskConfig(queues={"q": queue})
        tickets, sessions = [], []
        for i, wait in enumerate(answered):
            tickets.append(ticket(f"a{i}", H9, queue_id="q"))
            sessions.append(leg(f"s{i}", f"a{i}", "alice", H9 + wait))
        for i, wait in enumerate(abandoned):
            tickets.append(ticket(f"b{i}", H9, "abandoned", ended_at=H9 + wait, queue_id="q"))
        rows = reports.interval_report(
            History(tickets=tickets, sessions=sessions), config, T0, END, "day", "queue"
        )
        level = rows[0]["service_level"] if rows else None  # no row: nothing happened
        if expected is None:
            assert level is None
        else:
            assert level == pytest.approx(expected, abs=0.05)


class TestAgentReport:
    def test_each_leg_counts_for_the_agent_who_took_it(self) -> None:
        rows = by_key(reports.interval_report(history(), CONFIG, T0, END, "hour", "agent"), "agent")
        assert set(rows) == {
            (H9, "alice"),
            (H9, "bob"),
            (H10, "alice"),
            (H10, "bob"),
            (H10, "carol"),
        }
        assert rows[(H9, "alice")]["aht"] == 330.0 and rows[(H9, "alice")]["recordings"] == 1
        assert rows[(H10, "alice")]["transfers"] == 1 and rows[(H10, "alice")]["aht"] == 60.0
        assert rows[(H10, "bob")]["aht"] == 140.0 and rows[(H10, "bob")]["csat_average"] == 3.0
        assert rows[(H10, "carol")]["answered"] == 1 and rows[(H10, "carol")]["aht"] is None

    def test_conversation_figures_average_over_the_agents_analysed_calls(self) -> None:
        rows = by_key(reports.interval_report(history(), CONFIG, T0, END, "day", "agent"), "agent")
        alice = rows[(T0, "alice")]
        assert alice["conversations"] == 2
        assert alice["agent_talk_share"] == 45.0  # (60 + 30) / 2
        assert alice["overlap_average"] == 1.5 and alice["longest_silence_average"] == 6.0
        bob = rows[(T0, "bob")]  # recorded, not analysed: no figures rather than zeros
        assert bob["recordings"] == 1 and bob["conversations"] == 0
        assert bob["agent_talk_share"] is None and bob["longest_silence_average"] is None


class TestSessionRows:
    def test_one_row_per_leg_with_wait_handle_time_csat_and_recording(self) -> None:
        rows = reports.session_rows(history(), CONFIG, T0, END, "/r/{}")
        assert [r["session_id"] for r in rows] == ["s1", "s2", "s6a", "s6b", "s7"]
        first = rows[0]
        assert (first["wait"], first["handle_time"], first["csat_score"]) == (10.0, 330.0, 5)
        assert first["recording"] == "/r/s1" and first["answered_at"] == "2026-03-02T09:00:10+00:00"
        assert rows[4]["handle_time"] is None and rows[4]["ended_at"] is None
        # The call waited twice for a party who dropped; a leg without that shows zeros.
        assert (rows[1]["interruptions"], rows[1]["interrupted_seconds"]) == (2, 7.2)
        assert (first["interruptions"], first["interrupted_seconds"]) == (0, 0.0)
        assert (first["agent_talk_share"], first["overlap"], first["longest_silence"]) == (
            60.0,
            2.0,
            8.0,
        )
        # Both legs of the transferred call carry its figures; a call not analysed has none.
        assert rows[2]["agent_talk_share"] == rows[3]["agent_talk_share"] == 30.0
        assert rows[1]["recording"] == "/r/s2" and rows[1]["agent_talk_share"] is None


class TestExports:
    def test_csv_parses_back_to_the_same_rows(self) -> None:
        rows = reports.session_rows(history(), CONFIG, T0, END, "/r/{}")
        parsed = list(
            csv.DictReader(io.StringIO(reports.to_csv(rows, reports.SESSION_COLUMNS).decode()))
        )
        assert len(parsed) == len(rows)
        assert parsed[0]["session_id"] == "s1" and parsed[0]["handle_time"] == "330.0"
        assert parsed[0]["csat_comment"] == "'=HYPERLINK(1)"  # never a formula
        assert parsed[4]["ended_at"] == ""

    def test_xlsx_opens_with_a_header_and_one_row_per_interval(self) -> None:
        rows = reports.interval_report(history(), CONFIG, T0, END, "hour", "queue")
        columns = ("interval_start", "queue", *reports.COLUMNS)
        book = load_workbook(io.BytesIO(reports.to_xlsx(rows, columns, "report")), read_only=True)
        values = list(book["report"].iter_rows(values_only=True))
        assert values[0] == columns
        assert len(values) == 3
        assert values[1][columns.index("offered")] == 4
        assert values[1][columns.index("service_level")] == 33.3


class TestStaffing:
    def test_erlang_c_matches_the_published_table(self) -> None:
        # 10 erlangs on 11 agents: 68.2 % of callers wait (the textbook example).
        assert reports.erlang_c(11, 10.0) == pytest.approx(0.6821, abs=1e-4)
        assert reports.erlang_c(10, 10.0) == 1.0 and reports.erlang_c(3, 0.0) == 0.0

    def test_agents_needed_is_the_fewest_meeting_the_target(self) -> None:
        # 100 calls in 30 minutes, 3 minutes each, 80 % within 20 s: 13 agents reach 79.6 %.
        assert reports.erlang_service_level(13, 10.0, 180, 20) < 0.80
        assert reports.agents_needed(100, 1800, 180, 20, 80) == 14
        assert reports.agents_needed(0, 1800, 180, 20, 80) == 0

    def test_staffing_puts_needed_beside_staffed_per_interval(self) -> None:
        rows = reports.staffing_report(history(), CONFIG, "general", H9, H10 + 3600, "hour", None)
        assert [r["arrivals"] for r in rows] == [4, 2]
        # alice works half of each hour; bob has been busy since 08:00 and never stopped.
        assert [r["agents_staffed"] for r in rows] == [1.5, 1.5]
        assert [r["agents_needed"] for r in rows] == [
            reports.agents_needed(4, 3600, 265.0, 15, 80),
            reports.agents_needed(2, 3600, 200.0, 15, 80),
        ]
        assert rows[0]["agents_needed"] >= 1

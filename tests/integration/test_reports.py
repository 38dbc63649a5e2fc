"""History reports and CSAT through the running server: a real call, its rating, the exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.support.calls import live_call
from tests.support.harness import Harness, wait_until
from tests.support.peers import ClientPeer


def _today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


async def _get(harness: Harness, path: str, cookie: str | None) -> tuple[int, str, bytes]:
    assert harness.http is not None
    headers = {"Cookie": f"va_session={cookie}"} if cookie else {}
    async with harness.http.get(path, headers=headers) as r:
        return r.status, r.content_type, await r.read()


async def _rate(harness: Harness, ticket: dict[str, Any], body: Any) -> tuple[int, Any]:
    assert harness.http is not None
    async with harness.http.post(
        "/api/csat",
        json=body,
        headers={"Authorization": f"Bearer {ticket['token']}"},
    ) as r:
        return r.status, await r.json()


async def _ended_call(harness: Harness) -> tuple[dict[str, Any], str]:
    customer, agent, session_id, ticket = await live_call(harness)
    assert (await agent.call("hangup", {"session_id": session_id})) == {"ok": True}
    await customer.inbox.next("session_ended")
    await harness.service.settled()
    return ticket, session_id


class TestCsat:
    async def test_the_customer_rates_their_ended_call_once(self, harness: Harness) -> None:
        ticket, session_id = await _ended_call(harness)
        status, body = await _rate(harness, ticket, {"score": 4, "comment": "  clear  "})
        assert (status, body) == (201, {"ok": True})
        row = await harness.records.csat_of(ticket["ticket_id"])
        assert row is not None
        assert (row["session_id"], row["score"], row["comment"]) == (session_id, 4, "clear")
        status, body = await _rate(harness, ticket, {"score": 1})
        assert (status, body["error"]["code"]) == (409, "conflict")
        row = await harness.records.csat_of(ticket["ticket_id"])
        assert row is not None and row["score"] == 4

    async def test_a_call_still_live_cannot_be_rated(self, harness: Harness) -> None:
        _, _, _, ticket = await live_call(harness)
        status, body = await _rate(harness, ticket, {"score": 5})
        assert (status, body["error"]["code"]) == (409, "conflict")

    @pytest.mark.parametrize(
        "body",
        [{"score": 0}, {"score": 6}, {"score": "5"}, {"score": 3, "comment": "x" * 501}, {}],
    )
    async def test_a_bad_answer_is_refused(self, harness: Harness, body: Any) -> None:
        ticket, _ = await _ended_call(harness)
        status, _ = await _rate(harness, ticket, body)
        assert status == 422
        assert await harness.records.csat_of(ticket["ticket_id"]) is None

    async def test_a_token_rates_its_own_ticket_only(self, harness: Harness) -> None:
        ticket, _ = await _ended_call(harness)
        other = await harness.tap()  # still waiting: their own call has not ended
        status, body = await _rate(harness, other, {"score": 1})
        assert (status, body["error"]["code"]) == (409, "conflict")
        status, body = await _rate(harness, {**ticket, "token": "nonsense"}, {"score": 1})
        assert (status, body["error"]["code"]) == (401, "unauthenticated")
        assert await harness.records.csat_of(ticket["ticket_id"]) is None
        assert await harness.records.csat_of(other["ticket_id"]) is None


class TestReports:
    async def test_a_rated_call_appears_in_every_report_and_export(self, harness: Harness) -> None:
        ticket, session_id = await _ended_call(harness)
        await _rate(harness, ticket, {"score": 5, "comment": "=cmd"})
        sue = await harness.add_staff("sue", role="supervisor")
        day = _today()
        status, _, raw = await _get(
            harness, f"/api/reports/intervals?from={day}&to={day}&interval=day", sue
        )
        assert status == 200
        report = json.loads(raw)
        (row,) = report["rows"]
        assert (row["queue"], row["offered"], row["answered"], row["csat_average"]) == (
            "general",
            1,
            1,
            5.0,
        )
        assert report["columns"][:2] == ["interval_start", "queue"]

        status, kind, raw = await _get(
            harness, f"/api/reports/sessions?from={day}&to={day}&format=csv", sue
        )
        assert (status, kind) == (200, "text/csv")
        (line,) = list(csv.DictReader(io.StringIO(raw.decode())))
        assert line["session_id"] == session_id and line["csat_score"] == "5"
        assert line["csat_comment"] == "'=cmd"

        status, _, raw = await _get(
            harness, f"/api/reports/intervals?from={day}&to={day}&by=agent&format=xlsx", sue
        )
        assert status == 200
        sheet = load_workbook(io.BytesIO(raw), read_only=True)["report"]
        header, *rows = list(sheet.iter_rows(values_only=True))
        assert header[:2] == ("interval_start", "agent") and len(rows) == 1

        status, _, raw = await _get(harness, f"/api/reports/staffing?from={day}&to={day}", sue)
        staffing = json.loads(raw)["rows"]
        assert staffing[0]["arrivals"] == 1 and staffing[0]["agents_needed"] == 1
        assert 0 < staffing[0]["agents_staffed"] <= 1  # alice, ready for part of the day

    @pytest.mark.parametrize(
        "query",
        [
            "from=2026-01-02&to=2026-01-01",
            "from=2026-01-01&to=2026-12-31",
            "from=yesterday&to=2026-01-01",
            "from=2026-01-01&to=2026-01-01&interval=week",
            "from=2026-01-01&to=2026-01-01&format=pdf",
            "to=2026-01-01",
        ],
    )
    async def test_a_bad_query_is_refused(self, harness: Harness, query: str) -> None:
        sue = await harness.add_staff("sue", role="supervisor")
        status, _, _ = await _get(harness, f"/api/reports/intervals?{query}", sue)
        assert status == 422

    @pytest.mark.parametrize(("role", "status"), [("agent", 403), ("trainer", 403), ("admin", 200)])
    async def test_only_supervisors_and_admins_read_reports(
        self, harness: Harness, role: str, status: int
    ) -> None:
        cookie = await harness.add_staff("someone", role=role)
        day = _today()
        for path in ("intervals", "sessions", "staffing"):
            got, _, _ = await _get(harness, f"/api/reports/{path}?from={day}&to={day}", cookie)
            assert got == status, path
        got, _, _ = await _get(harness, f"/api/reports/sessions?from={day}&to={day}", None)
        assert got == 401


class TestCanonicalLine:
    async def test_a_finished_call_logs_one_line_with_its_figures(
        self, harness: Harness, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level("INFO", logger="videoassist.service")
        ticket, session_id = await _ended_call(harness)
        lines = [
            r for r in caplog.records if getattr(r, "fields", {}).get("event") == "call_finished"
        ]
        assert len(lines) == 1
        fields = lines[0].fields  # type: ignore[attr-defined]
        assert (fields["session_id"], fields["ticket_id"], fields["queue"]) == (
            session_id,
            ticket["ticket_id"],
            "general",
        )
        assert fields["end_reason"] == "agent_hung_up" and fields["wait"] >= 0
        assert fields["duration"] >= 0 and fields["agent"]
        # No media was sent on this call: no quality samples to summarise (a call with media:
        # the test below).
        assert "quality" in fields and fields["quality"] is None

    async def test_a_call_with_media_logs_each_legs_quality(
        self, harness: Harness, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Real aiortc peers through the server, a few seconds of video and sound, hang-up:
        the line summarises what the wallboard sampled of each leg."""
        caplog.set_level("INFO", logger="videoassist.service")
        customer, agent, session_id, _ = await live_call(harness)
        camera, console = ClientPeer("red"), ClientPeer("blue")
        try:
            await camera.connect(customer.client, "/customer", session_id)
            await console.connect(agent.client, "/agent", session_id)
            await console.wait_for_video(5)

            def sampled() -> bool:
                summary = harness.hub.quality_summary(session_id)
                return summary is not None and all(
                    leg["samples"] >= 1 and leg["kbps_mean"] for leg in summary.values()
                )

            await wait_until(sampled, 20, what="a quality sample of each leg")
            assert (await agent.call("hangup", {"session_id": session_id})) == {"ok": True}
            await customer.inbox.next("session_ended")
            await harness.service.settled()
        finally:
            await camera.close()
            await console.close()
        (line,) = [
            r for r in caplog.records if getattr(r, "fields", {}).get("event") == "call_finished"
        ]
        quality = line.fields["quality"]  # type: ignore[attr-defined]
        assert set(quality) == {"customer", "agent"}
        for leg in quality.values():
            # The mean spans the call's first seconds too (video starting): above zero, sane.
            assert leg["samples"] >= 1 and 0 < leg["kbps_mean"] < 5000, leg
            assert leg["rtt_ms_max"] is None or 0 <= leg["rtt_ms_max"] < 1000, leg
            assert leg["freezes"] == 0 and leg["transcoded"] is False, leg
        assert json.dumps(line.fields)  # type: ignore[attr-defined]  # a JSON log line

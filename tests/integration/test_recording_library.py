"""The trainer library's list of recordings (GET /api/recordings): filters, what each row says,
who may read it. Real SQLite, the real application."""

from __future__ import annotations

from typing import Any

from tests.support.harness import Harness
from tests.support.library import seed_recording
from videoassist.http.keys import RECORDINGS

DAY = 86400.0
T0 = 1_700_000_000.0


async def _library(harness: Harness, cookie: str | None, query: str = "") -> tuple[int, Any]:
    assert harness.http is not None
    headers = {"Cookie": f"va_session={cookie}"} if cookie else {}
    async with harness.http.get(f"/api/recordings{query}", headers=headers) as r:
        return r.status, await r.json()


async def _seed(harness: Harness) -> None:
    records = harness.records
    await seed_recording(records, "r1", topic="setup", queue_id="general", started_at=T0)
    await seed_recording(
        records,
        "r2",
        topic="billing",
        queue_id="billing",
        agents=(("u1", None), ("u2", "escalated")),  # a warm transfer: two legs
        started_at=T0 + DAY,
    )
    await seed_recording(
        records, "r3", topic="setup", agents=(("u2", "not_resolved"),), started_at=T0 + 2 * DAY
    )


class TestRecordingLibrary:
    async def test_lists_finished_recordings_newest_first_with_topic_agents_and_dispositions(
        self, harness: Harness
    ) -> None:
        trainer = await harness.add_staff("tina", "trainer")  # user 1: agent id u1
        await harness.add_staff("bob", "agent")  # u2
        await _seed(harness)
        # Still being recorded: not in the library yet.
        await harness.records.add_recording(
            {
                "id": "live",
                "call_id": "call-live",
                "ticket_id": "t-live",
                "queue_id": "general",
                "policy": "always",
                "consent": "not_asked",
                "participants": [],
                "files": [],
                "started_at": T0 + 3 * DAY,
            }
        )
        status, body = await _library(harness, trainer)
        assert status == 200
        rows = body["recordings"]
        assert [r["id"] for r in rows] == ["r3", "r2", "r1"]
        r2 = rows[1]
        assert r2["topic"] == "billing" and r2["queue_id"] == "billing"
        assert r2["sessions"] == [
            {"agent_id": "u1", "agent_name": "Tina", "disposition": None},
            {"agent_id": "u2", "agent_name": "Bob", "disposition": "escalated"},
        ]

    async def test_filters_by_queue_topic_agent_disposition_and_dates(
        self, harness: Harness
    ) -> None:
        trainer = await harness.add_staff("tina", "trainer")
        await _seed(harness)
        cases = {
            "?queue=billing": ["r2"],
            "?topic=setup": ["r3", "r1"],
            "?agent=u2": ["r3", "r2"],  # any leg of the call
            "?agent=u1&disposition=escalated": ["r2"],  # u1's leg has none; the call has one
            "?disposition=resolved": ["r1"],
            f"?since={T0 + DAY}": ["r3", "r2"],
            f"?until={T0 + DAY}": ["r1"],
            f"?since={T0 + DAY}&until={T0 + 2 * DAY}": ["r2"],
            "?topic=setup&agent=u1": ["r1"],
            "?limit=1": ["r3"],
            "?topic=nothing": [],
        }
        for query, expected in cases.items():
            status, body = await _library(harness, trainer, query)
            assert status == 200, (query, body)
            assert [r["id"] for r in body["recordings"]] == expected, query

    async def test_refuses_bad_filters_naming_the_field(self, harness: Harness) -> None:
        trainer = await harness.add_staff("tina", "trainer")
        for query, field in (
            ("?disposition=happy", "disposition"),
            ("?limit=1000", "limit"),
            ("?queue=a%20b", "queue"),
            ("?since=yesterday", "since"),
            ("?colour=red", "colour"),
        ):
            status, body = await _library(harness, trainer, query)
            assert status == 422, query
            assert body["error"]["field"] == field

    async def test_rows_carry_links_signed_for_the_caller_that_play(self, harness: Harness) -> None:
        trainer = await harness.add_staff("tina", "trainer")
        supervisor = await harness.add_staff("sue", "supervisor")
        await seed_recording(harness.records, "r1", root=harness.app[RECORDINGS].root)
        _, body = await _library(harness, trainer)
        (row,) = body["recordings"]
        names = {f["name"]: f["url"] for f in row["files"]}
        assert set(names) == {"customer.webm", "agent.webm", "events.jsonl"}
        assert harness.http is not None
        async with harness.http.get(
            names["events.jsonl"], headers={"Cookie": f"va_session={trainer}"}
        ) as r:
            assert r.status == 200
            assert "annotate" in await r.text()
        # Signed for the trainer: the supervisor lists their own.
        async with harness.http.get(
            names["customer.webm"], headers={"Cookie": f"va_session={supervisor}"}
        ) as r:
            assert r.status == 403

    async def test_only_trainers_supervisors_and_admins_read_the_library(
        self, harness: Harness
    ) -> None:
        await _seed(harness)
        for role, expected in (
            ("trainer", 200),
            ("supervisor", 200),
            ("admin", 200),
            ("agent", 403),
        ):
            cookie = await harness.add_staff(f"user-{role}", role)
            status, _ = await _library(harness, cookie)
            assert status == expected, role
        assert (await _library(harness, None))[0] == 401

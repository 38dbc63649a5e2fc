"""The store contract: every ``Records`` operation behaves the same on SQLite and PostgreSQL.

Each test runs twice: against a SQLite file and against a real PostgreSQL (Debian's package,
started on loopback by ``tests/support/postgres.py``), both brought to the newest schema by the
Alembic migrations, so the migrations are proven on both as well. What differs between the two
engines (upserts, JSON columns, booleans, float round trips, row counts of updates, ordering)
is what these tests pin down.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.postgres import PostgresServer
from videoassist.cluster.leadership import FencedRecords
from videoassist.desk.events import (
    AuditRow,
    SaveAgentState,
    SaveAudit,
    SaveSession,
    SaveTicket,
    SessionRow,
    TicketRow,
)
from videoassist.store.records import Fenced, Records, metadata
from videoassist.store.records import tickets as tickets_table


@pytest.fixture(params=["sqlite", "postgresql"])
async def records(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Records]:
    database: str | None = None
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'contract.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        database = server.fresh_database()
        url = server.url(database)
    store = Records.open(url)
    await store.migrate()
    try:
        yield store
    finally:
        await store.close()
        if database is not None:
            request.getfixturevalue("postgres").drop_database(database)


def ticket(tid: str = "t1", **changes: object) -> TicketRow:
    values: dict[str, object] = {
        "id": tid,
        "topic": "router",
        "description": "lights blink",
        "status": "queued",
        "queued_at": 1000.25,
        "ended_at": None,
        "end_reason": None,
    }
    values.update(changes)
    return TicketRow(**values)  # type: ignore[arg-type]


async def test_migrations_create_every_table_the_code_knows(records: Records) -> None:
    async with records.engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    assert set(metadata.tables) <= names
    assert "alembic_version" in names


async def test_migrating_twice_changes_nothing(records: Records) -> None:
    await records.save_ticket(ticket())
    await records.migrate()
    assert (await records.ticket("t1")) is not None


async def test_users_and_staff_sessions(records: Records) -> None:
    uid = await records.add_user("ana", "Ana Lima", "hash-1", "agent", now=10.0)
    other = await records.add_user("ben", "Ben", "hash-2", "admin", now=11.0)
    assert other != uid
    user = await records.user_by_name("ana")
    assert user is not None and user["id"] == uid and user["role"] == "agent"
    assert (await records.user_by_name("nobody")) is None
    await records.set_password(uid, "hash-3")
    assert (await records.user_by_id(uid))["password_hash"] == "hash-3"  # type: ignore[index]
    with pytest.raises(ValueError):
        await records.add_user("eve", "Eve", "h", "root", now=12.0)
    with pytest.raises(sa.exc.IntegrityError):
        await records.add_user("ana", "Another Ana", "h", "agent", now=13.0)

    await records.add_staff_session("tok", uid, expires_at=100.0)
    assert (await records.staff_session_user("tok", now=99.0))["username"] == "ana"  # type: ignore[index]
    assert (await records.staff_session_user("tok", now=100.0)) is None  # expired at the edge
    await records.delete_staff_session("tok")
    assert (await records.staff_session_user("tok", now=0.0)) is None
    assert [u["username"] for u in await records.list_users()] == ["ana", "ben"]


async def test_ticket_upsert_keeps_one_row_and_every_field(records: Records) -> None:
    await records.save_ticket(ticket(customer_ref="ref-9", device_id="dev", callback=True))
    await records.save_ticket(
        ticket(status="ended", ended_at=1010.5, end_reason="cancelled", callback=True)
    )
    row = await records.ticket("t1")
    assert row is not None
    assert row["status"] == "ended" and row["end_reason"] == "cancelled"
    assert row["ended_at"] == 1010.5 and row["queued_at"] == 1000.25
    assert row["callback"] is True  # a real boolean on both engines
    assert row["customer_ref"] is None  # an upsert writes the whole row
    assert row["queue_id"] == "general" and row["priority"] == 0


async def test_sessions_of_a_ticket_and_restart_closing(records: Records) -> None:
    await records.save_ticket(ticket("t1", status="live"))
    await records.save_ticket(ticket("t2", status="queued", queued_at=1001.0))
    await records.save_ticket(ticket("t3", status="joining", queued_at=999.0))
    await records.save_session(
        SessionRow(id="s1", ticket_id="t1", agent_id="a1", queued_at=1000.0, answered_at=1005.0)
    )
    await records.save_session(
        SessionRow(
            id="s1",
            ticket_id="t1",
            agent_id="a1",
            queued_at=1000.0,
            answered_at=1005.0,
            note="é ü ✓ — unicode survives",
            call_id="c1",
        )
    )
    rows = await records.sessions_of_ticket("t1")
    assert len(rows) == 1 and rows[0]["note"] == "é ü ✓ — unicode survives"
    assert [t["id"] for t in await records.open_tickets()] == ["t3", "t2"]  # oldest first

    assert await records.close_interrupted(at=2000.0) == 1
    session = await records.session("s1")
    assert session is not None and session["end_reason"] == "server_restart"
    assert (await records.ticket("t1"))["status"] == "ended"  # type: ignore[index]
    assert (await records.ticket("t2"))["status"] == "queued"  # type: ignore[index]


async def test_agent_states_history_and_latest(records: Records) -> None:
    await records.save_agent_state("a1", "ready", None, at=1.0)
    await records.save_agent_state("a1", "away", "break", at=2.0)
    await records.save_agent_state("a2", "ready", None, at=3.0)
    events = await records.agent_events_of("a1")
    assert [(e["state"], e["reason"]) for e in events] == [("ready", None), ("away", "break")]
    assert await records.last_agent_states() == {"a1": "away", "a2": "ready"}


async def test_one_events_records_written_together(records: Records) -> None:
    """``save_all`` (the service's one transaction per desk event) writes every kind of row,
    in order, exactly as the one-at-a-time writes would."""
    await records.save_all(
        [
            SaveTicket(ticket("t1", status="queued")),
            SaveTicket(ticket("t1", status="live")),  # later rows of one event win
            SaveSession(
                SessionRow(
                    id="s1", ticket_id="t1", agent_id="a1", queued_at=1000.0, answered_at=1005.0
                )
            ),
            SaveAgentState("a1", "busy", None, 1005.0),
            SaveAudit(
                AuditRow(
                    at=1005.0,
                    actor_id="a1",
                    actor_name="Ann",
                    action="accept",
                    subject_kind="ticket",
                    subject_id="t1",
                    detail={"queue": "general"},
                )
            ),
        ]
    )
    assert (await records.ticket("t1"))["status"] == "live"  # type: ignore[index]
    assert [s["id"] for s in await records.sessions_of_ticket("t1")] == ["s1"]
    assert await records.last_agent_states() == {"a1": "busy"}
    assert [(e["state"], e["reason"]) for e in await records.agent_events_of("a1")] == [
        ("busy", None)
    ]
    assert [(r["action"], r["detail"]) for r in await records.audit_rows()] == [
        ("accept", {"queue": "general"})
    ]
    await records.save_all([])  # nothing to write is not an error


async def test_a_deposed_leaders_desk_records_are_refused_and_it_steps_down(
    records: Records,
) -> None:
    """The service's records port on a leading node (cluster/leadership.py FencedRecords):
    each transaction carries the leader's epoch; once a newer leader has written, the old one's
    whole transaction is refused, nothing of it lands, and the node is told to step down."""
    deposed: list[str] = []
    newer = FencedRecords(records, lambda: 4, lambda: deposed.append("newer"))
    await newer.save_all([SaveTicket(ticket("t1", status="queued"))])
    old = FencedRecords(records, lambda: 3, lambda: deposed.append("old"))
    with pytest.raises(Fenced):
        await old.save_all(
            [SaveTicket(ticket("t1", status="cancelled")), SaveAgentState("a1", "ready", None, 1)]
        )
    assert deposed == ["old"]
    assert (await records.ticket("t1"))["status"] == "queued"  # type: ignore[index]
    assert await records.last_agent_states() == {}
    unelected = FencedRecords(records, lambda: None, lambda: deposed.append("unelected"))
    with pytest.raises(Fenced):
        await unelected.save_all([SaveTicket(ticket("t2"))])
    assert deposed == ["old", "unelected"] and await records.ticket("t2") is None
    await newer.save_all([SaveTicket(ticket("t1", status="live"))])  # the leader carries on
    assert (await records.ticket("t1"))["status"] == "live"  # type: ignore[index]
    assert deposed == ["old", "unelected"]


async def test_routing_configuration_round_trips_json(records: Records) -> None:
    config = {"strategy": "longest_idle", "sla": {"seconds": 15, "target": 0.8}, "skills": ["x"]}
    await records.put_queue("general", "General", config, position=2)
    await records.put_queue("vip", "VIP", {}, position=1)
    await records.put_queue("general", "General help", config, position=2)
    await records.put_topic("router", "Router", "general", priority=1)
    uid = await records.add_user("ana", "Ana", "h", "agent", now=1.0)
    await records.put_agent_profile(uid, {"router": 3}, ["general", "vip"])
    loaded = await records.load_config()
    assert [q["id"] for q in loaded["queues"]] == ["vip", "general"]  # by position
    assert loaded["queues"][1]["name"] == "General help"
    assert loaded["queues"][1]["config"] == config
    assert loaded["topics"] == [
        {"topic": "router", "label": "Router", "queue_id": "general", "priority": 1, "position": 0}
    ]
    assert loaded["agent_profiles"] == [
        {"user_id": uid, "skills": {"router": 3}, "queues": ["general", "vip"]}
    ]
    assert await records.delete_topic("router") is True
    assert await records.delete_topic("router") is False
    assert await records.delete_queue("vip") is True
    assert await records.delete_queue("vip") is False


async def test_audit_log_in_order_with_its_detail(records: Records) -> None:
    for n, action in enumerate(("set_away", "move")):
        await records.save_audit(
            AuditRow(
                at=float(n),
                actor_id="sup1",
                actor_name="Sue",
                action=action,
                subject_kind="agent",
                subject_id="a1",
                detail={"from": "general", "to": "vip", "n": n},
            )
        )
    rows = await records.audit_rows()
    assert [r["action"] for r in rows] == ["set_away", "move"]
    assert rows[1]["detail"] == {"from": "general", "to": "vip", "n": 1}


async def test_call_events_and_items(records: Records) -> None:
    payload = {"shape": "arrow", "points": [[0.1, 0.2], [0.3, 0.4]], "label": "<b>x</b>"}
    await records.add_call_event("c1", 10.0, 0.040, "annotation", "agent:a1", payload)
    await records.add_call_event("c1", 11.0, 1.040, "chat", "customer:t1", {"text": "hi"})
    await records.add_call_event("c2", 12.0, 0.0, "chat", "customer:t2", {"text": "other"})
    events = await records.call_events_of("c1")
    assert [e["kind"] for e in events] == ["annotation", "chat"]
    assert events[0]["payload"] == payload and events[0]["media_time"] == 0.040

    item = {
        "id": "p1",
        "call_id": "c1",
        "kind": "photo",
        "content_type": "image/jpeg",
        "size": 2_400_000,
        "created_at": 13.0,
        "created_by": "customer:t1",
    }
    await records.add_call_item(item)
    assert await records.call_item("p1") == item
    assert await records.call_item("nope") is None


async def test_recordings_by_call_or_session_and_purge(records: Records) -> None:
    await records.save_ticket(ticket("t1", status="live"))
    await records.save_session(
        SessionRow(
            id="s1", ticket_id="t1", agent_id="a1", queued_at=1.0, answered_at=2.0, call_id="c1"
        )
    )
    base = {
        "ticket_id": "t1",
        "queue_id": "general",
        "policy": "ask",
        "consent": "accepted",
        "participants": ["customer:t1", "agent:a1"],
        "files": [],
    }
    await records.add_recording({"id": "r2", "call_id": "c1", "started_at": 20.0, **base})
    await records.add_recording({"id": "r1", "call_id": "c1", "started_at": 10.0, **base})
    await records.add_recording({"id": "r3", "call_id": "c9", "started_at": 5.0, **base})
    assert [r["id"] for r in await records.recordings_of("c1")] == ["r1", "r2"]
    assert [r["id"] for r in await records.recordings_of("s1")] == ["r1", "r2"]
    assert {r["id"] for r in await records.unfinished_recordings()} == {"r1", "r2", "r3"}

    files = [{"party": "customer", "name": "customer.webm", "size": 1234, "start": 0.0}]
    await records.update_recording(
        "r1", ended_at=30.0, duration=20.0, size=1234, files=files, repaired=True
    )
    r1 = await records.recording("r1")
    assert r1 is not None and r1["files"] == files and r1["repaired"] is True
    assert r1["duration"] == 20.0 and r1["size"] == 1234
    assert [r["id"] for r in await records.recordings_ended_before(31.0)] == ["r1"]
    assert await records.recordings_ended_before(30.0) == []
    await records.delete_recording("r1")
    assert await records.recording("r1") is None


async def test_the_library_filters_recordings_by_any_leg_of_their_call(records: Records) -> None:
    """find_recordings (the trainer library): finished only, newest first, a warm transfer's
    legs all count for the agent and disposition filters, topic from the ticket."""
    await records.save_ticket(ticket("t1", status="ended"))
    for sid, agent, disposition, answered in (
        ("s1", "a1", None, 2.0),
        ("s2", "a2", "resolved", 3.0),
    ):
        await records.save_session(
            SessionRow(
                id=sid,
                ticket_id="t1",
                agent_id=agent,
                queued_at=1.0,
                answered_at=answered,
                disposition=disposition,
                call_id="c1",
            )
        )
    base = {
        "ticket_id": "t1",
        "queue_id": "general",
        "policy": "always",
        "consent": "not_asked",
        "participants": [],
        "files": [],
    }
    await records.add_recording(
        {"id": "r1", "call_id": "c1", "started_at": 10.0, "ended_at": 20.0, **base}
    )
    await records.add_recording(
        {"id": "r0", "call_id": "c0", "started_at": 5.0, "ended_at": 6.0, **base}
    )
    await records.add_recording({"id": "rl", "call_id": "c1", "started_at": 30.0, **base})  # live
    (row,) = await records.find_recordings(agent_id="a1", disposition="resolved")
    assert row["id"] == "r1" and row["topic"] == ticket("t1").topic
    assert row["sessions"] == [
        {"agent_id": "a1", "disposition": None},
        {"agent_id": "a2", "disposition": "resolved"},
    ]
    assert [r["id"] for r in await records.find_recordings()] == ["r1", "r0"]
    assert [r["id"] for r in await records.find_recordings(since=6.0, until=11.0)] == ["r1"]
    assert await records.find_recordings(agent_id="a3") == []


async def test_a_deposed_leaders_writes_are_fenced_off(records: Records) -> None:
    async with records.fenced("desk", epoch=1) as conn:
        await conn.execute(tickets_table.insert().values(**asdict(ticket("t1"))))
    async with records.fenced("desk", epoch=3) as conn:  # a newer leader (epoch 2 never wrote)
        await conn.execute(tickets_table.insert().values(**asdict(ticket("t3"))))
    with pytest.raises(Fenced):
        async with records.fenced("desk", epoch=1) as conn:  # the old leader wakes up
            await conn.execute(tickets_table.insert().values(**asdict(ticket("t-stale"))))
    with pytest.raises(Fenced):
        async with records.fenced("desk", epoch=2) as conn:
            pass
    assert await records.ticket("t-stale") is None
    async with records.fenced("desk", epoch=3) as conn:  # the leader itself carries on
        await conn.execute(tickets_table.insert().values(**asdict(ticket("t4"))))
        await records.mark_applied(conn, "desk", "3:7")
    assert await records.applied("desk") == "3:7"
    with pytest.raises(Fenced):
        async with records.fenced("desk", epoch=2) as conn:
            await records.mark_applied(conn, "desk", "2:9")
    assert await records.applied("desk") == "3:7"
    # The desk's records carry the journal's mark in their own transaction.
    await records.save_all([SaveTicket(ticket("t5"))], fence=("desk", 3), mark="3:8")
    assert await records.applied("desk") == "3:8"
    with pytest.raises(Fenced):
        await records.save_all([SaveTicket(ticket("t6"))], fence=("desk", 2), mark="2:10")
    assert await records.applied("desk") == "3:8"
    assert await records.applied("nobody") is None
    async with records.fenced("other", epoch=1):  # fences are per name
        pass
    # A new leader raises the fence and reads the last leader's mark in one transaction: the
    # last one cannot write after it.
    assert await records.fence_and_mark("desk", 4) == "3:8"
    with pytest.raises(Fenced):
        await records.save_all([SaveTicket(ticket("t7"))], fence=("desk", 3), mark="3:9")
    assert await records.applied("desk") == "3:8"
    assert {t["id"] for t in await records.open_tickets()} == {"t1", "t3", "t4", "t5"}


async def test_a_write_that_fails_inside_the_fence_leaves_nothing(records: Records) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        async with records.fenced("desk", epoch=5) as conn:
            await conn.execute(tickets_table.insert().values(**asdict(ticket("t1"))))
            await conn.execute(tickets_table.insert().values(**asdict(ticket("t1"))))
    assert await records.ticket("t1") is None


async def test_csat_once_per_ticket_and_the_history_of_a_range(records: Records) -> None:
    day = 8 * 86400.0
    await records.save_ticket(ticket("old", status="ended", queued_at=day - 3 * 86400))
    await records.save_ticket(ticket("t1", status="ended", queued_at=day + 10))
    await records.save_ticket(ticket("late", status="ended", queued_at=day + 86400))
    await records.save_ticket(ticket("ancient", status="ended", queued_at=day - 8 * 86400))
    await records.save_session(
        SessionRow(id="s1", ticket_id="t1", agent_id="a1", queued_at=day + 10, answered_at=day + 15)
    )
    assert await records.add_csat("t1", "s1", 4, "fine", day + 100)
    assert not await records.add_csat("t1", "s1", 1, None, day + 200)  # once
    row = await records.csat_of("t1")
    assert row is not None and (row["score"], row["comment"]) == (4, "fine")
    await records.save_agent_state("a1", "ready", None, day - 86400)
    await records.save_agent_state("a1", "offline", None, day + 86400)

    history = await records.history(day, day + 86400)
    # 7 days back for repeat contacts; nothing from the range's end on.
    assert sorted(t["id"] for t in history["tickets"]) == ["old", "t1"]
    assert [s["id"] for s in history["sessions"]] == ["s1"]
    assert [c["score"] for c in history["csat"]] == [4]
    assert [e["state"] for e in history["agent_events"]] == ["ready"]


async def test_topics_load_in_the_admin_s_order_and_keep_their_place_when_edited(
    records: Records,
) -> None:
    await records.put_queue("general", "General", {})
    for topic in ("zeta", "alpha", "mid"):
        await records.put_topic(topic, topic.title(), "general", 0)
    assert [t["topic"] for t in (await records.load_config())["topics"]] == ["zeta", "alpha", "mid"]
    await records.order_topics(["mid", "zeta", "alpha"])
    await records.put_topic("zeta", "Zeta!", "general", 2)
    loaded = (await records.load_config())["topics"]
    assert [(t["topic"], t["position"]) for t in loaded] == [("mid", 0), ("zeta", 1), ("alpha", 2)]
    assert loaded[1]["label"] == "Zeta!"


async def test_branding_changes_only_what_is_given(records: Records) -> None:
    assert (await records.branding())["logo"] is None
    await records.put_branding(name="Acme", accent="#7a1f5c")
    await records.put_branding(logo=b"\x89PNG")
    row = await records.branding()
    assert (row["name"], row["accent"], row["logo"]) == ("Acme", "#7a1f5c", b"\x89PNG")
    await records.put_branding(logo=None)
    assert (await records.branding())["name"] == "Acme"


async def test_a_new_leader_does_not_wait_on_a_leader_paused_in_a_write(records: Records) -> None:
    """A leader stopped in the middle of a fenced write holds the fence row; the node taking
    over gives up on it after ``lock_timeout`` rather than wait for it (PostgreSQL)."""
    if records.engine.dialect.name != "postgresql":
        pytest.skip("one process writes SQLite: no leader of another process to wait on")
    async with records.fenced("desk", epoch=1) as conn:  # the paused leader's transaction
        await records.mark_applied(conn, "desk", "1:5/1:5")
        # Without the timeout this would wait for the transaction above: for ever.
        with pytest.raises(sa.exc.DBAPIError):
            await records.fence_and_mark("desk", 2, lock_timeout=0.3)
    assert await records.fence_and_mark("desk", 2, lock_timeout=0.3) == "1:5/1:5"


async def test_a_leader_paused_in_a_write_lets_go_of_the_fence_row(records: Records) -> None:
    """A leader stopped inside a fenced write does not hold the fence row until it wakes:
    PostgreSQL ends its session once it has sat idle ``write_idle_limit`` seconds, its write is
    rolled back, and the new leader's writes go through without giving up on the lock."""
    if records.engine.dialect.name != "postgresql":
        pytest.skip("one process writes SQLite: no leader of another process to wait on")
    paused = Records(records.engine, write_idle_limit=0.3)
    with pytest.raises(sa.exc.DBAPIError):
        async with paused.fenced("desk", epoch=1) as conn:
            await paused.mark_applied(conn, "desk", "1:5/1:5")
            # No lock_timeout: this waits until the server has ended the paused transaction
            # (a minute would mean it never did).
            async with asyncio.timeout(60):
                assert await records.fence_and_mark("desk", 2) is None
            await paused.mark_applied(conn, "desk", "1:6/1:6")  # the session is gone
    async with records.fenced("desk", epoch=2) as conn:
        await records.mark_applied(conn, "desk", "2:1/2:1")
    assert await records.applied("desk") == "2:1/2:1"

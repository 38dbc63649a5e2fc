"""Admins look customers up, export their data and erase them (issue 14, GDPR): on the running
server with a history made of real rows and files; erasure leaves no row or file of that
customer, and the other customer's stay whole."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import jwt
import pytest
import sqlalchemy as sa

from tests.support.harness import Harness, wait_until
from tests.support.recordings import finished_recording
from videoassist.customers import JOURNAL_DIR, Customers
from videoassist.desk.events import AuditRow, SessionRow, TicketRow
from videoassist.files import LocalFiles
from videoassist.http.keys import CUSTOMERS, RECORDINGS
from videoassist.store.customers import FOUND_MAX
from videoassist.store.integrations import IntegrationRecords
from videoassist.store.records import metadata, tutorials

ALICE = {"ref": "cust-alice-7", "name": "Alice Martin", "email": "alice.martin@example.com"}
BOB = {"ref": "cust-bob-3", "name": "Bob Stone", "email": "bob.stone@example.com"}


async def customer_with_a_call(h: Harness, who: dict[str, str], n: int) -> dict[str, Any]:
    """A signed customer's finished, recorded call with everything a call leaves behind."""
    records = h.records
    now = time.time() - 3600
    ticket, session, call = f"t-{n}", f"s-{n}", f"s-{n}"
    await records.saw_customer(who["ref"], who["name"], who["email"], now)
    await records.save_ticket(
        TicketRow(
            id=ticket,
            topic="",
            description=f"{who['name']} says the router blinks",
            status="ended",
            queued_at=now,
            ended_at=now + 300,
            end_reason="hung_up",
            customer_ref=who["ref"],
            device_id=f"device-of-{who['ref']}",
        )
    )
    await records.save_session(
        SessionRow(
            id=session,
            ticket_id=ticket,
            agent_id="u1",
            queued_at=now,
            answered_at=now + 10,
            ended_at=now + 300,
            end_reason="agent_hung_up",
            disposition="resolved",
            note=f"called {who['name']} back on {who['email']}",
            call_id=call,
        )
    )
    await records.save_session_note(session, "u1", f"{who['email']} prefers mornings", now)
    await records.save_ticket_context(ticket, {"orderId": f"order-{who['ref']}"}, now)
    await records.add_csat(ticket, session, 4, f"thanks, {who['name']}", now + 400)
    await records.add_call_event(
        call, now + 20, 2.0, "chat", "customer", {"text": f"my email is {who['email']}"}
    )
    folder = h.settings.data_dir / "calls" / call
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"p{n}.jpg").write_bytes(b"\xff\xd8\xff photo of " + who["ref"].encode())
    await records.add_call_item(
        {
            "id": f"p{n}",
            "call_id": call,
            "kind": "photo",
            "content_type": "image/jpeg",
            "size": 20,
            "created_at": now + 30,
            "created_by": "customer",
        }
    )
    await finished_recording(records, h.app[RECORDINGS].root, f"r{n}", call)
    await IntegrationRecords(records.engine).enqueue(
        [
            {
                "id": f"d{n}",
                "endpoint_id": "e" * 32,
                "event": "session.ended",
                "body": json.dumps({"data": {"ticket_id": ticket, "customer_ref": who["ref"]}}),
                "created_at": now,
                "status": "delivered",
                "attempts": 1,
                "next_attempt_at": now,
            }
        ]
    )
    return {"ticket": ticket, "session": session, "call": call}


async def req(
    h: Harness, method: str, path: str, cookie: str | None, body: Any = None
) -> tuple[int, Any]:
    assert h.http is not None
    cookies = {"va_session": cookie} if cookie else {}
    async with h.http.request(
        method, path, json=body, cookies=cookies, headers={"Origin": h.url}
    ) as r:
        if r.content_type == "application/json":
            return r.status, await r.json()
        return r.status, await r.read()


async def every_value(h: Harness) -> str:
    """Every cell of every table, as one text to search."""
    out = []
    async with h.records.engine.connect() as conn:
        names = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
        for name in names:
            for row in await conn.execute(sa.text(f'SELECT * FROM "{name}"')):
                out.append(json.dumps([str(v) for v in row]))
    return "\n".join(out)


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


async def test_an_admin_finds_a_customer_and_reads_their_history(harness: Harness) -> None:
    h = harness
    admin = await h.add_staff("ada", "admin")
    await customer_with_a_call(h, ALICE, 1)
    await customer_with_a_call(h, BOB, 2)
    for q in ("ALICE", "martin@", "cust-alice"):
        status, body = await req(h, "GET", f"/api/admin/customers?q={q}", admin)
        assert status == 200 and [c["ref"] for c in body["customers"]] == [ALICE["ref"]], q
    status, body = await req(h, "GET", "/api/admin/customers?q=%25", admin)  # a LIKE wildcard
    assert body["customers"] == []
    assert body["more"] is False
    assert (await req(h, "GET", "/api/admin/customers?q=", admin))[0] == 422
    status, body = await req(h, "GET", f"/api/admin/customers/{ALICE['ref']}", admin)
    assert status == 200
    assert body["customer"]["email"] == ALICE["email"]
    (request,) = body["requests"]
    assert request["context"] == {"orderId": "order-cust-alice-7"}
    assert request["calls"][0]["disposition"] == "resolved"
    assert request["csat"]["score"] == 4 and request["recordings"][0]["id"] == "r1"
    assert (await req(h, "GET", "/api/admin/customers/nobody", admin))[0] == 404


async def test_the_lookup_folds_accented_letters_and_says_when_more_matched(
    harness: Harness,
) -> None:
    """SQLite's lower() folds ASCII only: "élodie" found no "Élodie" there (PostgreSQL's did)."""
    h = harness
    admin = await h.add_staff("ada", "admin")
    now = time.time()
    await h.records.saw_customer("c-elodie", "Élodie Ørsted", "ELODIE@EXAMPLE.COM", now)
    for q in ("élodie", "ÉLODIE", "ørsted", "elodie@example"):
        status, body = await req(h, "GET", f"/api/admin/customers?q={q}", admin)
        assert status == 200 and [c["ref"] for c in body["customers"]] == ["c-elodie"], q
    assert body["more"] is False
    for n in range(FOUND_MAX + 1):
        await h.records.saw_customer(f"c-many-{n:03}", f"Many {n}", None, now - n)
    status, body = await req(h, "GET", "/api/admin/customers?q=c-many", admin)
    assert status == 200 and body["more"] is True
    refs = [c["ref"] for c in body["customers"]]
    assert refs == [f"c-many-{n:03}" for n in range(FOUND_MAX)]  # the most recently seen first


async def test_the_export_holds_their_rows_and_files(harness: Harness) -> None:
    h = harness
    admin = await h.add_staff("ada", "admin")
    await customer_with_a_call(h, ALICE, 1)
    await customer_with_a_call(h, BOB, 2)
    status, data = await req(h, "GET", f"/api/admin/customers/{ALICE['ref']}/export", admin)
    assert status == 200
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = set(archive.namelist())
    assert {"customer.json", "photos/s-1/p1.jpg", "recordings/s-1/customer.webm"} <= names
    assert not any("s-2" in name for name in names)  # nothing of Bob's
    manifest = json.loads(archive.read("customer.json"))
    assert manifest["customer"]["name"] == ALICE["name"]
    text = json.dumps(manifest)
    assert "my email is alice.martin@example.com" in text and BOB["ref"] not in text
    actions = [r["action"] for r in await h.records.audit_rows()]
    assert actions == ["customer_exported"]


async def test_a_cancelled_export_download_stops_its_writer(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """The ZIP streams as it is written; a download dropped after its first bytes stops the
    writer thread at once, long before it would have read the whole recording."""
    h = harness
    admin = await h.add_staff("ada", "admin")
    await customer_with_a_call(h, ALICE, 1)
    big = h.app[RECORDINGS].root / "s-1" / "agent.webm"
    size = 96 * 2**20
    with big.open("wb") as f:
        f.truncate(size)  # sparse: costs no disk, reads as zeros
    assert h.http is not None
    with caplog.at_level("INFO", logger="videoassist.http.customers"):
        async with h.http.get(
            f"/api/admin/customers/{ALICE['ref']}/export",
            cookies={"va_session": admin},
            headers={"Origin": h.url},
        ) as r:
            assert r.status == 200 and r.headers["Content-Type"] == "application/zip"
            first = await r.content.readexactly(64 * 1024)
            assert first[:4] == b"PK\x03\x04"  # a ZIP's first local header
            r.close()  # the admin cancels the download

        def stopped() -> str | None:
            return next(
                (m.getMessage() for m in caplog.records if "stopped after" in m.getMessage()),
                None,
            )

        await wait_until(lambda: stopped() is not None, what="the writer stopped")
    written = int(str(stopped()).split("stopped after ")[1].split()[0])
    assert 64 * 1024 <= written < size // 3


async def test_erasure_leaves_no_row_or_file_of_that_customer(harness: Harness) -> None:
    h = harness
    admin = await h.add_staff("ada", "admin")
    alice = await customer_with_a_call(h, ALICE, 1)
    await customer_with_a_call(h, BOB, 2)
    before_bob = [p for p in files_under(h.settings.data_dir) if "s-2" in str(p)]
    path = f"/api/admin/customers/{ALICE['ref']}"
    status, body = await req(h, "DELETE", path, admin, {"confirm": "cust-alice"})
    assert (status, body["error"]["code"]) == (422, "invalid")
    assert ALICE["email"] in await every_value(h)  # a refusal changes nothing

    status, body = await req(h, "DELETE", path, admin, {"confirm": ALICE["ref"]})
    assert status == 200 and body["erased"] is True, body
    everything = await every_value(h)
    for value in ALICE.values():
        assert value not in everything, value
    assert "Alice" not in everything and "order-cust-alice" not in everything
    assert not [p for p in files_under(h.settings.data_dir) if alice["call"] in str(p)]
    # Bob is whole; Alice's ticket stays, anonymous, for the reports' counts.
    for value in BOB.values():
        assert value in everything
    assert [p for p in files_under(h.settings.data_dir) if "s-2" in str(p)] == before_bob
    ticket = await h.records.ticket(alice["ticket"])
    assert ticket is not None and ticket["customer_ref"] is None and ticket["description"] == ""
    (audit,) = [r for r in await h.records.audit_rows() if r["action"] == "customer_erased"]
    assert audit["subject_id"] != ALICE["ref"] and ALICE["ref"] not in json.dumps(audit["detail"])
    # Keyed by the server's secret: not a plain hash anyone could compute from a guessed ref.
    keyed = h.app[CUSTOMERS].ref_hash(ALICE["ref"])
    assert audit["subject_id"] == keyed
    assert keyed not in hashlib.sha256(ALICE["ref"].encode()).hexdigest()
    other = Customers(
        h.records,
        LocalFiles(h.settings.data_dir),
        h.settings.data_dir,
        "another secret",
        open_ticket=bool,
    )
    assert other.ref_hash(ALICE["ref"]) != keyed
    assert not list((h.settings.data_dir / JOURNAL_DIR).glob("*"))  # nothing left to finish
    assert (await req(h, "GET", path, admin))[0] == 404
    # Tapping again starts afresh.
    await h.records.saw_customer(ALICE["ref"], None, None, time.time())
    row = await h.records.customer(ALICE["ref"])
    assert row is not None and row["name"] is None


async def test_an_erasure_cut_short_by_a_crash_is_finished_at_start_up(harness: Harness) -> None:
    """The process stops between the erasure's transaction and its files (here: the files are
    never reached). The customer is gone from the records, so nobody could ask again; the next
    start deletes the files from the journal. A journal whose transaction never committed is
    dropped and deletes nothing."""
    h = harness
    alice = await customer_with_a_call(h, ALICE, 1)
    bob = await customer_with_a_call(h, BOB, 2)
    customers: Customers = h.app[CUSTOMERS]

    def alice_files() -> list[Path]:
        return [p for p in files_under(h.settings.data_dir) if alice["call"] in str(p)]

    def bob_files() -> list[Path]:
        return [p for p in files_under(h.settings.data_dir) if bob["call"] in str(p)]

    history = await customers.history(ALICE["ref"])
    customers._write_journal(
        [alice["ticket"]], [("calls", alice["call"]), ("recordings", alice["call"])]
    )
    audit = {"at": time.time(), "actor_id": "u0", "actor_name": "ada"}
    await customers.store.erase(
        ALICE["ref"],
        history,
        AuditRow(
            **audit, action="customer_erased", subject_kind="customer", subject_id="x", detail={}
        ),
    )
    # Bob's erasure was journalled but its transaction never ran.
    customers._write_journal([bob["ticket"]], [("calls", bob["call"])])
    assert alice_files() and bob_files()

    # What the next start runs (a fresh Customers, as a restarted process has).
    restarted = Customers(
        h.records, LocalFiles(h.settings.data_dir), h.settings.data_dir, "k", open_ticket=bool
    )
    assert await restarted.finish_erasures() == 1
    assert alice_files() == []
    assert bob_files() and BOB["email"] in await every_value(h)
    assert not list((h.settings.data_dir / JOURNAL_DIR).glob("*"))
    assert await restarted.finish_erasures() == 0


@pytest.mark.parametrize("role", ["agent", "supervisor", "trainer"])
async def test_only_admins(harness: Harness, role: str) -> None:
    h = harness
    cookie = await h.add_staff("someone", role)
    await customer_with_a_call(h, ALICE, 1)
    for method, path, body in (
        ("GET", "/api/admin/customers?q=alice", None),
        ("GET", f"/api/admin/customers/{ALICE['ref']}", None),
        ("GET", f"/api/admin/customers/{ALICE['ref']}/export", None),
        ("DELETE", f"/api/admin/customers/{ALICE['ref']}", {"confirm": ALICE["ref"]}),
    ):
        assert (await req(h, method, path, cookie, body))[0] == 403, (method, path)
    assert ALICE["email"] in await every_value(h)


def test_every_table_is_covered_by_the_erasure_or_holds_no_customer_data() -> None:
    """A new table must be thought about: listed as erased (store/customers.py) or as one
    that never holds a customer's data."""
    erased = {
        "customers",
        "tickets",
        "sessions",
        "session_notes",
        "ticket_context",
        "csat",
        "call_events",
        "call_items",
        "recordings",
        "webhook_deliveries",
        "tutorials",
        "tutorial_versions",
        "tutorial_renders",
    }
    never = {
        "users",
        "staff_sessions",
        "queues",
        "topics",
        "embed_origins",
        "branding",
        "agent_profiles",
        "agent_status",
        "agent_events",
        "audit_log",
        "topic_guides",
        "leader_fence",
        "login_throttles",
        "tutorial_deflections",
        "api_tokens",
        "webhook_endpoints",
    }
    assert set(metadata.tables) <= erased | never, set(metadata.tables) - erased - never


SECRET = "customers-secret-0123456789abcdefghijklmnop"


@pytest.mark.settings(embed_secret=SECRET)
async def test_no_erasure_while_a_request_is_open_or_a_tutorial_stands_on_it(
    harness: Harness,
) -> None:
    h = harness
    admin = await h.add_staff("ada", "admin")
    await customer_with_a_call(h, ALICE, 1)
    token = jwt.encode(
        {"sub": ALICE["ref"], "aud": "videoassist", "exp": int(time.time()) + 600},
        SECRET,
        algorithm="HS256",
    )
    status, tapped = await req(h, "POST", "/api/tickets", None, {"identity": token})
    assert status == 201
    path = f"/api/admin/customers/{ALICE['ref']}"
    status, body = await req(h, "DELETE", path, admin, {"confirm": ALICE["ref"]})
    assert (status, body["error"]["code"]) == (409, "conflict") and "open" in body["error"][
        "message"
    ]
    customer = await h.customer(tapped["token"])
    assert (await customer.call("cancel")) == {"ok": True}
    await h.service.settled()

    async with h.records.engine.begin() as conn:
        await conn.execute(
            tutorials.insert().values(
                id="tu1", recording_id="r1", created_at=time.time(), created_by="trainer1"
            )
        )
    status, body = await req(h, "DELETE", path, admin, {"confirm": ALICE["ref"]})
    assert status == 409 and "tu1" in body["error"]["message"]
    status, body = await req(
        h, "DELETE", path, admin, {"confirm": ALICE["ref"], "with_tutorials": True}
    )
    assert status == 200 and body["rows"]["tutorials"] == 1
    assert ALICE["email"] not in await every_value(h)

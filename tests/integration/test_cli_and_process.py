"""The command line: creating staff accounts, and a served process that drains on SIGTERM."""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path

import aiohttp
import pytest
import socketio
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tests.support.harness import connect_socket
from tests.support.ports import free_port
from tests.support.process import ServerProcess
from videoassist.auth import StaffAuth
from videoassist.cli import main
from videoassist.store.records import Records, metadata

ROOT = Path(__file__).resolve().parents[2]


def _add_user(monkeypatch: pytest.MonkeyPatch, data_dir: Path, *args: str, password: str) -> int:
    monkeypatch.setenv("VIDEOASSIST_DATA_DIR", str(data_dir))
    monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
    return main(["user", "add", *args, "--password-stdin"])


class TestUserAdd:
    def test_creates_an_account_that_can_log_in(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code = _add_user(
            monkeypatch,
            tmp_path,
            "alice",
            "--role",
            "agent",
            "--display-name",
            "Alice A",
            password="correct horse",
        )
        assert code == 0
        assert "created agent 'alice'" in capsys.readouterr().out

        async def check() -> None:
            records = Records.open(f"sqlite+aiosqlite:///{tmp_path / 'videoassist.db'}")
            try:
                row = await records.user_by_name("alice")
                assert row is not None
                assert (row["role"], row["display_name"]) == ("agent", "Alice A")
                assert row["password_hash"].startswith("$argon2")
                auth = StaffAuth(records, ttl=60)
                assert await auth.login("alice", "wrong password") is None
                result = await auth.login("alice", "correct horse")
                assert result is not None and result[0].username == "alice"
            finally:
                await records.close()

        asyncio.run(check())

    def test_a_duplicate_name_is_refused(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert _add_user(monkeypatch, tmp_path, "bob", "--role", "admin", password="pw-123456") == 0
        assert _add_user(monkeypatch, tmp_path, "bob", "--role", "agent", password="pw-123456") == 1
        assert "already exists" in capsys.readouterr().err

    def test_a_short_password_is_refused(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert _add_user(monkeypatch, tmp_path, "carol", "--role", "agent", password="short") == 2
        assert "at least 8" in capsys.readouterr().err
        assert not (tmp_path / "videoassist.db").exists()

    def test_an_unknown_role_is_refused(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        with pytest.raises(SystemExit) as exit_info:
            _add_user(monkeypatch, tmp_path, "dave", "--role", "root", password="pw-123456")
        assert exit_info.value.code == 2


def _not_a_search_index(name: str | None, kind: str, parent: object) -> bool:
    """SQLite's FTS5 tables (and their shadow tables) are the tutorials' search index: made by
    the migration on SQLite only, read with SQL of their own, not part of the metadata."""
    return not (kind == "table" and name is not None and name.startswith(SEARCH_TABLES))


SEARCH_TABLES = ("tutorial_search", "tutorial_moments")


async def test_migrations_build_exactly_the_schema_the_code_uses(tmp_path: Path) -> None:
    records = Records.open(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        await records.migrate()
        async with records.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"include_name": _not_a_search_index}),
                    metadata,
                )
            )
        assert diff == []
    finally:
        await records.close()


async def test_sigterm_drains_and_exits_cleanly_keeping_waiting_customers(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, free_port())
    await server.start()
    page = socketio.AsyncClient(reconnection=False)
    try:
        async with (
            aiohttp.ClientSession(server.url) as http,
            http.post("/api/tickets", json={"topic": "setup"}) as r,
        ):
            assert r.status == 201
            ticket = await r.json()
            ticket_id = ticket["ticket_id"]
        # A waiting customer is one whose page is connected (a tap alone is only joining).
        await connect_socket(page, server.url, "/customer", token=ticket["token"])
        assert (await page.call("sync", {}, namespace="/customer", timeout=10))["state"] == "queued"
    finally:
        code = await server.stop()
        await page.disconnect()
    assert code == 0, server.output
    assert "draining" in server.output
    # The desk must still be running when the drain reaches it: a signal that cancelled every
    # task first left DrainStarted unanswered until the drain timed out.
    assert "did not finish cleanly" not in server.output, server.output

    records = Records.open(f"sqlite+aiosqlite:///{tmp_path / 'videoassist.db'}")
    try:
        row = await records.ticket(ticket_id)
        assert row is not None and row["status"] == "queued"
    finally:
        await records.close()

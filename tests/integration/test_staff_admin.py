"""Staff accounts over the admin API: create, change role, disable, reset the password; what
each change does to the person's sessions and console."""

from __future__ import annotations

from typing import Any

from tests.support.harness import Harness, wait_until


async def request(
    h: Harness, method: str, path: str, cookie: str | None, body: Any = None
) -> tuple[int, Any]:
    assert h.http is not None
    cookies = {"va_session": cookie} if cookie else {}
    async with h.http.request(method, path, json=body, cookies=cookies) as r:
        return r.status, await r.json()


async def login_status(h: Harness, username: str, password: str) -> int:
    assert h.http is not None
    async with h.http.post("/api/login", json={"username": username, "password": password}) as r:
        return r.status


NEW = {"username": "carol", "display_name": "Carol", "role": "agent", "password": "carol-pw-1"}


class TestCreate:
    async def test_an_admin_creates_an_account_that_can_log_in(self, harness: Harness) -> None:
        admin = await harness.add_staff("root", role="admin")
        status, body = await request(harness, "POST", "/api/admin/staff", admin, NEW)
        assert status == 201, body
        assert body["username"] == "carol" and body["disabled"] is False
        assert await login_status(harness, "carol", "carol-pw-1") == 200
        _, listing = await request(harness, "GET", "/api/admin/staff", admin)
        assert [s["username"] for s in listing["staff"]] == ["root", "carol"]

    async def test_a_taken_name_a_short_password_or_an_unknown_role_is_refused(
        self, harness: Harness
    ) -> None:
        admin = await harness.add_staff("root", role="admin")
        assert (await request(harness, "POST", "/api/admin/staff", admin, NEW))[0] == 201
        assert (await request(harness, "POST", "/api/admin/staff", admin, NEW))[0] == 409
        for bad in ({"password": "short"}, {"role": "owner"}, {"username": "a b"}):
            body = {**NEW, "username": "dave", **bad}
            assert (await request(harness, "POST", "/api/admin/staff", admin, body))[0] == 422

    async def test_only_admins_manage_staff(self, harness: Harness) -> None:
        sup = await harness.add_staff("sue", role="supervisor")
        for cookie, status in ((None, 401), (sup, 403)):
            assert (await request(harness, "GET", "/api/admin/staff", cookie))[0] == status
            assert (await request(harness, "POST", "/api/admin/staff", cookie, NEW))[0] == status
        assert await harness.records.user_by_name("carol") is None


class TestChange:
    async def test_disabling_ends_the_sessions_and_closes_the_console(
        self, harness: Harness
    ) -> None:
        h = harness
        admin = await h.add_staff("root", role="admin")
        alice = await h.add_staff("alice")
        console = await h.agent(alice)
        user_id = (await h.records.user_by_name("alice"))["id"]
        status, body = await request(
            h, "PATCH", f"/api/admin/staff/{user_id}", admin, {"disabled": True}
        )
        assert status == 200 and body["disabled"] is True
        await wait_until(lambda: not console.client.connected, what="alice's console closed")
        assert (await request(h, "GET", "/api/me", alice))[0] == 401
        assert await login_status(h, "alice", "password-1") == 401
        await request(h, "PATCH", f"/api/admin/staff/{user_id}", admin, {"disabled": False})
        assert await login_status(h, "alice", "password-1") == 200

    async def test_a_password_reset_and_a_role_change_take_effect_at_the_next_login(
        self, harness: Harness
    ) -> None:
        h = harness
        admin = await h.add_staff("root", role="admin")
        alice = await h.add_staff("alice")
        user_id = (await h.records.user_by_name("alice"))["id"]
        path = f"/api/admin/staff/{user_id}"
        status, body = await request(
            h, "PATCH", path, admin, {"password": "new-secret-9", "role": "supervisor"}
        )
        assert status == 200 and body["role"] == "supervisor"
        assert (await request(h, "GET", "/api/me", alice))[0] == 401
        assert await login_status(h, "alice", "password-1") == 401
        assert await login_status(h, "alice", "new-secret-9") == 200

    async def test_an_admin_cannot_lock_themselves_out_and_unknown_ids_are_404(
        self, harness: Harness
    ) -> None:
        h = harness
        admin = await h.add_staff("root", role="admin")
        own = (await h.records.user_by_name("root"))["id"]
        for change in ({"disabled": True}, {"role": "agent"}):
            assert (await request(h, "PATCH", f"/api/admin/staff/{own}", admin, change))[0] == 409
        assert (await request(h, "GET", "/api/me", admin))[0] == 200
        assert (await request(h, "PATCH", "/api/admin/staff/999", admin, {"role": "agent"}))[
            0
        ] == 404

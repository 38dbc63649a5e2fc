"""Abuse controls on the real app: login lockout, tap and event rate limits, cross-site writes,
security headers."""

from __future__ import annotations

import pytest

from tests.support.calls import live_call
from tests.support.harness import Harness


class TestLogin:
    @pytest.mark.settings(login_max_failures=3)
    async def test_repeated_wrong_passwords_make_that_address_wait_even_for_the_right_one(
        self, harness: Harness
    ) -> None:
        """The lock is the address's, not the account's: tests/integration/test_abuse.py
        ``TestLockingStaffOut`` attacks from many addresses."""
        await harness.add_staff("alice", password="right-password")
        for _ in range(3):
            async with harness.http.post(
                "/api/login", json={"username": "alice", "password": "wrong"}
            ) as r:
                assert r.status == 401
        async with harness.http.post(
            "/api/login", json={"username": "alice", "password": "right-password"}
        ) as r:
            assert r.status == 429
            assert (await r.json())["error"]["code"] == "rate_limited"
            assert int(r.headers["Retry-After"]) > 0

    async def test_the_staff_device_cookie_is_httponly_samesite_strict_and_for_login_only(
        self, harness: Harness
    ) -> None:
        await harness.add_staff("alice", password="right-password")
        async with harness.http.post(
            "/api/login", json={"username": "alice", "password": "right-password"}
        ) as r:
            cookie = r.cookies["va_staff_device"]
            assert cookie["httponly"]
            assert cookie["samesite"] == "Strict"
            assert cookie["path"] == "/api/login"

    async def test_the_session_cookie_is_httponly_and_samesite_strict(
        self, harness: Harness
    ) -> None:
        await harness.add_staff("alice", password="right-password")
        async with harness.http.post(
            "/api/login", json={"username": "alice", "password": "right-password"}
        ) as r:
            cookie = r.cookies["va_session"]
            assert cookie["httponly"]
            assert cookie["samesite"] == "Strict"
            assert r.headers["Cache-Control"] == "no-store"


class TestTaps:
    @pytest.mark.settings(taps_burst=2, taps_per_minute=1)
    async def test_an_address_that_taps_too_often_is_told_to_wait(self, harness: Harness) -> None:
        for _ in range(2):
            await harness.tap()
        waiting_before = len(harness.service.desk.tickets)
        async with harness.http.post("/api/tickets", json={}) as r:
            assert r.status == 429
            assert int(r.headers["Retry-After"]) >= 1
        assert len(harness.service.desk.tickets) == waiting_before

    async def test_a_tap_that_breaks_a_cap_is_refused_naming_the_field(
        self, harness: Harness
    ) -> None:
        async with harness.http.post("/api/tickets", json={"description": "x" * 501}) as r:
            assert r.status == 422
            error = (await r.json())["error"]
            assert (error["code"], error["field"]) == ("invalid", "description")
            assert error["message"].startswith("description: ")
        assert harness.service.desk.tickets == {}

    async def test_a_tap_with_an_unknown_topic_is_refused_naming_the_known_topics(
        self, harness: Harness
    ) -> None:
        known = ", ".join(sorted(harness.service.desk.config.topics))
        async with harness.http.post("/api/tickets", json={"topic": "no-such-topic"}) as r:
            assert r.status == 422
            error = (await r.json())["error"]
            assert error == {
                "code": "invalid",
                "message": f"topic: unknown topic (known: {known})",
            }
        assert harness.service.desk.tickets == {}


class TestDisclosure:
    @pytest.mark.settings(test_pages=False)
    async def test_pages_for_tests_are_not_served_by_default(self, harness: Harness) -> None:
        for path in ("/testing/renderer-test.html", "/static/shared/renderer-test.html"):
            async with harness.http.get(path) as r:
                assert r.status == 404, path

    async def test_pages_for_tests_are_served_when_the_tests_ask(self, harness: Harness) -> None:
        assert harness.settings.test_pages  # what the test harness sets
        async with harness.http.get("/testing/renderer-test.html") as r:
            assert r.status == 200

    async def test_the_public_health_endpoints_say_nothing_about_load(
        self, harness: Harness
    ) -> None:
        await live_call(harness)  # a node with a call on it
        for path, body in (("/healthz", {"status": "ok"}), ("/readyz", {"status": "ready"})):
            async with harness.http.get(path) as r:
                assert (r.status, await r.json()) == (200, body), path


class TestCrossSite:
    async def test_a_write_from_another_origin_is_refused(self, harness: Harness) -> None:
        async with harness.http.post(
            "/api/tickets", json={}, headers={"Origin": "https://evil.example"}
        ) as r:
            assert r.status == 403
            assert (await r.json())["error"]["code"] == "bad_origin"
        assert harness.service.desk.tickets == {}

    async def test_a_write_from_our_own_origin_is_accepted(self, harness: Harness) -> None:
        async with harness.http.post("/api/tickets", json={}, headers={"Origin": harness.url}) as r:
            assert r.status == 201

    async def test_a_form_post_is_not_json_and_is_refused(self, harness: Harness) -> None:
        async with harness.http.post("/api/login", data={"username": "a", "password": "b"}) as r:
            assert r.status == 415


class TestEventRate:
    @pytest.mark.settings(socket_events_burst=5, socket_events_per_second=1)
    async def test_a_connection_that_floods_events_is_slowed_down(self, harness: Harness) -> None:
        agent = await harness.agent(await harness.add_staff("alice"))
        replies = [await agent.call("sync") for _ in range(6)]
        assert all("state" in r for r in replies[:5])
        assert replies[5]["error"]["code"] == "rate_limited"


class TestHeaders:
    @pytest.mark.parametrize("path", ["/", "/agent", "/admin", "/api/topics", "/healthz"])
    async def test_every_response_carries_the_security_headers(
        self, harness: Harness, path: str
    ) -> None:
        async with harness.http.get(path) as r:
            assert r.status == 200
            csp = r.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
            assert "frame-ancestors 'none'" in csp
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert r.headers["Referrer-Policy"] == "no-referrer"
            assert "camera=(self)" in r.headers["Permissions-Policy"]

    async def test_even_a_not_found_carries_them(self, harness: Harness) -> None:
        async with harness.http.get("/no/such/page") as r:
            assert r.status == 404
            assert "Content-Security-Policy" in r.headers

    @pytest.mark.settings(frame_ancestors="https://shop.example")
    async def test_frame_ancestors_is_configurable_for_the_embeddable_button(
        self, harness: Harness
    ) -> None:
        async with harness.http.get("/") as r:
            assert "frame-ancestors https://shop.example" in r.headers["Content-Security-Policy"]


class TestCustomerIdentity:
    SECRET = "shared-with-the-shop-0123456789abcdefghij"

    def _token(self, secret: str, **claims: object) -> str:
        import time

        import jwt

        body = {"sub": "cust-42", "aud": "videoassist", "exp": int(time.time()) + 60, **claims}
        return jwt.encode(body, secret, algorithm="HS256")

    async def _tap(self, harness: Harness, identity: str | None) -> dict[str, object]:
        async with harness.http.post("/api/tickets", json={"identity": identity}) as r:
            assert r.status == 201
            return await r.json()

    @pytest.mark.settings(embed_secret=SECRET)
    async def test_a_signed_identity_links_the_ticket_and_may_raise_priority(
        self, harness: Harness
    ) -> None:
        body = await self._tap(harness, self._token(self.SECRET, priority=50))
        assert body["identity_verified"] is True
        ticket = harness.service.desk.tickets[body["ticket_id"]]
        assert (ticket.customer_ref, ticket.priority) == ("cust-42", 50)
        row = await harness.records.ticket(body["ticket_id"])
        assert row["customer_ref"] == "cust-42"

    @pytest.mark.settings(embed_secret=SECRET)
    @pytest.mark.parametrize(
        "forge",
        [
            lambda self: self._token("not-the-secret-0123456789abcdefghijklmnop", priority=100),
            lambda self: self._token(TestCustomerIdentity.SECRET, exp=1, priority=100),
            lambda self: self._token(TestCustomerIdentity.SECRET, aud="someone-else"),
            lambda self: "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
            lambda self: "garbage",
        ],
        ids=["wrong-secret", "expired", "other-audience", "alg-none", "garbage"],
    )
    async def test_unsigned_or_bad_claims_are_ignored(self, harness: Harness, forge) -> None:
        body = await self._tap(harness, forge(self))
        assert body["identity_verified"] is False
        ticket = harness.service.desk.tickets[body["ticket_id"]]
        assert (ticket.customer_ref, ticket.priority) == (None, 0)

    async def test_without_a_shared_secret_no_claim_is_trusted(self, harness: Harness) -> None:
        body = await self._tap(harness, self._token("a-secret-we-were-never-told-0123456789"))
        assert body["identity_verified"] is False


class TestOneTicketPerDevice:
    async def test_a_browser_with_an_open_ticket_cannot_open_a_second(
        self, harness: Harness
    ) -> None:
        async with harness.http.post("/api/tickets", json={}) as r:
            assert r.status == 201
            first = await r.json()
            device = r.cookies["va_device"]
            assert device["httponly"] and device["path"] == "/api/tickets"
        jar = {"va_device": device.value}
        async with harness.http.post("/api/tickets", json={}, cookies=jar) as r:
            assert r.status == 409
            assert (await r.json())["error"]["code"] == "active_ticket"
        assert list(harness.service.desk.tickets) == [first["ticket_id"]]

        customer = await harness.customer(first["token"])
        assert (await customer.call("cancel")) == {"ok": True}
        async with harness.http.post("/api/tickets", json={}, cookies=jar) as r:
            assert r.status == 201

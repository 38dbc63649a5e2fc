"""The admin API changes routing on the running server: queues, topics and agent profiles."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.harness import Harness, Party
from videoassist.http import admin


async def _admin(harness: Harness) -> str:
    return await harness.add_staff("root", role="admin")


async def _request(
    harness: Harness,
    method: str,
    path: str,
    cookie: str | None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    assert harness.http is not None
    all_headers = dict(headers or {})
    if cookie is not None:
        all_headers["Cookie"] = f"va_session={cookie}"
    async with harness.http.request(method, path, json=body, headers=all_headers) as r:
        data = await r.json() if r.content_type == "application/json" else None
        return r.status, data


async def _nothing_pending(harness: Harness, party: Party) -> None:
    """A barrier before asserting that something did not happen to ``party``: every event the
    server has taken is handled and its effects sent, and then a round trip on the party's own
    connection brings in whatever was sent to it before the reply."""
    await harness.service.settled()
    await party.call("sync")


async def _user_id(harness: Harness, username: str) -> int:
    row = await harness.records.user_by_name(username)
    assert row is not None
    return int(row["id"])


async def _refused_from(harness: Harness, cookie: str, origin: str) -> None:
    """A queue change sent from ``origin`` is refused as bad_origin and changes nothing."""
    status, body = await _request(
        harness, "PUT", "/api/admin/queues/q", cookie, {"name": "Q"}, {"Origin": origin}
    )
    assert (status, body["error"]["code"]) == (403, "bad_origin")
    assert "q" not in harness.service.desk.config.queues


@pytest.fixture
async def root(harness: Harness) -> str:
    return await _admin(harness)


class TestAuthorization:
    async def test_without_a_login_every_endpoint_answers_401(self, harness: Harness) -> None:
        for method, path in [
            ("GET", "/api/admin/config"),
            ("PUT", "/api/admin/queues/q"),
            ("DELETE", "/api/admin/queues/q"),
            ("PUT", "/api/admin/topics/t"),
            ("DELETE", "/api/admin/topics/t"),
            ("PUT", "/api/admin/agents/1"),
        ]:
            status, body = await _request(harness, method, path, None, {})
            assert (status, body["error"]["code"]) == (401, "unauthenticated"), (method, path)

    @pytest.mark.parametrize("role", ["agent", "supervisor", "trainer"])
    async def test_staff_who_are_not_admins_get_403(self, harness: Harness, role: str) -> None:
        cookie = await harness.add_staff("someone", role=role)
        status, body = await _request(harness, "GET", "/api/admin/config", cookie)
        assert (status, body["error"]["code"]) == (403, "forbidden")
        status, _ = await _request(harness, "PUT", "/api/admin/queues/q", cookie, {"name": "Q"})
        assert status == 403
        assert "q" not in harness.service.desk.config.queues

    async def test_an_admin_reads_the_configuration(self, harness: Harness, root: str) -> None:
        status, body = await _request(harness, "GET", "/api/admin/config", root)
        assert status == 200
        assert [q["id"] for q in body["queues"]] == ["general"]
        assert {t["topic"] for t in body["topics"]} >= {"setup", "billing"}
        assert body["default_queue"] == "general"
        assert body["defaults"] == {"ring_timeout": harness.settings.ring_timeout}
        assert "best_skill" in body["options"]["strategies"]

    async def test_a_change_from_a_foreign_origin_is_refused(
        self, harness: Harness, root: str
    ) -> None:
        await _refused_from(harness, root, "https://evil.example")
        status, _ = await _request(
            harness, "PUT", "/api/admin/queues/q", root, {"name": "Q"}, {"Origin": harness.url}
        )
        assert status == 201

    @pytest.mark.settings(allowed_origins=("https://shop.example",))
    async def test_an_embedding_site_allowed_for_taps_cannot_change_routing(
        self, harness: Harness, root: str
    ) -> None:
        await _refused_from(harness, root, "https://shop.example")

    async def test_bodies_must_be_json(self, harness: Harness, root: str) -> None:
        assert harness.http is not None
        async with harness.http.put(
            "/api/admin/queues/q",
            data="name=Q",
            headers={"Cookie": f"va_session={root}", "Content-Type": "text/plain"},
        ) as r:
            assert r.status == 415
            assert (await r.json())["error"]["code"] == "unsupported_media_type"


class TestRoutingChangesTakeEffect:
    async def test_a_tap_on_a_new_topic_reaches_the_skilled_agent_only(
        self, harness: Harness, root: str
    ) -> None:
        sam_cookie = await harness.add_staff("sam")
        una_cookie = await harness.add_staff("una")
        sam_id, una_id = await _user_id(harness, "sam"), await _user_id(harness, "una")

        status, queue = await _request(
            harness,
            "PUT",
            "/api/admin/queues/vpn",
            root,
            {"name": "VPN", "skills": {"vpn": 3}, "strategy": "best_skill"},
        )
        assert status == 201, queue
        assert queue["skills"] == {"vpn": 3}
        status, topic = await _request(
            harness,
            "PUT",
            "/api/admin/topics/vpn",
            root,
            {"label": "VPN trouble", "queue_id": "vpn", "priority": 5},
        )
        assert status == 201, topic
        for user_id, level in ((sam_id, 4), (una_id, 1)):
            status, agent = await _request(
                harness,
                "PUT",
                f"/api/admin/agents/{user_id}",
                root,
                {"skills": {"vpn": level}, "queues": ["general", "vpn"]},
            )
            assert status == 200, agent
            assert agent["queues"] == ["general", "vpn"]

        # Una is Ready first (the desk has handled "ready" when it acks), so she would be
        # offered the customer if skills were ignored.
        una = await harness.agent(una_cookie)
        assert (await una.call("ready")) == {"ok": True}
        sam = await harness.agent(sam_cookie)
        assert (await sam.call("ready")) == {"ok": True}

        ticket = await harness.tap(topic="vpn", description="cannot connect to the office")
        await harness.customer(ticket["token"])
        offer = await sam.inbox.next("offer")
        assert offer["ticket_id"] == ticket["ticket_id"]
        assert harness.service.desk.tickets[ticket["ticket_id"]].queue_id == "vpn"
        await _nothing_pending(harness, una)
        assert "offer" not in una.inbox.names()

        async with harness.http.get("/api/topics") as r:  # type: ignore[union-attr]
            listed = {t["topic"]: t["label"] for t in await r.json()}
            assert listed["vpn"] == "VPN trouble"

    async def test_a_ready_agent_given_the_skill_is_offered_the_waiting_customer_at_once(
        self, harness: Harness, root: str
    ) -> None:
        ann_cookie = await harness.add_staff("ann")
        ann_id = await _user_id(harness, "ann")
        await _request(harness, "PUT", "/api/admin/queues/vpn", root, {"skills": {"vpn": 2}})
        await _request(
            harness, "PUT", "/api/admin/topics/vpn", root, {"label": "VPN", "queue_id": "vpn"}
        )
        ann = await harness.agent(ann_cookie)
        assert (await ann.call("ready")) == {"ok": True}
        ticket = await harness.tap(topic="vpn")
        await harness.customer(ticket["token"])
        await _nothing_pending(harness, ann)
        assert "offer" not in ann.inbox.names()

        status, _ = await _request(
            harness,
            "PUT",
            f"/api/admin/agents/{ann_id}",
            root,
            {"skills": {"vpn": 2}, "queues": ["vpn"]},
        )
        assert status == 200
        offer = await ann.inbox.next("offer")
        assert offer["ticket_id"] == ticket["ticket_id"]

    async def test_every_agent_and_supervisor_is_listed_with_or_without_a_profile(
        self, harness: Harness, root: str
    ) -> None:
        await harness.add_staff("ann")
        await harness.add_staff("sue", role="supervisor")
        await harness.add_staff("tim", role="trainer")
        status, body = await _request(harness, "GET", "/api/admin/config", root)
        assert status == 200
        agents = {a["username"]: a for a in body["agents"]}
        assert set(agents) == {"ann", "sue"}
        assert agents["ann"]["skills"] == {}
        assert agents["ann"]["queues"] == ["general"]
        assert agents["sue"]["role"] == "supervisor"

    async def test_a_queue_read_back_can_be_sent_back_unchanged(
        self, harness: Harness, root: str
    ) -> None:
        full = {
            "name": "Billing",
            "skills": {"billing": 2, "french": 1},
            "strategy": "least_occupied",
            "service_level": 30.0,
            "short_abandon": 8.0,
            "abandons_count": False,
            "service_level_target": 90.0,
            "wait_alert": None,
            "max_wait": 300.0,
            "overflow_to": "general",
            "max_length": 10,
            "ring_timeout": 15.0,
            "wrap_up_limit": 60.0,
            "max_missed": 2,
            "priority_aging": 1.5,
            "hours": {
                "timezone": "Europe/Paris",
                "windows": [{"day": 0, "start": 540, "end": 1020}],
            },
            "recording": "ask",
        }
        status, created = await _request(harness, "PUT", "/api/admin/queues/billing", root, full)
        assert status == 201, created
        assert created == {"id": "billing", **full}
        live = harness.service.desk.config.queues["billing"]
        assert live.recording == "ask"
        bad = {**full, "recording": "sometimes"}
        status, refused = await _request(harness, "PUT", "/api/admin/queues/billing", root, bad)
        assert status == 422 and refused["error"]["field"] == "recording", refused
        assert (live.ring_timeout, live.max_missed, live.hours.timezone) == (
            15.0,
            2,
            "Europe/Paris",
        )
        assert (live.short_abandon, live.abandons_count, live.service_level_target) == (
            8.0,
            False,
            90.0,
        )
        assert live.wait_alert is None

        _, config = await _request(harness, "GET", "/api/admin/config", root)
        read = next(q for q in config["queues"] if q["id"] == "billing")
        assert read == created
        status, again = await _request(
            harness, "PUT", "/api/admin/queues/billing", root, {k: read[k] for k in full}
        )
        assert (status, again) == (200, created)

    async def test_a_queue_without_its_own_ring_timeout_follows_the_server_setting(
        self, harness: Harness, root: str
    ) -> None:
        status, queue = await _request(harness, "PUT", "/api/admin/queues/q", root, {"name": "Q"})
        assert status == 201
        assert queue["ring_timeout"] is None
        assert harness.service.desk.config.queues["q"].ring_timeout == harness.settings.ring_timeout

    async def test_deleting_a_topic_and_then_its_queue(self, harness: Harness, root: str) -> None:
        await _request(harness, "PUT", "/api/admin/queues/q", root, {"name": "Q"})
        await _request(harness, "PUT", "/api/admin/topics/t", root, {"label": "T", "queue_id": "q"})
        assert (await _request(harness, "DELETE", "/api/admin/topics/t", root))[0] == 204
        assert (await _request(harness, "DELETE", "/api/admin/queues/q", root))[0] == 204
        config = harness.service.desk.config
        assert "q" not in config.queues and "t" not in config.topics
        assert (await _request(harness, "DELETE", "/api/admin/queues/q", root))[0] == 404
        assert (await _request(harness, "DELETE", "/api/admin/topics/t", root))[0] == 404


class TestValidation:
    @pytest.mark.parametrize(
        ("path", "body", "code", "field"),
        [
            ("/api/admin/queues/q", {"strategy": "random"}, "invalid", "strategy"),
            ("/api/admin/queues/q", {"skills": {"vpn": 6}}, "invalid", "skills.vpn"),
            ("/api/admin/queues/q", {"skills": {"vpn": 0}}, "invalid", "skills.vpn"),
            ("/api/admin/queues/q", {"colour": "red"}, "invalid", "colour"),
            ("/api/admin/queues/q", {"name": "n" * 129}, "invalid", "name"),
            ("/api/admin/queues/Bad%20Id", {}, "invalid", "queue_id"),
            ("/api/admin/queues/q%0A", {}, "invalid", "queue_id"),
            ("/api/admin/queues/q", {"service_level": float("nan")}, "invalid", "service_level"),
            ("/api/admin/queues/q", [], "invalid", "body"),
            (
                "/api/admin/queues/q",
                {"overflow_to": "nowhere"},
                "invalid_config",
                "queues.q.overflow_to",
            ),
            (
                "/api/admin/queues/q",
                {"hours": {"timezone": "Mars/Olympus_Mons"}},
                "invalid_config",
                "queues.q.hours.timezone",
            ),
            (
                "/api/admin/queues/q",
                {"hours": {"windows": [{"day": 7, "start": 0, "end": 60}]}},
                "invalid_config",
                "queues.q.hours.windows",
            ),
            (
                "/api/admin/queues/q",
                {"service_level": 0},
                "invalid_config",
                "queues.q.service_level",
            ),
            (
                "/api/admin/queues/q",
                {"short_abandon": -1},
                "invalid_config",
                "queues.q.short_abandon",
            ),
            (
                "/api/admin/queues/q",
                {"service_level_target": 0},
                "invalid_config",
                "queues.q.service_level_target",
            ),
            (
                "/api/admin/queues/q",
                {"service_level_target": 120},
                "invalid",
                "service_level_target",
            ),
            ("/api/admin/queues/q", {"abandons_count": "maybe"}, "invalid", "abandons_count"),
            (
                "/api/admin/topics/t",
                {"label": "T", "queue_id": "nowhere"},
                "invalid_config",
                "topics.t.queue_id",
            ),
            (
                "/api/admin/topics/t",
                {"label": "T", "queue_id": "general", "priority": 101},
                "invalid_config",
                "topics.t.priority",
            ),
            ("/api/admin/topics/t", {"queue_id": "general"}, "invalid", "label"),
        ],
    )
    async def test_invalid_changes_name_the_field_and_change_nothing(
        self, harness: Harness, root: str, path: str, body: Any, code: str, field: str
    ) -> None:
        _, before = await _request(harness, "GET", "/api/admin/config", root)
        config = harness.service.desk.config
        status, reply = await _request(harness, "PUT", path, root, body)
        assert status == 422, reply
        assert reply["error"]["code"] == code
        assert reply["error"]["field"] == field
        assert reply["error"]["message"].startswith(f"{field}: ")
        assert harness.service.desk.config is config
        assert (await _request(harness, "GET", "/api/admin/config", root))[1] == before

    async def test_an_overflow_cycle_is_refused(self, harness: Harness, root: str) -> None:
        await _request(harness, "PUT", "/api/admin/queues/a", root, {"name": "A"})
        await _request(harness, "PUT", "/api/admin/queues/b", root, {"overflow_to": "a"})
        config = harness.service.desk.config
        status, reply = await _request(
            harness, "PUT", "/api/admin/queues/a", root, {"overflow_to": "b"}
        )
        assert status == 422
        assert reply["error"]["field"] in ("queues.a.overflow_to", "queues.b.overflow_to")
        assert "circle" in reply["error"]["message"]
        assert harness.service.desk.config is config
        assert config.queues["a"].overflow_to is None

    async def test_agent_profiles_are_checked(self, harness: Harness, root: str) -> None:
        await harness.add_staff("ann")
        await harness.add_staff("tim", role="trainer")
        ann, tim = await _user_id(harness, "ann"), await _user_id(harness, "tim")
        cases = [
            (ann, {"skills": {"vpn": 6}, "queues": ["general"]}, 422, "skills.vpn"),
            (ann, {"skills": {}, "queues": []}, 422, "queues"),
            (ann, {"skills": {}, "queues": ["nowhere"]}, 422, f"agents.u{ann}.queues"),
            (tim, {"skills": {}, "queues": ["general"]}, 422, "user_id"),
            (9999, {"skills": {}, "queues": ["general"]}, 404, None),
        ]
        for user_id, body, status, field in cases:
            got, reply = await _request(harness, "PUT", f"/api/admin/agents/{user_id}", root, body)
            assert got == status, (body, reply)
            assert reply["error"].get("field") == field
        assert f"u{ann}" not in harness.service.desk.config.agents


class TestDeletingAQueueInUse:
    async def test_a_queue_with_a_topic_and_an_agent_is_not_deleted(
        self, harness: Harness, root: str
    ) -> None:
        await harness.add_staff("ann")
        ann = await _user_id(harness, "ann")
        await _request(harness, "PUT", "/api/admin/queues/q", root, {"name": "Q"})
        await _request(harness, "PUT", "/api/admin/queues/r", root, {"overflow_to": "q"})
        await _request(harness, "PUT", "/api/admin/topics/t", root, {"label": "T", "queue_id": "q"})
        await _request(
            harness, "PUT", f"/api/admin/agents/{ann}", root, {"skills": {}, "queues": ["q"]}
        )
        status, reply = await _request(harness, "DELETE", "/api/admin/queues/q", root)
        assert status == 409
        error = reply["error"]
        assert error["code"] == "in_use"
        assert error["in_use"] == {
            "customers": 0,
            "topics": ["t"],
            "agents": ["ann"],
            "queues": ["r"],
        }
        for word in ("t", "ann", "r"):
            assert word in error["message"]
        assert "q" in harness.service.desk.config.queues

    async def test_a_queue_with_a_waiting_customer_is_not_deleted(
        self, harness: Harness, root: str
    ) -> None:
        await _request(harness, "PUT", "/api/admin/queues/q", root, {"name": "Q"})
        await _request(harness, "PUT", "/api/admin/topics/t", root, {"label": "T", "queue_id": "q"})
        await harness.tap(topic="t")
        assert (await _request(harness, "DELETE", "/api/admin/topics/t", root))[0] == 204
        status, reply = await _request(harness, "DELETE", "/api/admin/queues/q", root)
        assert status == 409
        assert reply["error"]["in_use"]["customers"] == 1
        assert "1 customer" in reply["error"]["message"]
        assert "q" in harness.service.desk.config.queues

    async def test_when_the_desk_refuses_the_store_is_put_back(
        self, harness: Harness, root: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A customer can join the queue after the API looked; the desk then refuses."""

        async def nobody(*args: Any) -> dict[str, Any]:
            return {"customers": 0, "topics": [], "agents": [], "queues": []}

        await _request(harness, "PUT", "/api/admin/queues/q", root, {"name": "Q"})
        await _request(harness, "PUT", "/api/admin/topics/t", root, {"label": "T", "queue_id": "q"})
        await harness.tap(topic="t")
        await _request(harness, "DELETE", "/api/admin/topics/t", root)
        monkeypatch.setattr(admin, "_uses_of_queue", nobody)
        status, reply = await _request(harness, "DELETE", "/api/admin/queues/q", root)
        assert (status, reply["error"]["code"]) == (409, "conflict")
        assert "still has customers" in reply["error"]["message"]
        stored = await harness.records.load_config()
        assert [r["id"] for r in stored["queues"]] == ["general", "q"]
        assert "q" in harness.service.desk.config.queues

    async def test_the_last_queue_is_not_deleted(self, harness: Harness, root: str) -> None:
        for topic in list(harness.service.desk.config.topics):
            assert (await _request(harness, "DELETE", f"/api/admin/topics/{topic}", root))[0] == 204
        status, reply = await _request(harness, "DELETE", "/api/admin/queues/general", root)
        assert status == 409
        assert "last queue" in reply["error"]["message"]

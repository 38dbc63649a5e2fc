"""Outbound webhooks against a real receiver on loopback: signed, retried, redelivered, kept
across a restart, and never in the desk's way (docs/integrations.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.integration.test_recording import media_call, recording_policy
from tests.support.calls import live_call, ready_agent
from tests.support.harness import Harness, wait_until
from tests.support.harness import test_settings as settings_for
from tests.support.peers import ClientPeer
from tests.support.receiver import Receiver
from tests.support.recordings import finished_recording
from videoassist.http.keys import RECORDINGS, TUTORIALS, WEBHOOKS
from videoassist.sealing import Sealer
from videoassist.store.integrations import IntegrationRecords
from videoassist.store.records import Records, webhook_endpoints
from videoassist.webhooks import Policy, Webhooks

SESSION_EVENTS = ["session.started", "session.ended", "session.wrapped_up"]
# Private receivers allowed (loopback), retries at once: what the tests need of the settings.
FAST = {"webhook_allow_private": True, "webhook_backoff": 0.01, "webhook_backoff_max": 0.05}


@pytest.fixture
async def client_peers() -> AsyncIterator[list[ClientPeer]]:
    made: list[ClientPeer] = []
    yield made
    for peer in made:
        await peer.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


async def subscribe(h: Harness, admin: str, url: str, events: list[str]) -> dict[str, Any]:
    assert h.http is not None
    async with h.http.post(
        "/api/admin/webhooks",
        json={"url": url, "events": events},
        headers={"Cookie": f"va_session={admin}"},
    ) as r:
        body: dict[str, Any] = await r.json()
        assert r.status == 201, body
        return body


async def deliveries(h: Harness, admin: str, endpoint_id: str) -> list[dict[str, Any]]:
    assert h.http is not None
    async with h.http.get(
        f"/api/admin/webhooks/{endpoint_id}/deliveries", headers={"Cookie": f"va_session={admin}"}
    ) as r:
        assert r.status == 200
        rows: list[dict[str, Any]] = (await r.json())["deliveries"]
        return rows


class TestSignedEvents:
    @pytest.mark.settings(**FAST)
    async def test_a_call_sends_started_ended_and_wrapped_up_signed_with_the_endpoint_secret(
        self, harness: Harness, receiver: Receiver
    ) -> None:
        admin = await harness.add_staff("ada", role="admin")
        endpoint = await subscribe(harness, admin, receiver.url, SESSION_EVENTS)
        customer, agent, session_id, ticket = await live_call(harness)
        await wait_until(lambda: receiver.of("session.started"), what="session.started")
        started = receiver.of("session.started")[0]
        assert started.verifies(endpoint["secret"])
        assert not started.verifies(endpoint["secret"] + "x")  # the check can fail
        assert started.event["data"]["session_id"] == session_id
        assert started.event["data"]["ticket_id"] == ticket["ticket_id"]
        assert started.event["data"]["wait"] >= 0
        assert started.headers["Webhook-Event"] == "session.started"

        assert (await agent.call("hangup", {"session_id": session_id})) == {"ok": True}
        await customer.inbox.next("session_ended")
        await wait_until(lambda: receiver.of("session.ended"), what="session.ended")
        ended = receiver.of("session.ended")[0].event["data"]
        assert ended["end_reason"] == "agent_hung_up" and ended["duration"] >= 0
        wrapped = await agent.call("wrap_up", {"session_id": session_id, "disposition": "resolved"})
        assert wrapped == {"ok": True}
        await wait_until(lambda: receiver.of("session.wrapped_up"), what="session.wrapped_up")
        last = receiver.of("session.wrapped_up")[0]
        assert last.verifies(endpoint["secret"])
        assert last.event["data"]["disposition"] == "resolved"
        # One request per event, each with its own delivery id.
        ids = [r.headers["Webhook-Id"] for r in receiver.received]
        assert len(ids) == len(set(ids)) == 3

    @pytest.mark.settings(**FAST)
    async def test_an_endpoint_gets_only_the_events_it_subscribed_to(
        self, harness: Harness, receiver: Receiver
    ) -> None:
        admin = await harness.add_staff("ada", role="admin")
        other = Receiver()
        await other.start()
        try:
            await subscribe(harness, admin, receiver.url, ["session.started"])
            await subscribe(harness, admin, other.url, ["recording.ready"])
            await live_call(harness)
            await wait_until(lambda: receiver.of("session.started"), what="session.started")
            harness.app[WEBHOOKS].publish("recording.ready", {"recording_id": "r1"})
            await wait_until(lambda: other.received, what="recording.ready")
            assert [r.event["type"] for r in other.received] == ["recording.ready"]
            assert [r.event["type"] for r in receiver.received] == ["session.started"]
        finally:
            await other.stop()


class TestRetries:
    @pytest.mark.settings(**FAST)
    async def test_a_receiver_that_fails_twice_gets_the_event_once_more_after_success(
        self, harness: Harness
    ) -> None:
        receiver = Receiver(fail_first=2)
        await receiver.start()
        try:
            admin = await harness.add_staff("ada", role="admin")
            endpoint = await subscribe(harness, admin, receiver.url, ["session.started"])
            await live_call(harness)
            await wait_until(lambda: 204 in receiver.answered, what="a successful delivery")
            [row] = await deliveries(harness, admin, endpoint["id"])
            assert (row["status"], row["attempts"], row["last_status"]) == ("delivered", 3, 204)
            # A later event goes through the same worker: once it has arrived, the first one
            # has had every chance to be sent again, and was not.
            harness.app[WEBHOOKS].publish("session.started", {"session_id": "later"})
            await wait_until(lambda: len(receiver.answered) == 4, what="the later event")
            assert receiver.answered == [500, 500, 204, 204]
            first = [r for r in receiver.received if r.event["data"]["session_id"] != "later"]
            assert len(first) == 3 and len({r.headers["Webhook-Id"] for r in first}) == 1
            assert [r.headers["Webhook-Id"] for r in receiver.received].count(row["id"]) == 3
        finally:
            await receiver.stop()

    @pytest.mark.settings(**FAST, webhook_max_attempts=2)
    async def test_a_delivery_gives_up_after_its_attempts_and_the_log_says_why(
        self, harness: Harness
    ) -> None:
        receiver = Receiver(fail_first=100)
        await receiver.start()
        try:
            admin = await harness.add_staff("ada", role="admin")
            endpoint = await subscribe(harness, admin, receiver.url, ["tutorial.published"])
            harness.app[WEBHOOKS].publish("tutorial.published", {"tutorial_id": "t"})

            async def failed() -> bool:
                rows = await deliveries(harness, admin, endpoint["id"])
                return bool(rows) and rows[0]["status"] == "failed"

            await wait_until(failed, what="the delivery given up")
            [row] = await deliveries(harness, admin, endpoint["id"])
            assert (row["attempts"], row["last_status"], row["last_error"]) == (2, 500, "HTTP 500")
            assert receiver.answered == [500, 500]
        finally:
            await receiver.stop()


class TestRedeliver:
    @pytest.mark.settings(**FAST)
    async def test_an_admin_redelivers_a_delivery_under_the_same_id(
        self, harness: Harness, receiver: Receiver
    ) -> None:
        admin = await harness.add_staff("ada", role="admin")
        endpoint = await subscribe(harness, admin, receiver.url, ["session.started"])
        await live_call(harness)
        await wait_until(lambda: receiver.received, what="the first delivery")
        [row] = await deliveries(harness, admin, endpoint["id"])
        assert harness.http is not None
        path = f"/api/admin/webhooks/{endpoint['id']}/deliveries/{row['id']}/redeliver"
        async with harness.http.post(path, headers={"Cookie": f"va_session={admin}"}) as r:
            assert r.status == 202, await r.text()
        await wait_until(lambda: len(receiver.received) == 2, what="the redelivery")
        assert receiver.received[0].body == receiver.received[1].body
        assert {r.headers["Webhook-Id"] for r in receiver.received} == {row["id"]}
        await wait_until(
            lambda: _delivered(harness, admin, endpoint["id"]), what="the log says delivered"
        )
        # Another endpoint's delivery cannot be named through this one.
        other = await subscribe(harness, admin, receiver.url, ["recording.ready"])
        wrong = f"/api/admin/webhooks/{other['id']}/deliveries/{row['id']}/redeliver"
        async with harness.http.post(wrong, headers={"Cookie": f"va_session={admin}"}) as r:
            assert r.status == 404


async def _delivered(h: Harness, admin: str, endpoint_id: str) -> bool:
    rows = await deliveries(h, admin, endpoint_id)
    return rows[0]["status"] == "delivered" and rows[0]["attempts"] == 1


class TestNeverInTheWay:
    @pytest.mark.settings(**FAST, webhook_timeout=60.0, webhook_concurrency=1, taps_burst=20)
    async def test_a_hanging_and_a_dead_receiver_delay_neither_calls_nor_other_endpoints(
        self, harness: Harness, receiver: Receiver
    ) -> None:
        hanging = Receiver(hang=True)
        await hanging.start()
        dead = Receiver()  # never started: its port refuses connections
        try:
            admin = await harness.add_staff("ada", role="admin")
            await subscribe(harness, admin, hanging.url, ["session.started"])
            gone = await subscribe(harness, admin, dead.url, ["session.started"])
            await subscribe(harness, admin, receiver.url, ["session.started"])
            await live_call(harness)
            await wait_until(lambda: hanging.received, what="the hanging receiver holds a request")
            # While it holds it (its one slot taken), a second customer is answered...
            bob = await ready_agent(harness, "bob")
            _, _, second, _ = await live_call(harness, bob)
            assert not hanging._released.is_set()
            assert len(hanging.received) == 1  # still the first request, still unanswered
            # ...and the healthy endpoint has both events, the dead one's log its error.
            await wait_until(lambda: len(receiver.received) == 2, what="both at the healthy one")
            assert receiver.received[1].event["data"]["session_id"] == second

            async def refused() -> bool:
                rows = await deliveries(harness, admin, gone["id"])
                return len(rows) == 2 and all(r["last_error"] for r in rows)

            await wait_until(refused, what="the dead endpoint's errors in its log")
            rows = await deliveries(harness, admin, gone["id"])
            assert all(r["status"] == "pending" and r["last_status"] is None for r in rows)
        finally:
            await hanging.stop()


class TestDurability:
    async def test_undelivered_events_survive_a_restart_and_are_sent_after_it(
        self, tmp_path: Path
    ) -> None:
        receiver = Receiver()  # not listening yet: the first server cannot deliver
        settings = settings_for(
            tmp_path, **{**FAST, "webhook_backoff": 0.05, "webhook_max_attempts": 1000}
        )
        first = Harness(settings)
        await first.start()
        try:
            admin = await first.add_staff("ada", role="admin")
            endpoint = await subscribe(first, admin, receiver.url, ["tutorial.published"])
            first.app[WEBHOOKS].publish("tutorial.published", {"tutorial_id": "t1"})
            await wait_until(
                lambda: _attempted(first, admin, endpoint["id"]), what="a failed attempt"
            )
            # Published while stopping: the outbox write is awaited, not dropped.
            first.app[WEBHOOKS].publish("tutorial.published", {"tutorial_id": "t2"})
        finally:
            await first.stop()
        await receiver.start()
        second = Harness(settings)
        await second.start()
        try:
            await wait_until(lambda: len(receiver.received) == 2, what="both events after start")
            assert sorted(r.event["data"]["tutorial_id"] for r in receiver.received) == [
                "t1",
                "t2",
            ]
        finally:
            await second.stop()
            await receiver.stop()


async def _attempted(h: Harness, admin: str, endpoint_id: str) -> bool:
    rows = await deliveries(h, admin, endpoint_id)
    return bool(rows) and rows[0]["attempts"] >= 1 and rows[0]["status"] == "pending"


class TestSeveralNodes:
    async def test_an_endpoint_added_on_one_node_gets_an_event_published_on_another_at_once(
        self, tmp_path: Path, receiver: Receiver
    ) -> None:
        """Two nodes' outboxes on one database, a media node's (it writes, sends nothing) and
        the desk node's: the media node, started before the endpoint existed, still writes the
        event for it, and the desk node sends it."""
        records = Records.open(f"sqlite+aiosqlite:///{tmp_path / 'records.db'}")
        await records.migrate()
        policy = Policy(timeout=5.0, max_attempts=3, backoff=0.01, allow_private=True)
        sealer = Sealer("the-secret-key-every-node-shares-" + "x" * 16, "webhook secrets")
        here = Webhooks(IntegrationRecords(records.engine), policy, sealer)
        there = Webhooks(IntegrationRecords(records.engine), policy, sealer)
        await there.start(deliver=False)  # before the endpoint existed
        await here.start()
        try:
            endpoint = await here.add_endpoint(receiver.url, ["recording.ready"], "ada")
            there.publish("recording.ready", {"recording_id": "r1"})
            await there.settled()
            rows = await there.store.deliveries(endpoint["id"])
            assert [row["event"] for row in rows] == ["recording.ready"]
            await wait_until(lambda: receiver.received, what="the delivery")
            assert receiver.received[0].verifies(endpoint["secret"])
        finally:
            await there.close()
            await here.close()
            await records.close()


class TestEndpointRules:
    async def test_private_addresses_are_refused_unless_the_setting_allows_them(
        self, harness: Harness
    ) -> None:
        admin = await harness.add_staff("ada", role="admin")
        assert harness.http is not None
        cookie = {"Cookie": f"va_session={admin}"}
        for url in (
            "http://127.0.0.1:9/hook",
            "http://10.1.2.3/hook",
            "http://[::1]/hook",
            "http://169.254.169.254/latest",
            "http://localhost/hook",
            "ftp://hooks.example/x",
            "https://user:pw@hooks.example/x",
        ):
            async with harness.http.post(
                "/api/admin/webhooks",
                json={"url": url, "events": ["session.started"]},
                headers=cookie,
            ) as r:
                body = await r.json()
                assert r.status == 422 and body["error"]["field"] == "url", (url, body)
        async with harness.http.post(
            "/api/admin/webhooks",
            json={"url": "https://hooks.example/x", "events": ["session.started"]},
            headers=cookie,
        ) as r:
            assert r.status == 201
            assert (await r.json())["secret"].startswith("whsec_")
        async with harness.http.get("/api/admin/webhooks", headers=cookie) as r:
            listed = await r.json()
        assert "secret" not in listed["endpoints"][0]  # shown once, at creation
        audit = [(row["action"], row["subject_kind"]) for row in await harness.records.audit_rows()]
        assert audit == [("webhook_create", "webhook")]

    @pytest.mark.settings(webhook_allow_private=True)
    async def test_with_the_setting_a_loopback_receiver_is_accepted(self, harness: Harness) -> None:
        admin = await harness.add_staff("ada", role="admin")
        endpoint = await subscribe(harness, admin, "http://127.0.0.1:9/hook", ["session.started"])
        assert endpoint["url"] == "http://127.0.0.1:9/hook"


class TestWhereEventsComeFrom:
    """The two events the desk does not make: the recorder's and the tutorial library's."""

    @pytest.mark.settings(**FAST)
    async def test_a_finished_recording_sends_recording_ready(
        self, harness: Harness, receiver: Receiver, client_peers: list[ClientPeer]
    ) -> None:
        admin = await harness.add_staff("root", role="admin")
        await subscribe(harness, admin, receiver.url, ["recording.ready"])
        await recording_policy(harness, "always")
        customer, agent, session_id = await media_call(harness, client_peers)
        await customer.inbox.next("recording_state")
        session = harness.hub.sessions[session_id]
        assert session.recorder is not None
        writer = session.recorder.writers["customer"]
        await wait_until(lambda: writer.stats["video"].packets >= 10, what="some video recorded")
        assert (await agent.call("hangup", {"session_id": session_id})) == {"ok": True}
        await wait_until(lambda: receiver.received, timeout=20, what="recording.ready")
        data = receiver.received[0].event["data"]
        [row] = await harness.records.recordings_of(session_id)
        assert data["recording_id"] == row["id"] and data["call_id"] == session_id
        assert "customer.webm" in data["files"] and data["size"] > 0

    @pytest.mark.settings(**FAST)
    async def test_publishing_a_tutorial_sends_tutorial_published(
        self, harness: Harness, receiver: Receiver
    ) -> None:
        admin = await harness.add_staff("root", role="admin")
        await subscribe(harness, admin, receiver.url, ["tutorial.published"])
        lib = harness.app[TUTORIALS]
        await finished_recording(harness.records, harness.app[RECORDINGS].root)
        tutorial_id = (await lib.create("r1", "Reset the router", None, "ada"))["id"]
        await lib.publish(tutorial_id, "ada")
        await wait_until(lambda: receiver.received, what="tutorial.published")
        data = receiver.received[0].event["data"]
        assert (data["tutorial_id"], data["version"], data["published_by"]) == (
            tutorial_id,
            1,
            "ada",
        )
        assert data["title"] == "Reset the router"
        await lib.settled()


async def _stored_secret(h: Harness, endpoint_id: str) -> str:
    async with h.records.engine.connect() as conn:
        secret: str = (
            await conn.execute(
                sa.select(webhook_endpoints.c.secret).where(webhook_endpoints.c.id == endpoint_id)
            )
        ).scalar_one()
        return secret


class TestSealedSecrets:
    """Signing secrets are stored sealed under SECRET_KEY: a copy of the database alone does
    not let anyone sign as this server."""

    async def test_the_secret_is_stored_sealed_and_still_signs(
        self, tmp_path: Path, receiver: Receiver
    ) -> None:
        h = Harness(settings_for(tmp_path, **FAST, secret_key="key-one"))
        await h.start()
        try:
            admin = await h.add_staff("ada", role="admin")
            endpoint = await subscribe(h, admin, receiver.url, ["tutorial.published"])
            stored = await _stored_secret(h, endpoint["id"])
            assert stored.startswith("sealed:v1:") and endpoint["secret"] not in stored
            assert endpoint["signing"] is True
            h.app[WEBHOOKS].publish("tutorial.published", {"tutorial_id": "t1"})
            await wait_until(lambda: receiver.received, what="the delivery")
            assert receiver.received[0].verifies(endpoint["secret"])
        finally:
            await h.stop()

    async def test_a_secret_stored_in_clear_is_sealed_at_start_and_still_signs(
        self, tmp_path: Path, receiver: Receiver
    ) -> None:
        settings = settings_for(tmp_path, **FAST, secret_key="key-one")
        first = Harness(settings)
        await first.start()
        try:
            admin = await first.add_staff("ada", role="admin")
            endpoint = await subscribe(first, admin, receiver.url, ["tutorial.published"])
            # As an older version stored it.
            await first.app[WEBHOOKS].store.set_endpoint_secret(endpoint["id"], "whsec_old")
        finally:
            await first.stop()
        second = Harness(settings)
        await second.start()
        try:
            assert (await _stored_secret(second, endpoint["id"])).startswith("sealed:v1:")
            second.app[WEBHOOKS].publish("tutorial.published", {"tutorial_id": "t1"})
            await wait_until(lambda: receiver.received, what="the delivery")
            assert receiver.received[0].verifies("whsec_old")
        finally:
            await second.stop()

    async def test_under_another_secret_key_deliveries_fail_saying_why(
        self, tmp_path: Path, receiver: Receiver
    ) -> None:
        first = Harness(settings_for(tmp_path, **FAST, secret_key="key-one"))
        await first.start()
        try:
            admin = await first.add_staff("ada", role="admin")
            endpoint = await subscribe(first, admin, receiver.url, ["tutorial.published"])
        finally:
            await first.stop()
        second = Harness(settings_for(tmp_path, **FAST, secret_key="key-two"))
        await second.start()
        try:
            admin = await second.add_staff("bob", role="admin")
            second.app[WEBHOOKS].publish("tutorial.published", {"tutorial_id": "t1"})

            async def failed() -> bool:
                rows = await deliveries(second, admin, endpoint["id"])
                return bool(rows) and rows[0]["status"] == "failed"

            await wait_until(failed, what="the delivery failed")
            (row,) = await deliveries(second, admin, endpoint["id"])
            assert "SECRET_KEY" in row["last_error"]
            assert receiver.received == []
            # The admin's list says which endpoint no longer signs.
            assert second.http is not None
            async with second.http.get(
                "/api/admin/webhooks", headers={"Cookie": f"va_session={admin}"}
            ) as r:
                listed = (await r.json())["endpoints"]
            assert [(e["id"], e["signing"]) for e in listed] == [(endpoint["id"], False)]
        finally:
            await second.stop()

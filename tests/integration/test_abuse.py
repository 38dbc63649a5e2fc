"""Cheap attacks an anonymous outsider can make on the real app (issue 10), each through real
HTTP and socket.io clients on loopback: ghost tickets, locking staff out, deeply nested JSON,
photo floods. Each test fails without the control that stops it (docs/threat-model.md)."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import cv2
import numpy as np
import pytest

from tests.support.calls import live_call, ready_agent
from tests.support.harness import Harness, wait_until
from tests.support.harness import test_settings as settings_for
from tests.support.ports import free_port
from tests.support.process import ServerProcess
from videoassist.auth import hash_password
from videoassist.desk import TicketState
from videoassist.http.keys import LOGIN_THROTTLE
from videoassist.store.records import Records

DEEP = 5000  # levels; CPython's JSON decoder gives up near 1000


def nested(depth: int = DEEP) -> str:
    return "[" * depth + "]" * depth


@contextmanager
def log_text() -> Iterator[io.StringIO]:
    """Everything the server logs meanwhile, formatted as an operator's log file would be."""
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    # The access log writes one line per request whatever happens; it is not what is measured.
    handler.addFilter(lambda record: record.name != "aiohttp.access")
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield sink
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


async def raw_socket(harness: Harness) -> aiohttp.ClientWebSocketResponse:
    """An engine.io websocket opened by hand, not yet joined to any namespace."""
    assert harness.http is not None
    url = harness.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
    ws = await harness.http.ws_connect(url)
    assert (await ws.receive_str()).startswith("0")  # engine.io open
    return ws


async def stranger_tap(harness: Harness, **body: Any) -> tuple[int, dict[str, Any]]:
    """A tap from a browser never seen before (no device cookie): what taps spread over many
    addresses look like once the per-address limit is out of the way."""
    async with (
        aiohttp.ClientSession(harness.url, cookie_jar=aiohttp.DummyCookieJar()) as http,
        http.post("/api/tickets", json=body) as r,
    ):
        return r.status, await r.json()


# On loopback every tap comes from one address: the per-address limit is lifted so that the
# taps stand for a botnet's, each from its own address.
DISTRIBUTED = {"taps_burst": 10_000, "taps_per_minute": 10_000.0}


class TestGhostTickets:
    GHOSTS = 150

    @pytest.mark.settings(**DISTRIBUTED, max_joining=10)
    async def test_taps_that_never_connect_do_not_push_a_real_customer_back_in_line(
        self, harness: Harness
    ) -> None:
        for _ in range(self.GHOSTS):
            status, _ = await stranger_tap(harness)
            assert status == 201
        ticket = await harness.tap()
        customer = await harness.customer(ticket["token"])
        position = (await customer.call("sync"))["position"]
        # Figure for issue 10: the real customer's place after 150 ghost taps (was 151).
        print(f"\nposition of a real customer after {self.GHOSTS} ghost taps: {position}")
        assert position <= 10
        agent = await ready_agent(harness)
        offer = await agent.inbox.next("offer")
        assert offer["ticket_id"] == ticket["ticket_id"], "a ghost was offered"

    @pytest.mark.settings(**DISTRIBUTED, join_window=0.5)
    async def test_a_ghost_tap_is_never_offered_and_leaves_the_line_after_the_join_window(
        self, harness: Harness
    ) -> None:
        agent = await ready_agent(harness)
        ghosts = [(await stranger_tap(harness))[1]["ticket_id"] for _ in range(5)]
        desk = harness.service.desk
        await wait_until(
            lambda: all(desk.ticket_state(t) is TicketState.ABANDONED for t in ghosts),
            what=lambda: str({t: desk.ticket_state(t) for t in ghosts}),
        )
        await harness.service.settled()
        assert "offer" not in agent.inbox.names()
        assert (await agent.call("sync"))["state"] == "ready", "a ghost tap set the agent Away"
        for ghost in ghosts:  # the store agrees: nothing for a restart to bring back
            assert all(row["id"] != ghost for row in await harness.records.open_tickets())

    @pytest.mark.settings(**DISTRIBUTED, join_window=0.5)
    async def test_a_customer_who_connects_within_the_join_window_is_offered(
        self, harness: Harness
    ) -> None:
        agent = await ready_agent(harness)
        ticket = await harness.tap()
        assert harness.service.desk.ticket_state(ticket["ticket_id"]) is TicketState.JOINING
        await harness.customer(ticket["token"])
        assert (await agent.inbox.next("offer"))["ticket_id"] == ticket["ticket_id"]

    async def test_a_callback_tap_that_never_connected_does_not_survive_a_restart(
        self, tmp_path: Path
    ) -> None:
        settings = settings_for(tmp_path, join_window=0.5)
        before = Harness(settings.with_(join_window=60.0))
        await before.start()
        try:
            _, ghost = await stranger_tap(before, callback=True)
        finally:
            await before.stop()
        after = Harness(settings)
        await after.start()
        try:
            desk = after.service.desk
            assert desk.ticket_state(ghost["ticket_id"]) is TicketState.JOINING
            agent = await ready_agent(after)
            await wait_until(
                lambda: desk.ticket_state(ghost["ticket_id"]) is TicketState.ABANDONED,
                what=lambda: f"the ghost callback is {desk.ticket_state(ghost['ticket_id'])}",
            )
            await after.service.settled()
            assert "offer" not in agent.inbox.names()
            assert await after.records.open_tickets() == []
        finally:
            await after.stop()


# ------------------------------------------------------------------ locking staff out

ADMIN_PASSWORD = "the-admins-own-password"


def from_address(harness: Harness, last: int) -> aiohttp.ClientSession:
    """A client whose connections come from 127.0.0.<last>: on loopback, another machine as far
    as the server can tell (``request.remote``). Cookies are sent by hand, as a test needs."""
    return aiohttp.ClientSession(
        harness.url,
        connector=aiohttp.TCPConnector(local_addr=(f"127.0.0.{last}", 0)),
        cookie_jar=aiohttp.DummyCookieJar(),
    )


async def try_login(
    http: aiohttp.ClientSession, username: str, password: str, device: str | None = None
) -> tuple[int, int, str | None]:
    """(status, Retry-After or 0, the staff device cookie the answer sets)."""
    headers = {"Cookie": f"va_staff_device={device}"} if device else {}
    async with http.post(
        "/api/login", json={"username": username, "password": password}, headers=headers
    ) as r:
        cookie = r.cookies.get("va_staff_device")
        return r.status, int(r.headers.get("Retry-After", 0)), cookie.value if cookie else None


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class TestLockingStaffOut:
    @pytest.mark.settings(login_account_max_failures=20)
    async def test_wrong_passwords_from_many_addresses_do_not_stop_the_admin_logging_in(
        self, harness: Harness
    ) -> None:
        await harness.add_staff("ada", role="admin", password=ADMIN_PASSWORD)
        # The throttle's time stands still, so that its waits cannot run out on a slow machine
        # between the attack and the checks that follow it.
        harness.app[LOGIN_THROTTLE].clock = Clock()
        async with from_address(harness, 1) as own:
            status, _, device = await try_login(own, "ada", ADMIN_PASSWORD)
            assert status == 200 and device  # the admin's browser, known from now on

        async def guess(last: int) -> list[int]:
            async with from_address(harness, last) as http:
                return [(await try_login(http, "ada", f"guess-{n}"))[0] for n in range(5)]

        addresses = range(10, 22)
        statuses = [s for seen in await asyncio.gather(*map(guess, addresses)) for s in seen]
        assert set(statuses) <= {401, 429}
        # At most the account-wide allowance was checked (one more per address racing it),
        # then every new device had to wait.
        assert statuses.count(401) <= 20 + len(addresses), statuses
        assert statuses.count(429) > 0

        async with from_address(harness, 1) as own:
            # Figure for issue 10: before, the first 5 wrong passwords locked the name for
            # 15 minutes and this was a 429; now the admin's own browser logs in.
            status, _, _ = await try_login(own, "ada", ADMIN_PASSWORD, device)
            assert status == 200
            # A browser that never logged in as ada waits while the attack goes on ...
            status, retry_after, _ = await try_login(own, "ada", ADMIN_PASSWORD)
            assert status == 429 and retry_after >= 1
        async with from_address(harness, 2) as other:
            # ... and so does the known browser from an address that sprayed nothing: the
            # cookie, not the address, is what the account-wide wait lets past.
            assert (await try_login(other, "ada", ADMIN_PASSWORD, device))[0] == 200

    async def test_one_address_guessing_waits_twice_as_long_after_each_further_failure(
        self, harness: Harness
    ) -> None:
        await harness.add_staff("alice", password="alices-password")
        clock = Clock()
        harness.app[LOGIN_THROTTLE].clock = clock
        free = harness.settings.login_max_failures
        async with from_address(harness, 30) as guesser, from_address(harness, 31) as alice:
            for n in range(free):
                assert (await try_login(guesser, "alice", f"guess-{n}"))[:2] == (401, 0)
            waits = []
            for n in range(3):
                status, retry_after, _ = await try_login(guesser, "alice", "alices-password")
                assert status == 429  # even the right password waits, from this address
                waits.append(retry_after)
                clock.now += retry_after
                assert (await try_login(guesser, "alice", f"again-{n}"))[0] == 401
            assert waits == [1, 2, 4]
            # Meanwhile alice, from her own address, is not held up at all.
            assert (await try_login(alice, "alice", "alices-password"))[0] == 200
        async with harness.http.post(
            "/api/login", json={"username": "alice", "password": "wrong"}
        ) as r:
            assert r.status == 401  # and nobody else's address either

    async def test_an_admin_lifts_the_wait_and_nobody_else_may(self, harness: Harness) -> None:
        admin = await harness.add_staff("ada", role="admin")
        agent = await harness.add_staff("bob", role="agent")
        await harness.add_staff("alice", password="alices-password")
        async with from_address(harness, 40) as alice:
            for n in range(harness.settings.login_max_failures):
                await try_login(alice, "alice", f"typo-{n}")
            assert (await try_login(alice, "alice", "alices-password"))[0] == 429

            async def unlock(cookie: str | None, name: str = "alice") -> tuple[int, Any]:
                assert harness.http is not None
                headers = {"Cookie": f"va_session={cookie}"} if cookie else {}
                async with harness.http.delete(
                    f"/api/admin/login-throttles/{name}", headers=headers
                ) as r:
                    return r.status, await r.json()

            assert (await unlock(None))[0] == 401
            assert (await unlock(agent))[0] == 403
            status, body = await unlock(admin, "x" * 65)
            assert (status, body["error"]["field"]) == (422, "username")
            assert (await try_login(alice, "alice", "alices-password"))[0] == 429  # unchanged
            assert await unlock(admin) == (200, {"username": "alice", "released": 1})
            assert (await try_login(alice, "alice", "alices-password"))[0] == 200
            assert await unlock(admin) == (200, {"username": "alice", "released": 0})

    async def test_a_restart_keeps_the_wait(self, tmp_path: Path) -> None:
        records = Records.open(f"sqlite+aiosqlite:///{tmp_path / 'videoassist.db'}")
        await records.migrate()
        await records.add_user("ada", "Ada", hash_password(ADMIN_PASSWORD), "admin", time.time())
        await records.close()
        env = {"login_max_failures": "2", "login_backoff": "600", "login_backoff_max": "600"}
        server = ServerProcess(tmp_path, free_port(), **env)
        await server.start()
        try:
            async with aiohttp.ClientSession(server.url) as http:
                for n in range(2):
                    assert (await try_login(http, "ada", f"guess-{n}"))[0] == 401
                assert (await try_login(http, "ada", ADMIN_PASSWORD))[:2] == (429, 600)
            await server.stop()
            await server.start()
            async with aiohttp.ClientSession(server.url) as http:
                status, retry_after, _ = await try_login(http, "ada", ADMIN_PASSWORD)
                assert status == 429 and 500 < retry_after <= 600, server.output
        finally:
            await server.stop()


class TestDeeplyNestedJson:
    @pytest.mark.parametrize("path", ["/api/tickets", "/api/login"])
    async def test_a_body_nested_thousands_deep_is_refused_with_400_and_one_log_line(
        self, harness: Harness, path: str
    ) -> None:
        assert harness.http is not None
        with log_text() as log:
            async with harness.http.post(
                path, data=nested(), headers={"Content-Type": "application/json"}
            ) as r:
                assert r.status == 400
                assert (await r.json())["error"] == {
                    "code": "invalid",
                    "message": "the body is nested too deeply",
                }
        assert "Traceback" not in log.getvalue()
        assert len(log.getvalue().splitlines()) == 1, log.getvalue()
        assert harness.service.desk.tickets == {}

    async def test_a_socket_message_nested_thousands_deep_closes_the_connection_quietly(
        self, harness: Harness
    ) -> None:
        """Before authentication too: the connect packet of /customer carries the nesting."""
        frames = 100
        with log_text() as log:
            for _ in range(frames):
                ws = await raw_socket(harness)
                await ws.send_str(f'40/customer,{{"token": {nested()}}}')
                # The server closes the connection; nothing else comes first.
                closing = await ws.receive(timeout=5)
                assert (
                    closing.type
                    in (
                        aiohttp.WSMsgType.CLOSE,
                        aiohttp.WSMsgType.CLOSED,
                        aiohttp.WSMsgType.CLOSING,
                    )
                    or closing.data == "1"
                ), closing
                await ws.close()
        text = log.getvalue()
        # Figure for issue 10: error-log bytes per 100 bad frames (was 392 KB).
        print(f"\nlog bytes for {frames} nested frames: {len(text.encode())}")
        assert "Traceback" not in text
        assert "ERROR" not in text
        assert len(text.splitlines()) <= frames, text[:2000]


def noise_jpeg(width: int = 1600, height: int = 1200, seed: int = 0) -> bytes:
    """A photo that compresses badly, as a camera's does: about 2 MB of JPEG."""
    image = np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8)
    return bytes(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1])


async def send_photo(
    harness: Harness, call_id: str, token: str, photo: bytes
) -> aiohttp.ClientResponse:
    assert harness.http is not None
    async with harness.http.post(
        f"/api/calls/{call_id}/photos",
        data=io.BytesIO(photo),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "image/jpeg"},
    ) as r:
        await r.read()
        return r


def stored_bytes(harness: Harness, call_id: str) -> int:
    return sum(p.stat().st_size for p in harness.settings.data_dir.rglob(f"{call_id}/*.jpg"))


UNTHROTTLED = {"photos_burst": 1000, "photos_per_minute": 60_000.0}


class TestPhotoFlood:
    FLOOD = 30

    async def test_a_customer_uploading_photos_in_a_loop_is_told_to_slow_down(
        self, harness: Harness
    ) -> None:
        _, agent, call_id, ticket = await live_call(harness)
        photo = noise_jpeg()
        statuses = []
        for _ in range(self.FLOOD):
            r = await send_photo(harness, call_id, ticket["token"], photo)
            statuses.append(r.status)
            if r.status == 429:
                error = (await r.json())["error"]
                assert error["code"] == "rate_limited"
                assert error["message"].startswith("you are sending photos too quickly")
                assert int(r.headers["Retry-After"]) >= 1
        burst = harness.settings.photos_burst
        assert statuses == [201] * burst + [429] * (self.FLOOD - burst)
        await harness.service.settled()
        assert agent.inbox.names().count("photo") == burst
        # Figure for issue 10: bytes stored for one call under a flood of 30 photos of 2 MB.
        print(
            f"\nstored for one call after {self.FLOOD} x {len(photo)} B: "
            f"{stored_bytes(harness, call_id)} B"
        )

    @pytest.mark.settings(**UNTHROTTLED, photo_max_per_call=3)
    async def test_a_call_holds_at_most_its_number_of_photos(self, harness: Harness) -> None:
        _, agent, call_id, ticket = await live_call(harness)
        photo = noise_jpeg(320, 240)
        for _ in range(3):
            assert (await send_photo(harness, call_id, ticket["token"], photo)).status == 201
        async with harness.http.post(
            f"/api/calls/{call_id}/photos",
            data=io.BytesIO(photo),
            headers={"Authorization": f"Bearer {ticket['token']}", "Content-Type": "image/jpeg"},
        ) as r:
            assert r.status == 409
            assert (await r.json())["error"] == {
                "code": "too_many",
                "message": "this call already has 3 photos",
            }
        await harness.service.settled()
        assert agent.inbox.names().count("photo") == 3

    @pytest.mark.settings(**UNTHROTTLED, photo_max_per_call=2)
    async def test_photos_sent_side_by_side_cannot_pass_the_count_together(
        self, harness: Harness
    ) -> None:
        _, _, call_id, ticket = await live_call(harness)
        photo = noise_jpeg(640, 480)
        sent = await asyncio.gather(
            *(send_photo(harness, call_id, ticket["token"], photo) for _ in range(6))
        )
        assert sorted(r.status for r in sent) == [201, 201, 409, 409, 409, 409]
        assert len(list(harness.settings.data_dir.rglob(f"{call_id}/*.jpg"))) == 2

    @pytest.mark.settings(**UNTHROTTLED, photo_max_call_bytes=2 * 2**20)
    async def test_a_call_holds_at_most_its_bytes_of_photos(self, harness: Harness) -> None:
        _, _, call_id, ticket = await live_call(harness)
        photo = noise_jpeg(1000, 700)  # several hundred KB as stored: a few fit, not ten
        statuses = [
            (await send_photo(harness, call_id, ticket["token"], photo)).status for _ in range(10)
        ]
        kept = statuses.count(201)
        assert 1 <= kept < 10 and statuses == [201] * kept + [413] * (10 - kept), statuses
        async with harness.http.post(
            f"/api/calls/{call_id}/photos",
            data=io.BytesIO(photo),
            headers={"Authorization": f"Bearer {ticket['token']}", "Content-Type": "image/jpeg"},
        ) as r:
            assert r.status == 413
            assert (await r.json())["error"] == {
                "code": "too_large",
                "message": "this call's photos are limited to 2 MiB",
            }
        assert stored_bytes(harness, call_id) <= 2 * 2**20


class TestRootNamespace:
    async def test_a_connection_to_the_root_namespace_is_refused(self, harness: Harness) -> None:
        ws = await raw_socket(harness)
        await ws.send_str("40")  # socket.io CONNECT to "/", no credentials
        answer = await ws.receive_str()
        assert answer.startswith("44"), answer  # CONNECT_ERROR
        await ws.close()


class TestQuietLogs:
    async def test_a_client_that_leaves_mid_body_leaves_one_quiet_line(
        self, harness: Harness
    ) -> None:
        port = int(harness.url.rsplit(":", 1)[1])
        with log_text() as log:
            for path in ("/api/tickets", "/api/login"):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(
                    f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                    '{"topic":'.encode()
                )
                await writer.drain()
                writer.close()
                await writer.wait_closed()
            await wait_until(
                lambda: log.getvalue().count("left before its body was read") == 2,
                what=lambda: log.getvalue(),
            )
            await harness.service.settled()
        text = log.getvalue()
        assert "Traceback" not in text and "ERROR" not in text, text
        assert len(text.splitlines()) == 2, text

    async def test_a_handshake_from_a_foreign_origin_leaves_one_quiet_line_each(
        self, harness: Harness
    ) -> None:
        assert harness.http is not None
        url = harness.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        with log_text() as log:
            for _ in range(3):
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await harness.http.ws_connect(url, headers={"Origin": "https://evil.example"})
                assert refused.value.status == 400
        lines = log.getvalue().splitlines()
        assert (
            lines
            == [
                "INFO videoassist.gateway.hardening Gateway: refused a socket.io handshake from "
                "origin 'https://evil.example'"
            ]
            * 3
        ), lines


class TestErrorAnswers:
    async def test_aiohttps_own_404_and_405_under_the_api_are_not_cached_and_405_says_allow(
        self, harness: Harness
    ) -> None:
        assert harness.http is not None
        async with harness.http.get("/api/no-such-thing") as r:
            assert r.status == 404
            assert r.headers["Cache-Control"] == "no-store"
            assert (await r.json())["error"]["code"] == "http_error"
        async with harness.http.get("/api/login") as r:
            assert r.status == 405
            assert r.headers["Cache-Control"] == "no-store"
            assert r.headers["Allow"] == "POST"

    async def test_the_server_header_names_no_library_version(self, harness: Harness) -> None:
        assert harness.http is not None
        for path in ("/", "/api/topics", "/api/no-such-thing", "/static/shared/style.css"):
            async with harness.http.get(path) as r:
                assert r.headers["Server"] == "videoassist", path

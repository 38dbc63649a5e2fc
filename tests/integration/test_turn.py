"""TURN: ephemeral credentials, calls relayed through a real coturn, and the relay's deny rules.

Every coturn here runs the policy lines of turn/turnserver.conf (deny every peer, quotas,
hardening) on loopback; see tests/support/coturn.py.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.calls import live_call
from tests.support.coturn import Coturn, production_allowed_peers, production_policy
from tests.support.harness import Harness, wait_until
from tests.support.harness import test_settings as harness_settings
from tests.support.peers import ClientPeer, dominant_colour
from videoassist import turn
from videoassist.auth import hash_password
from videoassist.settings import Settings, from_env

TURN_SECRET = "turn-test-secret"


@contextmanager
def _coturn(workdir: Path, **options: Any) -> Iterator[Coturn]:
    workdir.mkdir()
    coturn = Coturn(workdir, policy=production_policy(), secret=TURN_SECRET, **options)
    coturn.start()
    try:
        yield coturn
    finally:
        coturn.stop()


@pytest.fixture
def relaying_coturn(tmp_path: Path) -> Iterator[Coturn]:
    """Production rules, loopback standing in for the media servers: deny all but 127.0.0.1."""
    with _coturn(
        tmp_path / "coturn", allowed_peers=["127.0.0.1"], allow_loopback_peers=True
    ) as coturn:
        yield coturn


@asynccontextmanager
async def _harness(tmp_path: Path, coturn: Coturn, **overrides: Any) -> AsyncIterator[Harness]:
    settings = harness_settings(
        tmp_path / "app", turn_urls=(coturn.url,), turn_secret=coturn.secret, **overrides
    )
    harness = Harness(settings)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()


def _turn_entry(ice_servers: list[dict[str, Any]]) -> dict[str, Any]:
    entries = [s for s in ice_servers if any(u.startswith("turn") for u in s["urls"])]
    assert len(entries) == 1, ice_servers
    return entries[0]


def _candidate_types(sdp: str) -> list[str]:
    return [
        line.split(" typ ")[1].split()[0]
        for line in sdp.splitlines()
        if line.startswith("a=candidate:")
    ]


def _ice_connections(peer: ClientPeer) -> list[Any]:
    """The aioice connections under the peer's transceivers (aiortc keeps them private)."""
    transports = {t.sender.transport.transport for t in peer.pc.getTransceivers()}
    return [t._connection for t in transports]


def _watch_states(peer: ClientPeer) -> list[str]:
    states: list[str] = []
    peer.pc.on("connectionstatechange", lambda: states.append(peer.pc.connectionState))
    return states


class TestCredentials:
    def test_password_is_base64_hmac_sha1_of_the_username(self) -> None:
        username, password = turn.credentials("north-wind", "t:abc", 1700000000)
        assert username == "1700000000:t:abc"
        # printf '%s' '1700000000:t:abc' | openssl dgst -sha1 -hmac north-wind -binary | base64
        assert password == "ASXW2bqZma1N/SSvGMySlG0E1Zg="

    def test_ice_server_expires_turn_ttl_after_issue(self) -> None:
        settings = Settings(
            turn_urls=("turn:turn.example.com:3478", "turns:turn.example.com:5349?transport=tcp"),
            turn_secret="s",
            turn_ttl=600,
        )
        server = turn.ice_server(settings, "a:u7", now=1000.9)
        assert server["urls"] == list(settings.turn_urls)
        assert server["username"] == "1600:a:u7"
        expected = hmac.new(b"s", b"1600:a:u7", hashlib.sha1).digest()
        assert base64.b64decode(server["credential"]) == expected

    def test_without_turn_urls_only_the_configured_servers_are_handed_out(self) -> None:
        stun = {"urls": ["stun:stun.example.com:3478"]}
        assert turn.ice_servers(Settings(ice_servers=(stun,)), "t:x") == [stun]

    def test_settings_come_from_the_environment(self) -> None:
        settings = from_env(
            {
                "VIDEOASSIST_TURN_URLS": "turn:a:3478?transport=udp, turns:a:5349?transport=tcp",
                "VIDEOASSIST_TURN_SECRET": "s3",
                "VIDEOASSIST_TURN_TTL": "120",
            }
        )
        assert settings.turn_urls == ("turn:a:3478?transport=udp", "turns:a:5349?transport=tcp")
        assert (settings.turn_secret, settings.turn_ttl) == ("s3", 120.0)

    @pytest.mark.parametrize(
        "environ",
        [
            {"VIDEOASSIST_TURN_URLS": "turn:a:3478"},
            {"VIDEOASSIST_TURN_URLS": "stun:a:3478", "VIDEOASSIST_TURN_SECRET": "s"},
            {
                "VIDEOASSIST_TURN_URLS": "turn:a:3478",
                "VIDEOASSIST_TURN_SECRET": "s",
                "VIDEOASSIST_TURN_TTL": "0",
            },
        ],
    )
    def test_incomplete_turn_settings_refuse_to_start(self, environ: dict[str, str]) -> None:
        with pytest.raises(SystemExit):
            from_env(environ)


class TestCredentialsHandedOut:
    @pytest.mark.settings(turn_urls=("turn:127.0.0.1:3478?transport=udp",), turn_secret="s")
    async def test_customers_and_staff_get_credentials_for_themselves(
        self, harness: Harness
    ) -> None:
        before = int(time.time())
        ticket = await harness.tap()
        await harness.records.add_user("alice", "Alice", hash_password("password-1"), "agent", 0.0)
        assert harness.http is not None
        async with harness.http.post(
            "/api/login", json={"username": "alice", "password": "password-1"}
        ) as r:
            login = await r.json()
            cookie = r.cookies["va_session"].value
        async with harness.http.get("/api/me", headers={"Cookie": f"va_session={cookie}"}) as r:
            me = await r.json()

        for body, subject in [
            (ticket, f"t:{ticket['ticket_id']}"),
            (login, "a:u1"),
            (me, "a:u1"),
        ]:
            entry = _turn_entry(body["ice_servers"])
            expiry, minted_for = entry["username"].split(":", 1)
            assert minted_for == subject
            assert before + 600 <= int(expiry) <= time.time() + 600
            assert entry["urls"] == ["turn:127.0.0.1:3478?transport=udp"]
            digest = hmac.new(b"s", entry["username"].encode(), hashlib.sha1).digest()
            assert base64.b64decode(entry["credential"]) == digest

    @pytest.mark.settings(turn_urls=("turn:127.0.0.1:3478?transport=udp",), turn_secret="s")
    async def test_each_server_leg_gets_its_own_credentials(self, harness: Harness) -> None:
        config = harness.hub.rtc_configuration("s:abc/customer")
        assert [s.urls for s in config.iceServers] == [["turn:127.0.0.1:3478?transport=udp"]]
        assert config.iceServers[0].username.endswith(":s:abc/customer")

    async def test_without_turn_the_ice_servers_are_unchanged(self, harness: Harness) -> None:
        assert (await harness.tap())["ice_servers"] == []
        assert harness.hub.rtc_configuration("s:abc/agent").iceServers == []


class TestRelayedCall:
    async def test_a_relay_only_customer_reaches_the_server_through_coturn(
        self, tmp_path: Path, relaying_coturn: Coturn
    ) -> None:
        async with _harness(tmp_path, relaying_coturn) as harness:
            customer, agent, session_id, ticket = await live_call(harness)
            customer_peer = ClientPeer("red", ice_servers=ticket["ice_servers"], relay_only=True)
            agent_peer = ClientPeer("blue")
            try:
                await customer_peer.connect(customer.client, "/customer", session_id)
                offered = _candidate_types(customer_peer.pc.localDescription.sdp)
                assert offered and set(offered) == {"relay"}, offered
                await agent_peer.connect(agent.client, "/agent", session_id)
                await agent_peer.wait_for_video(count=5, timeout=15)
                assert dominant_colour(agent_peer.video_frames[-1]) == "red"
                await customer_peer.wait_for_video(count=5, timeout=15)

                nominated = [
                    pair for c in _ice_connections(customer_peer) for pair in c._nominated.values()
                ]
                assert nominated
                assert {pair.local_candidate.type for pair in nominated} == {"relay"}, nominated
            finally:
                await customer_peer.close()
                await agent_peer.close()
            log = relaying_coturn.log()
            # The customer's and the server's allocations, each under its own subject.
            assert f":t:{ticket['ticket_id']}>" in log
            assert f":s:{session_id}/customer>" in log


class TestRelayDenyRules:
    @pytest.mark.parametrize(
        "allow_loopback_peers",
        [False, True],
        ids=["as-shipped", "deny-rules-alone"],
    )
    async def test_the_production_rules_refuse_to_relay_to_anything_but_media_servers(
        self, tmp_path: Path, allow_loopback_peers: bool
    ) -> None:
        """As shipped, and again with loopback allowed so that only the deny rules stand guard."""
        with _coturn(
            tmp_path / "coturn",
            allowed_peers=production_allowed_peers(),
            allow_loopback_peers=allow_loopback_peers,
        ) as coturn:
            async with _harness(tmp_path, coturn, media_connect_timeout=3.0) as harness:
                customer, agent, session_id, ticket = await live_call(harness)
                peer = ClientPeer("red", ice_servers=ticket["ice_servers"], relay_only=True)
                states = _watch_states(peer)
                try:
                    await peer.connect(customer.client, "/customer", session_id)
                    assert set(_candidate_types(peer.pc.localDescription.sdp)) == {"relay"}
                    await wait_until(
                        lambda: "CHANNEL_BIND processed, error 403: Forbidden IP" in coturn.log(),
                        timeout=5,
                        what="coturn refusing the customer's channel to the server",
                    )
                    ended = await customer.inbox.next("session_ended", timeout=10)
                    assert ended == {"session_id": session_id, "reason": "media_failed"}
                    await agent.inbox.next("session_ended")
                finally:
                    await peer.close()
                assert "connected" not in states, states
                assert not peer.video_frames
            log = coturn.log()
            assert f"user <{_turn_entry(ticket['ice_servers'])['username']}>" in log
            if allow_loopback_peers:
                assert "A peer IP 127.0.0.1 denied in the range" in log


class TestExpiredCredentials:
    async def test_a_relay_only_peer_with_expired_credentials_gathers_nothing(
        self, relaying_coturn: Coturn
    ) -> None:
        settings = Settings(turn_urls=(relaying_coturn.url,), turn_secret=relaying_coturn.secret)
        expired = turn.ice_server(settings, "t:expired", now=time.time() - 2 * settings.turn_ttl)
        fresh = turn.ice_server(settings, "t:fresh")
        for entry, expect_relay in [(expired, False), (fresh, True)]:
            peer = ClientPeer("red", ice_servers=[entry], relay_only=True)
            try:
                async with asyncio.timeout(10):
                    await peer.pc.setLocalDescription(await peer.pc.createOffer())
                types = _candidate_types(peer.pc.localDescription.sdp)
                assert bool(types) is expect_relay, (entry["username"], types)
                assert set(types) <= {"relay"}
            finally:
                await peer.close()
        log = relaying_coturn.log()
        assert f"user <{expired['username']}>: incoming packet message processed, error 401" in log
        assert f"user <{fresh['username']}>: incoming packet ALLOCATE processed, success" in log

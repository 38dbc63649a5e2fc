"""MEDIA_PORT_RANGE: every ICE candidate the media server offers is on a port of the range, a
call actually connects through it, and a range that is used up is refused clearly."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from tests.support.calls import offer_without_candidates
from tests.support.harness import test_settings as settings_for
from tests.support.harness import wait_until
from tests.support.ports import free_port_range
from videoassist.errors import MediaError
from videoassist.media.hub import MediaHub
from videoassist.media.network import PortRange, configure_gathering


def candidate_ports(sdp: str) -> list[int]:
    # a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ ...
    return [int(line.split()[5]) for line in sdp.splitlines() if line.startswith("a=candidate:")]


@contextlib.asynccontextmanager
async def hub_on(ports: PortRange) -> AsyncIterator[MediaHub]:
    configure_gathering(("127.0.0.1",), ports)
    hub = MediaHub(
        ice_servers=(),
        connect_timeout=15.0,
        max_peer_connections=50,
        on_failure=lambda session, detail: None,
        media_ports=ports,
    )
    try:
        yield hub
    finally:
        await hub.close()
        configure_gathering((), None)


async def test_every_candidate_is_in_the_range_and_a_call_connects_through_it() -> None:
    first = free_port_range(6)
    ports = PortRange(first, first + 5)
    async with hub_on(ports) as hub:
        seen: list[int] = []
        for n in range(3):
            hub.open(f"s{n}", "t", "a")
            for party in ("customer", "agent"):
                answer = await hub.answer(f"s{n}", party, await offer_without_candidates())
                # Each bundled media section lists the same candidate: one port per leg.
                leg = set(candidate_ports(answer.sdp))
                assert len(leg) == 1, answer.sdp
                seen += leg
        assert all(ports.first <= port <= ports.last for port in seen), seen
        assert len(set(seen)) == 6, "one port per peer connection"

    # A real peer connects to a server leg whose candidate is on a port of the range. The
    # client gathers first: the range applies to every aioice user in this process, and the
    # client is not the media server.
    client = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        client.addTransceiver("audio", direction="sendrecv")
        client.addTransceiver("video", direction="sendrecv")
        await client.setLocalDescription(await client.createOffer())
        first = free_port_range(2)
        ports = PortRange(first, first + 1)
        async with hub_on(ports) as hub:
            hub.open("live", "t", "a", customer_joins_later=True)
            answer = await hub.answer("live", "agent", client.localDescription.sdp)
            assert all(ports.first <= p <= ports.last for p in candidate_ports(answer.sdp))
            await client.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))
            await wait_until(lambda: client.connectionState == "connected", 15, "connected")
    finally:
        await client.close()


async def test_a_range_too_small_for_the_calls_asked_is_refused_clearly() -> None:
    first = free_port_range(3)
    async with hub_on(PortRange(first, first + 2)) as hub:
        hub.open("s1", "t", "a")
        hub.open("s2", "t", "a")
        for session, party in (("s1", "customer"), ("s1", "agent"), ("s2", "customer")):
            await hub.answer(session, party, await offer_without_candidates())
        with pytest.raises(MediaError) as refused:
            await hub.answer("s2", "agent", await offer_without_candidates())
        assert refused.value.code == "media_busy"
        assert f"{first}-{first + 2} is used up" in refused.value.message
        assert hub.peer_connections == 3


async def test_ports_held_by_another_program_count_as_used() -> None:
    first = free_port_range(2)
    ports = PortRange(first, first + 1)
    with contextlib.ExitStack() as stack:
        for port in (first, first + 1):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            sock.bind(("127.0.0.1", port))
        async with hub_on(ports) as hub:
            hub.open("s1", "t", "a")
            with pytest.raises(MediaError) as refused:
                await hub.answer("s1", "customer", await offer_without_candidates())
            assert refused.value.code == "media_busy"
            assert hub.peer_connections == 0, "the refused connection gave its slot back"
            assert ports.exhausted >= 1


@pytest.mark.parametrize("bad", ["40000", "40000-39999", "80-90", "a-b", "40000-70000"])
def test_a_malformed_range_is_refused_at_start(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="media_port_range"):
        settings_for(tmp_path, media_port_range=bad)


def test_a_well_formed_range_is_read(tmp_path: Path) -> None:
    assert settings_for(tmp_path, media_port_range="40000-40999").media_ports() == (40000, 40999)

"""Recording through a real MediaHub with real aiortc peers on loopback.

Each party sends a flash/beep clip (tests.support.flashbeep) it encodes itself; the recording
is decoded with PyAV here and the flashes are matched with the beeps: the A/V offset of the
file. Nothing is committed: the clip is made at run time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.encoded import EncodedPeer
from tests.support.flashbeep import beeps, flash_beep_peer, flashes
from tests.support.harness import wait_until
from videoassist.media.hub import MediaHub, MediaSession
from videoassist.media.network import restrict_host_addresses
from videoassist.media.recorder import probe_duration


@pytest.fixture
async def hub() -> AsyncIterator[MediaHub]:
    restrict_host_addresses(("127.0.0.1",))
    hub = MediaHub(ice_servers=(), connect_timeout=15.0, max_peer_connections=20, on_failure=print)
    try:
        yield hub
    finally:
        await hub.close()
        restrict_host_addresses(())


@pytest.fixture
async def peers() -> AsyncIterator[list[EncodedPeer]]:
    made: list[EncodedPeer] = []
    yield made
    for peer in made:
        await peer.close()


async def flash_beep_call(hub: MediaHub, peers: list[EncodedPeer]) -> MediaSession:
    session = hub.open("s1", "t1", "alice")
    customer = flash_beep_peer("customer", seed=1)
    agent = flash_beep_peer("agent", seed=2)
    peers += [customer, agent]
    await customer.connect(hub, "s1", "customer")
    await agent.connect(hub, "s1", "agent")
    return session


def offsets(path: Path) -> tuple[list[float], float, float]:
    """(flash - beep for every flash after the first second, video duration, audio duration)."""
    flash_times, v_first, v_last = flashes(str(path))
    beep_times, a_first, a_last = beeps(str(path))
    assert len(beep_times) >= 5, beep_times
    pairs = [min(beep_times, key=lambda b: abs(b - f)) - f for f in flash_times if f > 1.0]
    return pairs, v_last - v_first, a_last - a_first


class TestRecording:
    async def test_a_ten_second_call_is_recorded_in_sync_without_reencoding(
        self, hub: MediaHub, peers: list[EncodedPeer], tmp_path: Path
    ) -> None:
        session = await flash_beep_call(hub, peers)
        recorder = session.record(tmp_path)
        start = session.clock.now()
        await wait_until(lambda: session.clock.now() - start >= 10.0, 15.0, what="10 s")
        files = {f.party: f for f in await recorder.close()}
        assert set(files) == {"customer", "agent"}
        for party in ("customer", "agent"):
            path = tmp_path / f"{party}.webm"
            pairs, video, audio = offsets(path)
            assert len(pairs) >= 8, f"{party}: {len(pairs)} flashes"
            assert max(abs(p) for p in pairs) <= 0.040, f"{party} A/V offsets {pairs}"
            assert abs(video - audio) <= 0.100, f"{party}: video {video:.3f}s, audio {audio:.3f}s"
            assert video >= 9.5
            assert abs(probe_duration(path) - files[party].duration) <= 0.1
        # The files are written from the packets as they came: no decoder ran on the server
        # besides the customer's pixel decoder, and nothing was dropped.
        dump = session.recorder.dump() if session.recorder else {}
        assert dump["dropped"] == 0
        assert session.dump()["receiver_decodes"] == 0

    async def test_pause_leaves_a_gap_and_video_resumes_on_a_keyframe(
        self, hub: MediaHub, peers: list[EncodedPeer], tmp_path: Path
    ) -> None:
        session = await flash_beep_call(hub, peers)
        recorder = session.record(tmp_path)
        writer = recorder.writers["customer"]
        await wait_until(lambda: writer.stats["video"].packets >= 60, 15.0, what="2 s recorded")
        recorder.pause()
        paused_at = session.clock.now()
        await asyncio.sleep(0)  # let frames already handed over reach the writer
        await wait_until(lambda: session.clock.now() - paused_at >= 2.0, 5.0, what="2 s paused")
        recorder.resume()
        resumed_at = session.clock.now()
        await wait_until(
            lambda: (writer.stats["video"].last or 0) > resumed_at + 1.0, 10.0, what="1 s more"
        )
        await recorder.close()
        import av

        times = []
        with av.open(str(tmp_path / "customer.webm")) as container:
            for packet in container.demux(video=0):
                if packet.pts is not None:
                    times.append((float(packet.pts * packet.time_base), packet.is_keyframe))
        gaps = [(a, b) for (a, _), (b, key) in zip(times, times[1:], strict=False) if b - a > 1.5]
        assert len(gaps) == 1, gaps
        before, after = gaps[0]
        assert before <= paused_at + 0.1 and after >= resumed_at - 0.05
        assert next(key for t, key in times if t == after), "video resumes on a keyframe"

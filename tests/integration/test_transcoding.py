"""Per-leg transcoding through a real MediaHub, with real aiortc peers on loopback.

A party whose peer connection offers only H.264 meets one that offers only VP8: the server cannot
forward either side's packets as-is, so each of those legs decodes (in its own thread) and aiortc's
sender re-encodes in the consumer's codec. The peers here decode what they receive with aiortc's
own decoders and send one solid colour each, so "got the other side's frames" is checked by
colour. A VP8 call in the same hub keeps forwarding packets byte for byte, with no decoder run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import av
import pytest
from aiortc import RTCRtpSender

from tests.integration.test_forwarding import (
    _first_video_codec,
    call,
    check_forwarded,
    frames,
)
from tests.support.encoded import EncodedPeer, loopback_hub, sent_index
from tests.support.harness import wait_until
from tests.support.peers import ClientPeer, dominant_colour
from videoassist.media import aiortc_internals
from videoassist.media.hub import MediaHub

# Measures media against the clock: runs alone, after the parallel part of `make test`.
pytestmark = pytest.mark.solo


@pytest.fixture
async def hub() -> AsyncIterator[MediaHub]:
    async with loopback_hub(quality_interval=0.3) as made:
        yield made


@pytest.fixture
async def client_peers() -> AsyncIterator[list[ClientPeer]]:
    made: list[ClientPeer] = []
    yield made
    for peer in made:
        await peer.close()


def offering_only(colour: str, mime: str) -> ClientPeer:
    """A peer that sends ``colour`` and offers ``mime`` alone for video (plus its RTX)."""
    peer = ClientPeer(colour)
    video = next(t for t in peer.pc.getTransceivers() if t.kind == "video")
    codecs = RTCRtpSender.getCapabilities("video").codecs
    video.setCodecPreferences([c for c in codecs if c.mimeType in (mime, "video/rtx")])
    return peer


async def join(peer: ClientPeer, hub: MediaHub, session_id: str, party: str) -> str:
    """Offer to the hub directly (it is signaling-agnostic); returns the answer's video codec."""
    await peer.pc.setLocalDescription(await peer.pc.createOffer())
    answer = await hub.answer(session_id, party, peer.pc.localDescription.sdp)
    await peer.pc.setRemoteDescription(answer)
    return _first_video_codec(answer.sdp)


def newest_colours(peer: ClientPeer, count: int = 10) -> set[str]:
    return {dominant_colour(frame) for frame in peer.video_frames[-count:]}


class TestPerLegTranscoding:
    async def test_h264_only_and_vp8_only_parties_see_each_other_and_a_vp8_call_still_forwards(
        self, hub: MediaHub, peers: list[EncodedPeer], client_peers: list[ClientPeer]
    ) -> None:
        mixed = hub.open("mixed", "t-mixed", "alice")
        customer = offering_only("red", "video/H264")
        agent = offering_only("blue", "video/VP8")
        client_peers += [customer, agent]
        assert await join(customer, hub, "mixed", "customer") == "H264"
        assert await join(agent, hub, "mixed", "agent") == "VP8"
        # The VP8 call next to it: both parties send and receive VP8 (tests.support.encoded).
        vp8_customer, vp8_agent = await call(hub, peers)

        # Each side decodes the other's colour, in its own codec.
        await customer.wait_for_video(30, timeout=30)
        await agent.wait_for_video(30, timeout=30)
        await wait_until(
            lambda: newest_colours(customer) == {"blue"} and newest_colours(agent) == {"red"},
            20,
            what=lambda: f"colours {newest_colours(customer)} / {newest_colours(agent)}",
        )
        dump = mixed.dump()
        customer_side, agent_side = dump["participants"]["customer"], dump["participants"]["agent"]
        assert customer_side["taps"]["video"]["codec"] == "H264"
        assert agent_side["taps"]["video"]["codec"] == "VP8"
        # Each leg is transcoded, by our own decoder thread: aiortc's receiver decoders stay idle.
        for side, source, sent in ((agent_side, "H264", "VP8"), (customer_side, "VP8", "H264")):
            outlet = side["outlets"]["video"]
            assert (outlet["codec"], outlet["mismatched"], outlet["transcoded"]) == (
                sent,
                source,
                True,
            ), outlet
            assert outlet["transcoder"]["decoded"] >= 30 and outlet["transcoder"]["errors"] == 0
            assert side["transcoded"] is True
            # Audio (Opus on both sides) is still forwarded as packets.
            assert side["outlets"]["audio"]["transcoder"] is None
        assert dump["receiver_decodes"] == 0
        assert dump["fallbacks"] == ["customer/video: VP8 -> H264", "agent/video: H264 -> VP8"]
        # The session's stats say so: the wallboard's quality sample, per leg.
        await wait_until(
            lambda: (
                (hub.quality("mixed") or {}).get("customer", {})
                and all(leg and leg["transcoded"] for leg in (hub.quality("mixed") or {}).values())
            ),
            10,
            what=lambda: f"quality {hub.quality('mixed')}",
        )

        # The VP8 call in the same hub forwards packets untouched, nothing decoded.
        for peer in (vp8_customer, vp8_agent):
            await frames(peer.received["video"], 60)
        for source, sink in ((vp8_customer, vp8_agent), (vp8_agent, vp8_customer)):
            check_forwarded(sink.received["video"], sent_index(source.video))
        plain = hub.sessions["s1"].dump()
        assert plain["receiver_decodes"] == 0 and plain["fallbacks"] == []
        for party in ("customer", "agent"):
            side = plain["participants"][party]
            assert side["transcoded"] is False
            assert side["outlets"]["video"]["transcoder"] is None
            assert side["outlets"]["video"]["transcoded"] is False
        await wait_until(
            lambda: all(
                leg is not None and leg["transcoded"] is False
                for leg in (hub.quality("s1") or {"customer": None}).values()
            ),
            10,
            what=lambda: f"quality {hub.quality('s1')}",
        )

    async def test_a_keyframe_request_on_a_transcoded_leg_still_reaches_the_source(
        self, hub: MediaHub, client_peers: list[ClientPeer]
    ) -> None:
        session = hub.open("mixed", "t-mixed", "alice")
        customer = offering_only("red", "video/H264")
        agent = offering_only("blue", "video/VP8")
        client_peers += [customer, agent]
        await join(customer, hub, "mixed", "customer")
        await join(agent, hub, "mixed", "agent")
        await agent.wait_for_video(10, timeout=30)
        source = session.participants["customer"].fanouts["video"]
        before = source.keyframe_requests
        # The agent's side lost pictures: a PLI for the (VP8, transcoded) video it receives.
        receiver = next(t.receiver for t in agent.pc.getTransceivers() if t.kind == "video")
        stats = await agent.pc.getStats()
        ssrc = next(s.ssrc for s in stats.values() if s.type == "inbound-rtp" and s.kind == "video")
        await aiortc_internals.send_pli(receiver, ssrc)
        await wait_until(
            lambda: source.keyframe_requests > before,
            10,
            what="the PLI relayed to the H.264 source",
        )
        seen = len(agent.video_frames)
        await agent.wait_for_video(min(seen + 10, 200), timeout=20)
        assert newest_colours(agent) == {"red"}

    async def test_a_recording_re_encodes_an_h264_partys_video_to_vp8_and_keeps_its_voice(
        self, hub: MediaHub, client_peers: list[ClientPeer], tmp_path: Path
    ) -> None:
        """WebM takes VP8: the H.264 party's writer thread decodes and encodes its picture
        (recorder.ToVp8), the VP8 party's is written as it came."""
        session = hub.open("mixed", "t-mixed", "alice")
        customer = offering_only("red", "video/H264")
        agent = offering_only("blue", "video/VP8")
        client_peers += [customer, agent]
        await join(customer, hub, "mixed", "customer")
        await join(agent, hub, "mixed", "agent")
        await agent.wait_for_video(5, timeout=30)
        recorder = session.record(tmp_path)
        writers = recorder.writers
        await wait_until(
            lambda: (
                writers["customer"].stats["audio"].packets >= 50
                and writers["customer"].stats["video"].packets >= 30
                and writers["agent"].stats["video"].packets >= 30
            ),
            20,
            what="a second or more recorded",
        )
        await recorder.close()
        assert recorder.outlets[("customer", "video")].mismatched is None
        reencoded = writers["customer"].to_vp8
        assert reencoded is not None and reencoded.encoded >= 30 and reencoded.errors == 0
        assert writers["agent"].to_vp8 is None  # VP8 is written as it came
        with av.open(str(tmp_path / "customer.webm")) as container:
            assert sum(1 for _ in container.decode(audio=0)) >= 50
        with av.open(str(tmp_path / "customer.webm")) as container:
            assert container.streams.video[0].codec_context.name == "vp8"
            theirs = list(container.decode(video=0))
        assert len(theirs) >= 30 and dominant_colour(theirs[-1]) == "red"
        with av.open(str(tmp_path / "agent.webm")) as container:
            pictures = list(container.decode(video=0))
        assert len(pictures) >= 30 and dominant_colour(pictures[-1]) == "blue"

"""Encoded forwarding through a real MediaHub with real aiortc peers on loopback.

The peers (tests.support.encoded) send VP8 and Opus they encoded themselves and log every frame
they receive through our own tap, so what arrived can be compared byte for byte with what was
sent. The hub is driven with SDP directly: it is signaling-agnostic.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import av
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, pack_remb_fci

from tests.support.calls import offer_without_candidates
from tests.support.encoded import (
    EncodedPeer,
    FrameLog,
    drop_outgoing_video,
    loopback_hub,
    sent_index,
)
from tests.support.harness import wait_until
from videoassist.media import aiortc_internals
from videoassist.media.hub import MediaHub

# Measures media against the clock: runs alone, after the parallel part of `make test`.
pytestmark = pytest.mark.solo


@pytest.fixture
async def hub() -> AsyncIterator[MediaHub]:
    async with loopback_hub() as made:
        yield made


async def call(
    hub: MediaHub, peers: list[EncodedPeer], size: tuple[int, int] = (320, 240)
) -> tuple[EncodedPeer, EncodedPeer]:
    hub.open("s1", "t1", "alice")
    customer = EncodedPeer("customer", seed=1, width=size[0], height=size[1])
    agent = EncodedPeer("agent", seed=2, width=size[0], height=size[1])
    peers += [customer, agent]
    await customer.connect(hub, "s1", "customer")
    await agent.connect(hub, "s1", "agent")
    return customer, agent


async def frames(log: FrameLog, count: int, timeout: float = 15.0) -> None:
    await wait_until(
        lambda: len(log.frames) >= count,
        timeout,
        what=lambda: f"{count} frames at {log.name}, have {len(log.frames)}",
    )


def check_forwarded(log: FrameLog, sent: dict[bytes, int]) -> list[int]:
    """Every frame that arrived is one that was sent, byte for byte, in order and without a
    broken reference chain; returns the indexes of the sent frames that arrived."""
    indexes = []
    for frame, _ in log.frames:
        assert frame.data in sent, f"{log.name} got a frame nobody sent ({len(frame.data)} bytes)"
        indexes.append(sent[frame.data])
    assert indexes == sorted(indexes), "frames arrived out of order"
    return indexes


def decode_all(log: FrameLog) -> int:
    """Decode what arrived, as a consumer would; raises on any corrupt frame."""
    decoder = av.CodecContext.create("vp8", "r")
    decoded = 0
    for frame, _ in log.frames:
        decoded += len(decoder.decode(av.Packet(frame.data)))
    return decoded


class TestEncodedForwarding:
    async def test_frames_arrive_byte_identical_and_the_receiver_decoder_stays_idle(
        self, hub: MediaHub, peers: list[EncodedPeer]
    ) -> None:
        customer, agent = await call(hub, peers)
        for peer in (customer, agent):
            await frames(peer.received["video"], 60)
            await frames(peer.received["audio"], 60)

        for source, sink in ((customer, agent), (agent, customer)):
            video = check_forwarded(sink.received["video"], sent_index(source.video))
            assert sink.received["video"].frames[0][0].keyframe, "the first frame is a keyframe"
            assert video == list(range(video[0], video[0] + len(video))), "no video frame lost"
            audio = check_forwarded(sink.received["audio"], sent_index(source.audio))
            assert len(audio) >= 60
        assert decode_all(agent.received["video"]) == len(agent.received["video"].frames)

        dump = hub.sessions["s1"].dump()
        assert dump["forwarding"] == "encoded"
        assert dump["receiver_decodes"] == 0, "aiortc's own decoder never ran"
        assert dump["fallbacks"] == []
        taps = dump["participants"]["customer"]["taps"]
        assert taps["video"]["codec"] == "VP8" and taps["audio"]["codec"] == "opus"
        outlets = dump["participants"]["agent"]["outlets"]
        assert outlets["video"]["codec"] == "VP8" and outlets["video"]["mismatched"] is None
        # The one decoder there is (the customer's video, for stills and sticky marks) has not
        # run: nobody needed pixels. A still starts it, from a keyframe asked for then.
        pixels = hub.sessions["s1"].dump()["pixels"]
        assert (pixels["active"], pixels["decoded"], pixels["runs"]) == (False, 0, 0)
        still = await hub.still("s1")
        assert still.startswith(b"\xff\xd8")
        pixels = hub.sessions["s1"].dump()["pixels"]
        assert pixels["runs"] == 1 and pixels["decoded"] >= 1 and pixels["errors"] == 0
        # Unused for its linger time, it stops decoding and is detached from the tap.
        await wait_until(lambda: not hub.sessions["s1"].dump()["pixels"]["active"], timeout=10)
        decoded = hub.sessions["s1"].dump()["pixels"]["decoded"]
        assert hub.sessions["s1"].dump()["pixels"]["outlet"]["source"] is None
        assert await hub.still("s1")  # and starts again for the next still
        assert hub.sessions["s1"].dump()["pixels"]["runs"] == 2
        assert hub.sessions["s1"].dump()["pixels"]["decoded"] > decoded


class TestLoss:
    async def test_a_packet_lost_with_its_retransmission_costs_one_keyframe_and_nothing_corrupt(
        self, hub: MediaHub, peers: list[EncodedPeer]
    ) -> None:
        customer, agent = await call(hub, peers)
        await frames(agent.received["video"], 30)
        await frames(customer.received["video"], 30)
        before = customer.video.keyframe_requests
        dropped = drop_outgoing_video(customer, after_frames=len(customer.video.sent) + 5)
        await wait_until(lambda: bool(dropped), what="a packet dropped")
        await wait_until(
            lambda: customer.video.keyframe_requests > before, what="a keyframe request upstream"
        )
        seen = len(agent.received["video"].frames)
        await frames(agent.received["video"], seen + 30)

        indexes = check_forwarded(agent.received["video"], sent_index(customer.video))
        log = agent.received["video"].frames
        jumps = [i for i in range(1, len(indexes)) if indexes[i] != indexes[i - 1] + 1]
        assert jumps, "the frame with the lost packet was not forwarded"
        for i in jumps:
            assert log[i][0].keyframe, "after a loss the next forwarded frame is a keyframe"
        assert customer.video.keyframe_requests == before + 1
        assert decode_all(agent.received["video"]) == len(log)
        dump = hub.sessions["s1"].dump()
        assert dump["participants"]["customer"]["taps"]["video"]["lost"] == 1
        assert dump["pixels"]["errors"] == 0


class TestKeyframeRequests:
    async def test_a_consumers_pli_reaches_the_source_throttled(
        self, hub: MediaHub, peers: list[EncodedPeer]
    ) -> None:
        customer, agent = await call(hub, peers)
        await frames(agent.received["video"], 30)
        tap = hub.sessions["s1"].participants["customer"].fanouts["video"]
        await wait_until(lambda: not tap._throttle.pending, what="start-up requests settled")
        before = customer.video.keyframe_requests
        seen = len(agent.received["video"].frames)
        for _ in range(3):
            await agent.ask_for_keyframe()
        await wait_until(
            lambda: customer.video.keyframe_requests == before + 2,
            what=lambda: f"requests at the source: {customer.video.keyframe_requests - before}",
        )
        await wait_until(lambda: not tap._throttle.pending and "keyframe" not in tap._timers)
        assert customer.video.keyframe_requests == before + 2, "3 PLIs: one now, one deferred"
        await wait_until(
            lambda: any(f.keyframe for f, _ in agent.received["video"].frames[seen:]),
            what="a keyframe at the consumer",
        )


class TestSourceSwaps:
    @pytest.mark.parametrize("how", ["reconnect", "warm_transfer"])
    async def test_a_new_source_starts_on_a_keyframe_with_monotonic_timestamps(
        self, hub: MediaHub, peers: list[EncodedPeer], how: str
    ) -> None:
        customer, agent = await call(hub, peers)
        await frames(customer.received["video"], 30)
        await frames(customer.received["audio"], 30)
        if how == "warm_transfer":
            await hub.hand_over("s1", "bob")
        fresh = EncodedPeer("agent2", seed=3)
        peers.append(fresh)
        await fresh.connect(hub, "s1", "agent")

        def from_fresh() -> int:
            new = sent_index(fresh.video)
            return sum(f.data in new for f, _ in customer.received["video"].frames)

        await wait_until(lambda: from_fresh() >= 30, what="video from the new agent")
        log = customer.received["video"].frames
        new = sent_index(fresh.video)
        old = sent_index(agent.video)
        assert all(f.data in old or f.data in new for f, _ in log), "only sent frames arrive"
        first = next(i for i, (f, _) in enumerate(log) if f.data in new)
        assert log[first][0].keyframe, "the new source starts on a keyframe"
        assert all(f.data in new for f, _ in log[first:])
        stamps = [f.timestamp for f, _ in log]
        assert all(b > a for a, b in itertools.pairwise(stamps)), "pts monotonic"
        audio = [f.timestamp for f, _ in customer.received["audio"].frames]
        assert all(b > a for a, b in itertools.pairwise(audio))
        assert decode_all(customer.received["video"]) == len(log)
        assert hub.peer_connections == 2


def _first_video_codec(sdp: str) -> str:
    section = sdp.split("m=video", 1)[1]
    first_pt = section.split("\n", 1)[0].split()[2]
    return next(
        line.split(" ", 1)[1].split("/")[0]
        for line in section.splitlines()
        if line.startswith(f"a=rtpmap:{first_pt} ")
    )


class TestNegotiation:
    async def test_a_simulcast_offer_is_answered_without_simulcast(self, hub: MediaHub) -> None:
        sdp = await offer_without_candidates()
        head, video = sdp.split("m=video", 1)
        mid = next(line for line in video.splitlines() if line.startswith("a=mid:"))
        video = video.replace(
            mid, f"{mid}\r\na=rid:h send\r\na=rid:l send\r\na=simulcast:send h;l", 1
        )
        hub.open("s1", "t1", "alice")
        answer = await hub.answer("s1", "customer", head + "m=video" + video)
        assert "a=rid" not in answer.sdp and "a=simulcast" not in answer.sdp
        assert _first_video_codec(answer.sdp) == "VP8"

    async def test_vp8_is_chosen_even_when_the_offer_prefers_h264(self, hub: MediaHub) -> None:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            video = pc.addTransceiver("video", direction="sendrecv")
            codecs = RTCRtpSender.getCapabilities("video").codecs
            video.setCodecPreferences(sorted(codecs, key=lambda c: c.mimeType != "video/H264"))
            pc.addTransceiver("audio", direction="sendrecv")
            await pc.setLocalDescription(await pc.createOffer())
            assert _first_video_codec(pc.localDescription.sdp) == "H264"
            hub.open("s1", "t1", "alice")
            answer = await hub.answer("s1", "customer", pc.localDescription.sdp)
            assert _first_video_codec(answer.sdp) == "VP8"
        finally:
            await pc.close()


class TestBandwidthEstimates:
    async def test_the_sources_remb_is_no_higher_than_its_consumers_estimate(
        self, hub: MediaHub, peers: list[EncodedPeer]
    ) -> None:
        """aiortc's receiver tells the source what the source→server link takes; forwarded
        packets also cross the consumer's link, so the consumer's REMB caps the source's."""
        customer, agent = await call(hub, peers)
        sender = next(t.sender for t in customer.pc.getTransceivers() if t.kind == "video")
        told: list[int] = []  # what the server's REMBs tell the customer's video sender
        aiortc_internals.on_bandwidth_estimate(sender, told.append)
        await frames(agent.received["video"], 30)
        await wait_until(lambda: any(b > 64_000 for b in told), 15, what=lambda: f"REMB {told}")

        # The agent's side can take 64 kbps: it says so about the video it receives (its own
        # estimator is silenced first, or its next estimate of loopback would replace ours).
        tap = agent.taps["video"]
        receiver = tap._receiver
        receiver._RTCRtpReceiver__remote_bitrate_estimator = None
        rtcp_ssrc = receiver._RTCRtpReceiver__rtcp_ssrc
        assert tap.ssrc is not None and rtcp_ssrc is not None
        remb = RtcpPsfbPacket(
            fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=pack_remb_fci(64_000, [tap.ssrc])
        )
        await receiver._send_rtcp(remb)
        session = hub.sessions["s1"]
        outlet = session.participants["agent"].outgoing["video"]
        await wait_until(lambda: outlet.estimate is not None, 5, what="the agent's REMB")
        seen = len(told)
        await wait_until(
            lambda: any(b <= 64_000 for b in told[seen:]),
            4,
            what=lambda: f"a capped REMB to the customer: {told[seen:]}",
        )
        customer_tap = session.dump()["participants"]["customer"]["taps"]["video"]
        assert customer_tap["consumer_estimate"] == 64_000

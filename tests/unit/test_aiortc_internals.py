"""One test per aiortc private part we rely on (videoassist/media/aiortc_internals.py), named
after it: an aiortc upgrade that moves any of them fails here, loudly, before anything subtle
breaks in a call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from fractions import Fraction
from typing import Any

import aiortc
import av
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpSenderInfo,
    RtcpSrPacket,
    RtpPacket,
    pack_remb_fci,
)

from videoassist.media import aiortc_internals


@pytest.fixture
async def pc() -> AsyncIterator[RTCPeerConnection]:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    yield pc
    await pc.close()


class StandIn:
    def __init__(self) -> None:
        self.packets: list[Any] = []

    def add(self, packet: Any) -> tuple[bool, None]:
        self.packets.append(packet)
        return False, None


def test_aiortc_is_the_version_the_hooks_were_written_for() -> None:
    assert aiortc.__version__ == aiortc_internals.AIORTC_VERSION


async def test_receiver_still_has_a_private_jitter_buffer_we_can_replace(
    pc: RTCPeerConnection,
) -> None:
    """``_handle_rtp_packet`` hands our stand-in every packet, depacketized in ``_data``, and
    puts nothing on the decoder queue when the stand-in returns no frame."""
    receiver = pc.addTransceiver("video").receiver
    stand_in = StandIn()
    counting = aiortc_internals.install_tap(receiver, stand_in)
    codecs = aiortc_internals.receiver_codecs(receiver)
    codecs[96] = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
    packet = RtpPacket(payload_type=96, sequence_number=7, timestamp=1234, ssrc=42)
    packet.payload = b"\x10" + b"\x00\x01\x02"  # VP8 descriptor: S=1, PID=0
    await receiver._handle_rtp_packet(packet, arrival_time_ms=0)
    assert [p.sequence_number for p in stand_in.packets] == [7]
    assert stand_in.packets[0]._data == b"\x00\x01\x02"
    assert counting.frames == 0


async def test_receiver_decoder_queue_is_private_and_counts_what_aiortc_would_decode(
    pc: RTCPeerConnection,
) -> None:
    receiver = pc.addTransceiver("video").receiver
    counting = aiortc_internals.install_tap(receiver, StandIn())
    assert receiver._RTCRtpReceiver__decoder_queue is counting
    counting.put(("codec", "frame"))
    counting.put(None)  # aiortc's stop marker is not a frame
    assert counting.frames == 1


async def test_receiver_send_rtcp_pli_sends_a_pli_for_the_media_ssrc(
    pc: RTCPeerConnection,
) -> None:
    receiver = pc.addTransceiver("video").receiver
    sent: list[bytes] = []

    async def send_rtp(data: bytes) -> None:
        sent.append(data)

    receiver.transport._send_rtp = send_rtp
    receiver._set_rtcp_ssrc(1)
    await aiortc_internals.send_pli(receiver, 4242)
    (packet,) = RtcpPacket.parse(sent[0])
    assert isinstance(packet, RtcpPsfbPacket)
    assert packet.fmt == RTCP_PSFB_PLI and packet.media_ssrc == 4242


@pytest.mark.parametrize("fmt", [RTCP_PSFB_PLI, RTCP_PSFB_FIR])
async def test_sender_send_keyframe_is_called_for_a_consumers_pli_and_fir(
    pc: RTCPeerConnection, fmt: int
) -> None:
    sender = pc.addTransceiver("video").sender
    asked: list[bool] = []
    aiortc_internals.on_keyframe_request(sender, lambda: asked.append(True))
    await sender._handle_rtcp_packet(RtcpPsfbPacket(fmt=fmt, ssrc=1, media_ssrc=sender._ssrc))
    assert asked == [True]


async def test_sender_force_keyframe_is_still_set_when_send_keyframe_is_hooked(
    pc: RTCPeerConnection,
) -> None:
    """A transcoded leg (videoassist.media.transcode) relies on aiortc's own encoder making a
    keyframe for the consumer's PLI: the hook must keep ``_send_keyframe``'s flag."""
    sender = pc.addTransceiver("video").sender
    aiortc_internals.on_keyframe_request(sender, lambda: None)
    assert sender._RTCRtpSender__force_keyframe is False  # type: ignore[attr-defined]
    sender._send_keyframe()
    assert sender._RTCRtpSender__force_keyframe is True  # type: ignore[attr-defined]


class _Items(MediaStreamTrack):
    kind = "video"

    def __init__(self, items: list[Any]) -> None:
        super().__init__()
        self.items = items

    async def recv(self) -> Any:  # type: ignore[override]
        return self.items.pop(0)


async def test_sender_next_encoded_frame_encodes_frames_and_packs_packets_of_one_track(
    pc: RTCPeerConnection,
) -> None:
    """An outlet hands its sender packets, or decoded frames on a transcoded leg, one after the
    other: aiortc 1.16.0's ``_next_encoded_frame`` decides per item (encode a Frame, pack a
    Packet) with the one encoder it made for the negotiated codec."""
    picture = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
    picture.pts, picture.time_base = 0, Fraction(1, 90000)
    data = bytes(range(40))
    packet = av.Packet(data)
    packet.pts, packet.time_base = 3000, Fraction(1, 90000)
    sender = pc.addTransceiver(_Items([picture, packet])).sender
    vp8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
    encoded = await sender._next_encoded_frame(vp8)
    assert encoded is not None and encoded.payloads and encoded.timestamp == 0
    packed = await sender._next_encoded_frame(vp8)
    assert packed is not None and packed.timestamp == 3000
    assert packed.payloads[0].endswith(data)  # packetized as it came, after a VP8 descriptor


async def test_receiver_handle_rtcp_packet_gets_each_sender_report_from_the_transport(
    pc: RTCPeerConnection,
) -> None:
    """The DTLS transport routes an SR by its SSRC to ``_handle_rtcp_packet`` of the receiver
    that owns it; our hook sees the (NTP, RTP) pair that aiortc itself drops."""
    receiver = pc.addTransceiver("audio").receiver
    receiver.transport._rtp_router.register_receiver(receiver, ssrcs=[42], payload_types=[111])
    seen: list[tuple[int, int, int]] = []
    aiortc_internals.on_sender_report(receiver, lambda *report: seen.append(report))
    info = RtcpSenderInfo(
        ntp_timestamp=(3_900_000_000 << 32) | 1 << 31,
        rtp_timestamp=123_456,
        packet_count=1,
        octet_count=100,
    )
    await receiver.transport._handle_rtcp_data(bytes(RtcpSrPacket(ssrc=42, sender_info=info)))
    assert seen == [(42, info.ntp_timestamp, 123_456)]


async def test_transceiver_codecs_hold_the_negotiated_codecs_send_codec_first() -> None:
    offerer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    answerer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        offerer.addTransceiver("video")
        await offerer.setLocalDescription(await offerer.createOffer())
        await answerer.setRemoteDescription(
            RTCSessionDescription(offerer.localDescription.sdp, "offer")
        )
        (transceiver,) = answerer.getTransceivers()
        assert aiortc_internals.sender_codec(transceiver) == "VP8"
    finally:
        await offerer.close()
        await answerer.close()


async def test_install_tap_refuses_a_receiver_whose_decoder_already_runs(
    pc: RTCPeerConnection,
) -> None:
    receiver = pc.addTransceiver("video").receiver
    receiver._RTCRtpReceiver__decoder_thread = object()
    with pytest.raises(RuntimeError, match="decoder thread already runs"):
        aiortc_internals.install_tap(receiver, StandIn())
    receiver._RTCRtpReceiver__decoder_thread = None


async def test_create_transceiver_balanced_policy_leaves_a_second_of_a_kind_off_the_bundle() -> (
    None
):
    """aiortc's BALANCED policy gives a second audio transceiver the first one's transport, and
    the answer's BUNDLE leaves it there, on a transport never started; ``rebundle`` moves it.
    If aiortc fixes this, the first assertion fails: ``rebundle`` may then go."""
    offerer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    answerer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        for kind in ("video", "audio", "audio"):
            offerer.addTransceiver(kind, direction="sendrecv")
        for kind in ("audio", "video", "audio"):
            answerer.addTransceiver(kind, direction="sendrecv")
        await offerer.setLocalDescription(await offerer.createOffer())
        await answerer.setRemoteDescription(offerer.localDescription)
        first, video, second = answerer.getTransceivers()
        primary = video.receiver.transport  # the offer bundles on its first section, video
        assert first.receiver.transport is primary
        assert second.receiver.transport is not primary  # the bug rebundle works around
        assert aiortc_internals.rebundle(answerer) == 1
        assert second.receiver.transport is primary and second.sender.transport is primary
        assert aiortc_internals.rebundle(answerer) == 0
    finally:
        await offerer.close()
        await answerer.close()


async def test_a_tap_counts_bytes_and_video_freezes_for_the_wallboard(
    pc: RTCPeerConnection,
) -> None:
    """Not an aiortc internal but the same set-up: a real receiver, our tap in it, a fake clock.
    A gap of more than FREEZE_GAP between frames is one freeze."""
    from types import SimpleNamespace

    from videoassist.media.forwarding import FREEZE_GAP, Tap

    receiver = pc.addTransceiver("video").receiver
    now = [0.0]
    tap = Tap("video", "test/video", receiver, clock=lambda: now[0])
    aiortc_internals.receiver_codecs(receiver)[96] = RTCRtpCodecParameters(
        mimeType="video/VP8", clockRate=90000, payloadType=96
    )
    # One packet per frame, each a VP8 keyframe (P bit 0, start code, 320x240).
    data = bytes([0x00, 0x00, 0x00, 0x9D, 0x01, 0x2A, 0x40, 0x01, 0xF0, 0x00]) + b"frame"
    arrivals = [0.0, 0.033, 0.066, 0.066 + FREEZE_GAP + 0.1, 0.2 + FREEZE_GAP + 0.1]
    for seq, at in enumerate(arrivals):
        now[0] = at
        packet = SimpleNamespace(
            ssrc=42, payload_type=96, sequence_number=seq, timestamp=seq * 3000,
            marker=1, payload=b"\x10" + data, _data=data,
        )  # fmt: skip
        tap.add(packet)
    assert tap.frames == len(arrivals)
    assert tap.bytes == len(arrivals) * len(data)
    assert tap.freezes == 1
    await tap.close()


async def test_sender_handle_rtcp_packet_gets_each_remb_naming_the_sender(
    pc: RTCPeerConnection,
) -> None:
    sender = pc.addTransceiver("video").sender
    estimates: list[int] = []
    aiortc_internals.on_bandwidth_estimate(sender, estimates.append)
    for ssrcs in ([sender._ssrc], [sender._ssrc + 1]):  # the second names another sender
        remb = RtcpPsfbPacket(
            fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=pack_remb_fci(150_000, ssrcs)
        )
        await sender._handle_rtcp_packet(remb)
    assert estimates == [150_000]


async def test_receiver_remote_bitrate_estimator_reports_the_remb_we_cap(
    pc: RTCPeerConnection,
) -> None:
    """aiortc 1.16.0's ``__remote_bitrate_estimator.add(...)`` returns the (bitrate, ssrcs) its
    receiver sends upstream as REMB; the capped one returns no more than the cap."""
    receiver = pc.addTransceiver("video").receiver
    limit: list[int | None] = [None]
    assert aiortc_internals.cap_bandwidth_estimate(receiver, lambda: limit[0])
    estimator = receiver._RTCRtpReceiver__remote_bitrate_estimator  # type: ignore[attr-defined]
    reported: list[tuple[int, list[int]]] = []
    for i in range(300):  # 10 s of 30 packets a second, 1200 bytes each, no queuing
        if i == 150:
            limit[0] = 20_000
        at_ms = i * 33
        remb = estimator.add(
            abs_send_time=(at_ms * (1 << 18) // 1000) & 0xFFFFFF,
            arrival_time_ms=at_ms,
            payload_size=1200,
            ssrc=7,
        )
        if remb is not None:
            reported.append((i, remb))
    before = [bitrate for i, (bitrate, _) in reported if i < 150]
    after = [bitrate for i, (bitrate, _) in reported if i >= 150]
    assert before and max(before) > 20_000, reported
    assert after and max(after) == 20_000, reported
    assert all(ssrcs == [7] for _, (_, ssrcs) in reported)
    audio = pc.addTransceiver("audio").receiver
    assert not aiortc_internals.cap_bandwidth_estimate(audio, lambda: 1)  # audio: no estimator

"""Client peers that send and receive ENCODED media, to check what the server forwards.

``EncodedPeer`` is one party's aiortc peer connection. It sends VP8 and Opus packets it encodes
itself (PyAV, synthetic content made at run time: moving noise and a noise tone), so every sent
payload is known byte for byte, and a PLI or FIR from the server is counted and honoured with a
keyframe. What it receives goes through our own ``Tap`` into a ``FrameLog``: every assembled
frame with its arrival time, and nothing decoded. The peers talk SDP to a ``MediaHub`` directly
(the hub is signaling-agnostic), so the tests and the benchmark need no socket.io.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from fractions import Fraction
from typing import Any

import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from videoassist.media import aiortc_internals
from videoassist.media.forwarding import EncodedFrame, Tap

FPS = 30
AUDIO_SAMPLES = 960  # 20 ms at 48 kHz


class EncodedSource(MediaStreamTrack):
    """VP8 (video) or Opus (audio) packets of synthetic content, paced in real time."""

    def __init__(self, kind: str, *, width: int = 320, height: int = 240, seed: int = 1) -> None:
        super().__init__()
        self.kind = kind
        self.width, self.height = width, height
        self.sent: list[tuple[bytes, bool, float]] = []  # payload, keyframe, handed-over time
        self.keyframe_requests = 0
        self._force_keyframe = False
        self._rng = np.random.default_rng(seed)
        self._index = 0
        self._start: float | None = None
        if kind == "video":
            self._codec = av.CodecContext.create("libvpx", "w")
            self._codec.width, self._codec.height = width, height
            self._codec.pix_fmt = "yuv420p"
            self._codec.bit_rate = 600_000
            self._codec.time_base = Fraction(1, FPS)
            self._codec.gop_size = 3000  # keyframes only at the start and when asked
            self._codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
            noise = self._rng.integers(0, 256, (height, width * 2), dtype=np.uint8)
            self._scene = np.stack([noise, np.roll(noise, 7, 0), np.roll(noise, 13, 1)], axis=-1)
        else:
            self._codec = av.CodecContext.create("libopus", "w")
            self._codec.sample_rate = 48000
            self._codec.layout = "stereo"
            self._codec.format = "s16"
            self._codec.time_base = Fraction(1, 48000)

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1
        self._force_keyframe = True

    async def _pace(self) -> None:
        period = 1 / FPS if self.kind == "video" else AUDIO_SAMPLES / 48000
        if self._start is None:
            self._start = time.perf_counter()
        delay = self._start + self._index * period - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)

    def _video_frame(self) -> av.VideoFrame:
        offset = (self._index * 3) % self.width
        image = np.ascontiguousarray(self._scene[:, offset : offset + self.width])
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts = self._index
        if self._force_keyframe:
            self._force_keyframe = False
            frame.pict_type = av.video.frame.PictureType.I
        return frame

    def _audio_frame(self) -> av.AudioFrame:
        samples = self._rng.integers(-3000, 3000, (1, AUDIO_SAMPLES * 2), dtype=np.int16)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="stereo")
        frame.sample_rate = 48000
        frame.pts = self._index * AUDIO_SAMPLES
        return frame

    async def recv(self) -> av.Packet:  # type: ignore[override]
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            await self._pace()
            frame = self._video_frame() if self.kind == "video" else self._audio_frame()
            self._index += 1
            data = b"".join(bytes(p) for p in self._codec.encode(frame))
            if not data:
                continue
            packet = av.Packet(data)
            if self.kind == "video":
                packet.pts = (self._index - 1) * (90000 // FPS)
                packet.time_base = Fraction(1, 90000)
                keyframe = not data[0] & 1
            else:
                packet.pts = (self._index - 1) * AUDIO_SAMPLES
                packet.time_base = Fraction(1, 48000)
                keyframe = True
            self.sent.append((data, keyframe, time.perf_counter()))
            return packet


class FrameLog:
    """A consumer of a client-side ``Tap`` that keeps every frame as assembled (no keyframe
    gate, no rebasing), with its arrival time."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.frames: list[tuple[EncodedFrame, float]] = []
        self.changed = asyncio.Event()

    def push(self, frame: EncodedFrame) -> None:
        self.frames.append((frame, time.perf_counter()))
        self.changed.set()

    def source_closed(self, tap: Any) -> None:
        pass


class EncodedPeer:
    """One party: sends its own encoded video and audio, logs what it receives."""

    def __init__(self, name: str, *, seed: int = 1, width: int = 320, height: int = 240) -> None:
        self.name = name
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.video = EncodedSource("video", width=width, height=height, seed=seed)
        self.audio = EncodedSource("audio", seed=seed)
        self.received = {"video": FrameLog(f"{name}/video"), "audio": FrameLog(f"{name}/audio")}
        self.taps: dict[str, Tap] = {}
        video = self.pc.addTransceiver(self.video, direction="sendrecv")
        self.pc.addTransceiver(self.audio, direction="sendrecv")
        aiortc_internals.on_keyframe_request(video.sender, self.video.request_keyframe)
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        receiver = next(r for r in self.pc.getReceivers() if r.track is track)
        tap = Tap(track.kind, f"{self.name}/{track.kind}", receiver)
        tap._outlets.add(self.received[track.kind])  # type: ignore[arg-type]
        self.taps[track.kind] = tap

    async def connect(self, hub: Any, session_id: str, party: str) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await hub.answer(session_id, party, self.pc.localDescription.sdp)
        await self.pc.setRemoteDescription(answer)

    async def ask_for_keyframe(self) -> None:
        """Send a PLI for the video we receive (as a browser does after losing pictures)."""
        tap = self.taps["video"]
        assert tap.ssrc is not None
        await aiortc_internals.send_pli(tap._receiver, tap.ssrc)

    async def close(self) -> None:
        for tap in self.taps.values():
            await tap.close()
        await self.pc.close()


def sent_index(source: EncodedSource) -> dict[bytes, int]:
    return {payload: i for i, (payload, _, _) in enumerate(source.sent)}


def drop_outgoing_video(peer: EncodedPeer, after_frames: int) -> set[int]:
    """Once ``after_frames`` video frames were sent, drop the next video RTP packet that does
    not end a frame, and every retransmission of it (RTX carries the original sequence number
    in its first two payload bytes). Returns the set the dropped sequence number goes into."""
    from aiortc.rtp import RtpPacket, is_rtcp  # test-side only: parse what goes on the wire

    transceiver = next(t for t in peer.pc.getTransceivers() if t.kind == "video")
    transport = transceiver.sender.transport
    original = transport._send_rtp
    dropped: set[int] = set()
    video_ssrc = transceiver.sender._ssrc
    rtx_ssrc = transceiver.sender._rtx_ssrc

    async def send_rtp(data: bytes) -> None:
        if not is_rtcp(data):
            packet = RtpPacket.parse(data)
            if packet.ssrc == video_ssrc:
                if not dropped and len(peer.video.sent) > after_frames and not packet.marker:
                    dropped.add(packet.sequence_number)
                if packet.sequence_number in dropped:
                    return
            elif packet.ssrc == rtx_ssrc and int.from_bytes(packet.payload[:2], "big") in dropped:
                return
        await original(data)

    transport._send_rtp = send_rtp
    return dropped


@contextlib.asynccontextmanager
async def loopback_hub(**options: Any) -> AsyncIterator[Any]:
    """A MediaHub that gathers on loopback only, closed afterwards; the test fails if any
    call's media failed meanwhile. ``options`` go to MediaHub (e.g. ``quality_interval``)."""
    from videoassist.media.hub import MediaHub
    from videoassist.media.network import restrict_host_addresses

    restrict_host_addresses(("127.0.0.1",))
    failures: list[tuple[str, str]] = []
    hub = MediaHub(
        ice_servers=(),
        connect_timeout=15.0,
        max_peer_connections=20,
        on_failure=lambda session, detail: failures.append((session, detail)),
        pixel_linger=1.0,
        **options,
    )
    try:
        yield hub
    finally:
        await hub.close()
        restrict_host_addresses(())
    assert failures == []

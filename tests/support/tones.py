"""aiortc client peers that speak a pure tone and tell apart the tones they hear.

Each party of a supervised call sends its own frequency; what a peer receives is decoded (by
aiortc, on the client side) and its dominant frequency measured per incoming track, so a test
can say whose voice reached whom. Incoming tracks are named by the index of their transceiver,
which is the order of the media sections in the offer.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections import deque
from typing import Any

import numpy as np
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame

from tests.support.peers import ColourTrack, dominant_colour

RATE = 48000
SAMPLES = 960  # 20 ms


class ToneTrack(MediaStreamTrack):
    """A sine of ``frequency`` Hz, mono 48 kHz, paced in real time."""

    kind = "audio"

    def __init__(self, frequency: float) -> None:
        super().__init__()
        self.frequency = frequency
        self._pts = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._pts += SAMPLES
            wait = self._start + self._pts / RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        t = (np.arange(SAMPLES) + self._pts) / RATE
        samples = (0.5 * 32767 * np.sin(2 * np.pi * self.frequency * t)).astype(np.int16)
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        return frame


def dominant_frequency(chunks: list[np.ndarray]) -> float:
    """The strongest frequency (Hz) in mono 48 kHz samples."""
    samples = np.concatenate(chunks).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    spectrum[0] = 0.0
    return float(np.argmax(spectrum) * RATE / len(samples))


class Heard:
    """What arrived on one incoming track: decoded audio (last 0.5 s) or video frames."""

    def __init__(self) -> None:
        self.audio: deque[np.ndarray] = deque(maxlen=25)
        self.audio_frames = 0
        self.video: VideoFrame | None = None
        self.video_frames = 0

    def tone(self) -> float | None:
        return dominant_frequency(list(self.audio)) if len(self.audio) >= 10 else None

    def colour(self) -> str | None:
        return dominant_colour(self.video) if self.video is not None else None


class TonePeer:
    """A party, or a supervisor, offering ``sections`` (kind, direction, what it sends)."""

    def __init__(self, sections: list[tuple[str, str, MediaStreamTrack | None]]) -> None:
        # One transport for all, like a browser: aiortc's default policy gives a second section
        # of a kind its own transport, which the answer's BUNDLE then leaves behind (see
        # videoassist.media.aiortc_internals.rebundle).
        config = RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        self.pc = RTCPeerConnection(config)
        for kind, direction, track in sections:
            self.pc.addTransceiver(track if track is not None else kind, direction=direction)
        self.heard: dict[int, Heard] = {i: Heard() for i in range(len(sections))}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.pc.on("track", self._on_track)

    @classmethod
    def party(cls, colour: str, frequency: float) -> TonePeer:
        """A customer or agent: camera and voice, and a second audio section to hear a
        supervisor on (index 2)."""
        return cls(
            [
                ("video", "sendrecv", ColourTrack(colour)),
                ("audio", "sendrecv", ToneTrack(frequency)),
                ("audio", "recvonly", None),
            ]
        )

    @classmethod
    def supervisor(cls, frequency: float | None) -> TonePeer:
        """A supervisor's sections: customer audio + video, agent audio + video (indexes 0-3);
        with a ``frequency`` the first audio section also sends that tone."""
        voice = ToneTrack(frequency) if frequency is not None else None
        return cls(
            [
                ("audio", "sendrecv" if voice is not None else "recvonly", voice),
                ("video", "recvonly", None),
                ("audio", "recvonly", None),
                ("video", "recvonly", None),
            ]
        )

    def _on_track(self, track: MediaStreamTrack) -> None:
        index = next(
            i for i, t in enumerate(self.pc.getTransceivers()) if t.receiver.track is track
        )
        task = asyncio.create_task(self._consume(track, self.heard[index]))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _consume(self, track: MediaStreamTrack, heard: Heard) -> None:
        try:
            while True:
                frame = await track.recv()
                if isinstance(frame, AudioFrame):
                    data = frame.to_ndarray()
                    channels = len(frame.layout.channels)
                    heard.audio.append(data.reshape(-1)[::channels])  # first channel
                    heard.audio_frames += 1
                else:
                    heard.video = frame
                    heard.video_frames += 1
        except MediaStreamError:
            pass

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def accept(self, answer: Any) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(answer.sdp, answer.type))

    async def sent_rtp(self) -> int:
        report = await self.pc.getStats()
        return sum(
            int(getattr(stat, "packetsSent", 0))
            for stat in report.values()
            if getattr(stat, "type", "") == "outbound-rtp"
        )

    async def close(self) -> None:
        await self.pc.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

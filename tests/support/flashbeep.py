"""A party that sends a known clip: a white flash and a 1 kHz beep at the same instant, once a
second, over a dark picture and silence. Made at run time, encoded by the peer itself (VP8 +
Opus), so a recording's A/V offset can be measured by decoding it: flash time minus beep time.
"""

from __future__ import annotations

import time
from typing import Any

import av
import numpy as np

from tests.support.encoded import AUDIO_SAMPLES, FPS, EncodedPeer, EncodedSource
from videoassist.media import aiortc_internals

BEEP_HZ = 1000
BEEP_SECONDS = 0.06


class _Start:
    """One start instant for a party's two sources: their timestamps share one capture clock."""

    def __init__(self) -> None:
        self.at: float | None = None


class FlashBeepSource(EncodedSource):
    def __init__(self, kind: str, start: _Start, **kwargs: Any) -> None:
        super().__init__(kind, **kwargs)
        self._shared = start

    async def _pace(self) -> None:
        if self._shared.at is None:
            self._shared.at = time.perf_counter()
        self._start = self._shared.at
        await super()._pace()

    def _video_frame(self) -> av.VideoFrame:
        level = 255 if self._index % FPS == 0 else 16
        image = np.full((self.height, self.width, 3), level, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts = self._index
        if self._force_keyframe:
            self._force_keyframe = False
            frame.pict_type = av.video.frame.PictureType.I
        return frame

    def _audio_frame(self) -> av.AudioFrame:
        first = self._index * AUDIO_SAMPLES
        n = np.arange(first, first + AUDIO_SAMPLES)
        beeping = (n % 48000) < BEEP_SECONDS * 48000
        tone = (np.sin(2 * np.pi * BEEP_HZ * n / 48000) * 12000 * beeping).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(
            np.repeat(tone, 2).reshape(1, -1), format="s16", layout="stereo"
        )
        frame.sample_rate = 48000
        frame.pts = first
        return frame


def flash_beep_peer(name: str, *, seed: int = 1) -> EncodedPeer:
    """An ``EncodedPeer`` whose outgoing tracks are a flash/beep pair (sharing a start)."""
    peer = EncodedPeer(name, seed=seed)
    start = _Start()
    video = FlashBeepSource("video", start, seed=seed)
    audio = FlashBeepSource("audio", start, seed=seed)
    for transceiver in peer.pc.getTransceivers():
        if transceiver.kind == "video":
            transceiver.sender.replaceTrack(video)
            aiortc_internals.on_keyframe_request(transceiver.sender, video.request_keyframe)
        else:
            transceiver.sender.replaceTrack(audio)
    peer.video, peer.audio = video, audio
    return peer


def flashes(path: str) -> tuple[list[float], float, float]:
    """Times of the white frames in a recording's video, and its first and last frame time."""
    times, first, last = [], None, 0.0
    with av.open(path) as container:
        for frame in container.decode(video=0):
            t = float(frame.time)
            first = t if first is None else first
            last = t
            luma = frame.to_ndarray(format="gray")
            if luma.mean() > 128:
                times.append(t)
    assert first is not None, "no video in the recording"
    return times, first, last


def beeps(path: str) -> tuple[list[float], float, float]:
    """Onset times of the beeps in a recording's audio, and its first and last sample time."""
    onsets: list[float] = []
    first, last = None, 0.0
    quiet_since = 0.0
    with av.open(path) as container:
        for frame in container.decode(audio=0):
            t = float(frame.time)
            first = t if first is None else first
            samples = frame.to_ndarray()  # Opus decodes to planar float: (channels, samples)
            loud = np.nonzero(np.abs(samples[0]) > 0.1)[0]
            for index in loud:
                at = t + index / frame.sample_rate
                if at - quiet_since > 0.5:
                    onsets.append(at)
                quiet_since = at
            last = t + frame.samples / frame.sample_rate
    assert first is not None, "no audio in the recording"
    return onsets, first, last

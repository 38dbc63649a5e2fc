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
    def __init__(
        self, kind: str, start: _Start, *, seconds: float | None = None, **kwargs: Any
    ) -> None:
        """``seconds``: the clip ends there (the track stops), at the same instant for both
        kinds however late a loaded machine sends it."""
        super().__init__(kind, **kwargs)
        self._shared = start
        per_second = FPS if kind == "video" else 48000 // AUDIO_SAMPLES
        self._limit = None if seconds is None else round(seconds * per_second)

    async def recv(self) -> av.Packet:  # type: ignore[override]
        if self._limit is not None and self._index >= self._limit:
            self.stop()
        return await super().recv()

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


def flash_beep_peer(name: str, *, seed: int = 1, seconds: float | None = None) -> EncodedPeer:
    """An ``EncodedPeer`` whose outgoing tracks are a flash/beep pair (sharing a start), ending
    after ``seconds`` of clip if given."""
    peer = EncodedPeer(name, seed=seed)
    start = _Start()
    video = FlashBeepSource("video", start, seed=seed, seconds=seconds)
    audio = FlashBeepSource("audio", start, seed=seed, seconds=seconds)
    for transceiver in peer.pc.getTransceivers():
        if transceiver.kind == "video":
            transceiver.sender.replaceTrack(video)
            aiortc_internals.on_keyframe_request(transceiver.sender, video.request_keyframe)
        else:
            transceiver.sender.replaceTrack(audio)
    peer.video, peer.audio = video, audio
    return peer


FRAME = 1 / FPS


def flashes(path: str) -> tuple[list[float], float, float]:
    """Onset times of the flashes in a recording's video (the first frame of each bright run),
    and the start and end of its video (the last frame's end).

    "Bright" is relative to what this file shows: above the midpoint between its dark level
    (the median frame) and its brightest frame, so a flash the encoder rendered dimmer (a
    starved rate control on a loaded machine) still counts, and a dark frame never does."""
    times: list[float] = []
    levels: list[float] = []
    with av.open(path) as container:
        for frame in container.decode(video=0):
            times.append(float(frame.time))
            levels.append(float(frame.to_ndarray(format="gray").mean()))
    assert times, "no video in the recording"
    dark, bright = float(np.median(levels)), max(levels)
    assert bright - dark > 40, f"no flash in the video (levels {dark:.0f}..{bright:.0f})"
    threshold = (dark + bright) / 2
    onsets = [
        t
        for i, (t, level) in enumerate(zip(times, levels, strict=True))
        if level > threshold and (i == 0 or levels[i - 1] <= threshold)
    ]
    return onsets, times[0], times[-1] + FRAME


def beeps(path: str) -> tuple[list[float], float, float]:
    """Onset times of the beeps in a recording's audio (the first loud sample after at least
    half a second below the threshold), and the start and end of its audio.

    The threshold is relative too: a quarter of the way from the silence's level to the loudest
    sample, so a codec's gain or noise does not move onsets by more than a few samples."""
    chunks: list[tuple[float, int, np.ndarray]] = []
    with av.open(path) as container:
        for frame in container.decode(audio=0):
            # Opus decodes to planar float: (channels, samples); one channel is enough.
            chunks.append((float(frame.time), frame.sample_rate, np.abs(frame.to_ndarray()[0])))
    assert chunks, "no audio in the recording"
    everything = np.concatenate([samples for _, _, samples in chunks])
    floor, peak = float(np.median(everything)), float(everything.max())
    assert peak - floor > 0.05, f"no beep in the audio (levels {floor:.3f}..{peak:.3f})"
    threshold = floor + (peak - floor) / 4
    onsets: list[float] = []
    loud_last = -1.0
    for start, rate, samples in chunks:
        for index in np.nonzero(samples > threshold)[0]:
            at = start + index / rate
            if at - loud_last > 0.5:
                onsets.append(at)
            loud_last = at
    first = chunks[0][0]
    last = chunks[-1][0] + len(chunks[-1][2]) / chunks[-1][1]
    return onsets, first, last


def pair_up(
    flash_times: list[float], beep_times: list[float], *, window: float = 0.5
) -> tuple[float, list[tuple[float, float]]]:
    """Match flashes with beeps by correlating the two trains of onsets: the lag (beep minus
    flash, within ``window``) at which most flashes have a beep within 20 ms, the smallest such
    lag on a tie; then each flash with the beep nearest to it plus that lag (at most a third of
    the clip's one-second period away). Returns (lag, [(flash, beep)])."""
    candidates = sorted(
        {round(b - f, 4) for f in flash_times for b in beep_times if abs(b - f) <= window},
        key=abs,
    )
    assert candidates, f"no beep near any flash: {flash_times} / {beep_times}"

    def score(lag: float) -> int:
        return sum(any(abs(b - f - lag) <= 0.020 for b in beep_times) for f in flash_times)

    lag = max(candidates, key=score)  # max keeps the first best: the smallest |lag|
    pairs = []
    for f in flash_times:
        b = min(beep_times, key=lambda b: abs(b - f - lag))
        if abs(b - f - lag) <= 1 / 3:
            pairs.append((f, b))
    return lag, pairs

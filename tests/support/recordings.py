"""Recording files written at test time the way the recorder writes them (WebM, VP8 and Opus,
every packet's pts its media time), with pictures and sound whose content says when they are."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

Picture = Callable[[float], np.ndarray]


def write_webm(
    path: Path,
    picture: Picture,
    *,
    start: float = 1.0,
    seconds: float = 4.0,
    fps: int = 25,
    tone: float | None = 440.0,
) -> None:
    """``picture(t)`` is the BGR frame at media time ``t``; frames from ``start`` for
    ``seconds``; with ``tone``, a sine of that pitch as the audio."""
    with av.open(str(path), "w", format="webm") as out:
        first = picture(start)
        video = out.add_stream("libvpx", rate=fps)
        video.height, video.width = first.shape[:2]
        video.pix_fmt = "yuv420p"
        video.bit_rate = 2_000_000
        video.codec_context.time_base = Fraction(1, 90000)
        audio = None
        if tone is not None:
            audio = out.add_stream("libopus", rate=48000)
            audio.layout = "mono"
        frames = round(seconds * fps)
        for n in range(frames):
            t = start + n / fps
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture(t)), "bgr24")
            if frame.width != video.width or frame.height != video.height:
                frame = frame.reformat(video.width, video.height)
            frame.pts = round(t * 90000)
            frame.time_base = Fraction(1, 90000)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if audio is not None and tone is not None:
            total = round(seconds * 48000)
            for i in range(0, total, 960):
                n = min(960, total - i)
                ts = (np.arange(i, i + n) / 48000.0).astype(np.float32)
                wave = (0.3 * np.sin(2 * np.pi * tone * ts)).astype(np.float32).reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(wave, format="flt", layout="mono")
                frame.sample_rate = 48000
                frame.pts = round(start * 48000) + i
                frame.time_base = Fraction(1, 48000)
                out.mux(audio.encode(frame))
            out.mux(audio.encode(None))


def decoded(path: Path) -> list[tuple[float, np.ndarray]]:
    """Every video frame of a file: (time in seconds, BGR picture)."""
    with av.open(str(path)) as container:
        return [
            (float(f.time), f.to_ndarray(format="bgr24"))
            for f in container.decode(container.streams.video[0])
        ]

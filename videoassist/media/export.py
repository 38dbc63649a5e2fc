"""Tutorial export: a recording's kept parts, with the kept marks and the blur burnt in, as one
MP4 (H.264 + AAC, ``+faststart``) or WebM (VP9 + Opus) file. Runs in a worker thread.

Theory of operation:

- The source files are only read (PyAV opens them read-only); the output is written to a
  temporary name next to its final one and renamed when complete, so a failed or cancelled
  job leaves nothing behind.
- Video is constant frame rate (``fps``). Output frame ``n`` shows the newest source frame at
  or before ``timeline.to_source(n / fps)``; the marks on it are those on screen at that source
  time (``Overlay``), drawn by ``videoassist.media.render.draw``, the renderer whose shapes
  match the browser's. So a mark drawn at source time ``t`` first shows on the first output
  frame whose source time is at or after ``t``: within one frame.
- Blur and marks are applied on the source frame (their coordinates are normalized to the
  picture the agent saw); the frame is then letterboxed onto the output canvas (the size of the
  first kept frame, even), scaled to fit with its aspect ratio kept and black bars around:
  a mid-recording change of resolution or orientation is never squeezed.
- Audio: every source file's audio is decoded, resampled to 48 kHz mono and mixed into one
  buffer of the output's length (each sample placed by its media time through the timeline;
  removed parts dropped). The buffer is int16, so ``MAX_OUTPUT_SECONDS`` bounds its memory
  (about 100 kB per second). It is then encoded alongside the video, interleaved.
- ``progress(fraction)`` is called about twice a second; ``cancel`` (a ``threading.Event``) is
  checked at every frame.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from videoassist.annotations import ANNOTATION_ADAPTER, AnyAnnotation
from videoassist.media.render import draw
from videoassist.media.timeline import Blur, Overlay, Timeline

logger = logging.getLogger(__name__)

FORMATS: dict[str, tuple[str, str, str]] = {
    # format: (video codec, audio codec, container)
    "mp4": ("libx264", "aac", "mp4"),
    "webm": ("libvpx-vp9", "libopus", "webm"),
}
AUDIO_RATE = 48000
AUDIO_CHUNK = 960  # 20 ms
MAX_OUTPUT_SECONDS = 1800.0
PROGRESS_EVERY = 0.5  # seconds between progress reports


class ExportError(Exception):
    """The job cannot be done; the message says why, for the trainer."""


class Cancelled(Exception):
    pass


@dataclass(frozen=True, slots=True)
class ExportSpec:
    video: Path
    output: Path
    format: str
    timeline: Timeline
    audio: tuple[Path, ...] = ()
    events: Sequence[Mapping[str, Any]] = ()
    keep: frozenset[str] | None = None
    blurs: tuple[Blur, ...] = ()
    fps: int = 25
    threads: int = 0  # encoder threads; 0: the codec's choice
    preset: str = "veryfast"
    video_bitrate: int = 1_200_000
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExportResult:
    duration: float
    size: int
    width: int
    height: int
    frames: int


def export(
    spec: ExportSpec,
    progress: Callable[[float], None] | None = None,
    cancel: threading.Event | None = None,
) -> ExportResult:
    if spec.format not in FORMATS:
        raise ExportError(f"unknown format {spec.format!r}")
    if spec.timeline.duration > MAX_OUTPUT_SECONDS:
        raise ExportError(f"a tutorial is at most {MAX_OUTPUT_SECONDS / 60:.0f} minutes long")
    if not spec.video.is_file():
        raise ExportError(f"the recording has no {spec.video.name}")
    partial = spec.output.with_name(f".{spec.output.name}.part")
    try:
        result = _export(spec, partial, progress or (lambda _: None), cancel)
        os.replace(partial, spec.output)
        return result
    finally:
        partial.unlink(missing_ok=True)


def _export(
    spec: ExportSpec,
    partial: Path,
    progress: Callable[[float], None],
    cancel: threading.Event | None,
) -> ExportResult:
    timeline = spec.timeline
    total_frames = max(1, math.ceil(timeline.duration * spec.fps))
    audio = _mixed_audio(spec.audio, timeline, cancel) if spec.audio else None
    vcodec, acodec, container_format = FORMATS[spec.format]
    options = {"movflags": "+faststart"} if spec.format == "mp4" else {}
    source = _Frames(spec.video)
    try:
        first = source.first_at_or_after(timeline.start)
        if first is None:
            raise ExportError("the recording has no video in the part kept")
        height, width = first.shape[:2]
        width, height = width - width % 2, height - height % 2
        with av.open(str(partial), "w", format=container_format, options=options) as out:
            vstream: Any = out.add_stream(vcodec, rate=spec.fps)
            vstream.width, vstream.height = width, height
            vstream.pix_fmt = "yuv420p"
            vstream.bit_rate = spec.video_bitrate
            vstream.codec_context.time_base = Fraction(1, spec.fps)
            vstream.thread_count = spec.threads
            if vcodec == "libx264":
                vstream.codec_context.options = {"preset": spec.preset, **spec.extra}
            else:
                vstream.codec_context.options = {
                    "deadline": "realtime",
                    "cpu-used": "8",
                    "row-mt": "1",
                    **spec.extra,
                }
            astream: Any = None
            if audio is not None:
                astream = out.add_stream(acodec, rate=AUDIO_RATE)
                astream.layout = "mono"
                astream.bit_rate = 64000
            overlay = Overlay(spec.events, None if spec.keep is None else set(spec.keep))
            parsed: dict[int, tuple[Mapping[str, Any], AnyAnnotation | None]] = {}
            audio_sent = 0
            last_report = 0.0
            for n in range(total_frames):
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                at = timeline.to_source(n / spec.fps)
                picture = source.at(at)
                if picture is None:
                    picture = first
                picture = _blur(picture, [b for b in spec.blurs if b.active(at)])
                marks = _models(overlay.at(at), parsed)
                if marks:
                    picture = draw(picture, marks, at)
                frame = av.VideoFrame.from_ndarray(_letterbox(picture, width, height), "bgr24")
                frame.pts = n
                frame.time_base = Fraction(1, spec.fps)
                out.mux(vstream.encode(frame))
                if audio is not None and astream is not None:
                    until = min(len(audio), round((n + 1) / spec.fps * AUDIO_RATE))
                    audio_sent = _send_audio(out, astream, audio, audio_sent, until)
                now = time.monotonic()
                if now - last_report >= PROGRESS_EVERY:
                    last_report = now
                    progress(n / total_frames)
            out.mux(vstream.encode(None))
            if audio is not None and astream is not None:
                _send_audio(out, astream, audio, audio_sent, len(audio))
                out.mux(astream.encode(None))
    finally:
        source.close()
    progress(1.0)
    return ExportResult(
        duration=total_frames / spec.fps,
        size=partial.stat().st_size,
        width=width,
        height=height,
        frames=total_frames,
    )


def _models(
    wires: list[dict[str, Any]], cache: dict[int, tuple[Mapping[str, Any], AnyAnnotation | None]]
) -> list[AnyAnnotation]:
    """The marks as models for the renderer, each validated once (a mark that does not
    validate is skipped: the sidecar is ours, but an old one may hold a shape since changed)."""
    out = []
    for wire in wires:
        hit = cache.get(id(wire))
        if hit is None or hit[0] is not wire:
            try:
                model: AnyAnnotation | None = ANNOTATION_ADAPTER.validate_python(wire)
            except ValueError:
                model = None
            hit = (wire, model)
            cache[id(wire)] = hit
        if hit[1] is not None:
            out.append(hit[1])
    return out


def _blur(img: np.ndarray, blurs: list[Blur]) -> np.ndarray:
    if not blurs:
        return img
    out = img.copy()
    h, w = out.shape[:2]
    for b in blurs:
        x0, y0 = max(0, math.floor(b.x * w)), max(0, math.floor(b.y * h))
        x1, y1 = min(w, math.ceil((b.x + b.w) * w)), min(h, math.ceil((b.y + b.h) * h))
        if x1 <= x0 or y1 <= y0:
            continue
        region = out[y0:y1, x0:x1]
        # Pixelate, then smooth: nothing of the detail underneath survives, whatever its size.
        small = cv2.resize(
            region,
            (max(1, (x1 - x0) // 16), max(1, (y1 - y0) // 16)),
            interpolation=cv2.INTER_AREA,
        )
        out[y0:y1, x0:x1] = cv2.GaussianBlur(
            cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR), (0, 0), 4
        )
    return out


def _letterbox(img: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = img.shape[:2]
    if (w, h) == (width, height):
        return img
    if abs(w - width) <= 1 and abs(h - height) <= 1:
        return np.ascontiguousarray(img[:height, :width])
    scale = min(width / w, height / h)
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    canvas = np.zeros((height, width, 3), np.uint8)
    x, y = (width - sw) // 2, (height - sh) // 2
    canvas[y : y + sh, x : x + sw] = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA)
    return canvas


class _Frames:
    """The source video decoded in order; ``at(t)`` is the newest frame at or before ``t``
    (times must not go back)."""

    def __init__(self, path: Path) -> None:
        try:
            self._container = av.open(str(path), "r")
            stream = self._container.streams.video[0]
        except (av.error.FFmpegError, IndexError) as exc:
            raise ExportError(f"{path.name} cannot be read: {exc}") from None
        stream.thread_type = "AUTO"
        self._frames = self._container.decode(stream)
        self._current: tuple[float, np.ndarray] | None = None
        self._next: tuple[float, np.ndarray] | None = None
        self._done = False

    def _pull(self) -> tuple[float, np.ndarray] | None:
        while not self._done:
            try:
                frame = next(self._frames)
            except StopIteration:
                self._done = True
                return None
            except av.error.FFmpegError:
                continue  # a damaged packet: the next keyframe repairs the picture
            if frame.time is None:
                continue
            return float(frame.time), frame.to_ndarray(format="bgr24")
        return None

    def first_at_or_after(self, t: float) -> np.ndarray | None:
        while True:
            item = self._pull()
            if item is None:
                return self._current[1] if self._current else None
            self._current = item
            if item[0] >= t:
                return item[1]

    def at(self, t: float) -> np.ndarray | None:
        while True:
            if self._next is None and not self._done:
                self._next = self._pull()
            if self._next is None or self._next[0] > t:
                return None if self._current is None else self._current[1]
            self._current, self._next = self._next, None

    def close(self) -> None:
        self._container.close()


def _mixed_audio(
    paths: Sequence[Path], timeline: Timeline, cancel: threading.Event | None
) -> np.ndarray | None:
    """Every file's audio on the output timeline, mixed: int16 mono at 48 kHz."""
    length = round(timeline.duration * AUDIO_RATE)
    mix = np.zeros(length, np.float32)
    found = False
    for path in paths:
        if not path.is_file():
            continue
        try:
            container = av.open(str(path), "r")
        except av.error.FFmpegError:
            continue
        try:
            if not container.streams.audio:
                continue
            resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
            for frame in container.decode(container.streams.audio[0]):
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                if frame.time is None:
                    continue
                start = float(frame.time)
                for out in resampler.resample(frame):
                    samples = out.to_ndarray().reshape(-1)
                    _place(mix, samples, start, timeline)
                    start += samples.size / AUDIO_RATE
                    found = True
        except av.error.FFmpegError as exc:
            logger.warning("export: audio of %s cut short: %s", path.name, exc)
        finally:
            container.close()
    if not found:
        return None
    return np.clip(mix * 32767.0, -32768, 32767).astype(np.int16)


def _place(mix: np.ndarray, samples: np.ndarray, start: float, timeline: Timeline) -> None:
    end = start + samples.size / AUDIO_RATE
    for out_start, out_end in timeline.intervals(start, end):
        source_start = timeline.to_source(out_start)
        i = round((source_start - start) * AUDIO_RATE)
        o = round(out_start * AUDIO_RATE)
        n = min(round((out_end - out_start) * AUDIO_RATE), samples.size - i, mix.size - o)
        if n > 0 and i >= 0:
            mix[o : o + n] += samples[i : i + n]


def _send_audio(out: Any, stream: Any, audio: np.ndarray, sent: int, until: int) -> int:
    while sent + AUDIO_CHUNK <= until or (until == len(audio) and sent < until):
        chunk = audio[sent : min(sent + AUDIO_CHUNK, until)]
        frame = av.AudioFrame.from_ndarray(
            (chunk.astype(np.float32) / 32768.0).reshape(1, -1), format="flt", layout="mono"
        )
        frame.sample_rate = AUDIO_RATE
        frame.pts = sent
        frame.time_base = Fraction(1, AUDIO_RATE)
        out.mux(stream.encode(frame))
        sent += chunk.size
    return sent

"""Recording files written at test time the way the recorder writes them (WebM, VP8 and Opus,
every packet's pts its media time), with pictures and sound whose content says when they are."""

from __future__ import annotations

import asyncio
import functools
import json
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

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
        video.codec_context.options = {"deadline": "realtime", "cpu-used": "8"}
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


@functools.cache
def _clip(tone: float) -> bytes:
    """One party's file of a finished recording (25 fps, media time 1.0 .. 6.0), encoded once
    per test process and copied into each test's recordings."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.webm"
        write_webm(path, plain_picture, start=1.0, seconds=5.0, tone=tone)
        return path.read_bytes()


def sidecar_line(at: float | None, kind: str, data: dict[str, Any], actor: str = "agent:a") -> str:
    return json.dumps({"at": at, "wall": 0.0, "kind": kind, "actor": actor, "data": data}) + "\n"


def plain_picture(t: float) -> np.ndarray:
    img = np.full((240, 320, 3), 90, np.uint8)
    img[:, : int((t % 1.0) * 320)] = 160  # a bar that sweeps once a second
    return img


async def finished_recording(
    records: Any,
    root: Path,
    recording_id: str = "r1",
    call_id: str = "call-1",
    *,
    ended_at: float | None = None,
    lines: list[str] | None = None,
) -> dict[str, Any]:
    """A finished recording as ``Recordings`` leaves one: both parties' WebM files (media time
    1.0 .. 6.0), a sidecar, and its row. Default sidecar: a chat line at 2.5 ("press the reset
    button"), a text mark "Reset" and a red rect drawn at 4.0."""
    folder = root / call_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "customer.webm").write_bytes(await asyncio.to_thread(_clip, 440.0))
    (folder / "agent.webm").write_bytes(await asyncio.to_thread(_clip, 660.0))
    if lines is None:
        lines = [
            sidecar_line(1.0, "recording_started", {"room": {"annotations": {}}}, "server"),
            sidecar_line(
                2.5,
                "chat",
                {
                    "id": 1,
                    "from": "agent",
                    "name": "Ann",
                    "text": "press the reset button",
                    "at": 2.5,
                },
            ),
            sidecar_line(
                4.0,
                "annotate",
                {
                    "target": "live",
                    "kind": "text",
                    "id": "t1",
                    "at": [0.1, 0.8],
                    "text": "Reset",
                    "color": "#ffffff",
                    "size": 24,
                    "author": "agent",
                    "created_at": 4.0,
                },
            ),
            sidecar_line(
                4.0,
                "annotate",
                {
                    "target": "live",
                    "kind": "rect",
                    "id": "r1",
                    "x": 0.6,
                    "y": 0.6,
                    "w": 0.3,
                    "h": 0.3,
                    "color": "#ff0000",
                    "width": 6,
                    "author": "agent",
                    "created_at": 4.0,
                },
            ),
        ]
    (folder / "events.jsonl").write_text("".join(lines), encoding="utf-8")
    ended = time.time() if ended_at is None else ended_at
    files = [
        {"party": "customer", "name": "customer.webm", "size": 1, "start": 1.0, "duration": 5.0},
        {"party": "agent", "name": "agent.webm", "size": 1, "start": 1.0, "duration": 5.0},
        {"party": None, "name": "events.jsonl", "size": 1},
    ]
    row = {
        "id": recording_id,
        "call_id": call_id,
        "ticket_id": "t",
        "queue_id": "general",
        "policy": "always",
        "consent": "not_asked",
        "participants": [],
        "files": files,
        "started_at": ended - 5.0,
        "ended_at": ended,
        "duration": 5.0,
        "size": 3,
    }
    await records.add_recording(row)
    return row


def write_resized_webm(
    path: Path, parts: list[tuple[int, int, tuple[int, int, int]]], *, fps: int = 10
) -> None:
    """A VP8 WebM whose picture changes size midway, as a phone's does when it turns: each
    part is (width, height, BGR colour) for one second, encoded on its own and its packets
    muxed into the one stream (a keyframe carries the new size)."""
    with av.open(str(path), "w", format="webm") as out:
        width, height, _ = parts[0]
        stream = out.add_stream("libvpx", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 90000)
        n = 0
        for w, h, colour in parts:
            encoder = av.CodecContext.create("libvpx", "w")
            encoder.width, encoder.height, encoder.pix_fmt = w, h, "yuv420p"
            encoder.time_base = Fraction(1, fps)
            encoder.options = {"deadline": "realtime", "cpu-used": "8"}
            img = np.full((h, w, 3), colour, np.uint8)
            frames = []
            for i in range(fps):
                frame = av.VideoFrame.from_ndarray(img, "bgr24")
                frame.pts = i
                frames.append(frame)
            packets = [p for f in frames for p in encoder.encode(f)] + list(encoder.encode(None))
            for packet in packets:
                packet.stream = stream
                packet.pts = packet.dts = round(n / fps * 90000)
                packet.time_base = Fraction(1, 90000)
                out.mux(packet)
                n += 1

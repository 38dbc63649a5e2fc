"""Recordings for the trainer library's tests, made at test time: rows (ticket, sessions,
recording) in the real records store, and optionally the files a call would have left (two
small VP8 + Opus WebM files encoded here with PyAV, and a sidecar)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from videoassist import annotations as model
from videoassist.desk.events import SessionRow, TicketRow
from videoassist.store.records import Records

# The sidecar every test recording carries: a rectangle drawn at 0.5 s and removed at 2.5 s,
# a chat line at 1.5 s (media clock, seconds).
MARK = model.to_wire(
    model.stamp(
        model.parse_client(
            {"id": "m1", "kind": "rect", "x": 0.25, "y": 0.25, "w": 0.5, "h": 0.5, "color": "red"}
        ),
        author="agent:u2",
        created_at=0.5,
    )
)
CHAT_TEXT = "Press the reset button for five seconds"
SIDECAR = [
    {"at": 0.0, "kind": "recording_started", "actor": "server", "data": {"room": {}}},
    {"at": 0.5, "kind": "annotate", "actor": "agent:u1", "data": {"target": "live", **MARK}},
    {
        "at": 1.5,
        "kind": "chat",
        "actor": "agent:u1",
        "data": {"id": 1, "from": "agent", "name": "Alice", "text": CHAT_TEXT, "at": 1.5},
    },
    {
        "at": 2.5,
        "kind": "annotation_remove",
        "actor": "agent:u1",
        "data": {"target": "live", "id": "m1"},
    },
    {"at": 3.0, "kind": "recording_ended", "actor": "server", "data": {}},
]


def write_webm(
    path: Path, seconds: float, color: tuple[int, int, int], size: tuple[int, int]
) -> float:
    """A VP8 + Opus WebM of one plain colour and a quiet tone; returns its duration."""
    width, height = size
    with av.open(str(path), "w", format="webm") as out:
        video = out.add_stream("libvpx", rate=15)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = out.add_stream("libopus", rate=48000)
        audio.layout = "mono"  # type: ignore[union-attr]
        frames = round(seconds * 15)
        picture = np.zeros((height, width, 3), np.uint8)
        picture[:] = color
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 15)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        t = np.arange(960) / 48000
        for i in range(round(seconds * 50)):
            samples = (0.05 * np.sin(2 * np.pi * 440 * (t + i * 0.02)) * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 48000, i * 960, Fraction(1, 48000)
            out.mux(audio.encode(frame))
        out.mux(audio.encode(None))
    return seconds


async def seed_recording(
    records: Records,
    recording_id: str,
    *,
    topic: str = "setup",
    queue_id: str = "general",
    agents: tuple[tuple[str, str | None], ...] = (("u1", "resolved"),),
    started_at: float = 1_700_000_000.0,
    root: Path | None = None,
) -> dict[str, Any]:
    """A finished call's rows; with ``root`` (the recordings folder) also its files."""
    call_id = f"call-{recording_id}"
    ticket_id = f"t-{recording_id}"
    await records.save_ticket(
        TicketRow(
            ticket_id, topic, "", "ended", started_at - 30, started_at + 60, "hangup", queue_id
        )
    )
    for n, (agent_id, disposition) in enumerate(agents):
        await records.save_session(
            SessionRow(
                f"s-{recording_id}-{n}",
                ticket_id,
                agent_id,
                started_at - 30,
                started_at + n,
                ended_at=started_at + 60,
                disposition=disposition,
                call_id=call_id,
            )
        )
    files: list[dict[str, Any]] = []
    if root is not None:
        folder = root / call_id
        folder.mkdir(parents=True, exist_ok=True)
        for party, color, size in (
            ("customer", (30, 140, 60), (320, 240)),
            ("agent", (40, 60, 160), (160, 120)),
        ):
            path = folder / f"{party}.webm"
            duration = write_webm(path, 3.0, color, size)
            files.append(
                {
                    "party": party,
                    "name": path.name,
                    "size": path.stat().st_size,
                    "start": 0.0,
                    "duration": duration,
                }
            )
        sidecar = folder / "events.jsonl"
        sidecar.write_text(
            "".join(json.dumps({"wall": started_at, **line}) + "\n" for line in SIDECAR)
        )
        files.append({"party": None, "name": sidecar.name, "size": sidecar.stat().st_size})
    row = {
        "id": recording_id,
        "call_id": call_id,
        "ticket_id": ticket_id,
        "queue_id": queue_id,
        "policy": "always",
        "consent": "not_asked",
        "participants": [f"customer:{ticket_id}", *(f"agent:{a}" for a, _ in agents)],
        "files": files,
        "started_at": started_at,
        "ended_at": started_at + 60,
        "duration": 3.0 if files else 0.0,
        "size": sum(f["size"] for f in files),
    }
    await records.add_recording(row)
    return row

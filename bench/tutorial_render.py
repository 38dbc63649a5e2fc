"""Tutorial export speed at 640x480, on one core, against a plain decode+encode (goal: ≥ 3x
real time).

A recording-like WebM (VP8 640x480 at 25 fps with Opus, pts on a media clock, made at start)
is exported three ways in the same run, alternating so that the machine's drift hits all alike:

* **baseline** — decode every frame with PyAV and encode it to H.264 (same preset, same
  threads), nothing else: the floor any export pays;
* **export, plain** — ``videoassist.media.export`` with no marks and no blur (timeline,
  CFR resampling, letterbox check, audio mix and AAC);
* **export, marked** — with a trim and a cut, 4 marks on screen (arrow, rect, pen, text) and
  one blur rectangle for half the time.

Encoders and decoders are limited to one thread, and the process's CPU time is measured (so
the figure is per core even on a loaded machine). Printed: seconds of output per second of CPU
("x real time") and the ratio to the baseline.

Run: ``.venv/bin/python -m bench.tutorial_render`` from the repository root (``--help``).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from tests.support.recordings import write_webm
from videoassist.media.export import ExportSpec, export
from videoassist.media.timeline import Blur, Timeline

W, H, FPS = 640, 480, 25


def picture(t: float) -> np.ndarray:
    img = np.zeros((H, W, 3), np.uint8)
    x = int((t * 80) % W)
    cv2.rectangle(img, (x, 100), (x + 120, 300), (40, 160, 220), -1)
    cv2.putText(img, f"{t:6.2f}", (20, 440), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
    noise = np.random.default_rng(int(t * FPS)).integers(0, 40, (H, W, 1), np.uint8)
    return cv2.add(img, np.repeat(noise, 3, axis=2))


def marks(at: float) -> list[dict[str, object]]:
    common = {"author": "agent", "created_at": at, "color": "#ff3b30", "width": 6}
    shapes = [
        {"kind": "arrow", "id": "a", "from": [0.1, 0.1], "to": [0.4, 0.4], **common},
        {"kind": "rect", "id": "r", "x": 0.5, "y": 0.5, "w": 0.3, "h": 0.2, **common},
        {
            "kind": "pen",
            "id": "p",
            "points": [[0.2 + i / 50, 0.7 + (i % 5) / 50] for i in range(30)],
            **common,
        },
        {"kind": "text", "id": "t", "at": [0.1, 0.85], "text": "Press reset", "size": 28, **common},
    ]
    return [{"at": at, "kind": "annotate", "data": {"target": "live", **s}} for s in shapes]


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def baseline(source: Path, out: Path) -> float:
    start = cpu()
    with av.open(str(source)) as src, av.open(str(out), "w", format="mp4") as dst:
        stream = dst.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.thread_count = 1
        stream.codec_context.options = {"preset": "veryfast"}
        stream.codec_context.time_base = Fraction(1, FPS)
        vin = src.streams.video[0]
        vin.thread_count = 1
        for n, frame in enumerate(src.decode(vin)):
            img = frame.to_ndarray(format="bgr24")
            out_frame = av.VideoFrame.from_ndarray(img, "bgr24")
            out_frame.pts, out_frame.time_base = n, Fraction(1, FPS)
            dst.mux(stream.encode(out_frame))
        dst.mux(stream.encode(None))
    return cpu() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="source length")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--format", choices=("mp4", "webm"), default="mp4")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    print("bench.tutorial_render:", " ".join(sys.argv))
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        source = root / "customer.webm"
        write_webm(source, picture, start=1.0, seconds=args.seconds, fps=FPS)
        end = 1.0 + args.seconds
        whole = Timeline.of(end, 1.0)
        edited = Timeline.of(end, 2.0, end - 1.0, [(5.0, 6.0)])
        events = marks(2.5)
        blur = Blur(start=2.0, end=2.0 + args.seconds / 2, x=0.6, y=0.05, w=0.3, h=0.2)
        results: dict[str, list[float]] = {"baseline": [], "plain": [], "marked": []}
        seconds = {"baseline": args.seconds, "plain": whole.duration, "marked": edited.duration}
        for _ in range(args.rounds):
            results["baseline"].append(baseline(source, root / "base.mp4"))
            for name, timeline, ev, blurs in (
                ("plain", whole, [], ()),
                ("marked", edited, events, (blur,)),
            ):
                start = cpu()
                export(
                    ExportSpec(
                        video=source,
                        output=root / f"{name}.{args.format}",
                        format=args.format,
                        timeline=timeline,
                        audio=(source,),
                        events=ev,
                        blurs=blurs,
                        threads=1,
                    )
                )
                results[name].append(cpu() - start)
        best_base = min(results["baseline"])
        print(
            f"source: {W}x{H}@{FPS} VP8+Opus, {args.seconds:.0f} s; output {args.format}; "
            f"{args.rounds} rounds, best CPU time of each"
        )
        print("| run | output s | CPU s | x real time (per core) | CPU per output s vs baseline |")
        print("| --- | --- | --- | --- | --- |")
        for name, times in results.items():
            best = min(times)
            ratio = (best / seconds[name]) / (best_base / seconds["baseline"])
            print(
                f"| {name} | {seconds[name]:.1f} | {best:.2f} | "
                f"{seconds[name] / best:.1f}x | {ratio:.2f} |"
            )


if __name__ == "__main__":
    t0 = time.monotonic()
    main()
    print(f"({time.monotonic() - t0:.0f} s)")

"""Server CPU per call with recording on versus off (goal: at most +20%), in one run.

The same setup as bench/media_forwarding.py (N calls on loopback, each party sending
640x480@30 VP8 + Opus, the media hub in a child process whose CPU time is measured), run with
encoded forwarding twice per setting, alternating (off, on, off, on) so that a drift of the
machine's load hits both alike. With recording on, every call is recorded from the start (as the
policy "always" does): four more outlets per call and two writer threads muxing WebM.

Run: ``.venv/bin/python -m bench.recording`` from the repository root (``--help``); about
a minute with the defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

from bench.media_forwarding import CLIP_FRAMES, FPS, machine, make_audio, make_clip, run_mode


async def main(args: argparse.Namespace) -> None:
    started = time.monotonic()
    print("bench.recording:", " ".join(sys.argv))
    print("machine:", machine())
    print(f"clips: 640x480@{FPS} VP8 ({CLIP_FRAMES} frames, looped) and Opus; {args.calls} calls")
    clips = {
        "customer": make_clip(640, 480, 1),
        "agent": make_clip(640, 480, 2),
        "audio": make_audio(3),
    }
    cpu: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.rounds):
        for record in (False, True):
            result = await run_mode("encoded", args.calls, args.seconds, clips, record=record)
            per_call = result["server_cpu"] / args.calls
            cpu[record].append(per_call)
            print(
                f"  recording {'on ' if record else 'off'}: server CPU {result['server_cpu']:6.1%}"
                f" = {per_call:6.2%} of a core per call; received fps min {result['fps_min']:.1f}"
                + (
                    f"; written {result['recorded_bytes'] / 1e6:.1f} MB,"
                    f" dropped {result['recorder_dropped']}"
                    if record
                    else ""
                ),
                flush=True,
            )
    off, on = statistics.median(cpu[False]), statistics.median(cpu[True])
    print(
        f"median CPU per call: off {off:.2%}, on {on:.2%} of a core: "
        f"recording adds {on / off - 1:+.1%} (goal <= +20%)"
    )
    print(f"total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2, help="concurrent calls (default 2)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window per run")
    parser.add_argument("--rounds", type=int, default=2, help="off/on pairs (default 2)")
    asyncio.run(main(parser.parse_args()))

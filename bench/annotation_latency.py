"""Agent stroke -> customer: how long an annotation takes from the agent's emit to the customer.

Both sides are python-socketio clients of a real in-process server on loopback; the clock is one
``perf_counter`` (same process). Baseline in the same run: the ``typing`` relay (real-time
text), which crosses the same sockets and gateway but skips validation, stamping, the call's
store and the event log: the floor of any in-call event. Goal (issue 4): <= 100 ms on loopback
(a browser adds one paint, ~16 ms at 60 Hz, which this does not measure).

    .venv/bin/python -m bench.annotation_latency [--n 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from tests.support.harness import Harness, test_settings


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        harness = Harness(
            test_settings(Path(tmp), socket_events_per_second=1000.0, socket_events_burst=1000)
        )
        await harness.start()
        try:
            agent = await harness.agent(await harness.add_staff("alice"))
            await agent.call("ready")
            ticket = await harness.tap()
            customer = await harness.customer(ticket["token"])
            await agent.inbox.next("offer")
            session = (await agent.call("accept", {"ticket_id": ticket["ticket_id"]}))["session_id"]
            await customer.inbox.next("matched")

            arrived: dict[str, float] = {}
            got = asyncio.Event()

            async def on_annotation(data: dict) -> None:
                arrived[data["annotation"]["id"]] = time.perf_counter()
                got.set()

            async def on_typing(data: dict) -> None:
                arrived[data["text"]] = time.perf_counter()
                got.set()

            customer.client.on("annotation", on_annotation, namespace="/customer")
            customer.client.on("typing", on_typing, namespace="/customer")

            async def measure(kind: str, i: int) -> float:
                key = f"{kind}{i}"
                got.clear()
                start = time.perf_counter()
                if kind == "a":
                    mark = {"kind": "arrow", "id": key, "from": [0.1, 0.2], "to": [0.5, 0.6]}
                    payload = {"session_id": session, "annotation": mark}
                    await agent.client.emit("annotate", payload, namespace="/agent")
                else:
                    payload = {"session_id": session, "text": key}
                    await agent.client.emit("typing", payload, namespace="/agent")
                async with asyncio.timeout(5):
                    while key not in arrived:
                        await got.wait()
                        got.clear()
                return (arrived[key] - start) * 1000

            ours: list[float] = []
            floor: list[float] = []
            for i in range(n):  # interleaved, so both see the same machine
                floor.append(await measure("t", i))
                ours.append(await measure("a", i))
                if i % 150 == 149:  # stay under the per-target cap of stored marks
                    await agent.call("annotations_clear", {"session_id": session})
        finally:
            await harness.stop()

    def row(name: str, values: list[float]) -> str:
        return (
            f"{name:<28} n={len(values):<5} p50={statistics.median(values):6.2f} ms  "
            f"p95={_pct(values, 0.95):6.2f} ms  max={max(values):6.2f} ms"
        )

    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    print(row("typing relay (baseline)", floor))
    print(row("annotate (ours)", ours))
    print(
        f"ratio ours/baseline: p50 {statistics.median(ours) / statistics.median(floor):.2f}x, "
        f"p95 {_pct(ours, 0.95) / _pct(floor, 0.95):.2f}x; goal p95 <= 100 ms: "
        f"{'met' if _pct(ours, 0.95) <= 100 else 'NOT met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(asyncio.wait_for(run(args.n), timeout=300))


if __name__ == "__main__":
    main()

"""Latency the media hub adds: a frame through the hub against the same peers connected directly.

Two aiortc peers (``tests.support.encoded.EncodedPeer``) send VP8 and Opus they encoded
themselves and take what they receive through a tap, as the hub does (no jitter buffer on either
side), so a frame that arrives is matched byte for byte with the frame sent, and its delay is
the receiver's arrival time minus the sender's hand-over to aiortc. The baseline is the same
two peers connected to each other directly, measured in the same run: aiortc's own path on
loopback. The figure is the median delay through the hub over the baseline's, per kind, after
the first 1.5 s (start-up: codec contexts, the hub's pixel decoder).

aiortc's jitter buffer alone would add a frame interval (33 ms) to video and four packets
(80 ms) to audio: a hub that buffered would show here as tens of milliseconds, not one or two.

Run: ``.venv/bin/python -m bench.forwarding_latency`` from the repository root (``--help``);
about half a minute with the defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
from collections.abc import Awaitable, Callable
from typing import Any

from tests.support.encoded import EncodedPeer, FrameLog, loopback_hub
from tests.support.harness import wait_until

SKIP = {"video": 45, "audio": 75}  # 1.5 s of start-up


async def frames(log: FrameLog, count: int) -> None:
    await wait_until(lambda: len(log.frames) >= count, 60, what=f"{count} frames at {log.name}")


def delays(sender: EncodedPeer, receiver: EncodedPeer, kind: str) -> list[float]:
    source = getattr(sender, kind)
    sent = {payload: at for payload, _, at in source.sent}
    return [at - sent[f.data] for f, at in receiver.received[kind].frames[SKIP[kind] :]]


async def measured(
    connect: Callable[[EncodedPeer, EncodedPeer], Awaitable[None]],
    seconds: float,
    size: tuple[int, int],
) -> dict[str, list[float]]:
    """The customer's frames at the agent, however ``connect`` joined the two peers."""
    customer = EncodedPeer("customer", seed=1, width=size[0], height=size[1])
    agent = EncodedPeer("agent", seed=2, width=size[0], height=size[1])
    try:
        await connect(customer, agent)
        await frames(agent.received["video"], SKIP["video"] + int(30 * seconds))
        await frames(agent.received["audio"], SKIP["audio"] + int(50 * seconds))
        return {kind: delays(customer, agent, kind) for kind in SKIP}
    finally:
        await customer.close()
        await agent.close()


async def through_hub(seconds: float, size: tuple[int, int]) -> dict[str, list[float]]:
    async with loopback_hub() as hub:
        hub.open("s1", "t1", "alice")

        async def connect(customer: EncodedPeer, agent: EncodedPeer) -> None:
            await customer.connect(hub, "s1", "customer")
            await agent.connect(hub, "s1", "agent")

        return await measured(connect, seconds, size)


async def direct(seconds: float, size: tuple[int, int]) -> dict[str, list[float]]:
    async def connect(customer: EncodedPeer, agent: EncodedPeer) -> None:
        await customer.pc.setLocalDescription(await customer.pc.createOffer())
        await agent.pc.setRemoteDescription(customer.pc.localDescription)
        await agent.pc.setLocalDescription(await agent.pc.createAnswer())
        await customer.pc.setRemoteDescription(agent.pc.localDescription)

    async with loopback_hub():  # the same loopback-only gathering, no hub in the path
        return await measured(connect, seconds, size)


def ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(args: argparse.Namespace) -> None:
    size = (args.width, args.height)
    load_before = os.getloadavg()[0]
    results: dict[str, dict[str, list[float]]] = {}
    for name, run in (("direct", direct), ("hub", through_hub)):
        got: dict[str, list[float]] = {"video": [], "audio": []}
        for _ in range(args.rounds):
            once: dict[str, Any] = await run(args.seconds, size)
            for kind in got:
                got[kind] += once[kind]
        results[name] = got
    print(
        f"{platform.machine()} · {os.cpu_count()} cores · {size[0]}x{size[1]} · load average "
        f"{load_before:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    )
    print(f"{'path':6} {'kind':6} {'n':>5} {'p50':>8} {'p95':>8} {'min':>8} {'max':>8}")
    for kind in ("video", "audio"):
        for name in ("direct", "hub"):
            got = results[name][kind]
            print(
                f"{name:6} {kind:6} {len(got):5d} {ms(got, 0.5):6.2f}ms {ms(got, 0.95):6.2f}ms "
                f"{1000 * min(got):6.2f}ms {1000 * max(got):6.2f}ms"
            )
    for kind in ("video", "audio"):
        base = statistics.median(results["direct"][kind])
        hub = statistics.median(results["hub"][kind])
        print(
            f"{kind}: through the hub / direct (median) = {hub / base:.2f}x "
            f"(+{1000 * (hub - base):.2f} ms)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="measured per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    asyncio.run(main(parser.parse_args()))

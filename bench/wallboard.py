"""Wallboard push latency: how long a change of the floor takes to reach a supervisor's socket.

The scene: the real server (``tests.support.harness``: aiohttp, python-socketio, SQLite) with
200 customers waiting in one queue and 50 agents signed in, and one supervisor connected to
``/supervisor`` with python-socketio's client, in the same process. A driver posts agent state
changes to the service's inbox at a fixed rate (round robin over the agents: Ready, which rings
them with a customer, then Away with a reason, which puts the customer back; so each change
changes the picture); nothing waits for them to be handled, so a slow inbox shows up as latency
rather than as a slower driver.

What is timed: for each posted change, from the moment it was posted to the moment the
supervisor's client received the first ``floor`` picture drawn after the desk handled it
(``time.time()`` on both sides; the bench counts the changes the desk has handled and stamps
each outgoing picture with that count, so "drawn after" is exact). p50/p95/max, pushes, bytes.

Two ways to push, each run in turn at each rate, in the same process:

* ``coalesced`` (ours, videoassist/floor.py): every ``WALLBOARD_INTERVAL`` (0.5 s) the picture
  is drawn and pushed if it changed;
* ``every event`` (the baseline): the full picture drawn and pushed after each desk event, in
  the service's effect path, as a naive wallboard would.

Run: ``.venv/bin/python -m bench.wallboard`` from the repository root (``--help``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import socketio

from tests.support.harness import Harness, connect_socket, test_settings, wait_until
from videoassist.desk import ServerEvent
from videoassist.desk.events import (
    AgentAway,
    AgentReady,
    AgentSignedIn,
    CustomerReturned,
    CustomerTapped,
)
from videoassist.http.keys import DELIVERY, WALLBOARD

REASONS = ("away", "break", "lunch", "meeting", "training")


class Scene:
    """One server, its floor, the supervisor's client and the bookkeeping of one run."""

    def __init__(self, h: Harness, mode: str) -> None:
        self.h = h
        self.mode = mode
        self.handled = 0  # bench changes the desk has handled (in order: the inbox is FIFO)
        self.posted: list[float] = []  # when each change was posted
        self.received: list[tuple[float, int, int]] = []  # (when, changes handled, bytes)
        self.client = socketio.AsyncClient(reconnection=False)

    async def setup(self, agents: int, waiting: int, cookie: str) -> None:
        service = self.h.service
        desk = service.desk
        handle = desk.handle

        def counting(event: Any) -> Any:
            try:
                return handle(event)
            finally:
                if isinstance(event, AgentReady | AgentAway):
                    self.handled += 1

        desk.handle = counting  # this bench's own probe on its own desk instance
        delivery = self.h.app[DELIVERY]
        push = delivery.to_supervisors

        async def stamped(event: ServerEvent, data: Any) -> None:
            # Drawn just now (no await between drawing and this call): stamp what it shows.
            await push(event, {**data, "_handled": self.handled})

        delivery.to_supervisors = stamped  # type: ignore[method-assign]
        if self.mode == "every event":
            await self.h.app[WALLBOARD].close()
            carry_out = service._carry_out  # the effect path, private: this bench's baseline

            async def then_push(effects: Any) -> None:
                await carry_out(effects)
                await delivery.to_supervisors(ServerEvent.FLOOR, desk.floor(service.now()))

            service._carry_out = then_push
        now = service.now()
        for i in range(agents):
            await service.submit(AgentSignedIn(f"a{i}", f"Agent {i}", now))
        for i in range(waiting):
            await service.submit(CustomerTapped(f"t{i}", now))
            await service.submit(CustomerReturned(f"t{i}", now))

        def floor(data: Any) -> None:
            size = len(json.dumps(data))
            self.received.append((time.time(), data["_handled"], size))

        self.client.on(ServerEvent.FLOOR, floor, namespace="/supervisor")
        await connect_socket(self.client, self.h.url, "/supervisor", cookie=cookie)

    async def drive(self, rate: float, seconds: float, agents: int, rng: random.Random) -> None:
        service = self.h.service
        loop = asyncio.get_running_loop()
        start = loop.time()
        count = int(rate * seconds)
        for i in range(count):
            due = start + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            agent_id = f"a{i % agents}"
            state = service.desk.agent_state(agent_id)
            now = service.now()
            if state == "away":
                event: Any = AgentReady(agent_id, now)
            else:
                event = AgentAway(agent_id, now, rng.choice(REASONS))
            self.posted.append(time.time())
            service.post(event)
        await wait_until(
            lambda: bool(self.received) and self.received[-1][1] >= count,
            timeout=120,
            what="the last change on the wallboard",
        )

    def latencies(self) -> list[float]:
        out = []
        j = 0
        for index, posted in enumerate(self.posted, start=1):
            while j < len(self.received) and self.received[j][1] < index:
                j += 1
            out.append(self.received[j][0] - posted)
        return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run_one(mode: str, rate: float, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        h = Harness(test_settings(Path(tmp), wallboard_interval=args.interval))
        await h.start()
        try:
            cookie = await h.add_staff("sue", "supervisor")
            scene = Scene(h, mode)
            await scene.setup(args.agents, args.waiting, cookie)
            await wait_until(lambda: bool(scene.received) or scene.mode == "every event")
            scene.received.clear()
            await scene.drive(rate, args.seconds, args.agents, random.Random(args.seed))
            lat = [x * 1000 for x in scene.latencies()]
            return {
                "mode": mode,
                "rate": rate,
                "n": len(lat),
                "pushes": len(scene.received),
                "mb": sum(size for _, _, size in scene.received) / 1e6,
                "p50": statistics.median(lat),
                "p95": percentile(lat, 0.95),
                "min": min(lat),
                "max": max(lat),
                "size": statistics.median(size for _, _, size in scene.received),
            }
        finally:
            await scene.client.disconnect()
            await h.stop()


async def main(args: argparse.Namespace) -> None:
    print(
        f"# wallboard push latency: {args.waiting} waiting, {args.agents} agents changing state, "
        f"{args.seconds:g} s per run, interval {args.interval:g} s"
    )
    print(
        f"# {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f} at the start"
    )
    rows = []
    for rate in args.rates:
        for mode in ("coalesced", "every event"):
            rows.append(await run_one(mode, rate, args))
            print(f"#   done: {mode} at {rate:g}/s", file=sys.stderr)
    print()
    columns = ("changes/s", "push", "n", "pushes", "MB pushed", "picture KB")
    columns += ("p50 ms", "p95 ms", "min", "max")
    print("| " + " | ".join(columns) + " |")
    print("|" + " --- |" * len(columns))
    for r in rows:
        print(
            f"| {r['rate']:g} | {r['mode']} | {r['n']} | {r['pushes']} | {r['mb']:.1f} | "
            f"{r['size'] / 1000:.1f} | {r['p50']:.0f} | {r['p95']:.0f} | {r['min']:.0f} | "
            f"{r['max']:.0f} |"
        )
    print()
    for rate in args.rates:
        ours = next(r for r in rows if r["rate"] == rate and r["mode"] == "coalesced")
        base = next(r for r in rows if r["rate"] == rate and r["mode"] == "every event")
        p95 = base["p95"] / ours["p95"]
        pushes = base["pushes"] / max(1, ours["pushes"])
        print(
            f"at {rate:g} changes/s: p95 every-event / coalesced = {p95:.2f}; "
            f"pushes every-event / coalesced = {pushes:.0f}"
        )
    print(f"# load average {os.getloadavg()[0]:.2f} at the end")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--waiting", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0, help="driven time per run")
    parser.add_argument(
        "--rates", type=float, nargs="+", default=[20.0, 100.0, 300.0], help="changes per second"
    )
    parser.add_argument("--interval", type=float, default=0.5, help="WALLBOARD_INTERVAL")
    parser.add_argument("--seed", type=int, default=11)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))

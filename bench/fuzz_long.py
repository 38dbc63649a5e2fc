"""The long fuzzing run: the fuzzer of tests/integration/test_fuzz.py, at length, on one server.

The generators and checks are ``tests/support/fuzzing.py``, shared with that test.

Against one in-process server (the test suite's ``Harness``, tuned as in the tests: no rate
limits in the way, media that waits for ICE), in this order:

1. socket.io events of both namespaces with malformed, oversized and wrong-typed payloads
   (``--events``, default 100 000), agent A kept in a live call throughout;
2. mutated browser offers into that call (``--offers``, default 10 000);
3. REST requests to every endpoint (``--requests``, default 5 000);
4. raw websocket frames no client library would send (``--frames``, default 5 000).

Unlike the tests, a problem does not stop the run: it is counted ("crashes": an unhandled
exception logged at ERROR, an internal error ack, a missing ack, a 5xx, an undocumented status, a
leaked peer connection, a broken desk invariant) and the first few are printed in full. The desk
invariants are checked every ``--check-every`` inputs and at the end. Memory (VmRSS of this
process: server and clients together) is sampled at the start, between phases and every
``--check-every`` inputs. At the end every client disconnects, and the run reports the peer
connections and tasks left. Hypothesis draws the inputs in chunks of ``--chunk`` examples with
seeds ``--seed``, ``--seed + 1``, ... (a fresh engine per chunk: Hypothesis's own bookkeeping
does not grow with the run).

Bounded: the whole run stops after ``--minutes`` (default 60) whatever the counts.

Run: ``.venv/bin/python -m bench.fuzz_long`` from the repository root (``make fuzz``).
This is a soak test, not a benchmark: it reports counts and memory, not timings to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import platform
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from hypothesis import Phase
from hypothesis import strategies as st

from tests.support.fuzzing import (
    FRAMES,
    OFFERS,
    ErrorLog,
    Problem,
    RawSocket,
    World,
    documented_statuses,
    emits,
    error_log,
    fuzz_settings,
    requests,
    rest_endpoints,
    run_examples,
    server_tasks,
    wind_down,
)
from tests.support.harness import Harness

logger = logging.getLogger("bench.fuzz_long")


class TimeUp(BaseException):
    """Ends a phase from inside a Hypothesis example (BaseException: Hypothesis lets it out)."""


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.deadline = time.monotonic() + args.minutes * 60
        self.crashes: list[str] = []
        self.crash_kinds: Counter[str] = Counter()
        self.tried: Counter[str] = Counter()
        self.memory: list[tuple[str, int, float]] = []
        self.since_check = 0
        self.world: World | None = None
        self.errors: ErrorLog | None = None

    def sample(self, label: str) -> None:
        total = sum(self.tried.values())
        self.memory.append((label, total, rss_mib()))
        logger.info("%s: %d inputs, RSS %.1f MiB", label, total, self.memory[-1][2])

    def crash(self, kind: str, detail: str) -> None:
        self.crash_kinds[kind] += 1
        if len(self.crashes) < self.args.keep:
            self.crashes.append(f"[{kind}] {detail}")
        logger.warning("problem (%s): %s", kind, detail.splitlines()[0][:300])

    async def guarded(self, phase: str, count: int, attempt: Callable[[], Awaitable[None]]) -> None:
        """One example: run it, count what went wrong instead of stopping, check every so often."""
        assert self.world is not None and self.errors is not None
        if time.monotonic() > self.deadline:
            raise TimeUp
        seen = len(self.errors.records)
        try:
            await attempt()
        except Problem as exc:
            self.crash(phase, str(exc))
        except Exception as exc:  # the fuzzer's own plumbing; counted, and the run goes on
            self.crash(f"{phase} (harness)", f"{type(exc).__name__}: {exc}")
        if len(self.errors.records) > seen:
            self.crash(f"{phase} (logged error)", self.errors.describe(seen))
            del self.errors.records[seen:]
        self.tried[phase] += count
        self.since_check += count
        if self.since_check >= self.args.check_every:
            self.since_check = 0
            self.check_desk(phase)
            self.sample(phase)

    def check_desk(self, phase: str) -> None:
        assert self.world is not None
        try:
            self.world.check_desk()
        except AssertionError as exc:
            self.crash(f"{phase} (desk invariant)", f"{exc!r}")

    async def phase(
        self,
        name: str,
        target: int,
        strategy: st.SearchStrategy[Any],
        size: Callable[[Any], int],
        attempt: Callable[[Any], Awaitable[None]],
    ) -> None:
        chunk = 0
        while self.tried[name] < target and time.monotonic() < self.deadline:

            async def one(example: Any) -> None:
                if self.tried[name] >= target:
                    raise TimeUp
                await self.guarded(name, size(example), lambda: attempt(example))

            with contextlib.suppress(TimeUp):
                await run_examples(
                    one,
                    strategy,
                    seed=self.args.seed + chunk,
                    max_examples=self.args.chunk,
                    derandomize=False,
                    phases=(Phase.generate,),
                )
            chunk += 1
        self.check_desk(name)
        self.sample(f"after {name}")


async def main(args: argparse.Namespace) -> dict[str, Any]:
    run = Run(args)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, error_log() as errors:
        harness = Harness(fuzz_settings(Path(tmp)))
        await harness.start()
        baseline = await server_tasks(harness)
        world = World(harness)
        run.world, run.errors = world, errors
        try:
            await world.start()
            # The closed-ticket list is bounded (10 000) to keep a long-running desk small; the
            # invariant check counts every ticket ever tapped, so it must keep them all here.
            world.desk.closed_limit = 10**7
            run.sample("start")

            await run.phase(
                "socket events",
                args.events,
                st.tuples(st.lists(emits(), min_size=1, max_size=8), st.booleans()),
                lambda example: len(example[0]),
                lambda example: world.fuzz_events(*example),
            )
            await run.phase(
                "sdp offers", args.offers, OFFERS, lambda offer: offer.burst, world.fuzz_offer
            )
            documented = documented_statuses()
            endpoints = sorted(rest_endpoints(harness))

            async def request(batch: list[Any]) -> None:
                for req in batch:
                    await world.fuzz_request(req, documented)

            await run.phase(
                "rest requests",
                args.requests,
                st.lists(requests(endpoints), min_size=1, max_size=4),
                len,
                request,
            )
            raw = RawSocket(world)

            async def frames(batch: list[Any]) -> None:
                world.tally.outcomes[f"raw {await raw.send(batch)}"] += 1

            await run.phase("raw frames", args.frames, FRAMES, len, frames)
            if raw.ws is not None:
                await raw.ws.close()
            run.check_desk("end")
            try:
                await wind_down(world, baseline)
                leftover = "none"
            except Problem as exc:
                run.crash("leak", str(exc))
                leftover = str(exc)
            gc.collect()
            run.sample("end")
            report = {
                "minutes": round((time.monotonic() - started) / 60, 1),
                "tried": dict(run.tried),
                "answers": dict(world.tally.outcomes.most_common()),
                "crashes": dict(run.crash_kinds),
                "crash_details": run.crashes,
                "memory_mib": [(label, n, round(mib, 1)) for label, n, mib in run.memory],
                "peer_connections_left": harness.hub.peer_connections,
                "media_sessions_left": len(harness.hub.sessions),
                "tasks_left_over_baseline": leftover,
                "tickets_tapped": len(world.tapped),
                "errors_logged": len(errors.records),
            }
        finally:
            await world.close()
            await harness.stop()
    return report


def print_report(report: dict[str, Any], args: argparse.Namespace) -> None:
    print()
    print(
        f"fuzz_long: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load {os.getloadavg()[0]:.2f}"
    )
    print(f"seed {args.seed}, {report['minutes']} min")
    print("inputs tried:", ", ".join(f"{k} {v}" for k, v in report["tried"].items()))
    print("crashes:", report["crashes"] or "none")
    for detail in report["crash_details"]:
        print("  ", detail.replace("\n", "\n   "))
    print("memory (VmRSS MiB):")
    for label, n, mib in report["memory_mib"]:
        print(f"   {label:<22} after {n:>7} inputs: {mib:8.1f}")
    print(
        f"left at the end: {report['peer_connections_left']} peer connections, "
        f"{report['media_sessions_left']} media sessions, tasks: "
        f"{report['tasks_left_over_baseline']}"
    )
    print("answers (top 40):")
    for key, value in list(report["answers"].items())[:40]:
        print(f"   {value:>7}  {key}")
    print(json.dumps({k: v for k, v in report.items() if k != "answers"}, default=str))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--offers", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--frames", type=int, default=5_000)
    parser.add_argument("--minutes", type=float, default=60.0, help="stop after this long")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--chunk", type=int, default=500, help="examples per Hypothesis run")
    parser.add_argument("--check-every", type=int, default=2_000, help="inputs between checks")
    parser.add_argument("--keep", type=int, default=10, help="problems printed in full")
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args(sys.argv[1:])
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logger.setLevel(logging.INFO)
    print_report(asyncio.run(main(arguments)), arguments)

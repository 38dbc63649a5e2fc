"""Calls per node with placement (issue 15): where a call's cost lands, what the hop over Redis
costs a call verb, and how a burst of calls spreads over media nodes.

Real ``videoassist serve`` processes on PostgreSQL and redis-server (Debian's packages, started
on loopback for the run by ``tests/support``; a database and a redis-server per topology), in
two topologies driven by the same clients:

* **baseline**, one node: a node that carries its calls itself (``MEDIA_PLACEMENT`` off), on the
  same PostgreSQL and Redis (socket.io's delivery goes through Redis in both);
* **placement**: the desk's node with ``MEDIA_PLACEMENT=true`` and ``MEDIA_CAPACITY=0`` (it holds
  every socket and places every call elsewhere) plus one media node (``NODE_ROLE=media``).

The clients talk to the desk's node only, as browsers behind a load balancer do. Both
topologies are started side by side, each with K agents Ready, and the CPU of every server
process is read over an idle window (the fixed cost, no call's). Then K calls on each: a
customer taps, an agent accepts; before any media, ``chat`` from the agent's socket is timed
``--samples`` times per topology (ack awaited, ``--gap`` apart, round-robin over the calls, the
two topologies' samples interleaved so that both meet the same moment of a shared machine):
the verb is authorized on the desk's node and, with placement, carried to the call's node over
Redis and answered from there. Then, one topology at a time (the other stopped), each party
offers media (an aiortc peer sending ``bench.media_forwarding``'s looped 640x480@30 VP8 clip
plus Opus, counting what it receives without decoding it), and after a warm-up the CPU of each
server process (its own CPU time from /proc, every thread), of redis-server, of this process
(the clients) and of the whole machine is read over ``--window`` seconds, with the frames each
party received; then the verb is timed again with the media flowing.

Last, the burst: the desk's node (capacity 0) and two media nodes of ``--capacity`` C each,
2C agents Ready, 2C customers tapping at once and every offer accepted at once (signaling only:
a call is placed when it is accepted; the media watchdog is set long enough not to end them),
then the calls each node carries, as ``Placement.loads()`` reports them.

Everything shares one machine: the clients' encoders, the server processes, PostgreSQL and
Redis. With placement the desk's node and the media node share the same cores, so this shows
where a call's cost lands and what the hop costs, not the capacity a second machine would add.

Settings lifted for the bench, the same in every topology: the per-address tap and per-socket
event limits (every client is 127.0.0.1) and ``MEDIA_CONNECT_TIMEOUT`` (300 s, so calls tapped
before their media is offered are not ended by the watchdog while the verb is timed).

Run: ``.venv/bin/python -m bench.media_nodes`` from the repository root (``--help``); about
1.5 minutes with the defaults. Needs Debian's postgresql and redis-server (``make system-deps``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import socketio
from aiortc import RTCSessionDescription
from redis.asyncio import Redis

from bench.connections import cpu_seconds
from bench.desksim import machine_line, percentile, table
from bench.media_forwarding import FPS, make_audio, make_clip
from bench.media_forwarding import Party as MediaParty
from bench.outside import PASSWORD, OutsideServer
from bench.tap_to_first_frame import limits_lifted
from tests.support.harness import Party, wait_until
from tests.support.postgres import PostgresServer
from tests.support.redis import RedisServer
from videoassist.auth import hash_password
from videoassist.cluster.placement import NodeLoad, Placement
from videoassist.media.network import restrict_host_addresses
from videoassist.store.records import Records

SECRET = "bench-media-nodes-" + "s" * 32  # shared by every node of a topology
SETTINGS: dict[str, Any] = {
    **limits_lifted(),
    "media_connect_timeout": 300.0,
    "media_drain_timeout": 10.0,  # nodes are stopped with no call left; never reached
}


def machine_cores_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs so far, from /proc/stat: how loaded the machine was."""
    # user nice system idle iowait irq softirq steal (guest time is inside user already)
    user, nice, system, idle, iowait, irq, softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    busy = user + nice + system + irq + softirq
    return busy, busy + idle + iowait + steal


@dataclass
class Meter:
    """CPU seconds of named processes (and of this one, and of the machine) between two reads."""

    pids: dict[str, int]
    started: float = 0.0
    cpu0: dict[str, float] = field(default_factory=dict)
    machine0: tuple[float, float] = (0.0, 0.0)

    def start(self) -> None:
        self.cpu0 = self._read()
        self.machine0 = machine_cores_busy()
        self.started = time.perf_counter()

    def _read(self) -> dict[str, float]:
        out = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        out["clients"] = time.process_time()
        return out

    def stop(self) -> tuple[dict[str, float], float, float]:
        """(share of one core per process, machine cores busy, seconds)."""
        cpu1, machine1 = self._read(), machine_cores_busy()
        seconds = time.perf_counter() - self.started
        shares = {name: (cpu1[name] - self.cpu0[name]) / seconds for name in cpu1}
        busy, total = (b - a for a, b in zip(self.machine0, machine1, strict=True))
        return shares, (busy / total if total else 0.0) * (os.cpu_count() or 1), seconds


class Topology:
    """Server processes on a fresh database of the shared PostgreSQL and a redis-server of
    their own; ``desk`` is the node every client talks to."""

    def __init__(self, name: str, root: Path, postgres: PostgresServer) -> None:
        self.name = name
        self.root = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
        self.postgres = postgres
        self.database = postgres.fresh_database()
        self.database_url = postgres.url(self.database)
        self.redis = RedisServer()
        self.nodes: dict[str, OutsideServer] = {}
        self.agents: list[Party] = []
        self.calls: list[Call] = []
        self._stopped = False

    @property
    def desk(self) -> OutsideServer:
        return next(iter(self.nodes.values()))

    async def start(self, nodes: dict[str, dict[str, Any]], agents: int) -> None:
        """``nodes``: settings per node id, the desk's node first."""
        self.redis.start()
        records = Records.open(self.database_url)
        try:
            await records.migrate()
            for i in range(agents):
                name = f"agent{i}"
                await records.add_user(
                    name, name.title(), hash_password(PASSWORD), "agent", time.time()
                )
        finally:
            await records.close()
        shared = self.root / "data"  # recordings and photos are written where the media is
        shared.mkdir()
        for node, settings in nodes.items():
            server = OutsideServer(
                shared,
                node_id=node,
                database_url=self.database_url,
                redis_url=self.redis.url,
                secret_key=SECRET,
                **SETTINGS,
                **settings,
            )
            self.nodes[node] = server
            await server.start()
        for i in range(agents):
            agent = await self.desk.agent(await self.login(f"agent{i}"))
            if (await agent.call("ready")) != {"ok": True}:
                raise RuntimeError(f"agent{i} could not get Ready")
            self.agents.append(agent)

    async def login(self, name: str) -> str:
        """A staff member's session cookie. A node takes ten logins a minute from one address
        (``login_throttle.py``, not a setting) and every login here comes from 127.0.0.1: past
        ten, this waits as long as the server's ``Retry-After`` says."""
        http = self.desk.http
        assert http is not None
        while True:
            async with http.post("/api/login", json={"username": name, "password": PASSWORD}) as r:
                if r.status != 429:
                    if r.status != 200:
                        raise RuntimeError(f"login {name}: {r.status} {await r.text()}")
                    return r.cookies["va_session"].value
                wait = float(r.headers.get("Retry-After", "1"))
            await asyncio.sleep(wait)

    def meter(self) -> Meter:
        pids = {node: server.pid for node, server in self.nodes.items()}
        assert self.redis.proc is not None
        pids["redis"] = self.redis.proc.pid
        return Meter(pids)

    async def loads(self) -> dict[str, NodeLoad]:
        redis = Redis.from_url(self.redis.url)
        try:
            return {load.node: load for load in await Placement(redis).loads()}
        finally:
            await redis.aclose()

    async def tap(self) -> tuple[Party, str]:
        """A customer taps and opens the page: (their socket, ticket id)."""
        ticket = await self.desk.tap()
        return await self.desk.customer(ticket["token"]), ticket["ticket_id"]

    async def accept(self, customer: Party, ticket_id: str) -> Call:
        """The agent whose console rings with ``ticket_id`` accepts it."""
        ringing: list[Party] = []

        def rung() -> bool:
            ringing[:] = [
                agent
                for agent in self.agents
                if any(
                    name == "offer" and data["ticket_id"] == ticket_id
                    for name, data in agent.inbox.events
                )
            ]
            return bool(ringing)

        await wait_until(rung, 20, f"an offer of {ticket_id}")
        agent = ringing[0]
        reply = await agent.call("accept", {"ticket_id": ticket_id})
        if not reply.get("session_id"):
            raise RuntimeError(f"accept refused: {reply}")
        call = Call(customer, agent, reply["session_id"])
        self.calls.append(call)
        return call

    async def open_calls(self, count: int) -> None:
        """``count`` calls, one after another: tap, accept, the customer told."""
        for _ in range(count):
            customer, ticket_id = await self.tap()
            await self.accept(customer, ticket_id)
            await customer.inbox.next("matched")

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for call in self.calls:
            await call.close()
        for node in reversed(list(self.nodes.values())):  # media nodes first, the desk's last
            with contextlib.suppress(Exception):
                await node.stop()
        self.redis.stop()
        with contextlib.suppress(Exception):
            self.postgres.drop_database(self.database)
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Call:
    customer: Party
    agent: Party
    session_id: str
    media: list[MediaParty] = field(default_factory=list)

    async def offer_media(self, clips: dict[str, Any]) -> None:
        """Each party offers its peer connection over its own socket, as the pages do."""
        for role, party in (("customer", self.customer), ("agent", self.agent)):
            peer = MediaParty(f"{self.session_id[:6]}/{role}", clips[role], clips["audio"])
            self.media.append(peer)
            await peer.pc.setLocalDescription(await peer.pc.createOffer())
            reply = await party.call(
                "rtc_offer",
                {
                    "session_id": self.session_id,
                    "type": "offer",
                    "sdp": peer.pc.localDescription.sdp,
                },
            )
            if "sdp" not in reply:
                raise RuntimeError(f"{role}'s offer refused: {reply}")
            await peer.pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], reply["type"]))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.agent.call("hangup", {"session_id": self.session_id})
        for peer in self.media:
            await peer.close()


@dataclass
class Latency:
    seconds: list[float]
    failed: Counter[str]

    def at(self, p: float) -> float:
        return percentile(sorted(self.seconds), p) * 1000


async def time_verbs(series: dict[str, list[Call]], samples: int, gap: float) -> dict[str, Latency]:
    """``chat`` from the agent's socket, timed until its ack arrives: ``samples`` per series,
    round-robin over its calls, the series interleaved (each first in turn) so that a change in
    the machine's load meets them all."""
    times: dict[str, list[float]] = {name: [] for name in series}
    failed: dict[str, Counter[str]] = {name: Counter() for name in series}
    names = list(series)
    for i in range(samples):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            call = series[name][i % len(series[name])]
            started = time.perf_counter()
            try:
                reply = await call.agent.call(
                    "chat", {"session_id": call.session_id, "text": f"sample {i}"}
                )
            except socketio.exceptions.TimeoutError:
                failed[name]["no ack in 10 s"] += 1
            else:
                if "id" in reply:
                    times[name].append(time.perf_counter() - started)
                else:
                    failed[name][str(reply.get("error", reply))] += 1
            await asyncio.sleep(gap)
    return {name: Latency(times[name], failed[name]) for name in series}


@dataclass
class CallsResult:
    name: str
    calls: int
    idle: dict[str, float]
    machine_idle: float
    quiet: Latency
    busy: dict[str, float] = field(default_factory=dict)
    machine_busy: float = 0.0
    window: float = 0.0
    fps: dict[str, float] = field(default_factory=dict)
    loaded: Latency = field(default_factory=lambda: Latency([], Counter()))
    placed: dict[str, int] = field(default_factory=dict)

    def per_call(self, process: str) -> float:
        return self.busy[process] / self.calls

    def net_per_call(self, process: str) -> float:
        return (self.busy[process] - self.idle[process]) / self.calls


async def with_media(
    topology: Topology, result: CallsResult, clips: dict[str, Any], args: argparse.Namespace
) -> None:
    """Every party of ``topology``'s calls sends and receives media: CPU over the window, the
    frames received, then the verb timed again."""
    for call in topology.calls:
        await call.offer_media(clips)
    peers = [peer for call in topology.calls for peer in call.media]
    # Warm-up: every party receiving (a party that never does shows in fps min).
    with contextlib.suppress(AssertionError):
        await wait_until(lambda: all(p.video.frames >= FPS for p in peers), 20)
    await asyncio.sleep(1.0)
    before = {p.name: p.video.frames for p in peers}
    meter = topology.meter()
    meter.start()
    await asyncio.sleep(args.window)
    result.busy, result.machine_busy, result.window = meter.stop()
    result.fps = {p.name: (p.video.frames - before[p.name]) / result.window for p in peers}
    result.placed = {node: load.live for node, load in (await topology.loads()).items()}
    loaded = await time_verbs({topology.name: topology.calls}, args.samples, args.gap)
    result.loaded = loaded[topology.name]


async def run_calls(
    postgres: PostgresServer, root: Path, clips: dict[str, Any], args: argparse.Namespace
) -> tuple[CallsResult, CallsResult]:
    """Both topologies up side by side for the idle window and the verb before media (so
    both meet the same moment of the machine); then each one's media in turn, the other
    stopped."""
    baseline = Topology("baseline", root, postgres)
    placed = Topology("placement", root, postgres)
    try:
        await baseline.start({"single": {}}, args.calls)
        await placed.start(
            {
                "desk": {"media_placement": "true", "media_capacity": 0},
                "media": {"node_role": "media", "media_capacity": max(16, args.calls)},
            },
            args.calls,
        )
        meters = {t.name: t.meter() for t in (baseline, placed)}
        for meter in meters.values():
            meter.start()
        await asyncio.sleep(args.window)
        idle = {name: meter.stop() for name, meter in meters.items()}
        for topology in (baseline, placed):
            await topology.open_calls(args.calls)
        quiet = await time_verbs(
            {t.name: t.calls for t in (baseline, placed)}, args.samples, args.gap
        )
        results = {
            t.name: CallsResult(t.name, args.calls, idle[t.name][0], idle[t.name][1], quiet[t.name])
            for t in (baseline, placed)
        }
        for topology in (baseline, placed):
            await with_media(topology, results[topology.name], clips, args)
            await topology.stop()
            print(f"  {topology.name}: media measured", flush=True)
    finally:
        for topology in (baseline, placed):
            await topology.stop()
    return results["baseline"], results["placement"]


@dataclass
class BurstResult:
    capacity: int
    settled: dict[str, int]
    at_accept: dict[str, int]
    accept_seconds: float
    refused: int


async def run_burst(postgres: PostgresServer, root: Path, capacity: int) -> BurstResult:
    calls = 2 * capacity
    topology = Topology("burst", root, postgres)
    try:
        await topology.start(
            {
                "desk": {"media_placement": "true", "media_capacity": 0},
                "media-a": {"node_role": "media", "media_capacity": capacity},
                "media-b": {"node_role": "media", "media_capacity": capacity},
            },
            calls,
        )
        started = time.perf_counter()
        customers = await asyncio.gather(*(topology.tap() for _ in range(calls)))
        accepted = await asyncio.gather(
            *(topology.accept(customer, ticket_id) for customer, ticket_id in customers),
            return_exceptions=True,
        )
        accept_seconds = time.perf_counter() - started
        refused = sum(isinstance(a, BaseException) for a in accepted)
        # Placed and in flight as the accepts return; then the calls each node confirmed.
        at_accept = {
            node: load.live + load.in_flight for node, load in (await topology.loads()).items()
        }
        seen: dict[str, NodeLoad] = {}

        async def confirmed() -> bool:
            seen.update(await topology.loads())
            live = sum(load.live for load in seen.values())
            return live >= calls - refused and not any(load.in_flight for load in seen.values())

        with contextlib.suppress(AssertionError):
            await wait_until(confirmed, 20, interval=0.2)
        settled = {node: load.live for node, load in seen.items()}
    finally:
        await topology.stop()
    return BurstResult(capacity, settled, at_accept, accept_seconds, refused)


def pct(share: float) -> str:
    return f"{share:.1%}"


def report(
    baseline: CallsResult, placed: CallsResult, burst: BurstResult | None, args: argparse.Namespace
) -> None:
    print()
    print(
        f"## Where a call's cost lands: {args.calls} calls, each 2 parties sending 640x480@{FPS} "
        f"VP8 + Opus; window {baseline.window:.1f} s / {placed.window:.1f} s; CPU as a share of "
        "one core; per call net = (with calls - idle) / calls; the idle window is shared by "
        "both topologies (both up, no call)"
    )
    rows = []
    for result, processes in (
        (baseline, [("single", "single node")]),
        (placed, [("desk", "desk's node (capacity 0)"), ("media", "media node")]),
    ):
        others = [("redis", "redis-server"), ("clients", "clients (this process)")]
        for process, label in processes + others:
            rows.append(
                [
                    result.name,
                    label,
                    pct(result.idle[process]),
                    pct(result.busy[process]),
                    pct(result.per_call(process)),
                    pct(result.net_per_call(process)),
                ]
            )
        rows.append(
            [
                result.name,
                f"whole machine ({os.cpu_count()} cores)",
                f"{result.machine_idle:.2f} cores",
                f"{result.machine_busy:.2f} cores",
                "",
                "",
            ]
        )
        rest = result.machine_busy - sum(result.busy.values())
        rows.append([result.name, "rest (PostgreSQL, kernel, other work)", "", pct(rest), "", ""])
    print(table(["topology", "process", "idle", "with calls", "per call", "per call net"], rows))

    single = baseline.net_per_call("single")
    desk, media = placed.net_per_call("desk"), placed.net_per_call("media")
    print()
    print(
        f"desk's node per call (placement) / single node per call (baseline): "
        f"{desk / single:.3f}x net of idle, "
        f"{placed.per_call('desk') / baseline.per_call('single'):.3f}x raw"
    )
    print(
        f"media node per call (placement) / single node per call (baseline): "
        f"{media / single:.3f}x net of idle, "
        f"{placed.per_call('media') / baseline.per_call('single'):.3f}x raw"
    )
    print(
        f"desk's + media node per call / single node per call: {(desk + media) / single:.3f}x "
        "net of idle"
    )
    print(f"calls per node during the window (placement): {placed.placed}")

    print()
    print("received video fps per party over the window (min / median):")
    for result in (baseline, placed):
        values = sorted(result.fps.values())
        print(
            f"  {result.name}: {values[0]:.1f} / {statistics.median(values):.1f} "
            f"({len(values)} parties)"
        )

    print()
    print(
        f"## A call verb (`chat` from the agent's socket, ack awaited), {args.samples} samples "
        f"{args.gap * 1000:.0f} ms apart, ms"
    )
    rows = []
    for when in ("quiet", "loaded"):
        for result in (baseline, placed):
            latency: Latency = getattr(result, when)
            failed = ", ".join(f"{k}: {v}" for k, v in latency.failed.items()) or "0"
            rows.append(
                [
                    "before media" if when == "quiet" else f"{args.calls} calls' media flowing",
                    result.name,
                    f"{latency.at(50):.2f}",
                    f"{latency.at(95):.2f}",
                    f"{latency.at(99):.2f}",
                    f"{min(latency.seconds) * 1000:.2f}" if latency.seconds else "-",
                    f"{max(latency.seconds) * 1000:.2f}" if latency.seconds else "-",
                    str(len(latency.seconds)),
                    failed,
                ]
            )
    print(table(["when", "topology", "p50", "p95", "p99", "min", "max", "n", "failed"], rows))
    for when in ("quiet", "loaded"):
        a, b = getattr(baseline, when), getattr(placed, when)
        print(
            f"placement / baseline p50 ({'before media' if when == 'quiet' else 'media flowing'}):"
            f" {b.at(50) / a.at(50):.2f}x (+{b.at(50) - a.at(50):.2f} ms); "
            f"p95 {b.at(95) / a.at(95):.2f}x"
        )

    if burst is not None:
        print()
        print(
            f"## Spread under a burst: 2 media nodes of capacity {burst.capacity}, the desk's "
            f"node at 0; {2 * burst.capacity} taps and accepts at once "
            f"({burst.accept_seconds:.2f} s from the first tap to the last accept; "
            f"accepts failed: {burst.refused})"
        )
        nodes = sorted(set(burst.settled) | set(burst.at_accept))
        print(
            table(
                ["node", "placed as the accepts returned", "live (Placement.loads())"],
                [[n, burst.at_accept.get(n, 0), burst.settled.get(n, 0)] for n in nodes],
            )
        )
        media_counts = [burst.settled.get(n, 0) for n in ("media-a", "media-b")]
        spread = max(media_counts) / min(media_counts) if min(media_counts) else float("inf")
        print(f"max / min calls per media node: {spread:.2f} (1.00 is an even spread)")


async def main(args: argparse.Namespace) -> None:
    started = time.monotonic()
    print("bench.media_nodes:", "python -m bench.media_nodes", " ".join(sys.argv[1:]))
    print(f"started {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC")
    print("machine:", machine_line())
    print("the clients (aiortc peers, socket.io), PostgreSQL and Redis share this machine")
    restrict_host_addresses(("127.0.0.1",))  # the clients' ICE on loopback, like the servers'
    clips = {
        "customer": make_clip(640, 480, 1),
        "agent": make_clip(640, 480, 2),
        "audio": make_audio(3),
    }
    root = Path(tempfile.mkdtemp(prefix="bench-media-nodes-"))
    postgres = PostgresServer()
    postgres.start()
    try:
        async with asyncio.timeout(args.budget):
            baseline, placed = await run_calls(postgres, root, clips, args)
            print(f"  calls done ({time.monotonic() - started:.0f} s)", flush=True)
            burst = await run_burst(postgres, root, args.capacity) if args.capacity else None
    finally:
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)
    report(baseline, placed, burst, args)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print()
    print(f"load average at the end: {load}; total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=4, help="concurrent calls (default 4)")
    parser.add_argument(
        "--window", type=float, default=10.0, help="measured CPU window, seconds (default 10)"
    )
    parser.add_argument(
        "--samples", type=int, default=200, help="timed call verbs per series (default 200)"
    )
    parser.add_argument(
        "--gap", type=float, default=0.02, help="seconds between timed verbs (default 0.02)"
    )
    parser.add_argument(
        "--capacity",
        type=int,
        default=4,
        help="each media node's capacity in the burst: 2C calls (default 4; 0 skips the burst)",
    )
    parser.add_argument(
        "--budget", type=float, default=600.0, help="seconds before the run gives up"
    )
    arguments = parser.parse_args()
    if arguments.calls < 1 or arguments.samples < 1:
        parser.error("--calls and --samples must be at least 1")
    if 2 * arguments.samples > 500 * arguments.calls:
        parser.error("at most 500 chat lines per call: lower --samples or raise --calls")
    asyncio.run(main(arguments))

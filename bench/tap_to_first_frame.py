"""Tap → first decoded video frame at the agent, against a bare aiortc pair (same run).

Where the server runs (``--server``): **outside** (the default) starts ``videoassist serve`` in a
process of its own (``bench/outside.py``), as in production, where the server does not share its
event loop with the customers' and agents' media; the clients (aiortc peers standing in for the
browsers) and the baseline pairs share this process. **inside** runs the server on the bench's
own loop (``tests.support.harness.Harness``), as the runs before December 2026 did: then twenty
client peers' encoders and decoders compete with the server for one loop, which is not what a
deployment looks like but shows how the server behaves when its loop is busy.

What is timed (``time.perf_counter``, on loopback):

* **ours**: the clock starts just before the customer's ``POST /api/tickets``. The customer then
  connects its socket, learns its session (``sync`` on connect, else the ``matched`` event, as
  web/customer does), and connects a ``ClientPeer`` sending red. The agent, already Ready with its
  socket connected, accepts the offer as soon as it arrives and connects its own ``ClientPeer``.
  The clock stops at the agent peer's ``first_frame_at`` (the customer's video, relayed by the
  server). Then the agent hangs up and wraps up so it is Ready for the next call.
* **baseline** (the floor): two in-process ``RTCPeerConnection`` s (``iceServers=[]``, the same
  ``ColourTrack``, the same client peer class), timed from ``createOffer`` until the answering
  side's first decoded video frame. The server's loopback-only ICE patch is process-wide, so the
  baseline gathers 127.0.0.1 only, like the call.

Sequential calls (one agent) are interleaved with sequential baseline pairs, so drift on a shared
machine hits both. Concurrent rounds (10 agents Ready, 10 customers tapping at once) are each
preceded by a round of 10 concurrent baseline pairs. Warm-up calls are not counted.

Run: ``.venv/bin/python -m bench.tap_to_first_frame`` from the repository root (``--help``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import importlib.metadata
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import socketio

from bench.outside import OutsideServer
from tests.support.harness import Harness, Inbox, Party, test_settings, wait_until
from tests.support.peers import ClientPeer, dominant_colour
from videoassist.settings import Settings

logger = logging.getLogger("bench.tap_to_first_frame")

STEP_TIMEOUT = 20.0  # any single wait inside one call
CLEANUP_TIMEOUT = 20.0


# --------------------------------------------------------------------------- samples


@dataclass
class Sample:
    """One measured call: ``total`` and named milestones, in seconds after the clock started."""

    total: float
    marks: dict[str, float] = field(default_factory=dict)
    colour: str = ""
    retries: int = 0  # customer offers refused with no_session before one was answered
    hangup_problem: str = ""  # the measurement stands; the hang-up/wrap-up afterwards failed


class Clock:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.marks: dict[str, float] = {}

    def mark(self, name: str, at: float | None = None) -> None:
        self.marks[name] = (time.perf_counter() if at is None else at) - self.t0


def watch_connected(peer: ClientPeer, clock: Clock, name: str) -> None:
    """Mark ``name`` when the peer connection first reads ``connected``."""

    def changed() -> None:
        if peer.pc.connectionState == "connected" and name not in clock.marks:
            clock.mark(name)

    peer.pc.on("connectionstatechange", changed)


def index_of(inbox: Inbox, data: Any, after: int) -> int:
    for i in range(after, len(inbox.events)):
        if inbox.events[i][1] is data:
            return i
    raise LookupError("event not in inbox")


async def next_matching(inbox: Inbox, name: str, key: str, value: str, timeout: float) -> Any:
    """The first ``name`` event whose ``data[key] == value``."""
    after = 0
    async with asyncio.timeout(timeout):
        while True:
            data = await inbox.next(name, timeout=timeout, after=after)
            if isinstance(data, dict) and data.get(key) == value:
                return data
            after = index_of(inbox, data, after) + 1


# --------------------------------------------------------------------------- agents


@dataclass
class AgentLeg:
    agent: AutoAgent
    session_id: str
    peer: ClientPeer
    offered_at: float
    accepted_at: float = 0.0
    answered_at: float = 0.0
    connected_at: float | None = None


class Switchboard:
    """Hands each customer the agent leg that answered its ticket, whoever got there first."""

    def __init__(self) -> None:
        self._legs: dict[str, asyncio.Future[AgentLeg]] = {}

    def slot(self, ticket_id: str) -> asyncio.Future[AgentLeg]:
        if ticket_id not in self._legs:
            self._legs[ticket_id] = asyncio.get_running_loop().create_future()
        return self._legs[ticket_id]

    def forget(self, ticket_id: str) -> None:
        """The customer is done: a leg that comes later is closed by its agent at once."""
        leg = self._legs.get(ticket_id)
        if leg is not None and not leg.done():
            leg.cancel()


class AutoAgent:
    """A Ready agent that accepts every offer at once and connects a ClientPeer sending blue."""

    def __init__(self, name: str, party: Party, board: Switchboard) -> None:
        self.name = name
        self.party = party
        self.board = board
        self._seen = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"AutoAgent({self.name})")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        inbox = self.party.inbox
        while True:
            offer = await inbox.next("offer", timeout=24 * 3600, after=self._seen)
            offered_at = time.perf_counter()
            self._seen = index_of(inbox, offer, self._seen) + 1
            slot = self.board.slot(offer["ticket_id"])
            try:
                leg = await self._answer(offer["ticket_id"], offered_at)
            except Exception as exc:
                logger.warning("agent %s could not take %s: %r", self.name, offer["ticket_id"], exc)
                if not slot.done():
                    slot.set_exception(AgentLegFailed(repr(exc)))
                continue
            if slot.done():  # the customer gave up already
                await leg.peer.close()
            else:
                slot.set_result(leg)

    async def _answer(self, ticket_id: str, offered_at: float) -> AgentLeg:
        started = time.perf_counter()
        try:
            reply = await self.party.call("accept", {"ticket_id": ticket_id})
        except socketio.exceptions.TimeoutError:
            waited = time.perf_counter() - started
            raise TimeoutError(f"no ack to 'accept' within {waited:.0f} s") from None
        if "error" in reply:
            raise RuntimeError(f"accept refused: {reply['error']}")
        leg = AgentLeg(self, reply["session_id"], ClientPeer("blue"), offered_at)
        leg.accepted_at = time.perf_counter()

        def changed() -> None:
            if leg.peer.pc.connectionState == "connected" and leg.connected_at is None:
                leg.connected_at = time.perf_counter()

        leg.peer.pc.on("connectionstatechange", changed)
        try:
            await leg.peer.connect(self.party.client, "/agent", leg.session_id)
        except BaseException:
            await leg.peer.close()
            raise
        leg.answered_at = time.perf_counter()
        return leg

    async def sync(self) -> dict[str, Any]:
        return await self.party.call("sync")


async def hang_up_and_wrap_up(leg: AgentLeg, customer: Party | None, stages: list[str]) -> None:
    """The agent ends the call and wraps up; both sides are told; the agent is Ready again.

    ``stages`` gets the name of each step as it starts, so a hang can be told apart.
    """
    party, session_id = leg.agent.party, leg.session_id
    stages.append("agent hangup call")
    reply = await party.call("hangup", {"session_id": session_id})
    if reply != {"ok": True}:
        raise RuntimeError(f"hangup refused: {reply}")
    stages.append("session_ended at the agent")
    await next_matching(party.inbox, "session_ended", "session_id", session_id, STEP_TIMEOUT)
    if customer is not None:
        stages.append("session_ended at the customer")
        await next_matching(customer.inbox, "session_ended", "session_id", session_id, STEP_TIMEOUT)
    stages.append("agent peer close")
    await leg.peer.close()
    stages.append("wrap_up call")
    reply = await party.call(
        "wrap_up", {"session_id": session_id, "disposition": "resolved", "note": "bench"}
    )
    if reply != {"ok": True}:
        raise RuntimeError(f"wrap_up refused: {reply}")
    stages.append("agent sync")
    state = await leg.agent.sync()
    if state.get("state") != "ready":
        raise RuntimeError(f"agent {leg.agent.name} is {state.get('state')} after wrap-up")


async def end_call(
    leg: AgentLeg | None, customer: Party | None, customer_peer: ClientPeer | None
) -> str:
    """Hang up, wrap up and close the customer's side; '' or what went wrong, and where."""
    stages = ["start"]
    started = time.perf_counter()
    problem = ""
    try:
        async with asyncio.timeout(CLEANUP_TIMEOUT):
            if leg is not None:
                await hang_up_and_wrap_up(leg, customer, stages)
            stages.append("customer peer close")
            if customer_peer is not None:
                await customer_peer.close()
            stages.append("customer socket close")
            if customer is not None and customer.client.connected:
                await customer.close()
    except Exception as exc:
        elapsed = (time.perf_counter() - started) * 1000
        what = "no ack" if isinstance(exc, socketio.exceptions.TimeoutError) else repr(exc)
        problem = f"{what} during '{stages[-1]}', gave up after {elapsed / 1000:.0f} s"
        if leg is not None:
            await leg.peer.close()
        if customer_peer is not None:
            await customer_peer.close()
        if customer is not None and customer.client.connected:
            await customer.close()
    return problem


# --------------------------------------------------------------------------- one call


class CallFailed(Exception):
    """A call that never reached its first frame: what failed, after which milestone, when."""

    def __init__(self, what: str, elapsed: float) -> None:
        super().__init__(f"{what} (at {elapsed:.1f} s)")
        self.what = what
        self.elapsed = elapsed


class AgentLegFailed(Exception):
    """The auto-accepting agent could not take the call (set on the customer's slot)."""


Server = Harness | OutsideServer


async def call_once(harness: Server, board: Switchboard) -> Sample:
    clock = Clock()  # starts just before the tap
    ticket = await harness.tap(topic="setup", description="bench")
    clock.mark("tap_reply")
    ticket_id = ticket["ticket_id"]
    slot = board.slot(ticket_id)
    customer: Party | None = None
    customer_peer: ClientPeer | None = None
    leg: AgentLeg | None = None
    try:
        customer = await harness.customer(ticket["token"])
        clock.mark("customer_socket")
        now = await customer.call("sync")
        if now.get("state") == "live" and now.get("session_id"):
            session_id = now["session_id"]
            clock.mark("customer_session_via_sync")
        else:
            matched = await customer.inbox.next("matched", timeout=STEP_TIMEOUT)
            session_id = matched["session_id"]
            clock.mark("customer_session_via_matched")
        customer_peer, retries = await connect_customer(customer, session_id, clock)
        clock.mark("customer_answer")
        async with asyncio.timeout(STEP_TIMEOUT):
            leg = await asyncio.shield(slot)
        if leg.session_id != session_id:
            raise RuntimeError(f"agent in {leg.session_id}, customer in {session_id}")
        clock.mark("agent_offer", leg.offered_at)
        clock.mark("agent_accepted", leg.accepted_at)
        clock.mark("agent_answer", leg.answered_at)
        await leg.peer.wait_for_video(count=1, timeout=STEP_TIMEOUT)
        if leg.connected_at is not None:
            clock.mark("agent_connected", leg.connected_at)
        assert leg.peer.first_frame_at is not None
        total = leg.peer.first_frame_at - clock.t0
        colour = dominant_colour(leg.peer.video_frames[0])
    except BaseException as exc:
        board.forget(ticket_id)
        if leg is None and slot.done() and not slot.cancelled() and slot.exception() is None:
            leg = slot.result()
        if leg is None and customer is not None and customer.client.connected:
            with contextlib.suppress(Exception):
                await customer.call("cancel")
        problem = await end_call(leg, customer, customer_peer)
        if not isinstance(exc, Exception):
            raise
        last = max(clock.marks, key=lambda n: clock.marks[n], default="the tap")
        elapsed = time.perf_counter() - clock.t0
        also = f"; then {problem}" if problem else ""
        raise CallFailed(f"{exc!r} after milestone {last}{also}", elapsed) from exc
    board.forget(ticket_id)
    problem = await end_call(leg, customer, customer_peer)
    return Sample(total, clock.marks, colour, retries, problem)


async def connect_customer(
    customer: Party, session_id: str, clock: Clock
) -> tuple[ClientPeer, int]:
    """Connect the customer's peer; returns it and how many offers were refused ``no_session``.

    The server can tell the customer its session (``sync``, ``matched``) before it has opened
    that session's media, and refuses an offer in that window with ``no_session`` ("it has
    ended"). web/customer does not retry; we do, with a fresh peer, and count it (RESULTS.md).
    """
    retries = 0
    async with asyncio.timeout(STEP_TIMEOUT):
        while True:
            peer = ClientPeer("red")
            watch_connected(peer, clock, "customer_connected")
            try:
                await peer.connect(customer.client, "/customer", session_id)
            except AssertionError as exc:
                await peer.close()
                if "no_session" not in str(exc):
                    raise
                if retries == 0:
                    clock.mark("customer_offer_refused_no_session")
                retries += 1
                await asyncio.sleep(0.005)
                continue
            return peer, retries


async def bare_once() -> Sample:
    """The floor: offer/answer between two in-process peers, to the answerer's first frame."""
    offerer, answerer = ClientPeer("red"), ClientPeer("blue")
    try:
        clock = Clock()
        watch_connected(answerer, clock, "connected")
        await offerer.pc.setLocalDescription(await offerer.pc.createOffer())
        clock.mark("offer")
        await answerer.pc.setRemoteDescription(offerer.pc.localDescription)
        await answerer.pc.setLocalDescription(await answerer.pc.createAnswer())
        await offerer.pc.setRemoteDescription(answerer.pc.localDescription)
        clock.mark("answer")
        await answerer.wait_for_video(count=1, timeout=STEP_TIMEOUT)
        assert answerer.first_frame_at is not None
        return Sample(
            answerer.first_frame_at - clock.t0,
            clock.marks,
            dominant_colour(answerer.video_frames[0]),
        )
    finally:
        await offerer.close()
        await answerer.close()


# --------------------------------------------------------------------------- the run


@dataclass
class Series:
    name: str
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rounds: list[list[float]] = field(default_factory=list)  # concurrent: totals (ms) per round
    failed_at: list[float] = field(default_factory=list)  # seconds after the tap

    def add_round(self, results: list[Sample | BaseException]) -> None:
        for result in results:
            self.add(result)
        self.rounds.append(sorted(x.total * 1000 for x in results if isinstance(x, Sample)))

    def add(self, result: Sample | BaseException) -> None:
        if isinstance(result, BaseException):
            if isinstance(result, CallFailed):
                self.errors.append(result.what)
                self.failed_at.append(result.elapsed)
            else:
                self.errors.append(repr(result))
            logger.warning("%s: a call failed: %s", self.name, result)
        else:
            self.samples.append(result)

    @property
    def totals_ms(self) -> list[float]:
        return [s.total * 1000 for s in self.samples]


async def capture(coro: Any) -> Sample | BaseException:
    try:
        return await coro  # type: ignore[no-any-return]
    except Exception as exc:
        return exc


class LogTally(logging.Handler):
    """Counts every warning and error logged during the run (by logger and message)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()
        self.examples: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        head = record.getMessage().splitlines()[0][:160]
        key = f"{record.levelname} {record.name}: {record.msg if record.args else head}"
        key = key.splitlines()[0][:200]
        self.counts[key] += 1
        self.examples.setdefault(key, head)


async def recover(agent: AutoAgent) -> list[str]:
    """Bring an agent left behind by a failed call back to Ready; says what it had to do."""
    done: list[str] = []
    for _ in range(50):
        now = await agent.sync()
        state, session_id = now.get("state"), now.get("session_id")
        if state == "ready":
            return done
        if state == "busy" and session_id:
            await agent.party.call("hangup", {"session_id": session_id})
            done.append("was busy: the bench hung up")
        elif state == "wrap_up" and session_id:
            await agent.party.call(
                "wrap_up", {"session_id": session_id, "disposition": "resolved", "note": "bench"}
            )
            done.append("was in wrap_up: the bench wrapped up")
        elif state == "away":
            await agent.party.call("ready")
            done.append(f"was away ({now.get('reason')}): the bench made it ready")
        else:
            await asyncio.sleep(0.2)  # offered: the auto-accept is on its way
    raise RuntimeError(f"agent {agent.name} stays {now.get('state')}")


async def idle(harness: Server, agents: list[AutoAgent], notes: list[str]) -> None:
    """Between measurements: every agent Ready, every server peer connection closed."""
    for agent in agents:
        for what in await recover(agent):
            notes.append(f"an agent left behind by a failed call or hang-up {what}")
    if isinstance(harness, OutsideServer):
        await harness.wait_idle(20)
        return
    hub = harness.hub
    await wait_until(lambda: hub.peer_connections == 0, 20, "server peers closed")
    await wait_until(lambda: not hub.sessions, 20, "media sessions closed")


class Meter:
    """Process CPU time, wall time and event-loop lag (10 ms sleeps), per named phase."""

    def __init__(self) -> None:
        self.current: str | None = None
        self.cpu: Counter[str] = Counter()
        self.server_cpu: Counter[str] = Counter()  # the server's process, when outside
        self.wall: Counter[str] = Counter()
        self.server: OutsideServer | None = None
        self.lags: dict[str, list[float]] = {}

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.current = name
        cpu0, wall0 = time.process_time(), time.perf_counter()
        server0 = self.server.cpu_seconds() if self.server is not None else 0.0
        try:
            yield
        finally:
            if self.server is not None:
                self.server_cpu[name] += self.server.cpu_seconds() - server0
            self.cpu[name] += time.process_time() - cpu0
            self.wall[name] += time.perf_counter() - wall0
            self.current = None

    async def watch(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.01)
            if self.current is not None:
                lag = time.perf_counter() - started - 0.01
                self.lags.setdefault(self.current, []).append(lag)


async def add_agent(harness: Server, name: str, board: Switchboard) -> AutoAgent:
    cookie = await harness.add_staff(name)
    party = await harness.agent(cookie)
    reply = await party.call("ready")
    if reply != {"ok": True}:
        raise RuntimeError(f"{name} could not get ready: {reply}")
    agent = AutoAgent(name, party, board)
    agent.start()
    return agent


def limits_lifted() -> dict[str, Any]:
    """Every customer here taps from 127.0.0.1: lift the per-address and per-socket limiters."""
    wanted = {
        "taps_per_minute": 1e6,
        "taps_burst": 1_000_000,
        "socket_events_per_second": 1e6,
        "socket_events_burst": 1_000_000,
    }
    known = {f.name for f in dataclasses.fields(Settings)}
    return {k: v for k, v in wanted.items() if k in known}


async def run(
    args: argparse.Namespace, series: dict[str, Series], meter: Meter, notes: list[str]
) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-tap-") as tmp:
        harness: Server
        if args.server == "outside":
            harness = OutsideServer(Path(tmp), ring_timeout=20.0, **limits_lifted())
            meter.server = harness
        else:
            harness = Harness(test_settings(Path(tmp), **limits_lifted()))
        await harness.start()
        board = Switchboard()
        agents: list[AutoAgent] = []
        watcher = asyncio.create_task(meter.watch(), name="Meter.watch")
        try:
            agents.append(await add_agent(harness, "agent00", board))

            for i in range(args.warmup):
                await bare_once()
                await call_once(harness, board)
                await idle(harness, agents, notes)
                log_progress(f"warm-up {i + 1}/{args.warmup}")

            for i in range(args.sequential):
                with meter.phase("baseline_seq"):
                    series["baseline_seq"].add(await capture(bare_once()))
                with meter.phase("ours_seq"):
                    series["ours_seq"].add(await capture(call_once(harness, board)))
                await idle(harness, agents, notes)
                if (i + 1) % 10 == 0:
                    log_progress(f"sequential {i + 1}/{args.sequential}")

            if args.rounds and args.concurrency:
                for k in range(1, args.concurrency):
                    agents.append(await add_agent(harness, f"agent{k:02d}", board))
                n = args.concurrency
                for r in range(args.rounds):
                    with meter.phase("baseline_conc"):
                        bare = await asyncio.gather(*(capture(bare_once()) for _ in range(n)))
                    series["baseline_conc"].add_round(bare)
                    with meter.phase("ours_conc"):
                        calls = await asyncio.gather(
                            *(capture(call_once(harness, board)) for _ in range(n))
                        )
                    series["ours_conc"].add_round(calls)
                    await idle(harness, agents, notes)
                    log_progress(f"concurrent round {r + 1}/{args.rounds}")
        finally:
            watcher.cancel()
            if isinstance(harness, OutsideServer):
                with contextlib.suppress(Exception):
                    gauges = await harness.gauges()
                    notes.append(
                        "at the end: server peer connections "
                        f"{gauges.get('videoassist_peer_connections', '?'):.0f}, media sessions "
                        f"{gauges.get('videoassist_live_calls', '?'):.0f}"
                    )
            else:
                notes.append(
                    f"at the end: server peer connections {harness.hub.peer_connections}, "
                    f"media sessions {len(harness.hub.sessions)}"
                )
            for agent in agents:
                await agent.close()
            async with asyncio.timeout(60):
                await harness.stop()


def log_progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- report


def pct(values: list[float], q: int) -> float:
    """Percentile ``q`` (1..99) with linear interpolation between closest ranks."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def row(label: str, s: Series, base: Series | None) -> str:
    v = s.totals_ms
    if not v:
        return f"| {label} | 0 | - | - | - | - | - | - | {len(s.errors)} |"
    p50, p95 = pct(v, 50), pct(v, 95)
    ratio50 = ratio95 = "-"
    if base is not None and base.totals_ms:
        ratio50 = f"{p50 / pct(base.totals_ms, 50):.2f}x"
        ratio95 = f"{p95 / pct(base.totals_ms, 95):.2f}x"
    return (
        f"| {label} | {len(v)} | {p50:.1f} | {p95:.1f} | {min(v):.1f} | {max(v):.1f} "
        f"| {ratio50} | {ratio95} | {len(s.errors)} |"
    )


def milestone_table(s: Series) -> list[str]:
    names: list[str] = []
    for sample in s.samples:
        names.extend(n for n in sample.marks if n not in names)
    lines = [f"Milestones for {s.name} (ms after the clock started, median / p95, n):", ""]
    lines += ["| milestone | p50 ms | p95 ms | n |", "| --- | ---: | ---: | ---: |"]
    ordered = sorted(
        names,
        key=lambda n: statistics.median(x.marks[n] for x in s.samples if n in x.marks),
    )
    for n in ordered:
        v = [x.marks[n] * 1000 for x in s.samples if n in x.marks]
        lines.append(f"| {n} | {pct(v, 50):.1f} | {pct(v, 95):.1f} | {len(v)} |")
    v = s.totals_ms
    if v:
        lines.append(f"| **first frame** | {pct(v, 50):.1f} | {pct(v, 95):.1f} | {len(v)} |")
    return lines


def environment() -> list[str]:
    cpu = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/meminfo") as f:
        kb = int(f.readline().split()[1])
        ram = f"{kb / 1024 / 1024:.1f} GiB"

    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "?"

    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "videoassist", "tests/support"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        code = f"code: {root} at {commit}" + (
            f", with uncommitted changes in {len(dirty.splitlines())} files under "
            "videoassist/ or tests/support/"
            if dirty
            else ", videoassist/ and tests/support/ as committed"
        )
    except (OSError, subprocess.SubprocessError):
        code = f"code: {root} (not a git checkout)"
    return [
        code,
        f"machine: {os.cpu_count()} CPUs ({cpu}), RAM {ram}, load average now "
        + " ".join(f"{x:.2f}" for x in os.getloadavg()),
        f"python {platform.python_version()}, aiortc {version('aiortc')}, "
        f"aioice {version('aioice')}, av {version('av')}, aiohttp {version('aiohttp')}, "
        f"python-socketio {version('python-socketio')}",
    ]


def report(
    args: argparse.Namespace,
    series: dict[str, Series],
    meter: Meter,
    notes: list[str],
    tally: LogTally,
) -> str:
    seq, base_seq = series["ours_seq"], series["baseline_seq"]
    conc, base_conc = series["ours_conc"], series["baseline_conc"]
    lines = [
        f"tap → first frame at the agent ({time.strftime('%Y-%m-%d %H:%M:%S %z')})",
        "command: " + " ".join([Path(sys.executable).name, "-m", __spec__.name, *sys.argv[1:]])
        if __spec__ is not None
        else "",
        *environment(),
        f"server: {args.server} (see the module's docstring)",
        "",
        "| measurement | n | p50 ms | p95 ms | min ms | max ms "
        "| p50 ÷ baseline p50 | p95 ÷ baseline p95 | failed |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        row("baseline: bare aiortc pair, sequential", base_seq, None),
        row("ours: tap → agent first frame, sequential (1 agent)", seq, base_seq),
        row(
            f"baseline: {args.concurrency} bare pairs at once ({args.rounds} rounds)",
            base_conc,
            None,
        ),
        row(
            f"ours: {args.concurrency} taps at once ({args.concurrency} agents, "
            f"{args.rounds} rounds), "
            "÷ sequential baseline",
            conc,
            base_seq,
        ),
        row(
            f"ours: {args.concurrency} taps at once, ÷ concurrent baseline",
            conc,
            base_conc,
        ),
        "",
        "Percentiles interpolate linearly between closest ranks (statistics.quantiles, "
        "inclusive); with few samples p95 sits close to the maximum.",
        "",
    ]
    outside = args.server == "outside"
    lines += [
        "Load while each series ran: the bench's process (every client peer"
        + (
            "; the server runs in its own process, its CPU apart)"
            if outside
            else " and the server, which shares its loop)"
        )
        + ":",
        "",
        "| series | wall s | CPU s | cores busy | server CPU s | server cores | loop lag p50 ms "
        "| p99 ms | max ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in series:
        wall, cpu, lags = meter.wall[name], meter.cpu[name], meter.lags.get(name, [])
        if not wall:
            continue
        lag = [x * 1000 for x in lags] or [0.0]
        server = meter.server_cpu[name]
        server_cols = f"{server:.1f} | {server / wall:.2f}" if outside else "- | -"
        lines.append(
            f"| {name} | {wall:.1f} | {cpu:.1f} | {cpu / wall:.2f} | {server_cols} "
            f"| {pct(lag, 50):.1f} | {pct(lag, 99):.1f} | {max(lag):.1f} |"
        )
    lines.append("")
    for s in (base_conc, conc):
        if s.rounds:
            ranks = max(len(r) for r in s.rounds)
            by_rank = [
                statistics.median(r[k] for r in s.rounds if len(r) > k) for k in range(ranks)
            ]
            lines.append(
                f"{s.name}, first frame by rank within its round (k-th fastest; median over "
                f"{len(s.rounds)} rounds, ms): " + ", ".join(f"{v:.0f}" for v in by_rank)
            )
    lines.append("")
    for s in (seq, conc, base_seq, base_conc):
        if s.samples:
            lines += [*milestone_table(s), ""]
    wrong = [
        f"{s.name}: {sum(1 for x in s.samples if x.colour != 'red')} of {len(s.samples)}"
        for s in series.values()
        if any(x.colour != "red" for x in s.samples)
    ]
    if wrong:
        lines.append("first frame NOT the sender's colour: " + "; ".join(wrong))
    via = Counter(
        n for s in (seq, conc) for x in s.samples for n in x.marks if n.startswith("customer_ses")
    )
    if via:
        lines.append(
            "customer learned its session: "
            + ", ".join(f"{n.removeprefix('customer_session_')} {c}" for n, c in via.items())
        )
    for s in (seq, conc):
        hit = [x for x in s.samples if x.retries]
        if hit:
            lost = [
                (x.marks["customer_answer"] - x.marks["customer_offer_refused_no_session"]) * 1000
                for x in hit
            ]
            lines.append(
                f"{s.name}: {len(hit)} of {len(s.samples)} calls had the customer's offer "
                f"refused no_session first ({sum(x.retries for x in hit)} refusals; "
                f"first refusal to answer: median {statistics.median(lost):.1f} ms, "
                f"max {max(lost):.1f} ms)"
            )
    for s in series.values():
        for text, count in Counter(x.hangup_problem for x in s.samples if x.hangup_problem).items():
            lines.append(f"hang-up after a measured call in {s.name}: {count}x {text}")
    for s in series.values():
        for err, count in Counter(s.errors).most_common():
            lines.append(f"failure in {s.name}: {count}x {err}")
        if s.failed_at:
            lines.append(
                f"  (failed calls gave up {min(s.failed_at):.1f}-{max(s.failed_at):.1f} s "
                "after their tap)"
            )
    lines += [f"{count}x {note}" if count > 1 else note for note, count in Counter(notes).items()]
    if tally.counts:
        lines.append("warnings/errors logged during the run:")
        for key, count in tally.counts.most_common():
            lines.append(f"  {count}x {key}")
    else:
        lines.append("warnings/errors logged during the run: none")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.tap_to_first_frame", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--sequential", type=int, default=50, help="sequential calls (50)")
    parser.add_argument("--concurrency", type=int, default=10, help="taps at once (10)")
    parser.add_argument(
        "--rounds", type=int, default=5, help="concurrent rounds, each of --concurrency (5)"
    )
    parser.add_argument("--warmup", type=int, default=2, help="uncounted warm-up calls (2)")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="total time limit, seconds (600)"
    )
    parser.add_argument("--json", type=Path, help="also write every sample to this file")
    parser.add_argument(
        "--server",
        choices=("outside", "inside"),
        default="outside",
        help="the server in a process of its own, as deployed (outside, the default), or on "
        "this process's loop beside every client peer (inside)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    tally = LogTally()
    logging.getLogger().addHandler(tally)
    series = {
        name: Series(name) for name in ("baseline_seq", "ours_seq", "baseline_conc", "ours_conc")
    }
    meter = Meter()
    notes = ["load average at the start: " + " ".join(f"{x:.2f}" for x in os.getloadavg())]
    status = 0

    async def bounded() -> None:
        async with asyncio.timeout(args.timeout):
            await run(args, series, meter, notes)

    try:
        asyncio.run(bounded())
    except TimeoutError:
        notes.append(f"STOPPED: the run hit its {args.timeout:.0f} s limit; figures are partial")
        status = 1
    except Exception as exc:
        logger.exception("the run failed")
        notes.append(f"STOPPED: the run failed: {exc!r}; figures are partial")
        status = 1
    print(report(args, series, meter, notes, tally), flush=True)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    name: {
                        "samples": [
                            {
                                "total": x.total,
                                "marks": x.marks,
                                "colour": x.colour,
                                "retries": x.retries,
                                "hangup_problem": x.hangup_problem,
                            }
                            for x in s.samples
                        ],
                        "errors": s.errors,
                    }
                    for name, s in series.items()
                },
                indent=1,
            )
        )
    if any(s.errors for s in series.values()):
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())

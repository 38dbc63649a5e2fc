"""A simulated day on one queue, through the real desk, against Erlang C's prediction.

Each day: 8 hours of simulated time (nothing sleeps; the desk's ``SetTimer`` s and the calls'
ends are kept in a heap and fired in time order), Poisson arrivals at rate λ into one queue
staffed by N agents who are Ready all day. Agents accept every offer at once, the call lasts a
drawn handle time, the agent hangs up and wraps up at once, so the desk's own matching is the only
thing between a tap and an answer. No one abandons. Arrivals stop after 8 hours and the line is
worked off, so every customer of the day is answered. Seeded: the same seeds give the same days.

Measured per day: the wait of each customer (tap to accept), the share answered within the
queue's 15 s service-level threshold (SL) and the average wait (ASA), and what the desk itself
says: ``queue_snapshot(at)["expected_wait"]`` (``QueueStats.expected_wait``: Erlang C on the
recent arrival rate and handle time, or the mean of recent waits) at 8 hours and every 15
minutes, and its answered / answered-in-service-level counters (checked against ours).

Baseline (same run): Erlang C for the same λ, AHT and N (``erlang_c_service_level`` and
``erlang_c_asa`` from ``videoassist/desk/estimate.py``), and a control run with exponential
handle times, the one case where Erlang C's assumptions all hold (Poisson arrivals, exponential
service, no abandonment, steady state): what the control misses is the day's start from an empty
line and the noise of a finite day. The log-normal runs then show what real handle-time spread
does; "M/G/N" is the Allen-Cunneen correction of Erlang C's ASA by (1 + CV²) / 2 for a service
time with coefficient of variation CV, printed to explain the direction.

Honest waits (issue 16, ``--part waits``, also run by default after the tables above): the same
kind of day with announcements every 10 s, 25 and 3 agents, and a day when a third of the agents
go Away for two hours; what each customer is told (``wait``: a range, "free", "connecting" or
"no agent") at their page's first sync and at every announcement that changed it, against the
rest of their wait, next to today's single number (``estimated_wait``) in the same run.

Run: ``.venv/bin/python -m bench.simulated_day`` from the repository root (``--help``).
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import math
import random
import statistics
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from bench.desksim import Scheduler, machine_line, percentile, table
from videoassist.desk import (
    AgentAway,
    AgentReady,
    AgentSignedIn,
    AnnounceDue,
    CancelTimer,
    CustomerReturned,
    CustomerTapped,
    Desk,
    DeskConfig,
    HungUp,
    Notify,
    OfferAccepted,
    QueueConfig,
    SaveAgentState,
    SetTimer,
    StartMedia,
    WrapUpDone,
)
from videoassist.desk.estimate import erlang_c_asa, erlang_c_service_level

THRESHOLD = 15.0  # seconds: the queue's service-level threshold
T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26}
T95 |= {10: 2.23, 15: 2.13, 20: 2.09, 25: 2.06, 30: 2.04, 40: 2.02, 60: 2.00, 120: 1.98}


@dataclass
class Day:
    tapped: list[float] = field(default_factory=list)  # arrival times, in order
    waits: list[float] = field(default_factory=list)  # tap to answer, in answer order
    handles: list[float] = field(default_factory=list)  # in answer order
    estimate_end: float | None = None  # the desk's expected wait at the end of the day
    samples: list[tuple[float, float | None]] = field(default_factory=list)  # (at, estimate)
    desk_answered: int = 0
    desk_in_level: int = 0
    events: int = 0


def simulate_day(
    n_agents: int,
    rate: float,
    aht: float,
    sigma: float | None,
    hours: float,
    seed: int,
    sample_every: float = 900.0,
) -> Day:
    """One day through the desk; ``sigma`` None means exponential handle times."""
    arrivals = random.Random(f"arrivals-{seed}")
    handles = random.Random(f"handles-{seed}")  # drawn in answer order (FIFO: arrival order)
    queue = QueueConfig("general", "General", service_level=THRESHOLD)
    ids = itertools.count(1)
    desk = Desk(new_id=lambda: f"s{next(ids)}", config=DeskConfig(queues={"general": queue}))
    sched = Scheduler()
    day = Day()
    end = hours * 3600.0
    tapped_at: dict[str, float] = {}
    now_events: deque[Any] = deque()
    session_of: dict[str, str] = {}

    def feed(event: Any) -> None:
        now_events.append(event)
        while now_events:
            ev = now_events.popleft()
            day.events += 1
            for eff in desk.handle(ev):
                cls = type(eff)
                if cls is SetTimer:
                    sched.set_timer(eff.key, eff.at, eff.event)
                elif cls is CancelTimer:
                    sched.cancel_timer(eff.key)
                elif cls is Notify and eff.to == "agent" and eff.event == "offer":
                    # The agent accepts at once.
                    ticket_id = str(eff.data["ticket_id"])
                    now_events.append(OfferAccepted(eff.target_id, ticket_id, ev.at))
                elif cls is StartMedia:
                    session_of[eff.agent_id] = eff.session_id
                    day.waits.append(ev.at - tapped_at.pop(eff.ticket_id))
                    if sigma is None:
                        seconds = handles.expovariate(1.0 / aht)
                    else:  # log-normal with mean aht
                        seconds = handles.lognormvariate(math.log(aht) - sigma * sigma / 2, sigma)
                    day.handles.append(seconds)
                    sched.at(ev.at + seconds, ("hang_up", eff.session_id, eff.agent_id))
                elif cls is SaveAgentState and eff.state == "wrap_up":
                    session = session_of[eff.agent_id]
                    now_events.append(WrapUpDone(eff.agent_id, session, "resolved", "", ev.at))

    for i in range(n_agents):
        feed(AgentSignedIn(f"a{i}", f"Agent {i}", 0.0))
        feed(AgentReady(f"a{i}", 0.0))
    sched.at(arrivals.expovariate(rate), ("tap",))
    for k in range(1, int(end // sample_every) + 1):
        sched.at(k * sample_every, ("sample",))
    tickets = itertools.count(1)
    while (item := sched.pop()) is not None:
        at, is_timer, payload = item
        if is_timer:
            feed(payload)
            continue
        what = payload[0]
        if what == "tap":
            if at >= end:
                continue  # the day is over: no more arrivals, the line is worked off
            ticket_id = f"t{next(tickets)}"
            tapped_at[ticket_id] = at
            day.tapped.append(at)
            feed(CustomerTapped(ticket_id, at))
            feed(CustomerReturned(ticket_id, at))  # the page connects: the ticket can be offered
            sched.at(at + arrivals.expovariate(rate), ("tap",))
        elif what == "hang_up":
            _, session_id, agent_id = payload
            feed(HungUp(session_id, "agent", agent_id, at))
        elif what == "sample":
            estimate = desk.queue_snapshot(at)[0]["expected_wait"]
            day.samples.append((at, estimate))
            if at >= end:
                day.estimate_end = estimate
    assert not tapped_at, "every customer of the day is answered"
    snap = desk.queue_snapshot(sched.now)[0]
    day.desk_answered = snap["answered"]
    day.desk_in_level = snap["answered_in_service_level"]
    return day


def fifo_waits(n_agents: int, tapped: list[float], handles: list[float]) -> list[float]:
    """The reference: the same arrivals and handle times through an ideal first-come,
    first-served line with N identical servers (no desk)."""
    free = [0.0] * n_agents
    waits = []
    for at, seconds in zip(tapped, handles, strict=True):
        start = max(at, heapq.heappop(free))
        waits.append(start - at)
        heapq.heappush(free, start + seconds)
    return waits


def steady_asa(n_agents: int, rate: float, aht: float, sigma: float | None, hours: float) -> float:
    """ASA in the long run (the first 5% dropped), from the FIFO reference: the routing check
    shows the desk waits exactly as it does, and thousands of hours through the desk take long."""
    arrivals, handles = random.Random("steady-arrivals"), random.Random("steady-handles")
    tapped, seconds, at = [], [], 0.0
    while at < hours * 3600.0:
        at += arrivals.expovariate(rate)
        tapped.append(at)
        if sigma is None:
            seconds.append(handles.expovariate(1.0 / aht))
        else:
            seconds.append(handles.lognormvariate(math.log(aht) - sigma * sigma / 2, sigma))
    waits = fifo_waits(n_agents, tapped, seconds)
    return statistics.fmean(waits[len(waits) // 20 :])


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% confidence interval (Student t)."""
    m = statistics.fmean(values)
    if len(values) < 2:
        return m, math.nan
    df = len(values) - 1
    t = T95[max(k for k in T95 if k <= df)]
    return m, t * statistics.stdev(values) / math.sqrt(len(values))


# --------------------------------------------------------------------------- honest waits


@dataclass
class Told:
    """What one customer was told at one moment, and the wait that followed it."""

    kind: str  # range / free / ringing / unstaffed
    low: float | None
    high: float | None
    point: float | None  # today's single number (``estimated_wait``), the baseline
    remaining: float = math.nan  # seconds from being told to being answered


@dataclass
class WaitDay:
    at_tap: list[Told] = field(default_factory=list)
    waiting: list[Told] = field(default_factory=list)
    events: int = 0


def simulate_waits(
    n_agents: int,
    rate: float,
    aht: float,
    sigma: float | None,
    hours: float,
    seed: int,
    leave: tuple[float, float, float] | None = None,
    announce_every: float = 10.0,
) -> WaitDay:
    """One day through the desk, recording what every customer is told at tap (their page's
    first ``sync`` after joining) and at every ``AnnounceDue`` while waiting, against the wait
    that followed. ``leave`` = (share of agents, from hour, back at hour): they go Away when
    next offered a customer after the first hour and come back Ready at the second."""
    arrivals = random.Random(f"arrivals-{seed}")
    handles = random.Random(f"handles-{seed}")
    queue = QueueConfig("general", "General", service_level=THRESHOLD)
    ids = itertools.count(1)
    desk = Desk(new_id=lambda: f"s{next(ids)}", config=DeskConfig(queues={"general": queue}))
    sched = Scheduler()
    day = WaitDay()
    end = hours * 3600.0
    pending: dict[str, list[Told]] = {}  # ticket -> what it was told, not yet answered
    now_events: deque[Any] = deque()
    session_of: dict[str, str] = {}
    leavers: set[str] = set()
    if leave is not None:
        leavers = {f"a{i}" for i in range(round(n_agents * leave[0]))}
    gone: set[str] = set()

    def told(data: dict[str, Any]) -> Told:
        wait = data["wait"]
        return Told(wait["kind"], wait["low"], wait["high"], data["estimated_wait"])

    def feed(event: Any) -> None:
        now_events.append(event)
        while now_events:
            ev = now_events.popleft()
            day.events += 1
            for eff in desk.handle(ev):
                cls = type(eff)
                if cls is SetTimer:
                    sched.set_timer(eff.key, eff.at, eff.event)
                elif cls is CancelTimer:
                    sched.cancel_timer(eff.key)
                elif cls is Notify and eff.to == "agent" and eff.event == "offer":
                    ticket_id = str(eff.data["ticket_id"])
                    if (
                        leave is not None
                        and eff.target_id in leavers
                        and (leave[1] * 3600 <= ev.at < leave[2] * 3600)
                    ):
                        gone.add(eff.target_id)
                        now_events.append(AgentAway(eff.target_id, ev.at, "break"))
                    else:
                        now_events.append(OfferAccepted(eff.target_id, ticket_id, ev.at))
                elif cls is Notify and eff.to == "customer" and eff.event == "queue":
                    if eff.target_id in pending and ev.at > 0:
                        entry = told(dict(eff.data))
                        entry.remaining = ev.at  # the moment, until answered
                        pending[eff.target_id].append(entry)
                elif cls is StartMedia:
                    session_of[eff.agent_id] = eff.session_id
                    entries = pending.pop(eff.ticket_id)
                    for entry in entries:
                        entry.remaining = ev.at - entry.remaining
                    if entries:
                        day.at_tap.append(entries[0])
                        day.waiting.extend(entries[1:])
                    if sigma is None:
                        seconds = handles.expovariate(1.0 / aht)
                    else:
                        seconds = handles.lognormvariate(math.log(aht) - sigma * sigma / 2, sigma)
                    sched.at(ev.at + seconds, ("hang_up", eff.session_id, eff.agent_id))
                elif cls is SaveAgentState and eff.state == "wrap_up":
                    session = session_of[eff.agent_id]
                    now_events.append(WrapUpDone(eff.agent_id, session, "resolved", "", ev.at))

    for i in range(n_agents):
        feed(AgentSignedIn(f"a{i}", f"Agent {i}", 0.0))
        feed(AgentReady(f"a{i}", 0.0))
    sched.at(arrivals.expovariate(rate), ("tap",))
    sched.at(announce_every, ("announce",))
    if leave is not None:
        sched.at(leave[2] * 3600, ("back",))
    tickets = itertools.count(1)
    while (item := sched.pop()) is not None:
        at, is_timer, payload = item
        if is_timer:
            feed(payload)
            continue
        what = payload[0]
        if what == "tap":
            if at >= end:
                continue
            ticket_id = f"t{next(tickets)}"
            feed(CustomerTapped(ticket_id, at))
            pending[ticket_id] = []
            feed(CustomerReturned(ticket_id, at))
            if ticket_id in pending:  # not answered at once: the page's first sync
                view = desk.customer_view(ticket_id, at)
                entry = told(view)
                entry.remaining = at
                pending[ticket_id].append(entry)
            else:
                day.at_tap.append(Told("free", None, None, None, 0.0))
            sched.at(at + arrivals.expovariate(rate), ("tap",))
        elif what == "hang_up":
            _, session_id, agent_id = payload
            feed(HungUp(session_id, "agent", agent_id, at))
        elif what == "announce":
            feed(AnnounceDue(at))
            if at < end or pending:
                sched.at(at + announce_every, ("announce",))
        elif what == "back":
            for agent_id in sorted(gone):
                feed(AgentReady(agent_id, at))
            gone.clear()
    assert not pending, "every customer of the day is answered"
    return day


def wait_row(label: str, entries: list[Told]) -> list[Any]:
    """Coverage of the shown ranges and of today's point estimate, over ``entries``."""
    ranged = [e for e in entries if e.kind == "range"]
    free = [e for e in entries if e.kind in ("free", "ringing")]
    inside = sum(1 for e in ranged if e.low <= e.remaining <= e.high)  # type: ignore[operator]
    past = sum(1 for e in ranged if e.remaining > e.high)  # type: ignore[operator]
    widths = sorted(e.high - e.low for e in ranged)  # type: ignore[operator]
    rel = sorted((e.high - e.low) / max(1.0, e.remaining) for e in ranged)  # type: ignore[operator]
    pointed = [e for e in entries if e.point is not None and e.kind != "unstaffed"]
    past_point = sum(1 for e in pointed if e.remaining > e.point)  # type: ignore[operator]
    past_30 = sum(1 for e in pointed if e.remaining > e.point + 30.0)  # type: ignore[operator]
    free_waits = sorted(e.remaining for e in free)
    n = len(ranged)
    return [
        label,
        len(entries),
        f"{n / len(entries):.0%}" if entries else "-",
        f"{inside / n:.1%}" if n else "-",
        f"{past / n:.1%}" if n else "-",
        f"{percentile(widths, 50):.0f}" if n else "-",
        f"{percentile(rel, 50):.2f}" if n else "-",
        len(free),
        f"{percentile(free_waits, 90):.0f}" if free else "-",
        f"{past_point / len(pointed):.1%}" if pointed else "-",
        f"{past_30 / len(pointed):.1%}" if pointed else "-",
    ]


WAIT_HEADERS = [
    "scenario",
    "told",
    "given a range",
    "range: actual inside",
    "past its top",
    "width p50 s",
    "width / actual p50",
    "told free or connecting",
    "their wait p90 s",
    "baseline point: past it",
    "past it + 30 s",
]


def waits_report(args: argparse.Namespace) -> None:
    aht = args.aht
    scenarios: list[tuple[str, int, float, float | None, tuple[float, float, float] | None]] = []
    for n in (25, 3):
        for sigma in (None, 1.0):
            for rho in args.wait_utilisation:
                shape = "exp" if sigma is None else f"lognormal sigma={sigma:g}"
                scenarios.append((f"N={n} {shape} {rho:.0%}", n, rho, sigma, None))
    for n in (25, 3):
        away = (1 / 3, 3.0, 5.0)
        scenarios.append((f"N={n} lognormal sigma=1 85%, a third away 3h-5h", n, 0.85, 1.0, away))
    print(
        f"\n### honest waits: the range each customer is told against the wait that followed\n\n"
        f"one queue, AHT {aht:.0f} s, {args.hours:g} h of Poisson arrivals then the line worked "
        f"off, {args.wait_days} seeded days per scenario; 'at tap' is the page's first sync after "
        f"joining, 'while waiting' every AnnounceDue (every 10 s) that told the customer "
        f"something new; baseline: today's point estimate (estimated_wait) in the same run. "
        f"Targets: ≥ 80% inside, ≤ 10% past the top.\n"
    )
    tap_rows, wait_rows = [], []
    started = time.perf_counter()
    for label, n, rho, sigma, leave in scenarios:
        at_tap: list[Told] = []
        waiting: list[Told] = []
        for k in range(args.wait_days):
            seed = args.seed * 1000 + k
            day = simulate_waits(n, rho * n / aht, aht, sigma, args.hours, seed, leave)
            at_tap.extend(day.at_tap)
            waiting.extend(day.waiting)
        tap_rows.append(wait_row(label, at_tap))
        wait_rows.append(wait_row(label, waiting))
    print("at tap\n")
    print(table(WAIT_HEADERS, tap_rows))
    print("\nwhile waiting\n")
    print(table(WAIT_HEADERS, wait_rows))
    print(f"\n({time.perf_counter() - started:.0f} s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=25, help="N, fixed all day")
    parser.add_argument("--aht", type=float, default=300.0, help="average handle time, seconds")
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--days", type=int, default=40, help="seeded days per row")
    parser.add_argument("--utilisation", type=float, nargs="+", default=[0.70, 0.85, 0.95])
    parser.add_argument(
        "--sigmas", type=float, nargs="+", default=[0.5, 1.0], help="log-normal shape(s)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--steady-hours", type=float, default=3000.0, help="long run of the FIFO reference"
    )
    parser.add_argument(
        "--part", choices=["all", "erlang", "waits"], default="all", help="which tables to run"
    )
    parser.add_argument("--wait-days", type=int, default=10, help="seeded days per wait scenario")
    parser.add_argument("--wait-utilisation", type=float, nargs="+", default=[0.70, 0.85, 0.95])
    args = parser.parse_args(argv)
    if args.part == "waits":
        print("\n## simulated_day: honest waits\n")
        print(f"machine: {machine_line()}")
        waits_report(args)
        return 0

    n, aht = args.agents, args.aht
    print("\n## simulated_day\n")
    print(f"machine: {machine_line()}")
    print(
        f"one queue, N = {n} agents Ready all day, AHT {aht:.0f} s, {args.hours:g} h of Poisson "
        f"arrivals then the line is worked off; SL threshold {THRESHOLD:g} s; {args.days} seeded "
        f"days per row, the same arrival seeds in every row (± is the 95% confidence interval "
        f"of the mean over days)\n"
    )
    started = time.perf_counter()
    rows, est_rows = [], []
    n_days = mismatched = not_fifo = events = 0
    worst_gap = 0.0
    exp_asas: dict[float, list[float]] = {}  # the exponential rows' daily ASA, for pairing
    for sigma in [None, *args.sigmas]:
        cv2 = 1.0 if sigma is None else math.exp(sigma * sigma) - 1.0
        label = "exponential" if sigma is None else f"log-normal sigma={sigma:g}"
        for rho in args.utilisation:
            rate = rho * n / aht
            traffic = rate * aht
            sl_pred = erlang_c_service_level(n, traffic, aht, THRESHOLD)
            asa_pred = erlang_c_asa(n, traffic, aht) or math.nan
            sls, asas, calls, ahts, ends = [], [], [], [], []
            estimates, actuals = [], []
            for k in range(args.days):
                day = simulate_day(n, rate, aht, sigma, args.hours, args.seed * 1000 + k)
                n_days += 1
                events += day.events
                in_level = sum(1 for w in day.waits if w <= THRESHOLD)
                sls.append(in_level / len(day.waits))
                asas.append(statistics.fmean(day.waits))
                calls.append(len(day.waits))
                ahts.append(statistics.fmean(day.handles))
                if day.desk_answered != len(day.waits) or day.desk_in_level != in_level:
                    mismatched += 1
                ref = fifo_waits(n, day.tapped, day.handles)
                gap = max(abs(a - b) for a, b in zip(ref, day.waits, strict=True))
                worst_gap = max(worst_gap, gap)
                not_fifo += gap > 1e-6
                if day.estimate_end is not None:
                    ends.append(day.estimate_end)
                by_arrival = list(zip(day.tapped, day.waits, strict=True))
                for at, estimate in day.samples:
                    later = [w for t, w in by_arrival if at <= t < at + 900.0]
                    if estimate is not None and later:
                        estimates.append(estimate)
                        actuals.append(statistics.fmean(later))
            sl, sl_ci = mean_ci(sls)
            asa, asa_ci = mean_ci(asas)
            mgn = asa_pred * (1 + cv2) / 2  # Allen-Cunneen: M/G/N from M/M/N
            if sigma is None:
                exp_asas[rho] = asas
                paired = "(control)"
            else:  # the same days (same arrivals) with exponential handle times
                diff, diff_ci = mean_ci([a - b for a, b in zip(asas, exp_asas[rho], strict=True)])
                paired = f"{diff:+.1f} ± {diff_ci:.1f}"
            rows.append(
                [
                    label,
                    f"{rho:.0%}",
                    f"{rate * 3600:.0f}",
                    f"{statistics.fmean(ahts):.0f}",
                    n,
                    f"{statistics.fmean(calls):.0f}",
                    f"{sl_pred:.1%}",
                    f"{sl:.1%} ± {sl_ci:.1%}",
                    f"{sl / sl_pred:.2f}",
                    f"{asa_pred:.1f}",
                    f"{asa:.1f} ± {asa_ci:.1f}",
                    f"{asa / asa_pred:.2f}",
                    f"{steady_asa(n, rate, aht, sigma, args.steady_hours):.1f}",
                    f"{mgn:.1f}",
                    paired,
                ]
            )
            ordered = sorted(estimates)
            over = sum(1 for e, a in zip(estimates, actuals, strict=True) if e > a + 60.0)
            est_rows.append(
                [
                    label,
                    f"{rho:.0%}",
                    f"{asa:.1f}",
                    f"{statistics.fmean(ends):.1f}" if ends else "-",
                    f"{statistics.median(ends):.1f}" if ends else "-",
                    len(estimates),
                    f"{statistics.fmean(actuals):.1f}",
                    f"{statistics.median(ordered):.1f}",
                    f"{statistics.fmean(ordered):.1f}",
                    f"{percentile(ordered, 90):.0f}",
                    f"{ordered[-1]:.0f}",
                    f"{over / len(estimates):.1%}",
                ]
            )
    print(
        table(
            [
                "handle time",
                "util.",
                "λ /h",
                "AHT s",
                "N",
                "calls/day",
                "SL Erlang C",
                "SL achieved",
                "SL ratio",
                "ASA Erlang C s",
                "ASA achieved s",
                "ASA ratio",
                f"ASA steady state s ({args.steady_hours:g} h)",
                "ASA M/G/N s",
                "ASA minus exponential, same days",
            ],
            rows,
        )
    )
    print(
        f"\nrouting check: on {n_days - not_fifo} of {n_days} days every wait equals that of an "
        f"ideal FIFO line with N servers fed the same arrivals and handle times (largest "
        f"difference {worst_gap:.2g} s); the desk's answered / in-service-level counters agree "
        f"with ours on {n_days - mismatched} of {n_days} days"
    )
    print("\n### the desk's own estimate (QueueStats.expected_wait) against the achieved wait\n")
    print(
        table(
            [
                "handle time",
                "util.",
                "ASA achieved s",
                "estimate at 8 h: mean",
                "median",
                "15-min samples",
                "actual wait of the next 15 min' taps: mean",
                "estimate: median",
                "mean",
                "p90",
                "max",
                "share over actual + 60 s",
            ],
            est_rows,
        )
    )
    elapsed = time.perf_counter() - started
    print(f"\n{n_days} days, {events:,} desk events in {elapsed:.1f} s")
    if args.part == "all":
        waits_report(args)
    return 0 if mismatched == 0 and not_fifo == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

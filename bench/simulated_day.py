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

Run: ``.venv/bin/python -m bench.simulated_day`` from the repository root (``--help``).
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import statistics
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from bench.desksim import Scheduler, machine_line, table
from videoassist.desk import (
    AgentReady,
    AgentSignedIn,
    CancelTimer,
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
T95 = {2: 12.71, 3: 4.30, 4: 3.18, 5: 2.78, 6: 2.57, 7: 2.45, 8: 2.36, 9: 2.31, 10: 2.26}


@dataclass
class Day:
    waits: list[tuple[float, float]] = field(default_factory=list)  # (tapped at, wait)
    handles: list[float] = field(default_factory=list)
    estimate_end: float | None = None  # the desk's expected wait at the end of the day
    samples: list[tuple[float, float | None]] = field(default_factory=list)  # (at, estimate)
    desk_answered: int = 0
    desk_in_level: int = 0
    events: int = 0
    timers_fired: int = 0


def handle_time(rng: random.Random, dist: str, aht: float, sigma: float) -> float:
    if dist == "exponential":
        return rng.expovariate(1.0 / aht)
    return rng.lognormvariate(math.log(aht) - sigma * sigma / 2, sigma)  # mean = aht


def simulate_day(
    n_agents: int,
    rate: float,
    aht: float,
    dist: str,
    sigma: float,
    hours: float,
    seed: int,
    sample_every: float = 900.0,
) -> Day:
    rng = random.Random(seed)
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
                    now_events.append(
                        OfferAccepted(eff.target_id, str(eff.data["ticket_id"]), ev.at)
                    )
                elif cls is StartMedia:
                    session_of[eff.agent_id] = eff.session_id
                    day.waits.append(
                        (tapped_at[eff.ticket_id], ev.at - tapped_at.pop(eff.ticket_id))
                    )
                    seconds = handle_time(rng, dist, aht, sigma)
                    day.handles.append(seconds)
                    sched.at(ev.at + seconds, ("hang_up", eff.session_id, eff.agent_id))
                elif cls is SaveAgentState and eff.state == "wrap_up":
                    session = session_of[eff.agent_id]
                    now_events.append(WrapUpDone(eff.agent_id, session, "resolved", "", ev.at))

    for i in range(n_agents):
        feed(AgentSignedIn(f"a{i}", f"Agent {i}", 0.0))
        feed(AgentReady(f"a{i}", 0.0))
    sched.at(rng.expovariate(rate), ("tap",))
    for k in range(1, int(end // sample_every) + 1):
        sched.at(k * sample_every, ("sample",))
    tickets = itertools.count(1)
    while (item := sched.pop()) is not None:
        at, is_timer, payload = item
        if is_timer:
            day.timers_fired += 1
            feed(payload)
            continue
        what = payload[0]
        if what == "tap":
            if at >= end:
                continue  # the day is over: no more arrivals, the line is worked off
            ticket_id = f"t{next(tickets)}"
            tapped_at[ticket_id] = at
            feed(CustomerTapped(ticket_id, at))
            sched.at(at + rng.expovariate(rate), ("tap",))
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


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% confidence interval (Student t)."""
    m = statistics.fmean(values)
    if len(values) < 2:
        return m, math.nan
    t = T95.get(len(values), 1.96)
    return m, t * statistics.stdev(values) / math.sqrt(len(values))


def cv2(dist: str, sigma: float) -> float:
    return 1.0 if dist == "exponential" else math.exp(sigma * sigma) - 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=25, help="N, fixed all day")
    parser.add_argument("--aht", type=float, default=300.0, help="average handle time, seconds")
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--days", type=int, default=10, help="seeded days per row")
    parser.add_argument("--utilisation", type=float, nargs="+", default=[0.70, 0.85, 0.95])
    parser.add_argument(
        "--sigmas", type=float, nargs="+", default=[0.5, 1.0], help="log-normal shape(s)"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    n, aht = args.agents, args.aht
    print("\n## simulated_day\n")
    print(f"machine: {machine_line()}")
    print(
        f"one queue, N = {n} agents Ready all day, AHT {aht:.0f} s, {args.hours:g} h of Poisson "
        f"arrivals then the line is worked off; SL threshold {THRESHOLD:g} s; {args.days} seeded "
        f"days per row (± is the 95% confidence interval of the mean over days)\n"
    )
    started = time.perf_counter()
    rows, est_rows = [], []
    mismatched = 0
    dists = [("exponential", 0.0)] + [("lognormal", s) for s in args.sigmas]
    for dist, sigma in dists:
        for rho in args.utilisation:
            rate = rho * n / aht
            traffic = rate * aht
            sl_pred = erlang_c_service_level(n, traffic, aht, THRESHOLD)
            asa_pred = erlang_c_asa(n, traffic, aht) or math.nan
            days = [
                simulate_day(
                    n,
                    rate,
                    aht,
                    dist,
                    sigma,
                    args.hours,
                    args.seed * 100_000 + round(rho * 1000) * 100 + k,
                )
                for k in range(args.days)
            ]
            sls, asas, asas_late, calls, ahts, ends, sampled = [], [], [], [], [], [], []
            for day in days:
                waits = [w for _, w in day.waits]
                in_level = sum(1 for w in waits if w <= THRESHOLD)
                sls.append(in_level / len(waits))
                asas.append(statistics.fmean(waits))
                asas_late.append(statistics.fmean(w for t, w in day.waits if t >= 3600.0))
                calls.append(len(waits))
                ahts.append(statistics.fmean(day.handles))
                if day.desk_answered != len(waits) or day.desk_in_level != in_level:
                    mismatched += 1
                ends.append(day.estimate_end if day.estimate_end is not None else math.nan)
                sampled.extend(e for _, e in day.samples if e is not None)
            sl, sl_ci = mean_ci(sls)
            asa, asa_ci = mean_ci(asas)
            asa_late, _ = mean_ci(asas_late)
            label = "exponential" if dist == "exponential" else f"log-normal sigma={sigma:g}"
            mgn = asa_pred * (1 + cv2(dist, sigma)) / 2
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
                    f"{asa_late:.1f}",
                    f"{mgn:.1f}",
                ]
            )
            finite = [e for e in ends if not math.isnan(e)]
            est_rows.append(
                [
                    label,
                    f"{rho:.0%}",
                    f"{asa:.1f}",
                    f"{statistics.fmean(finite):.1f}" if finite else "-",
                    f"{min(finite):.1f}-{max(finite):.1f}" if finite else "-",
                    f"{statistics.fmean(finite) / asa:.2f}" if finite and asa else "-",
                    f"{statistics.fmean(sampled):.1f}" if sampled else "-",
                    f"{asa_pred:.1f}",
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
                "ASA after 1st hour",
                "ASA M/G/N s",
            ],
            rows,
        )
    )
    print("\n### the desk's own estimate (QueueStats.expected_wait) against the achieved wait\n")
    print(
        table(
            [
                "handle time",
                "util.",
                "achieved ASA s",
                "expected_wait at 8 h, mean",
                "at 8 h, min-max over days",
                "at 8 h / achieved",
                "every 15 min, mean",
                "Erlang C s",
            ],
            est_rows,
        )
    )
    print(
        f"\nthe desk's answered / in-service-level counters agree with ours on "
        f"{len(dists) * len(args.utilisation) * args.days - mismatched} of "
        f"{len(dists) * len(args.utilisation) * args.days} days; "
        f"ran in {time.perf_counter() - started:.1f} s"
    )
    return 0 if mismatched == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

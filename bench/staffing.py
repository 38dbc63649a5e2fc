"""Staffing check: the agents the reports say a queue needs, against days simulated through
the real desk with that many agents.

One queue, Poisson arrivals at rate λ for 8 hours, exponential handle times (the case where
Erlang C's assumptions hold). Step 1: a day through the desk (``bench.simulated_day``) with
plenty of agents becomes a history (tickets, sessions); ``reports.staffing_report`` reads it
hour by hour and says how many agents each hour needs for 80 % within 15 s, from the measured
arrivals and handle time, as a supervisor's page would. Step 2: seeded days through the desk
with N-1, N and N+1 agents (N the hours' median): the share answered within 15 s, measured.
The check: N meets the target and N-1 does not. The baseline in the same run is Erlang C's own
prediction for the true λ and AHT.

Run: ``.venv/bin/python -m bench.staffing`` from the repository root (``--help``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from bench.desksim import machine_line
from bench.simulated_day import THRESHOLD, mean_ci, simulate_day
from videoassist import reports
from videoassist.desk.config import DeskConfig, QueueConfig
from videoassist.desk.estimate import erlang_c_service_level

TARGET = 80.0


def history_of(day: object, start: float) -> reports.History:
    """A simulated day as the rows the store would hold (FIFO: answers in arrival order)."""
    tickets, sessions = [], []
    for i, (at, wait, handle) in enumerate(
        zip(day.tapped, day.waits, day.handles, strict=True)  # type: ignore[attr-defined]
    ):
        tickets.append(
            {
                "id": f"t{i}",
                "topic": "",
                "status": "ended",
                "queued_at": start + at,
                "ended_at": start + at + wait + handle,
                "end_reason": "agent_hung_up",
                "queue_id": "general",
                "callback": False,
                "customer_ref": None,
                "device_id": None,
            }
        )
        sessions.append(
            {
                "id": f"s{i}",
                "ticket_id": f"t{i}",
                "agent_id": "a",
                "answered_at": start + at + wait,
                "ended_at": start + at + wait + handle,
                "end_reason": "agent_hung_up",
                "wrapped_up_at": None,
                "call_id": f"s{i}",
            }
        )
    return reports.History(tickets=tickets, sessions=sessions)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-hour", type=float, default=120.0, help="arrivals per hour")
    parser.add_argument("--aht", type=float, default=300.0, help="average handle time, seconds")
    parser.add_argument("--days", type=int, default=20, help="seeded days per staffing level")
    args = parser.parse_args(argv)
    rate, aht = args.per_hour / 3600.0, args.aht
    config = DeskConfig(queues={"general": QueueConfig("general", service_level=THRESHOLD)})

    print("\n## staffing\n")
    print(f"machine: {machine_line()}")
    started = time.perf_counter()
    day = simulate_day(40, rate, aht, None, 8.0, seed=1000)
    rows = reports.staffing_report(
        history_of(day, 0.0), config, "general", 0.0, 8 * 3600.0, "hour", None
    )
    needed = [row["agents_needed"] for row in rows]
    n = int(statistics.median(needed))
    compute = time.perf_counter() - started
    print(
        f"λ {args.per_hour:g}/h, AHT {aht:g} s (exponential), target {TARGET:g} % within "
        f"{THRESHOLD:g} s; traffic {rate * aht:.1f} erlangs"
    )
    print(f"agents needed per hour, from the simulated history: {needed} -> N = {n}")
    print(f"(simulating that day and reading it: {compute:.2f} s)\n")
    print(f"| agents | simulated SL % (± 95% CI, {args.days} days) | Erlang C SL % | meets |")
    print("| --- | --- | --- | --- |")
    verdict = {}
    for agents in (n - 1, n, n + 1):
        levels = []
        for seed in range(args.days):
            d = simulate_day(agents, rate, aht, None, 8.0, seed=seed)
            levels.append(100.0 * sum(w <= THRESHOLD for w in d.waits) / len(d.waits))
        mean, half = mean_ci(levels)
        erlang = 100.0 * erlang_c_service_level(agents, rate * aht, aht, THRESHOLD)
        verdict[agents] = mean >= TARGET
        meets = "yes" if verdict[agents] else "no"
        print(f"| {agents} | {mean:.1f} ± {half:.1f} | {erlang:.1f} | {meets} |")
    ok = verdict[n] and not verdict[n - 1]
    print(f"\ncheck: N = {n} meets the target and N-1 does not: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Failover under load (issue 15): two nodes on the leader lease, on one PostgreSQL and one
redis-server (Debian's packages, started on loopback), customers arriving and agents taking
calls, the serving node killed (SIGKILL) and paused (SIGSTOP past its lease) in turn.

With ``--replicas`` both nodes serve (``DESK_REPLICAS``), the pages spread over them at random,
and each fault hits the node that leads.

Printed: the time from each fault to a node serving again (the baseline it is measured
against: the lease's TTL, which bounds it from below for a kill); customers' reattach time
(their page's drop to being back in line) p50 / p95; customers lost, tickets given to two
agents, and censuses that found the line out of tap order (all three must be 0); served,
still waiting, and calls interrupted by a node's death.

Run: ``.venv/bin/python -m bench.chaos`` from the repository root (``--help``). The driver is
``tests/support/chaos.py``; the bounded CI version is ``tests/integration/test_chaos.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.desksim import machine_line, percentile
from tests.support.chaos import run_chaos
from tests.support.postgres import PostgresServer
from tests.support.redis import RedisServer


async def _main(args: argparse.Namespace) -> int:
    postgres, redis = PostgresServer(), RedisServer(appendonly=True)
    postgres.start()
    redis.start()
    try:
        database = postgres.fresh_database()
        started = time.monotonic()
        report = await run_chaos(
            Path(tempfile.mkdtemp(prefix="videoassist-chaos-")),
            postgres.url(database),
            redis.url,
            customers=args.customers,
            agents=args.agents,
            faults=args.faults,
            fault_every=args.fault_every,
            ttl=args.ttl,
            hold=args.hold,
            seed=args.seed,
            replicas=args.replicas,
        )
        wall = time.monotonic() - started
    finally:
        redis.stop()
        postgres.stop()
    print(machine_line())
    print(
        f"command: python -m bench.chaos {' '.join(sys.argv[1:])}; {wall:.0f} s; "
        f"{args.customers} customers, {args.agents} agents (calls {args.hold:.0f} s), "
        f"{args.faults} faults {args.fault_every:.0f} s apart, lease TTL {args.ttl:.0f} s, "
        + ("both nodes serving (pages spread over them)" if args.replicas else "leader and standby")
    )
    failover = report.failover
    print(
        "failover (fault -> the other node serving, or leading with --replicas), s: "
        + ", ".join(f"{kind} {t:.1f}" for kind, t in zip(report.faults, failover, strict=True))
    )
    kills = [t for kind, t in zip(report.faults, failover, strict=True) if kind == "kill"]
    if kills:
        print(
            f"kill: median {statistics.median(kills):.1f} s = "
            f"{statistics.median(kills) / args.ttl:.2f}x the lease TTL (the baseline: a kill "
            f"cannot be noticed before the lease lapses)"
        )
    if report.takeovers:
        print(
            "taking the lead (epoch, how, seconds in the new leader): "
            + ", ".join(f"{e} {how} {s:.2f}" for e, how, s in report.takeovers)
        )
    reattach = sorted(report.reattach)
    if reattach:
        print(
            f"reattach (page dropped -> back in line): p50 {percentile(reattach, 50):.2f} s, "
            f"p95 {percentile(reattach, 95):.2f} s over {len(reattach)} reconnections"
        )
    print(
        f"lost {len(report.lost)}, given to two agents {len(report.double)}, censuses out of "
        f"order {len(report.census_errors)} of {report.censuses} (read twice: "
        f"{report.census_rereads}); served {report.served}, "
        f"waiting {report.waiting}, calls interrupted {report.interrupted}; served after each "
        f"fault {report.served_after_fault}"
    )
    for line in report.lost + report.double + report.census_errors:
        print("  ", line)
    return 0 if not (report.lost or report.double or report.census_errors) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--faults", type=int, default=6)
    parser.add_argument("--fault-every", type=float, default=30.0)
    parser.add_argument("--ttl", type=float, default=10.0, help="LEADER_LEASE_TTL, seconds")
    parser.add_argument("--hold", type=float, default=5.0, help="seconds an agent holds a call")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--replicas", action="store_true", help="DESK_REPLICAS: both nodes serve, one leads"
    )
    return asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())

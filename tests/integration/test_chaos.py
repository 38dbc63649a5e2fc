"""Chaos, bounded: two real nodes on the leader lease (PostgreSQL, redis-server), both serving
(``DESK_REPLICAS``, as deployed: pages and consoles spread over both), customers arriving and
agents taking calls, the leader killed and then paused (SIGSTOP past its lease).
After each fault every waiting customer is back in line at their place, in tap order; no ticket
ends unserved; none is given to two agents; dispatch resumes. See tests/support/chaos.py."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from tests.support.chaos import run_chaos
from tests.support.redis import RedisServer

pytestmark = pytest.mark.timeout(300)


async def test_failover_under_load_loses_no_one_and_keeps_the_order(
    tmp_path: Path, postgres_url: str, redis_server: RedisServer
) -> None:
    report = await run_chaos(
        tmp_path,
        postgres_url,
        redis_server.url,
        customers=60,
        agents=3,
        faults=3,
        fault_every=10,
        ttl=2.0,
        hold=2.0,
        replicas=True,
    )
    reattach = sorted(report.reattach)
    p95 = reattach[int(0.95 * (len(reattach) - 1))] if reattach else float("nan")
    print(
        f"faults {report.faults}, failover {[round(t, 1) for t in report.failover]} s, "
        f"reattach p50 {statistics.median(reattach) if reattach else float('nan'):.2f} s "
        f"p95 {p95:.2f} s over {len(reattach)}; served {report.served}, waiting "
        f"{report.waiting}, interrupted {report.interrupted}"
    )
    assert report.faults == ["kill", "pause", "kill"]
    assert report.census_errors == []
    assert report.lost == []
    assert report.double == []
    assert report.censuses == 3
    assert report.served + report.waiting + report.interrupted == report.customers
    assert report.reattach, "customers were waiting through the faults"
    assert all(n > 0 for n in report.served_after_fault[:-1]), report.served_after_fault

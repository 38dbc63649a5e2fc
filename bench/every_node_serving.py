"""Every node serving (issue 15): what a request costs on the follower against the leader.

Two real ``videoassist serve`` processes with ``DESK_REPLICAS`` on PostgreSQL and redis-server
(Debian's packages, started on loopback for the run): the leader holds the desk; the follower
reads its replica and asks the leader for every change over Redis. The same clients time the
same requests on both, interleaved (leader, follower, leader, ...) so that both meet the same
moments of a shared machine; the leader's figures are the baseline:

* **tap**: ``POST /api/tickets`` (a desk change: the follower asks the leader, waits for its
  records, then for its own replica to apply the entry; the answer carries the place in line);
* **agent toggle**: an agent's ``away`` then ``ready`` (a desk change over the socket);
* **sync**: a waiting customer's ``sync`` (a read: the follower answers from its replica);
* **join**: a customer's page connecting with its ticket (the socket's handshake, the ticket's
  check, the desk told the customer is back).

Run: ``.venv/bin/python -m bench.every_node_serving`` from the repository root (``--help``);
about a minute with the defaults. Needs Debian's postgresql and redis-server.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.desksim import machine_line, percentile
from bench.outside import PASSWORD, OutsideServer
from bench.tap_to_first_frame import limits_lifted
from tests.support.harness import Party
from tests.support.postgres import PostgresServer
from tests.support.redis import RedisServer
from videoassist.auth import hash_password
from videoassist.store.records import Records

SECRET = "bench-every-node-serving-" + "s" * 32


def since(started: float) -> float:
    """Milliseconds since ``started`` (``time.perf_counter``)."""
    return (time.perf_counter() - started) * 1000


async def login(server: OutsideServer, name: str) -> str:
    http = server.http
    assert http is not None
    async with http.post("/api/login", json={"username": name, "password": PASSWORD}) as r:
        if r.status != 200:
            raise RuntimeError(f"login {name}: {r.status} {await r.text()}")
        return r.cookies["va_session"].value


async def run(args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    root = Path(tempfile.mkdtemp(prefix="every-node-"))
    postgres, redis = PostgresServer(), RedisServer()
    postgres.start()
    redis.start()
    nodes: dict[str, OutsideServer] = {}
    parties: list[Party] = []
    try:
        database_url = postgres.url(postgres.fresh_database())
        records = Records.open(database_url)
        try:
            await records.migrate()
            for name in ("agent-leader", "agent-follower"):
                await records.add_user(name, name, hash_password(PASSWORD), "agent", time.time())
        finally:
            await records.close()
        for name in ("leader", "follower"):  # the first started leads
            server = OutsideServer(
                root / "data",
                node_id=name,
                database_url=database_url,
                redis_url=redis.url,
                secret_key=SECRET,
                leader_lease="true",
                leader_lease_ttl=2.0,
                desk_replicas="true",
                media_placement="true",
                **limits_lifted(),
            )
            await server.start()
            nodes[name] = server
        agents: dict[str, Party] = {}
        for name, server in nodes.items():
            agent = await server.agent(await login(server, f"agent-{name}"))
            parties.append(agent)
            assert (await agent.call("away", {"reason": "break"})) == {"ok": True}
            agents[name] = agent
        times: dict[str, dict[str, list[float]]] = {
            what: {"leader": [], "follower": []} for what in ("tap", "agent toggle", "sync", "join")
        }
        waiting: dict[str, list[Party]] = {"leader": [], "follower": []}
        for _ in range(args.warmup):
            for name, server in nodes.items():
                await server.tap()
                await agents[name].call("ready")
                await agents[name].call("away", {"reason": "break"})
        for _ in range(args.samples):
            for name, server in nodes.items():  # interleaved: both meet the same moments
                started = time.perf_counter()
                ticket = await server.tap()
                times["tap"][name].append(since(started))
                started = time.perf_counter()
                page = await server.customer(ticket["token"])
                times["join"][name].append(since(started))
                parties.append(page)
                waiting[name].append(page)
                started = time.perf_counter()
                await agents[name].call("ready")
                await agents[name].call("away", {"reason": "break"})
                times["agent toggle"][name].append(since(started))
                started = time.perf_counter()
                await page.call("sync")
                times["sync"][name].append(since(started))
                await asyncio.sleep(args.gap)
        # Both nodes show the same line: every customer's place, asked on either node.
        everyone = [p for pair in zip(*waiting.values(), strict=True) for p in pair]
        places = [(await p.call("sync"))["position"] for p in everyone]
        if sorted(places) != list(range(1, len(everyone) + 1)):
            raise RuntimeError(f"the nodes disagree on the line: {places}")
        return times
    finally:
        for party in parties:
            try:
                await party.close()
            except Exception as exc:
                print(f"closing a client: {exc}", file=sys.stderr)
        for server in reversed(list(nodes.values())):
            try:
                await server.stop()
            except Exception as exc:
                print(f"stopping a node: {exc}", file=sys.stderr)
        redis.stop()
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=200, help="requests of each kind per node")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--gap", type=float, default=0.02, help="seconds between rounds")
    args = parser.parse_args(argv)
    started = time.monotonic()
    times = asyncio.run(run(args))
    wall = time.monotonic() - started
    print(machine_line())
    print(
        f"command: python -m bench.every_node_serving {' '.join(sys.argv[1:])}; {wall:.0f} s; "
        f"{args.samples} of each request per node, interleaved"
    )
    print("| request | leader p50 / p95 ms | follower p50 / p95 ms | follower / leader (p50) |")
    print("| --- | --- | --- | --- |")
    for what, by_node in times.items():
        lead, follow = sorted(by_node["leader"]), sorted(by_node["follower"])
        l50, f50 = percentile(lead, 50), percentile(follow, 50)
        print(
            f"| {what} | {l50:.2f} / {percentile(lead, 95):.2f} | "
            f"{f50:.2f} / {percentile(follow, 95):.2f} | **{f50 / l50:.2f}x** "
            f"(+{f50 - l50:.2f} ms) |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

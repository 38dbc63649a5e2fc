"""Media placement on a real redis-server: least-loaded first, bursts never overshoot, dead and
draining nodes get nothing."""

from __future__ import annotations

import asyncio
from collections import Counter

from redis.asyncio import Redis

from tests.support.harness import wait_until
from videoassist.cluster.placement import Placement


async def test_a_burst_fills_nodes_evenly_and_never_past_their_limits(redis: Redis) -> None:
    placement = Placement(redis)
    await placement.register("a", capacity=10)
    await placement.register("b", capacity=4)
    # 20 taps at once from many nodes' handlers: no heartbeat in between.
    placed = await asyncio.gather(*(placement.place() for _ in range(20)))
    chosen = Counter(p[0] for p in placed if p is not None)
    assert chosen == {"a": 10, "b": 4}
    assert placed.count(None) == 6  # full: the caller is told, nothing overshoots
    loads = {n.node: n for n in await placement.loads()}
    assert (loads["a"].room, loads["b"].room) == (0, 0)


async def test_the_least_loaded_node_gets_the_next_call(redis: Redis) -> None:
    placement = Placement(redis)
    await placement.register("a", capacity=8)
    await placement.register("b", capacity=8)
    first = [await placement.place() for _ in range(4)]
    assert Counter(p[0] for p in first if p) == {"a": 2, "b": 2}  # alternates on ties
    for node, pid in first:  # type: ignore[misc]
        assert await placement.started(node, pid) is True
    await placement.ended("a")
    await placement.ended("a")
    nxt = await placement.place()
    assert nxt is not None and nxt[0] == "a"  # a has two free, b none more than a
    loads = {n.node: n for n in await placement.loads()}
    assert (loads["a"].live, loads["a"].in_flight, loads["b"].live) == (0, 1, 2)


async def test_unconfirmed_placements_stop_counting_after_their_timeout(redis: Redis) -> None:
    placement = Placement(redis, placement_timeout=0.3)
    await placement.register("a", capacity=1)
    assert (await placement.place()) is not None
    assert await placement.place() is None  # in flight counts as load
    await wait_until(
        lambda: placement.place(), timeout=5, interval=0.05, what="room after the timeout"
    )


async def test_dead_and_draining_nodes_get_no_calls(redis: Redis) -> None:
    placement = Placement(redis, heartbeat_ttl=0.3)
    await placement.register("dying", capacity=50)
    await placement.register("steady", capacity=2)
    await placement.drain("steady")
    chosen = [await placement.place() for _ in range(3)]
    assert [c[0] for c in chosen if c] == ["dying"] * 3  # a draining node takes nothing new
    # "dying" stops sending heartbeats; "steady" keeps them up and stops draining by registering.
    steady = Placement(redis, heartbeat_ttl=30)
    await steady.register("steady", capacity=2)

    async def only_steady() -> bool:
        got = await placement.place()
        return got is not None and got[0] == "steady"

    await wait_until(only_steady, timeout=5, interval=0.05, what="the dead node dropped")
    assert await placement.heartbeat("dying") is False  # it must register again
    assert [n.node for n in await placement.loads()] == ["steady"]
    assert await steady.heartbeat("steady", capacity=3) is True
    assert [n.capacity for n in await placement.loads()] == [3]

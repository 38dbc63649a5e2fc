"""The leadership lease on a real redis-server: one leader, handover, fencing, a stalled Redis.

TTLs are short here (1 s) so the tests are quick; production uses ``LEASE_TTL``. Every wait is
on a condition with a deadline.
"""

from __future__ import annotations

import time

import pytest
from redis.asyncio import Redis

from tests.support.harness import wait_until
from tests.support.redis import RedisServer
from videoassist.cluster.lease import Fenced, LeaderElector, Lease

TTL = 1.0


class Recorder:
    def __init__(self) -> None:
        self.elected: list[int] = []
        self.deposed: list[int] = []

    async def on_elected(self, epoch: int) -> None:
        self.elected.append(epoch)

    async def on_deposed(self, epoch: int) -> None:
        self.deposed.append(epoch)


def elector(redis: Redis, node: str, seen: Recorder, ttl: float = TTL) -> LeaderElector:
    return LeaderElector(
        Lease(redis, "desk", node, ttl=ttl),
        on_elected=seen.on_elected,
        on_deposed=seen.on_deposed,
    )


async def test_one_node_at_a_time_and_epochs_only_grow(redis: Redis) -> None:
    a, b = Lease(redis, "desk", "a", ttl=TTL), Lease(redis, "desk", "b", ttl=TTL)
    first = await a.acquire()
    assert first == 1
    assert await b.acquire() is None  # held
    assert await a.renew(1) is True
    assert await b.renew(1) is False  # the token names the node too
    assert await a.holder() == ("a", 1)
    await b.release(1)  # not b's to release
    assert await a.holder() == ("a", 1)
    await a.release(1)
    assert await b.acquire() == 2
    assert await a.renew(1) is False  # a's old epoch is gone for good
    await b.release(2)
    assert await a.acquire() == 3  # the same node again: still a new epoch
    with pytest.raises(ValueError):
        Lease(redis, "desk", "bad:id")


async def test_a_crashed_leader_is_replaced_within_the_ttl(redis: Redis) -> None:
    seen_a, seen_b = Recorder(), Recorder()
    a, b = elector(redis, "a", seen_a), elector(redis, "b", seen_b)
    a.start()
    await wait_until(lambda: a.is_leader, timeout=5, what="a leads")
    b.start()
    try:
        assert not b.is_leader
        crashed_at = time.monotonic()
        await a.stop(release=False)  # a crash: the lease is not given up
        await wait_until(lambda: b.is_leader, timeout=TTL * 3, what="b takes over")
        took = time.monotonic() - crashed_at
        assert took <= TTL + b.interval + 0.5, took
        assert seen_b.elected == [2] and seen_a.elected == [1]
    finally:
        await b.stop()


async def test_a_drain_hands_over_at_once(redis: Redis) -> None:
    seen_a, seen_b = Recorder(), Recorder()
    a = elector(redis, "a", seen_a, ttl=30.0)  # a TTL far longer than the test may take
    a.start()
    await wait_until(lambda: a.is_leader, timeout=5, what="a leads")
    b = elector(redis, "b", seen_b, ttl=30.0)
    b.start()
    try:
        await a.stop(release=True)
        assert seen_a.deposed == [1]
        await wait_until(lambda: b.is_leader, timeout=b.interval + 5, what="b takes over")
        assert await b.lease.holder() == ("b", 2)
    finally:
        await b.stop()


async def test_a_paused_leader_that_wakes_up_is_fenced_off(redis: Redis) -> None:
    """A leader stops renewing (as when its process is stopped), another takes over; when
    the old one wakes up, its renewal is refused and its writes land nowhere."""
    old = Lease(redis, "desk", "a", ttl=TTL)
    old_epoch = await old.acquire()
    assert old_epoch is not None
    await old.fenced_hset(old_epoch, "videoassist:desk:state", {"owner": "a"})

    seen = Recorder()
    new = elector(redis, "b", seen)
    new.start()
    try:
        await wait_until(lambda: new.is_leader, timeout=TTL * 4, what="b takes over")
        assert new.epoch is not None and new.epoch > old_epoch
        await new.lease.fenced_hset(new.epoch, "videoassist:desk:state", {"owner": "b"})

        # The old leader wakes up and carries on as if nothing happened.
        assert await old.renew(old_epoch) is False
        with pytest.raises(Fenced):
            await old.fenced_hset(old_epoch, "videoassist:desk:state", {"owner": "a", "x": "1"})
        assert await redis.hgetall("videoassist:desk:state") == {b"owner": b"b"}
    finally:
        await new.stop()


async def test_a_leader_cut_off_from_redis_steps_down_before_anyone_can_take_over(
    redis: Redis, redis_server: RedisServer
) -> None:
    seen = Recorder()
    a = elector(redis, "a", seen)
    a.start()
    await wait_until(lambda: a.is_leader, timeout=5, what="a leads")
    redis_server.pause()  # Redis stops answering: renewals hang
    try:
        paused_at = time.monotonic()
        await wait_until(lambda: not a.is_leader, timeout=TTL * 3, what="a steps down")
        assert time.monotonic() - paused_at < TTL  # before its lease could expire in Redis
        await wait_until(lambda: seen.deposed == [1], timeout=TTL * 3, what="on_deposed ran")
    finally:
        redis_server.resume()
    # Redis is back: with nobody else around, a is elected again, with a new epoch.
    try:
        await wait_until(lambda: a.is_leader, timeout=TTL * 5, what="a leads again")
        assert seen.elected == [1, 2]
    finally:
        await a.stop()

"""Presence on a real redis-server: a dead node's sockets lapse; a reconnect elsewhere wins."""

from __future__ import annotations

from redis.asyncio import Redis

from tests.support.harness import wait_until
from videoassist.cluster.presence import Presence

TTL = 0.6


async def test_a_live_node_keeps_its_parties_and_a_dead_ones_lapse(redis: Redis) -> None:
    a, b = Presence(redis, "a", ttl=TTL), Presence(redis, "b", ttl=TTL)
    await a.connected("customer", "t1")
    await a.connected("agent", "u1")
    await b.connected("customer", "t2")
    a.start()  # a keeps refreshing; b "dies" (never refreshes)
    try:
        assert await a.where("customer", "t1") == "a"
        assert await a.absent("customer", ["t1", "t2", "t3"]) == ["t3"]
        await wait_until(
            lambda: a.absent("customer", ["t2"]), timeout=TTL * 5, what="b's customer lapses"
        )
        # Well past several TTLs, a's parties are still there.
        assert await a.absent("customer", ["t1"]) == []
        assert await a.where("agent", "u1") == "a"
    finally:
        await a.stop()


async def test_a_late_disconnect_does_not_remove_a_reconnect_elsewhere(redis: Redis) -> None:
    a, b = Presence(redis, "a", ttl=30), Presence(redis, "b", ttl=30)
    await a.connected("customer", "t1")
    await b.connected("customer", "t1")  # the page reconnected to node b first
    await a.disconnected("customer", "t1")  # then node a noticed its old socket went away
    assert await a.where("customer", "t1") == "b"
    await b.disconnected("customer", "t1")
    assert await b.where("customer", "t1") is None
    await b.refresh()  # nothing held: nothing comes back
    assert await b.where("customer", "t1") is None


async def test_a_second_connection_elsewhere_names_the_first_and_keeps_the_claim(
    redis: Redis,
) -> None:
    a, b = Presence(redis, "a", ttl=30), Presence(redis, "b", ttl=30)
    assert await a.connected("agent", "u1", "sid-1") is None
    assert await a.connected("agent", "u1", "sid-1") is None  # the same connection again
    assert await b.connected("agent", "u1", "sid-2") == ("a", "sid-1")  # to be disconnected
    # Node a sees its connection close: the claim is b's, so a does not tell the desk.
    assert await a.disconnected("agent", "u1", "sid-1") is False
    assert await a.holder("agent", "u1") == ("b", "sid-2")
    await a.refresh()  # a no longer holds it: it does not take it back
    assert await a.holder("agent", "u1") == ("b", "sid-2")
    assert await b.disconnected("agent", "u1", "sid-2") is True
    assert await b.holder("agent", "u1") is None


async def test_a_renewal_never_takes_a_claim_back_from_a_newer_connection(redis: Redis) -> None:
    a, b = Presence(redis, "a", ttl=0.3), Presence(redis, "b", ttl=30)
    await a.connected("customer", "t1", "old")
    await wait_until(lambda: a.absent("customer", ["t1"]), timeout=3, what="a's claim lapses")
    await a.refresh()  # a was paused past its time to live: it takes its own claim back
    assert await a.holder("customer", "t1") == ("a", "old")
    await b.connected("customer", "t1", "new")  # the page reconnected to b meanwhile
    await a.refresh()  # a has not heard of its socket's end yet
    assert await a.holder("customer", "t1") == ("b", "new")

"""Kicks between nodes on a real redis-server (cluster/kicks.py): every node closes the staff
member's sockets; a message not signed with the deployment's key closes nothing."""

from __future__ import annotations

import json

from redis.asyncio import Redis

from tests.support.harness import wait_until
from videoassist.cluster.kicks import CHANNEL, PURPOSE, Kicks
from videoassist.sealing import derive_key

KEY = derive_key("the-secret-key-every-node-shares-" + "x" * 16, PURPOSE)


async def test_a_kick_reaches_every_node_and_a_forged_one_none(redis: Redis) -> None:
    closed: dict[str, list[str]] = {"a": [], "b": []}

    async def on(node: str, staff_id: str) -> None:
        closed[node].append(staff_id)

    a = Kicks(redis, "a", KEY, lambda staff: on("a", staff))
    b = Kicks(redis, "b", KEY, lambda staff: on("b", staff))
    for node in (a, b):
        node.start()
        await node.subscribed()
    try:
        await a.kick("u7")
        await wait_until(lambda: closed["b"] == ["u7"], timeout=5, what="b closes u7's sockets")
        assert closed["a"] == ["u7"]  # its own, once (its message comes back to it too)
        body = json.dumps({"staff": "u8", "from": "x"})
        await redis.publish(CHANNEL, json.dumps({"b": body, "m": "0" * 64}))
        await redis.publish(CHANNEL, "not json")
        await wait_until(lambda: b.dropped == 2, timeout=5, what="b drops both")
        assert closed == {"a": ["u7"], "b": ["u7"]}
    finally:
        await a.close()
        await b.close()

"""Where the leader opens a call's media when the node it placed the call on fails it
(cluster/media_nodes.py ``PlacedCalls``), on a real redis-server with the real placement and
call bus: the node placed on died as it was asked, so the leader carries the call itself, as
it does when every node is full; only when it cannot either does the call fail."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.integration.test_cluster_call_bus import KEY
from videoassist.cluster.call_bus import CallBus
from videoassist.cluster.media_nodes import PlacedCalls
from videoassist.cluster.placement import Placement
from videoassist.errors import Problem, Refusal

pytestmark = pytest.mark.timeout(30)


class Here:
    """The leader's own call plane (the port; the real one is LocalCallPlane)."""

    def __init__(self, fails: bool = False) -> None:
        self.fails = fails
        self.rooms: dict[str, tuple[str, str]] = {}

    def open(
        self, session_id: str, ticket_id: str, agent_id: str, customer_joins_later: bool
    ) -> None:
        if self.fails:
            raise RuntimeError("no room here either")
        self.rooms[session_id] = (ticket_id, agent_id)

    async def close_session(self, session_id: str) -> None:
        self.rooms.pop(session_id, None)


@pytest.fixture
async def bus(redis: Redis) -> AsyncIterator[CallBus]:
    asker = CallBus(redis, "lead", KEY)
    await asker.start()
    yield asker
    await asker.close()


async def placed_on_a_dead_node(
    redis: Redis, bus: CallBus, here: Here
) -> tuple[PlacedCalls, Placement, list[tuple[str, str]]]:
    """The leader, and a media node ``m1`` with room whose heartbeat has not lapsed yet, but
    that no longer serves its queue."""
    placement = Placement(redis)
    await placement.register("m1", 4)
    failures: list[tuple[str, str]] = []

    async def settled() -> None:
        return None

    placed = PlacedCalls(
        here,  # type: ignore[arg-type]
        bus,
        placement,
        "lead",
        policy_of=lambda ticket_id: ("general", "off"),
        settled=settled,
        on_failure=lambda call_id, detail: failures.append((call_id, detail)),
        timeout=0.5,
    )
    placed.open("c1", "t1", "a1", False)
    return placed, placement, failures


async def test_a_call_its_node_fails_to_open_is_carried_by_the_leader(
    redis: Redis, bus: CallBus
) -> None:
    here = Here()
    placed, placement, failures = await placed_on_a_dead_node(redis, bus, here)
    try:
        assert await placed._node("c1") == "lead"
        assert here.rooms == {"c1": ("t1", "a1")}
        assert await placement.where("c1") == "lead"
        assert placed.where("c1") == "lead" and failures == []
    finally:
        await placed.close()


async def test_a_call_nobody_can_open_fails_once(redis: Redis, bus: CallBus) -> None:
    here = Here(fails=True)
    placed, placement, failures = await placed_on_a_dead_node(redis, bus, here)
    try:
        with pytest.raises(Problem) as refused:
            await placed._node("c1")
        assert isinstance(refused.value, Refusal) and refused.value.code == "unavailable"
        assert [call_id for call_id, _ in failures] == ["c1"]
        assert "m1" in failures[0][1]
        assert await placement.where("c1") is None
        assert placed.where("c1") is None
    finally:
        await placed.close()

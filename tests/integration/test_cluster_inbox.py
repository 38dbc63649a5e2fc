"""The desk's inbox on a real redis-server: one order for every node, nothing lost in a
handover, effects carried out once (the applied id written with them, behind the fence)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path

import pytest
from redis.asyncio import Redis

from videoassist.cluster.inbox import Inbox
from videoassist.desk.events import TicketRow
from videoassist.store.records import Fenced, Records, tickets


@pytest.fixture
async def records(tmp_path: Path) -> AsyncIterator[Records]:
    store = Records.open(f"sqlite+aiosqlite:///{tmp_path / 'inbox.db'}")
    await store.migrate()
    try:
        yield store
    finally:
        await store.close()


async def test_events_from_every_node_in_one_order(redis: Redis) -> None:
    node_a, node_b = Inbox(redis), Inbox(redis)
    await node_a.ensure_group()
    await node_b.ensure_group()  # a second node creating the group is harmless
    sent = []
    for n in range(6):
        node = node_a if n % 2 else node_b
        sent.append(await node.append({"kind": "tap", "n": n}))
    taken = await Inbox(redis).take("leader-1", count=100, block_ms=100)
    assert [e["n"] for _, e in taken] == list(range(6))
    assert [i for i, _ in taken] == sent
    assert (
        await Inbox(redis).take("leader-1", block_ms=50) == []
    )  # nothing new: it waited, then none
    assert await node_a.pending_count() == 6
    assert await node_a.ack(*sent) == 6
    assert await node_a.pending_count() == 0


async def test_a_new_leader_gets_what_the_old_one_read_but_did_not_finish(redis: Redis) -> None:
    inbox = Inbox(redis)
    await inbox.ensure_group()
    ids = [await inbox.append({"n": n}) for n in range(5)]
    first = await inbox.take("leader-1", count=3, block_ms=100)
    assert [e["n"] for _, e in first] == [0, 1, 2]
    await inbox.ack(ids[0])  # the old leader finished #0, then crashed

    claimed = await inbox.claim_pending("leader-2")
    assert [e["n"] for _, e in claimed] == [1, 2]  # unfinished, in order
    rest = await inbox.take("leader-2", block_ms=100)
    assert [e["n"] for _, e in rest] == [3, 4]  # then what nobody read
    await inbox.ack(*(i for i, _ in claimed + rest))
    assert await inbox.pending_count() == 0
    assert await inbox.claim_pending("leader-3") == []


async def test_effects_are_carried_out_once_across_a_handover(
    redis: Redis, records: Records
) -> None:
    """The old leader writes #0's effects with the applied id and is paused before acking; the
    new leader replays #0 and #1 but writes effects only for #1; the old one, waking, is fenced."""
    inbox = Inbox(redis)
    await inbox.ensure_group()
    for n in range(2):
        await inbox.append({"ticket": f"t{n}"})

    async def apply(epoch: int, entry_id: str, event: dict[str, str]) -> None:
        async with records.fenced("desk", epoch) as conn:
            row = TicketRow(event["ticket"], "", "", "queued", 1.0, None, None)
            await conn.execute(tickets.insert().values(**asdict(row)))
            await records.mark_applied(conn, "desk", entry_id)

    old = await inbox.take("leader-1", block_ms=100)
    await apply(1, *old[0])  # written, not acknowledged: the old leader is paused here

    claimed = await inbox.claim_pending("leader-2")
    assert [e["ticket"] for _, e in claimed] == ["t0", "t1"]
    done = await records.applied("desk")
    assert done == old[0][0]
    for entry_id, event in claimed:
        if tuple(map(int, entry_id.split("-"))) > tuple(map(int, done.split("-"))):
            await apply(2, entry_id, event)
    await inbox.ack(*(i for i, _ in claimed))

    with pytest.raises(Fenced):  # the old leader wakes up and goes on with #1
        await apply(1, *old[1])
    assert {t["id"] for t in await records.open_tickets()} == {"t0", "t1"}
    assert await records.applied("desk") == claimed[1][0]


async def test_a_snapshot_then_the_stream_since_it(redis: Redis) -> None:
    inbox = Inbox(redis)
    await inbox.ensure_group()
    ids = [await inbox.append({"n": n}) for n in range(5)]
    snapshot_at = ids[2]  # a snapshot holds #0..#2
    assert [e["n"] for _, e in await inbox.since(snapshot_at)] == [3, 4]
    assert await inbox.trim_before(ids[3]) == 3
    assert [e["n"] for _, e in await inbox.since("0-0")] == [3, 4]

"""The desk's journal on a real redis-server (cluster/journal.py): a replica fed the leader's
entries holds the leader's desk, refusals included; a replica that starts late, falls behind a
trim or sees a new leader loads a snapshot; nothing unsigned is applied or unpickled."""

from __future__ import annotations

import asyncio
import json
import pickle
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.support.harness import wait_until
from tests.unit.desk_helpers import agent, desk_config, offers, whole_state
from videoassist.cluster.followers import FollowerService
from videoassist.cluster.journal import (
    JOURNAL,
    PURPOSE,
    SNAPSHOT,
    Ids,
    JournalWriter,
    Replica,
    _seal_snapshot,
    _sign,
)
from videoassist.desk import Desk, DeskError, QueueConfig
from videoassist.desk.events import (
    AgentReady,
    AgentSignedIn,
    CustomerReturned,
    CustomerTapped,
    Event,
    OfferAccepted,
    OfferDeclined,
)
from videoassist.errors import Refusal
from videoassist.sealing import derive_key

pytestmark = pytest.mark.timeout(60)

KEY = derive_key("the-secret-key-every-node-shares-" + "x" * 16, PURPOSE)
CONFIG = desk_config(
    QueueConfig("general"),
    agents=(agent("a1", "general"), agent("a2", "general")),
)


class Leader:
    """A desk and its journal, driven as the service drives them."""

    def __init__(self, redis: Redis, epoch: int, **writer: Any) -> None:
        self.ids = Ids()
        self.desk = Desk(new_id=self.ids.draw, config=CONFIG)
        self.journal = JournalWriter(redis, KEY, epoch, self.desk, self.ids, **writer)

    def handle(self, event: Event, origin: str | None = None) -> Any:
        refused = True
        try:
            effects = self.desk.handle(event)
            refused = False
            return effects
        except DeskError as exc:
            return exc
        finally:
            self.journal.handled(event, origin, refused)


def a_busy_hour(leader: Leader, start: float = 0.0, customers: int = 30) -> None:
    """Agents sign in, customers tap; each offer is declined, accepted or left ringing."""
    for agent_id in ("a1", "a2"):
        leader.handle(AgentSignedIn(agent_id, agent_id.title(), start))
        leader.handle(AgentReady(agent_id, start))
    for n in range(customers):
        at = start + 1 + n
        ticket = f"t{start:g}-{n}"
        leader.handle(CustomerTapped(ticket, at))
        rung = offers(leader.handle(CustomerReturned(ticket, at)))
        for agent_id, offered in rung:
            if n % 3 == 0:
                leader.handle(OfferDeclined(agent_id, str(offered), at + 0.5))
            elif n % 3 == 1:
                leader.handle(OfferAccepted(agent_id, str(offered), at + 0.6))


@pytest.fixture
async def replicas(redis: Redis) -> AsyncIterator[list[Replica]]:
    made: list[Replica] = []
    yield made
    for replica in made:
        await replica.close()


def follower(redis: Redis, made: list[Replica], resets: list[int] | None = None) -> Replica:
    replica = Replica(redis, KEY, on_reset=resets.append if resets is not None else None)
    made.append(replica)
    replica.start()
    return replica


async def leading(redis: Redis, replicas: list[Replica], **writer: Any) -> tuple[Leader, Replica]:
    """A leader of epoch 1, its journal started, and a replica following it."""
    leader = Leader(redis, epoch=1, **writer)
    await leader.journal.start()
    replica = follower(redis, replicas)
    await replica.ready()
    return leader, replica


async def caught_up(leader: Leader, replica: Replica) -> None:
    await leader.journal.flush()
    await wait_until(lambda: replica.seq == leader.journal.seq, timeout=10)


async def test_a_replica_holds_the_leaders_desk(redis: Redis, replicas: list[Replica]) -> None:
    leader, replica = await leading(redis, replicas)
    a_busy_hour(leader)
    await caught_up(leader, replica)
    assert replica.desk is not None
    assert whole_state(replica.desk) == whole_state(leader.desk)
    # Sessions carry the ids the leader drew: the same session on every node.
    assert set(replica.desk.sessions) == set(leader.desk.sessions) != set()
    assert replica.diverged == 0 and replica.dropped == 0
    await leader.journal.close()


async def test_a_followers_request_gets_the_outcome_of_its_entry(
    redis: Redis, replicas: list[Replica]
) -> None:
    leader, replica = await leading(redis, replicas)
    accepted = replica.expect("req-1")
    refused = replica.expect("req-2")
    on_leader = leader.handle(AgentSignedIn("a1", "A1", 0.0), origin="req-1")
    refusal_on_leader = leader.handle(OfferAccepted("a1", "no-such-ticket", 1.0), origin="req-2")
    async with asyncio.timeout(10):
        effects = (await accepted).result()
        outcome = await refused
    assert effects == on_leader != []
    assert isinstance(refusal_on_leader, DeskError)
    with pytest.raises(DeskError) as refusal:
        outcome.result()
    assert (refusal.value.code, str(refusal.value)) == (
        refusal_on_leader.code,
        str(refusal_on_leader),
    )
    # An outcome applied before its follower asked is kept for it.
    leader.handle(AgentReady("a1", 2.0), origin="req-3")
    await caught_up(leader, replica)
    assert (await asyncio.wait_for(replica.expect("req-3"), 1)).error is None
    # Every request decided is known with its refusal, should this node take the lead.
    decided = replica.origins
    assert list(decided) == ["req-1", "req-2", "req-3"]
    assert decided["req-1"] is None and decided["req-3"] is None
    assert isinstance(decided["req-2"], DeskError)
    # A replica that has stopped applies nothing more: whoever asks is refused at once.
    await replica.close()
    with pytest.raises(Refusal):
        (await asyncio.wait_for(replica.expect("req-4"), 1)).result()
    await leader.journal.close()


async def test_a_late_replica_loads_a_snapshot_and_the_stream_stays_bounded(
    redis: Redis, replicas: list[Replica]
) -> None:
    leader = Leader(redis, epoch=1, snapshot_every=40)
    await leader.journal.start()
    a_busy_hour(leader, customers=60)
    await leader.journal.flush()
    assert leader.journal.snapshots >= 3
    # Trimmed to the entries since the snapshot before the last: far fewer than were written.
    assert await redis.xlen(JOURNAL) < leader.journal.seq // 2
    replica = follower(redis, replicas)
    await caught_up(leader, replica)
    assert replica.desk is not None
    assert whole_state(replica.desk) == whole_state(leader.desk)
    assert replica.applied < leader.journal.seq  # it did not replay from the start
    await leader.journal.close()


async def test_a_new_leader_resets_every_replica(redis: Redis, replicas: list[Replica]) -> None:
    old = Leader(redis, epoch=1)
    await old.journal.start()
    resets: list[int] = []
    replica = follower(redis, replicas, resets)
    await replica.ready()
    a_busy_hour(old, customers=5)
    await caught_up(old, replica)
    waiting = replica.expect("lost-with-the-old-leader")
    old.handle(AgentReady("a1", 99.0), origin="decided-by-the-old-leader")
    await caught_up(old, replica)
    assert "decided-by-the-old-leader" in replica.origins
    await old.journal.close()
    # The new leader's desk is restored from the records: not the old one's, event for event.
    new = Leader(redis, epoch=2)
    await new.journal.start()
    new.handle(AgentSignedIn("a2", "A2", 100.0))
    await caught_up(new, replica)
    assert resets == [2] and replica.epoch == 2
    assert replica.desk is not None
    assert whole_state(replica.desk) == whole_state(new.desk)
    with pytest.raises(Refusal, match="changed leader"):
        (await asyncio.wait_for(waiting, 1)).result()
    assert replica.origins == {}  # the records' desk may lack what the old one decided
    # The deposed leader, paused and awake again, writes on: its entries change nothing.
    old.handle(CustomerTapped("from-the-old-leader", 101.0))
    await old.journal.start()
    await old.journal.flush()
    new.handle(AgentReady("a2", 102.0))
    await caught_up(new, replica)
    assert "from-the-old-leader" not in replica.desk.tickets
    assert whole_state(replica.desk) == whole_state(new.desk)
    # Its late snapshot did not replace the new leader's: a node starting now follows epoch 2.
    late = follower(redis, replicas)
    await late.ready()
    assert late.epoch == 2 and late.desk is not None
    assert "from-the-old-leader" not in late.desk.tickets
    await old.journal.close()
    await new.journal.close()


async def test_nothing_unsigned_is_applied_or_unpickled(
    redis: Redis, replicas: list[Replica]
) -> None:
    forged_key = derive_key("another-deployment's-key-" + "y" * 16, PURPOSE)
    trap = {"unpickled": False}

    class Trap:
        def __reduce__(self) -> Any:
            return (trap.__setitem__, ("unpickled", True))

    forged = _seal_snapshot(
        forged_key, {"epoch": 0, "seq": 0, "after": "0-0"}, pickle.dumps(Trap())
    )
    await redis.hset(SNAPSHOT, mapping={"epoch": 0, "blob": forged})
    replica = Replica(redis, KEY)
    replicas.append(replica)
    assert not await replica.load()
    assert trap == {"unpickled": False} and replica.dropped == 1
    leader = Leader(redis, epoch=1)
    await leader.journal.start()
    replica.start()
    await replica.ready()
    body = json.dumps(
        {
            "epoch": 1,
            "seq": 1,
            "ids": [],
            "origin": None,
            "event": {"type": "CustomerTapped", "ticket_id": "forged", "at": 1.0},
        }
    ).encode()
    await redis.xadd(JOURNAL, {"e": body, "m": b"\0" * 32})
    leader.handle(AgentSignedIn("a1", "A1", 2.0))
    await caught_up(leader, replica)
    assert replica.desk is not None and "forged" not in replica.desk.tickets
    assert "a1" in replica.desk.agents and replica.dropped == 2
    await leader.journal.close()


async def test_a_replica_behind_a_lost_write_catches_up_at_the_next_snapshot(
    redis: Redis, replicas: list[Replica]
) -> None:
    leader, replica = await leading(redis, replicas, snapshot_every=10)
    leader.handle(AgentSignedIn("a1", "A1", 0.0))
    await caught_up(leader, replica)
    # An entry Redis never took (the desk went on): the replica sees the gap after it.
    leader.journal.seq += 1
    a_busy_hour(leader, start=10.0, customers=6)
    await caught_up(leader, replica)
    assert replica.desk is not None
    assert whole_state(replica.desk) == whole_state(leader.desk)
    await leader.journal.close()


async def test_a_replica_follows_only_a_leader_of_its_own_version(
    redis: Redis, replicas: list[Replica]
) -> None:
    leader = Leader(redis, epoch=1)
    header = {"epoch": 1, "seq": 0, "after": "0-0", "version": "0.0.0-older"}
    older = _seal_snapshot(KEY, header, pickle.dumps(leader.desk))
    await redis.hset(SNAPSHOT, mapping={"epoch": 1, "blob": older})
    told: list[str] = []
    replica = Replica(redis, KEY, on_foreign=lambda: told.append("foreign"))
    replicas.append(replica)
    assert not await replica.load()
    assert replica.foreign == "0.0.0-older" and replica.desk is None
    assert told == []  # not serving yet: it waits, nothing to stop
    await leader.journal.start()  # a leader of this version
    await leader.journal.flush()
    assert await replica.load() and replica.foreign is None
    await redis.hset(SNAPSHOT, mapping={"epoch": 1, "blob": older})
    assert not await replica.load()
    assert told == ["foreign"]  # serving, then another version leads: the node stops
    await leader.journal.close()


async def test_a_damaged_entry_makes_the_replica_start_again_from_a_snapshot(
    redis: Redis, replicas: list[Replica]
) -> None:
    leader, replica = await leading(redis, replicas, snapshot_every=3)
    leader.handle(AgentSignedIn("a1", "A1", 0.0))
    leader.handle(AgentSignedIn("a2", "A2", 0.0))
    await caught_up(leader, replica)
    # Signed, so it passes the check, but no desk event: the replica cannot apply it.
    body = json.dumps(
        {
            "epoch": 1,
            "seq": 3,
            "ids": [],
            "origin": None,
            "refused": False,
            "event": {"type": "NoSuchEvent", "at": 1.0},
        }
    ).encode()
    await redis.xadd(JOURNAL, {"e": body, "m": _sign(KEY, body)})
    leader.handle(AgentReady("a1", 1.0))  # seq 3 too; a snapshot follows it (every 3)
    await caught_up(leader, replica)
    assert replica.reloads >= 1
    assert replica.desk is not None
    assert whole_state(replica.desk) == whole_state(leader.desk)
    await leader.journal.close()


class AnsweringLeader:
    """The bus as a follower sees it, when the leader answers but its entry never reaches
    this replica (it restored a new desk meanwhile): ``reply`` is what the leader said."""

    def __init__(self, reply: dict[str, Any]) -> None:
        self.reply = reply
        self.asked: list[str] = []

    async def request(
        self, node: str, verb: str, args: dict[str, Any], *, within: float, **_: Any
    ) -> Any:
        self.asked.append(verb)
        return self.reply


async def test_a_change_the_leader_made_is_not_reported_failed_when_its_entry_is_lost(
    redis: Redis, replicas: list[Replica]
) -> None:
    leader, replica = await leading(redis, replicas)
    answered = AnsweringLeader({"refused": False})
    done = FollowerService(replica, answered, "b", timeout=0.3)
    assert await done.submit(CustomerTapped("t-lost", 1.0)) == []  # done, not a 503
    assert answered.asked == ["submit"]
    refused = FollowerService(
        replica,
        AnsweringLeader(
            {"refused": True, "code": "unknown_subject", "message": "no ticket", "status": 404}
        ),
        "b",
        timeout=0.3,
    )
    with pytest.raises(DeskError) as refusal:
        await refused.submit(OfferAccepted("a1", "t-lost", 2.0))
    assert (refusal.value.code, refusal.value.status) == ("unknown_subject", 404)
    await leader.journal.close()

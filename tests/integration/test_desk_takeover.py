"""A node taking the desk over from its replica (cluster/journal.py ``Replica.take_over``), on a
real redis-server and real SQLite records: the leader dies with the records of its last events
unwritten; the new leader goes on from its replica's desk, writes those records once, tells
their parties again and arms the desk's pending timers; the other replicas load its desk
quietly when they had got no further."""

from __future__ import annotations

import asyncio
import pickle
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.integration.test_cluster_journal import KEY, Leader, a_busy_hour, caught_up
from tests.support.harness import wait_until
from tests.unit.desk_helpers import agent, desk_config, offers, whole_state
from tests.unit.test_service import Notes
from videoassist.cluster.followers import AnsweredRefusal, FollowerService, LeaderDoor
from videoassist.cluster.journal import Ids, JournalWriter, Replica, parse_mark
from videoassist.cluster.leadership import LEASE_NAME, FencedRecords
from videoassist.desk import AgentState, Desk, QueueConfig
from videoassist.desk.events import (
    AgentAway,
    AgentReady,
    AgentSignedIn,
    CustomerReturned,
    CustomerTapped,
    OfferAccepted,
    Party,
    Save,
)
from videoassist.errors import Refusal
from videoassist.service import Service
from videoassist.store.records import Fenced, Records

pytestmark = pytest.mark.timeout(60)

RING = 4.0  # seconds an offer rings: the offer the dead leader made times out on the new one
CONFIG = desk_config(
    QueueConfig("general", ring_timeout=RING),
    agents=(agent("a1", "general"), agent("a2", "general")),
)


class Gate:
    """The leader's records port; once shut, every write waits for good (the leader dies in
    the middle of writing)."""

    def __init__(self, inner: FencedRecords) -> None:
        self.inner = inner
        self.open = asyncio.Event()
        self.open.set()
        self.held = 0

    async def save_all(self, saves: Sequence[Save], *, mark: str | None = None) -> None:
        if not self.open.is_set():
            self.held += 1
            await self.open.wait()
        await self.inner.save_all(saves, mark=mark)


class Media:
    """The call plane's port: which calls were opened (the real one is PlacedCalls)."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    def open(
        self, session_id: str, ticket_id: str, agent_id: str, customer_joins_later: bool
    ) -> None:
        self.opened.append(session_id)

    async def close_session(self, session_id: str) -> None:
        pass

    async def hand_over(self, session_id: str, agent_id: str) -> None:
        pass


@pytest.fixture
async def records(tmp_path: Path) -> AsyncIterator[Records]:
    store = Records.open(f"sqlite+aiosqlite:///{tmp_path / 'records.db'}")
    await store.migrate()
    yield store
    await store.close()


def fenced_by(records: Records, epoch: int) -> FencedRecords:
    """``records`` as the leader of ``epoch`` writes them."""
    return FencedRecords(records, lambda: epoch, lambda: None)


def leader_service(
    redis: Redis, records: Any, epoch: int, desk: Desk, ids: Ids, notes: Notes | None = None
) -> tuple[Service, JournalWriter, Notes]:
    journal = JournalWriter(redis, KEY, epoch, desk, ids)
    notes = notes if notes is not None else Notes()
    service = Service(
        desk,
        records=records,
        notifier=notes,
        media=Media(),
        journal=journal,
        clock=time.time,
    )
    return service, journal, notes


async def first_leader(
    redis: Redis, records: Any, notes: Notes | None = None
) -> tuple[Service, JournalWriter, Desk, Replica]:
    """A leader of epoch 1, started, and a replica following it."""
    ids = Ids()
    desk = Desk(new_id=ids.draw, config=CONFIG)
    service, journal, _ = leader_service(redis, records, 1, desk, ids, notes)
    await journal.start()
    service.start(announce_every=3600)
    replica = Replica(redis, KEY)
    replica.start()
    await replica.ready()
    return service, journal, desk, replica


async def _applied_is(records: Records, mark: str) -> bool:
    return await records.applied(LEASE_NAME) == mark


def die(service: Service) -> None:
    """The process is gone: nothing of this service runs on (its records never written)."""
    for handle in service._timers.values():
        handle.cancel()
    for task in (service._task, service._writer, service._effector, service._ticker):
        if task is not None:
            task.cancel()


async def test_a_new_leader_goes_on_from_its_replica_and_carries_out_what_the_last_one_did_not(
    redis: Redis, records: Records
) -> None:
    gate = Gate(fenced_by(records, 1))
    old, journal, old_desk, replica = await first_leader(redis, gate)
    try:
        # Written: a1 takes t1's call; t2 waits (a2 is signed in, not ready).
        now = time.time()
        await old.submit(AgentSignedIn("a1", "A1", now))
        await old.submit(AgentReady("a1", now))
        await old.submit(AgentSignedIn("a2", "A2", now))
        await old.submit(CustomerTapped("t1", now))
        rung = offers(await old.submit(CustomerReturned("t1", now)))
        assert [agent_id for agent_id, _ in rung] == ["a1"]
        await old.submit(OfferAccepted("a1", "t1", now))
        await old.submit(CustomerTapped("t2", now))
        await old.submit(CustomerReturned("t2", now))
        await old.settled()
        written = await records.applied(LEASE_NAME)
        marked = parse_mark(written)  # the last event with records wrote its mark
        assert marked is not None and marked[:2] == (1, journal.seq)
        before = {a: await records.agent_events_of(a) for a in ("a1", "a2")}

        # The leader handles three more events, journals them, and dies before its records.
        gate.open.clear()
        old.post(AgentReady("a2", time.time()))  # t2 rings a2: a timer of RING seconds
        old.post(CustomerTapped("t3", time.time()))
        old.post(CustomerReturned("t3", time.time()))
        await wait_until(lambda: gate.held > 0 and journal.seq == 11, timeout=10)
        await journal.flush()
        await wait_until(lambda: replica.seq == journal.seq, timeout=10)
        die(old)
        await journal.close()
        assert await records.ticket("t3") is None
        assert old_desk.ticket_state("t2") == "offered"

        # The new leader: the fence raised, the last leader's mark read, in one transaction.
        assert await replica.caught_up()
        await replica.close()
        mark = await records.fence_and_mark(LEASE_NAME, 2)
        assert mark == written
        took = replica.take_over(mark)
        assert took is not None
        desk = took.desk
        # The three events after the mark have their records written again, with their marks;
        # the events before them whose effects may not have run are told again only.
        assert [a.mark for a in took.again if a.write] == ["1:9", "1:10", "1:11"]
        assert took.again[-1].mark == "1:11" and took.done == f"1:{marked[2]}"
        assert whole_state(desk) == whole_state(old_desk)
        assert set(desk.timers) == set(old_desk.timers) != set()

        new_ids = Ids()
        desk.draw_ids_with(new_ids.draw)
        new, new_journal, notes = leader_service(redis, fenced_by(records, 2), 2, desk, new_ids)
        new.start(announce_every=3600)
        new.carry_out_again(took.again, done=took.done, start="2:0")
        new.arm(desk.timers)
        await new_journal.start(continues=replica.position)
        await new.settled()
        try:
            # The records the dead leader never wrote, written once; its mark moved on.
            ticket = await records.ticket("t3")
            assert ticket is not None and ticket["status"] == "queued"
            assert (await records.ticket("t2") or {}).get("status") == "offered"
            # Once all of it is carried out, the new journal's start is the mark.
            await wait_until(
                lambda: _applied_is(records, "2:0/2:0"), timeout=5, what="the new leader's mark"
            )
            after = {a: await records.agent_events_of(a) for a in ("a1", "a2")}
            assert after["a1"] == before["a1"]  # nothing written twice
            assert [e["state"] for e in after["a2"][len(before["a2"]) :]] == ["ready", "offered"]
            # Their parties told again: a2 is rung for t2.
            assert ("agent", "a2", "offer") in notes.sent
            # The timers armed again drive the desk: the offer the dead leader made times out.
            assert set(new._timers) == set(desk.timers)
            await wait_until(lambda: desk.ticket_state("t2") != "offered", timeout=RING + 5)
            await new.settled()
            assert (await records.ticket("t2") or {}).get("status") != "offered"
            # A deposed leader's write is refused where it lands.
            gate.open.set()
            with pytest.raises(Fenced):
                await gate.save_all([], mark="1:99")
            assert (parse_mark(await records.applied(LEASE_NAME)) or (0,))[0] == 2
        finally:
            await new.close()
            await new_journal.close()
    finally:
        die(old)
        await replica.close()


class Stuck(Notes):
    """A notifier that, once shut, never returns (the leader dies while it tells people)."""

    def __init__(self) -> None:
        super().__init__()
        self.open = asyncio.Event()
        self.open.set()

    async def notify(
        self, to: Party, target_id: str, event: str, data: Mapping[str, object]
    ) -> None:
        await self.open.wait()
        await super().notify(to, target_id, event, data)


async def test_what_the_last_leader_wrote_but_did_not_tell_is_told_and_not_written_again(
    redis: Redis, records: Records
) -> None:
    stuck = Stuck()
    fenced = fenced_by(records, 1)
    old, journal, _, replica = await first_leader(redis, fenced, stuck)
    try:
        now = time.time()
        for event in (
            AgentSignedIn("a1", "A1", now),
            AgentSignedIn("a2", "A2", now),
            CustomerTapped("t1", now),
            CustomerReturned("t1", now),
        ):
            await old.submit(event)
        told = parse_mark(await records.applied(LEASE_NAME))
        assert told is not None and told[1:] == (4, 3)  # written up to 4, told up to 3

        # The store keeps up, the parties' sockets do not: the writer runs ahead.
        stuck.open.clear()
        old.post(AgentReady("a1", time.time()))  # t1 rings a1
        old.post(CustomerTapped("t2", time.time()))

        async def written_ahead() -> bool:
            marked = parse_mark(await records.applied(LEASE_NAME))
            return marked is not None and marked[1] == 6

        await wait_until(written_ahead, timeout=10, what="the records of both events")
        await journal.flush()
        await wait_until(lambda: replica.seq == 6, timeout=10)
        before = {a: await records.agent_events_of(a) for a in ("a1", "a2")}
        assert ("agent", "a1", "offer") not in stuck.sent
        die(old)
        await journal.close()

        await replica.close()
        took = replica.take_over(await records.fence_and_mark(LEASE_NAME, 2))
        assert took is not None
        assert len(took.again) >= 2 and not any(a.write for a in took.again)
        new_ids = Ids()
        took.desk.draw_ids_with(new_ids.draw)
        notes = Stuck()
        notes.open.clear()  # the new leader is slow to tell people too, at first
        new, new_journal, _ = leader_service(
            redis, fenced_by(records, 2), 2, took.desk, new_ids, notes
        )
        new.start(announce_every=3600)
        new.carry_out_again(took.again, done=took.done, start="2:0")
        await new_journal.start(continues=replica.position)
        # It writes a record of its own before it has told what the last leader left: nobody
        # may go on from that mark (its effects are not all carried out): from the records.
        new.post(CustomerTapped("t3", time.time()))

        async def own_write_marked() -> bool:
            stored = await records.applied(LEASE_NAME)
            return stored is not None and stored.startswith("2:1/")

        await wait_until(own_write_marked, timeout=5, what="the new leader's first write")
        assert parse_mark(await records.applied(LEASE_NAME)) is None
        notes.open.set()
        await new.settled()
        try:
            assert ("agent", "a1", "offer") in notes.sent  # told at last

            async def own_mark() -> bool:  # its own start, once the tail is carried out
                marked = parse_mark(await records.applied(LEASE_NAME))
                return marked is not None and marked[:2] == (2, 1)

            await wait_until(own_mark, timeout=5, what="the new leader's own mark")
            after = {a: await records.agent_events_of(a) for a in ("a1", "a2")}
            assert after == before  # written once, by the leader that died
        finally:
            await new.close()
            await new_journal.close()
    finally:
        die(old)
        await replica.close()


async def going_on(redis: Redis, last: Leader, continues: tuple[int, int]) -> Leader:
    """The next epoch's leader with a copy of ``last``'s desk, saying it went on from
    ``continues``."""
    leader = Leader(redis, epoch=last.journal.epoch + 1)
    leader.desk = pickle.loads(pickle.dumps(last.desk))
    leader.desk.draw_ids_with(leader.ids.draw)
    leader.journal = JournalWriter(redis, KEY, leader.journal.epoch, leader.desk, leader.ids)
    await leader.journal.start(continues=continues)
    return leader


async def test_other_replicas_load_the_desk_a_new_leader_went_on_from_quietly(
    redis: Redis,
) -> None:
    first = Leader(redis, epoch=1)
    await first.journal.start()
    resets: list[int] = []
    made = [Replica(redis, KEY, on_reset=resets.append) for _ in range(2)]
    for replica in made:
        replica.start()
        await replica.ready()
    try:
        a_busy_hour(first, customers=6)
        for replica in made:
            await caught_up(first, replica)
        await first.journal.close()

        # Epoch 2 goes on from a replica at the journal's end: the others are no further on.
        second = await going_on(redis, first, (1, first.journal.seq))
        second.handle(CustomerTapped("late", 100.0))
        await second.journal.flush()
        await wait_until(lambda: all(r.position == (2, 1) for r in made), timeout=10)
        for replica in made:
            assert replica.desk is not None
            assert whole_state(replica.desk) == whole_state(second.desk)
        assert resets == [] and [r.continued for r in made] == [1, 1]
        await second.journal.close()

        # Epoch 3 says it went on from before the entry these replicas applied last: theirs is
        # not a part of its desk, so they load it and their pages join again.
        third = await going_on(redis, second, (2, second.journal.seq - 1))
        third.handle(CustomerTapped("later", 101.0))
        await third.journal.flush()
        await wait_until(lambda: all(r.position == (3, 1) for r in made), timeout=10)
        assert resets == [3, 3]
        await third.journal.close()
    finally:
        for replica in made:
            await replica.close()


async def test_a_replica_goes_on_only_from_a_mark_of_its_epoch_with_every_entry_after_it(
    redis: Redis,
) -> None:
    leader = Leader(redis, epoch=4)
    await leader.journal.start()
    replica = Replica(redis, KEY)
    replica.start()
    await replica.ready()
    try:
        a_busy_hour(leader, customers=3)
        await caught_up(leader, replica)
        seq = leader.journal.seq
        took = replica.take_over(f"4:{seq - 2}/4:{seq - 4}")
        assert took is not None and took.desk is replica.desk
        assert [(a.mark, a.write) for a in took.again] == [
            (f"4:{seq - 3}", False),
            (f"4:{seq - 2}", False),
            (f"4:{seq - 1}", True),
            (f"4:{seq}", True),
        ]
        assert took.done == f"4:{seq - 4}"
        nothing_left = replica.take_over(f"4:{seq}/4:{seq}")
        assert nothing_left is not None and nothing_left.again == []
        # No effect carried out yet in this epoch: told again from its beginning.
        took = replica.take_over(f"4:{seq}/")
        assert took is not None and len(took.again) == seq
        # A leader still carrying out its predecessor's tail wrote records of its own: from
        # the records.
        assert replica.take_over(f"4:{seq}/3:12") is None
        assert replica.take_over(None) is None  # no leader wrote a mark: from the records
        assert replica.take_over("3:7/3:7") is None  # an earlier leader's: this one's lost
        assert replica.take_over(f"4:{seq + 1}/4:{seq}") is None  # written past this replica
        assert replica.take_over("garbage") is None
        # A replica that loaded a later snapshot lacks what came before it.
        leader.journal._snapshot()
        leader.handle(CustomerTapped("after-snapshot", 50.0))
        await leader.journal.flush()
        late = Replica(redis, KEY)
        late.start()
        try:
            await late.ready()
            await caught_up(leader, late)
            # Entry seq is in its snapshot only: it cannot tell that entry's parties again.
            assert late.take_over(f"4:{seq}/4:{seq - 1}") is None
            took = late.take_over(f"4:{seq}/4:{seq}")
            assert took is not None and len(took.again) == 1
        finally:
            await late.close()
    finally:
        await leader.journal.close()
        await replica.close()


class LeaderOnTheBus:
    """The call bus as a follower's ``submit`` sees it (the port; the real one is CallBus):
    each request goes to the door of whichever leader leads, and waits ``within`` at most for
    one (between two leaders nobody serves the desk's queue). ``dies_with`` a verb: the leader
    handles that request and dies before it answers (the follower hears nothing)."""

    def __init__(self, door: LeaderDoor) -> None:
        self.door: LeaderDoor | None = door
        self.led = asyncio.Event()
        self.led.set()
        self.dies_with: str | None = None
        self.silence: Callable[[], Awaitable[None]] | None = None  # what passes unanswered
        self.origins: list[str] = []
        self.events: list[Any] = []
        self.answers: list[Any] = []

    def lead(self, door: LeaderDoor | None) -> None:
        self.door = door
        if door is None:
            self.led.clear()
        else:
            self.led.set()

    async def request(
        self, node: str, verb: str, args: dict[str, Any], *, within: float = 5.0, **_: Any
    ) -> Any:
        self.origins.append(str(args["origin"]))
        self.events.append(args["event"])
        try:
            async with asyncio.timeout(within):
                await self.led.wait()
                assert self.door is not None
                answer = await self.door.handle(verb, args)
        except TimeoutError:
            raise Refusal("unavailable", f"desk did not answer {verb} in time", 503) from None
        if verb == self.dies_with:
            self.dies_with = None
            self.lead(None)
            if self.silence is not None:
                await self.silence()
            raise Refusal("unavailable", f"desk did not answer {verb} in time", 503)
        self.answers.append(answer)
        return answer


class Lost(LeaderOnTheBus):
    """The first request is lost on its way (the leader died with it unread)."""

    async def request(
        self, node: str, verb: str, args: dict[str, Any], *, within: float = 5.0, **_: Any
    ) -> Any:
        if not self.origins:
            self.origins.append(str(args["origin"]))
            raise Refusal("unavailable", f"desk did not answer {verb} in time", 503)
        return await super().request(node, verb, args, within=within, **_)


async def test_a_change_asked_again_after_the_leader_died_with_it_is_made_once(
    redis: Redis, records: Records
) -> None:
    """An agent's change reaches the leader, which handles and journals it and dies before it
    answers. The follower, whose replica never saw the entry, asks again under the same
    origin; the new leader, gone on from its own replica, answers it without handling it
    again. A change the dead leader never read is made by the new one."""
    old, journal, _, replica = await first_leader(redis, fenced_by(records, 1))
    lagging = Replica(redis, KEY)  # the asking node's replica: started, then left behind
    lagging.start()
    await lagging.ready()
    await lagging.close()
    bus = LeaderOnTheBus(LeaderDoor(old, plane=None))  # type: ignore[arg-type]
    follower = FollowerService(lagging, bus, "b", timeout=0.3, within=8.0)
    new: Service | None = None
    try:
        now = time.time()
        await old.submit(AgentSignedIn("a1", "A1", now))
        await old.submit(AgentSignedIn("a2", "A2", now))
        await old.submit(AgentReady("a2", now))
        bus.dies_with = "submit"
        submitted = asyncio.create_task(follower.submit(AgentReady("a1", now + 1)))
        await wait_until(lambda: not bus.led.is_set(), timeout=10, what="the leader's death")
        await journal.flush()
        await wait_until(lambda: replica.seq == 4, timeout=10)
        die(old)
        await journal.close()

        # The next leader goes on from its replica, which holds the change and its origin.
        assert await replica.caught_up()
        await replica.close()
        took = replica.take_over(await records.fence_and_mark(LEASE_NAME, 2))
        assert took is not None and took.desk.agent_state("a1") is AgentState.READY
        assert bus.origins[0] in replica.origins
        new_ids = Ids()
        took.desk.draw_ids_with(new_ids.draw)
        new, new_journal, _ = leader_service(redis, fenced_by(records, 2), 2, took.desk, new_ids)
        new.start(announce_every=3600)
        new.carry_out_again(took.again, done=took.done, start="2:0")
        new.handled_origins(replica.origins)
        await new_journal.start(continues=replica.position)
        bus.lead(LeaderDoor(new, plane=None))  # type: ignore[arg-type]

        # Asked again under the same origin, answered, not handled again (a second
        # AgentReady would be refused: the agent is ready already).
        assert await asyncio.wait_for(submitted, timeout=10) == []
        assert len(bus.origins) >= 2 and set(bus.origins) == {bus.origins[0]}
        assert bus.answers == [{"refused": False}]
        await new.settled()
        assert new_journal.seq == 0  # the new leader handled nothing
        events = await records.agent_events_of("a1")
        assert [e["state"] for e in events].count("ready") == 1

        # A change the leader never read (it died first) is made by the next one, once.
        lost = Lost(LeaderDoor(new, plane=None))  # type: ignore[arg-type]
        second = FollowerService(lagging, lost, "b", timeout=0.3, within=8.0)
        assert await second.submit(AgentAway("a2", time.time(), "break")) == []
        assert len(lost.origins) == 2 and lost.origins[0] == lost.origins[1]
        assert took.desk.agent_state("a2") is AgentState.AWAY
        assert new_journal.seq == 1
        await new_journal.close()
    finally:
        if new is not None:
            await new.close()
        die(old)
        await replica.close()


async def test_a_follower_gives_a_change_up_when_no_leader_answers_in_time() -> None:
    class Silent:
        asked = 0

        async def request(
            self, node: str, verb: str, args: dict[str, Any], *, within: float, **_: Any
        ) -> Any:
            Silent.asked += 1
            raise Refusal("unavailable", "no answer", 503)

    class Idle:  # a replica that never applies the entry
        def expect(self, origin: str) -> asyncio.Future[Any]:
            return asyncio.get_running_loop().create_future()

        def forget(self, origin: str) -> None:
            pass

    follower = FollowerService(Idle(), Silent(), "b", timeout=0.2, within=1.2)  # type: ignore[arg-type]
    with pytest.raises(Refusal) as refused:
        await follower.submit(AgentReady("a1", time.time()))
    assert refused.value.code == "unavailable"
    assert Silent.asked >= 2  # asked again after a silence, until the time was up


async def test_a_change_the_leader_journaled_before_it_died_is_answered_from_the_replica(
    redis: Redis, records: Records
) -> None:
    """The leader decides the change and journals it, then dies before it answers: the
    follower's own replica applies the entry, which answers the request; nobody asks again."""
    old, journal, _, replica = await first_leader(redis, fenced_by(records, 1))
    bus = LeaderOnTheBus(LeaderDoor(old, plane=None))  # type: ignore[arg-type]
    follower = FollowerService(replica, bus, "b", timeout=5.0, within=8.0)

    async def entry_applied() -> None:  # while the follower waits for an answer
        await journal.flush()
        await wait_until(lambda: replica.seq == journal.seq, timeout=10)

    bus.silence = entry_applied
    try:
        await old.submit(AgentSignedIn("a1", "A1", time.time()))
        bus.dies_with = "submit"
        effects = await asyncio.wait_for(follower.submit(AgentReady("a1", time.time())), timeout=10)
        assert effects != []  # the effects the replica's desk gave, as the leader's did
        assert len(bus.origins) == 1 and bus.answers == []
        assert replica.desk is not None and replica.desk.agent_state("a1") is AgentState.READY
    finally:
        die(old)
        await journal.close()
        await replica.close()


async def test_a_leader_from_the_records_refuses_a_change_asked_again_it_cannot_place(
    redis: Redis, records: Records
) -> None:
    """A leader whose desk came from the records cannot tell whether its predecessor decided
    a change asked again (its records may be written, its journal entry lost): for a while
    it refuses such a change rather than decide it twice; a first request, and one
    it decided itself, are answered as usual."""
    service, journal, _, replica = await first_leader(redis, fenced_by(records, 1))
    door = LeaderDoor(service, plane=None, unsure_until=time.monotonic() + 60)  # type: ignore[arg-type]
    lost = Lost(door)
    follower = FollowerService(replica, lost, "b", timeout=5.0, within=8.0)
    try:
        await service.submit(AgentSignedIn("a1", "A1", time.time()))
        with pytest.raises(AnsweredRefusal) as refused:
            await follower.submit(AgentReady("a1", time.time()))
        assert (refused.value.code, refused.value.status) == ("unavailable", 503)
        assert replica.desk is not None
        assert replica.desk.agent_state("a1") is AgentState.AWAY  # not made ready
        assert len(lost.origins) == 2  # the first was lost, the second refused
        # A first request is decided; asked again, it is answered as it was.
        first = LeaderOnTheBus(door)
        asking = FollowerService(replica, first, "b", timeout=5.0, within=8.0)
        assert await asking.submit(AgentReady("a1", time.time())) != []
        args = {"event": first.events[0], "origin": first.origins[0], "again": True}
        assert await door.handle("submit", args) == {"refused": False}
    finally:
        die(service)
        await journal.close()
        await replica.close()

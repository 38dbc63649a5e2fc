"""The service's inbox with fakes for its ports: the order effects are carried out in, and
``settled()`` as the way to read what a change wrote."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import pytest

from tests.support.harness import wait_until
from tests.unit.desk_helpers import make_desk
from videoassist.desk import CustomerCancelled, CustomerTapped, DeskError
from videoassist.desk.events import (
    AgentReady,
    AgentSignedIn,
    AuditRow,
    Party,
    Save,
    SaveAgentState,
    SaveAudit,
    SaveSession,
    SaveTicket,
    SessionRow,
    TicketRow,
)
from videoassist.service import Service


class SlowRecords:
    """Saves wait for ``release``; what was saved is kept in order."""

    def __init__(self) -> None:
        self.waiting = asyncio.Event()  # a save has begun and waits for the store
        self.release = asyncio.Event()
        self.saved: list[tuple[str, str]] = []
        self.batches: list[list[str]] = []  # each save_all call: the kinds of rows, in order
        # save_all raises for more rows than this, as a transaction the store refused would
        self.most_rows: int | None = None

    async def save_all(self, saves: Sequence[Save]) -> None:
        self.batches.append([type(save).__name__ for save in saves])
        if self.most_rows is not None and len(saves) > self.most_rows:
            raise RuntimeError("the store refused the transaction")
        for save in saves:
            match save:
                case SaveTicket(row):
                    await self.save_ticket(row)
                case SaveSession(row):
                    await self.save_session(row)
                case SaveAgentState(agent_id, state, reason, at):
                    await self.save_agent_state(agent_id, state, reason, at)
                case SaveAudit(row):
                    await self.save_audit(row)

    async def save_ticket(self, row: TicketRow) -> None:
        self.waiting.set()
        await self.release.wait()
        self.saved.append((row.id, row.status))

    async def save_session(self, row: SessionRow) -> None:
        await self.release.wait()

    async def save_agent_state(
        self, agent_id: str, state: str, reason: str | None, at: float
    ) -> None:
        await self.release.wait()

    async def save_audit(self, row: AuditRow) -> None:
        await self.release.wait()


class Notes:
    def __init__(self) -> None:
        self.sent: list[tuple[Party, str, str]] = []

    async def notify(
        self, to: Party, target_id: str, event: str, data: Mapping[str, object]
    ) -> None:
        self.sent.append((to, target_id, event))


class NoMedia:
    def open(
        self, session_id: str, ticket_id: str, agent_id: str, customer_joins_later: bool
    ) -> object:
        raise AssertionError("no call starts here")

    async def close_session(self, session_id: str) -> None:
        raise AssertionError("no call starts here")

    async def hand_over(self, session_id: str, agent_id: str) -> None:
        raise AssertionError("no call starts here")


def make_service() -> tuple[Service, SlowRecords, Notes]:
    records, notes = SlowRecords(), Notes()
    service = Service(
        make_desk(),
        records=records,
        notifier=notes,
        media=NoMedia(),
        clock=lambda: 100.0,
    )
    return service, records, notes


async def test_settled_returns_only_once_what_was_posted_is_written() -> None:
    service, records, _ = make_service()
    service.start(announce_every=3600)
    try:
        service.post(CustomerTapped("t1", 100.0))
        service.post(CustomerCancelled("t1", 100.0))
        settled = asyncio.create_task(service.settled())
        await asyncio.wait_for(records.waiting.wait(), 5)
        # The desk does not wait for the store: it has handled both events while the first
        # write still waits.
        assert service.desk.ticket_state("t1") == "cancelled"
        for _ in range(20):
            await asyncio.sleep(0)
        assert not settled.done(), "settled before the store had the change"
        records.release.set()
        await asyncio.wait_for(settled, 5)
        assert records.saved == [("t1", "joining"), ("t1", "cancelled")]
    finally:
        await service.close()


async def test_a_refused_event_does_not_stop_the_inbox() -> None:
    service, records, _ = make_service()
    records.release.set()
    service.start(announce_every=3600)
    try:
        service.post(CustomerCancelled("nobody", 100.0))  # refused: no such ticket
        await service.submit(CustomerTapped("t1", 100.0))
        await service.settled()
        assert records.saved == [("t1", "joining")]
        with pytest.raises(DeskError):  # a refusal reaches the caller that submitted
            await service.submit(CustomerCancelled("nobody", 100.0))
    finally:
        await service.close()


async def test_a_request_asked_again_is_answered_as_it_was_decided() -> None:
    """A follower asks again under the same origin when the leader's answer did not reach it
    (cluster/followers.py): the desk decides an origin once, and answers it again as it did
    (done, or its refusal), whatever happened since."""
    service, records, _ = make_service()
    records.release.set()
    service.start(announce_every=3600)
    try:
        tapped = await service.submit(CustomerTapped("t1", 100.0), "b:1")
        assert tapped != []
        assert await service.submit(CustomerTapped("t1", 100.0), "b:1") == []  # not a second
        service.handled_origins({"b:0": None})  # decided by the desk this one went on from
        assert service.decided("b:0") and not service.decided("b:9")
        assert await service.submit(CustomerCancelled("t1", 100.0), "b:0") == []
        assert service.desk.ticket_state("t1") == "joining"
        with pytest.raises(DeskError) as refused:  # no such ticket yet
            await service.submit(CustomerCancelled("t2", 100.0), "b:2")
        await service.submit(CustomerTapped("t2", 100.0), "b:3")
        with pytest.raises(DeskError) as again:  # refused as it was, though t2 exists now
            await service.submit(CustomerCancelled("t2", 100.0), "b:2")
        assert (again.value.code, again.value.message, again.value.status) == (
            refused.value.code,
            refused.value.message,
            refused.value.status,
        )
        assert service.desk.ticket_state("t2") == "joining"
        await service.submit(CustomerCancelled("t1", 100.0), "b:4")
        await service.settled()
        assert records.saved == [("t1", "joining"), ("t2", "joining"), ("t1", "cancelled")]
    finally:
        await service.close()


async def test_settled_after_close_returns_at_once() -> None:
    service, records, _ = make_service()
    records.release.set()
    service.start(announce_every=3600)
    await service.close()
    await asyncio.wait_for(service.settled(), 1)


async def test_one_events_records_are_written_in_one_call_to_the_store() -> None:
    service, records, _ = make_service()
    records.release.set()
    service.start(announce_every=3600)
    try:
        await service.submit(AgentSignedIn("a1", "Ann", 100.0))
        await service.submit(AgentReady("a1", 100.0))
        await service.submit(CustomerTapped("t1", 100.0))
        await service.settled()
        # Each event that wrote anything wrote it in one save_all; none was split.
        assert records.batches, "nothing was written"
        assert all(batch for batch in records.batches)
        assert ["SaveTicket"] in records.batches
        assert records.saved == [("t1", "joining")]
    finally:
        await service.close()


async def test_events_waiting_for_the_store_are_written_in_one_transaction() -> None:
    """Group commit: while one write waits for the store, the desk goes on, and everything
    it decided meanwhile is written together, in desk order, before anyone hears of it."""
    service, records, notes = make_service()
    service.start(announce_every=3600)
    try:
        first = asyncio.create_task(service.submit(CustomerTapped("t1", 100.0)))
        await asyncio.wait_for(records.waiting.wait(), 5)
        later = [
            asyncio.create_task(service.submit(CustomerTapped(f"t{n}", 100.0))) for n in range(2, 6)
        ]
        await wait_until(
            lambda: all(service.desk.ticket_state(f"t{n}") for n in range(2, 6)), 5, "handled"
        )
        for _ in range(20):
            await asyncio.sleep(0)
        assert not any(task.done() for task in [first, *later]), "answered before written"
        assert notes.sent == []  # nobody told of what the store could still lose
        records.release.set()
        await asyncio.wait_for(asyncio.gather(first, *later), 5)
        assert records.batches == [["SaveTicket"], ["SaveTicket"] * 4]
        assert [ticket for ticket, _ in records.saved] == ["t1", "t2", "t3", "t4", "t5"]
    finally:
        await service.close()


async def test_a_refused_transaction_is_written_event_by_event_then_row_by_row() -> None:
    service, records, _ = make_service()
    records.most_rows = 1
    service.start(announce_every=3600)
    try:
        first = asyncio.create_task(service.submit(CustomerTapped("t1", 100.0)))
        await asyncio.wait_for(records.waiting.wait(), 5)  # t1's write waits for the store
        service.post(CustomerTapped("t2", 100.0))
        service.post(CustomerTapped("t3", 100.0))
        await wait_until(lambda: service.desk.ticket_state("t3") is not None, 5, "handled")
        records.release.set()
        await asyncio.wait_for(first, 5)
        await service.settled()
        # t2 and t3 went together and were refused; then each alone, and both were written.
        assert records.batches == [
            ["SaveTicket"],
            ["SaveTicket"] * 2,
            ["SaveTicket"],
            ["SaveTicket"],
        ]
        assert [ticket for ticket, _ in records.saved] == ["t1", "t2", "t3"]
    finally:
        await service.close()

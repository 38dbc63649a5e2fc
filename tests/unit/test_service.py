"""The service's inbox with fakes for its ports: the order effects are carried out in, and
``settled()`` as the way to read what a change wrote."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from tests.unit.desk_helpers import make_desk
from videoassist.desk import CustomerCancelled, CustomerTapped, DeskError
from videoassist.desk.events import AuditRow, Party, SessionRow, TicketRow
from videoassist.service import Service


class SlowRecords:
    """Saves wait for ``release``; what was saved is kept in order."""

    def __init__(self) -> None:
        self.waiting = asyncio.Event()  # a save has begun and waits for the store
        self.release = asyncio.Event()
        self.saved: list[tuple[str, str]] = []

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


class NoRooms:
    def open(self, call_id: str, ticket_id: str, agent_id: str) -> None:
        raise AssertionError("no call starts here")

    def hand_over(self, call_id: str, agent_id: str) -> None:
        raise AssertionError("no call starts here")

    def close(self, call_id: str) -> None:
        raise AssertionError("no call starts here")


def make_service() -> tuple[Service, SlowRecords, Notes]:
    records, notes = SlowRecords(), Notes()
    service = Service(
        make_desk(),
        records=records,
        notifier=notes,
        media=NoMedia(),
        rooms=NoRooms(),
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
        # The desk has the ticket while its save still waits for the store.
        assert service.desk.ticket_state("t1") == "joining"
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


async def test_settled_after_close_returns_at_once() -> None:
    service, records, _ = make_service()
    records.release.set()
    service.start(announce_every=3600)
    await service.close()
    await asyncio.wait_for(service.settled(), 1)

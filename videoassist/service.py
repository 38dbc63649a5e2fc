"""The service: the one writer of desk state.

Every change goes through the inbox, one event at a time: ``desk.handle(event)`` returns effects,
which are carried out in a fixed order (media session first, then persist, then notify, then
media hand-over and stop, then timers). Callers that need the outcome (``submit``) get the effects
or the ``DeskError`` once they are carried out; others (``post``: timers, media callbacks) fire
and forget.

Three stages, each one task working in arrival order, so that the desk never waits for the disk:

* the **inbox** hands each event to the desk and opens its media session at once;
* the **writer** persists the records of every event waiting for it in one transaction (group
  commit: ten accepts arriving together cost one commit, not ten);
* the **effector** carries out each event's other effects once its records are written: nobody
  is told of something the store could lose, and each party hears of events in desk order.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from videoassist.closing import CloseOnce
from videoassist.desk import Desk, DeskError, ServerEvent
from videoassist.desk.events import (
    AnnounceDue,
    CancelTimer,
    Effect,
    Event,
    HandOverMedia,
    Notify,
    Party,
    Save,
    SaveAgentState,
    SaveAudit,
    SaveSession,
    SaveTicket,
    SessionRow,
    SetTimer,
    StartMedia,
    StopMedia,
    TicketRow,
)
from videoassist.integrations import IntegrationsPort, NoIntegrations, session_event

logger = logging.getLogger(__name__)

Quality = dict[str, Any] | None  # a call's media quality per leg, for its log line

EFFECT_TIMEOUT = 5.0
WRITE_BATCH = 500  # records in one transaction at most (group commit under a burst)
# Origins (a follower's requests, cluster/followers.py) the desk decided, kept so a request asked
# again is decided once: a follower asks again within 18 s; this is hours of them.
ORIGINS_KEPT = 20_000
# The media session is created first: it is synchronous, so it exists before the inbox yields
# to anyone (a client that reads the desk, or is told "matched", offers at once). Then persist
# (nobody is told of something the store could lose), then tell people, then the rest.
# Notifications of one event go out together; everything else in order.
_ORDER = {
    StartMedia: 0,
    SaveTicket: 1,
    SaveSession: 1,
    SaveAgentState: 1,
    SaveAudit: 1,
    HandOverMedia: 2,
    Notify: 3,
    StopMedia: 4,
}


class RecordsPort(Protocol):
    async def save_all(self, saves: Sequence[Save], *, mark: str | None = None) -> None:
        """Write ``saves`` in one transaction, in this order (all or nothing). With several
        nodes the port fences the transaction by the leader's epoch (cluster/leadership.py
        ``FencedRecords``) and stores ``mark`` with it: where the journal stands
        (``JournalPort.stored_mark``; a node taking over the desk carries out what came
        after)."""
        ...


class NotifierPort(Protocol):
    async def notify(
        self, to: Party, target_id: str, event: ServerEvent, data: Mapping[str, object]
    ) -> None: ...


class MediaPort(Protocol):
    """A call's media, room and recording, opened, handed over and closed together
    (videoassist/call_plane.py; across nodes, cluster/media_nodes.py)."""

    def open(
        self, session_id: str, ticket_id: str, agent_id: str, customer_joins_later: bool
    ) -> object: ...
    async def close_session(self, session_id: str) -> None: ...
    async def hand_over(self, session_id: str, agent_id: str) -> None: ...


class JournalPort(Protocol):
    def handled(self, event: Event, origin: str | None, refused: bool) -> str | None:
        """The desk has just handled ``event`` (``refused``: or refused it, or failed on it);
        must not block. Returns the entry's mark, stored with the event's records."""
        ...

    def last_mark(self) -> str:
        """The mark of the last entry journaled so far."""
        ...

    def stored_mark(self, written: str, done: str | None) -> str:
        """What a records transaction keeps: ``written`` (the mark of the last event whose
        records it holds) and ``done`` (of the last whose other effects were carried out)."""
        ...


class ServiceClosed(Exception):
    pass


class Service:
    def __init__(
        self,
        desk: Desk,
        *,
        records: RecordsPort,
        notifier: NotifierPort,
        media: MediaPort,
        clock: Callable[[], float] = time.time,
        on_inbox_wait: Callable[[float], None] | None = None,
        integrations: IntegrationsPort | None = None,
        before_each: Callable[[], None] | None = None,
        call_quality: Callable[[str], Quality | Awaitable[Quality]] | None = None,
        on_ticket_saved: Callable[[TicketRow], None] | None = None,
        journal: JournalPort | None = None,
    ) -> None:
        """``on_inbox_wait`` hears, for each event, how long it waited for the desk (seconds,
        by the loop's clock): the one-writer design's cost, for the metrics. ``before_each``
        runs before the desk handles each event: a node that may have lost the leader lease
        stops there (cluster/leadership.py). ``call_quality(call_id)`` summarises a call's
        media quality per leg for its log line (MediaHub.quality_summary); an awaitable for a
        call on another media node, which answers with it as it closes the call (PlacedCalls).
        ``on_ticket_saved`` hears of each ticket row once it is written (the tutorials count a
        customer who left the line after watching one). ``journal`` hears of every event the
        desk handled, right after it did, with the ``origin`` its submitter gave: with several
        nodes serving, the other nodes' replicas follow it (cluster/journal.py)."""
        self.desk = desk
        self.clock = clock
        self._records = records
        self._notifier = notifier
        self._media = media
        self._on_inbox_wait = on_inbox_wait
        # Webhooks (videoassist/webhooks.py): told of each saved session leg; never awaited.
        self._integrations = integrations or NoIntegrations()
        self._before_each = before_each
        self._call_quality = call_quality
        self._logging: set[asyncio.Future[None]] = set()  # lines awaiting a remote summary
        self._on_ticket_saved = on_ticket_saved
        self._journal = journal
        # (event, who waits for its effects, when it was put in by the loop's clock, origin)
        self._inbox: asyncio.Queue[
            tuple[Event, asyncio.Future[list[Effect]] | None, float, str | None]
        ] = asyncio.Queue()
        # (records to write, written when this future is done, the journal's mark), in desk
        # order
        self._writes: asyncio.Queue[_Write | object] = asyncio.Queue()
        # (the event's effects, its records' future, who waits, a refusal to pass on)
        self._effects: asyncio.Queue[_Handled | object] = asyncio.Queue()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._done: str | None = None  # the mark of the last event whose effects are carried out
        # Followers' requests handled, the last ORIGINS_KEPT, each with its refusal (None: done)
        self._origins: OrderedDict[str, BaseException | None] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._effector: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._closed = False
        self._closing = CloseOnce()

    def now(self) -> float:
        return self.clock()

    def start(self, announce_every: float = 1.0) -> None:
        self._task = asyncio.create_task(self._run(), name="Service.inbox")
        self._writer = asyncio.create_task(self._write(), name="Service.writer")
        self._effector = asyncio.create_task(self._carry_out_all(), name="Service.effector")
        self._ticker = asyncio.create_task(self._announce(announce_every), name="Service.announce")

    async def _announce(self, every: float) -> None:
        """Queue positions and estimates go out on a clock, not on every decision."""
        while True:
            await asyncio.sleep(every)
            self.post(AnnounceDue(self.clock()))

    async def submit(self, event: Event, origin: str | None = None) -> list[Effect]:
        """Feed ``event`` and wait until its effects are carried out; DeskError on refusal.
        ``origin``: the request of another node this event answers (journaled with it)."""
        if self._closed:
            raise ServiceClosed("the service has stopped")
        future: asyncio.Future[list[Effect]] = asyncio.get_running_loop().create_future()
        self._inbox.put_nowait((event, future, _loop_time(), origin))
        return await future

    def post(self, event: Event, origin: str | None = None) -> None:
        if not self._closed:
            self._inbox.put_nowait((event, None, _loop_time(), origin))

    async def settled(self) -> None:
        """Wait until every event in the inbox now is handled and its effects carried out.

        The desk changes before its effects run, so a reader of the store (a test, an admin
        report) that saw the desk change calls this to read what the change wrote.
        """
        if self._closed:
            return
        future: asyncio.Future[list[Effect]] = asyncio.get_running_loop().create_future()
        self._inbox.put_nowait((_SETTLED, future, _loop_time(), None))
        await future

    async def close(self) -> None:
        """Stop taking events; what is already in the inbox is still handled. A second call
        waits until the first has finished."""
        self._closed = True
        await self._closing.run(self._close)

    async def _close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        if self._task is not None:
            self._inbox.put_nowait(_STOP)  # type: ignore[arg-type]
            await self._task  # which then stops the writer and the effector, in order
            await asyncio.gather(*(t for t in (self._writer, self._effector) if t is not None))
        if self._logging:  # bounded: a remote summary is awaited SUMMARY_WAIT at most
            await asyncio.gather(*self._logging, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            item = await self._inbox.get()
            if item is _STOP:
                self._writes.put_nowait(_STOP)
                self._effects.put_nowait(_STOP)
                break
            event, future, queued_at, origin = item
            if self._on_inbox_wait is not None and event is not _SETTLED:
                self._on_inbox_wait(_loop_time() - queued_at)
            if event is _SETTLED:
                # Behind every event before it in the effector, hence behind their writes.
                self._effects.put_nowait(_Handled([], None, future, None))
                continue
            if origin is not None and origin in self._origins:
                # A follower asked again (the answer did not reach it): decided already, here
                # or by the leader whose desk this one went on from. Answered as it was (its
                # refusal, or done: the effects are the entry's, which the follower's replica
                # applies), after what is being carried out now.
                logger.info("Service: %s asked again (%s)", type(event).__name__, origin)
                self._effects.put_nowait(_Handled([], None, future, self._origins[origin]))
                continue
            if self._before_each is not None:
                self._before_each()
            try:
                effects = self.desk.handle(event)
            except DeskError as exc:
                self._journaled(event, origin, refused=True)
                if origin is not None:
                    self._remember(origin, detached(exc))
                if future is None:
                    logger.info("Service: %s refused: %s", type(event).__name__, exc)
                else:
                    self._effects.put_nowait(_Handled([], None, future, exc))
                continue
            except Exception as exc:
                self._journaled(event, origin, refused=True)
                logger.exception("Service: desk failed on %r", event)
                self._effects.put_nowait(_Handled([], None, future, exc))
                continue
            mark = self._journaled(event, origin, refused=False)
            if origin is not None:
                self._remember(origin, None)
            # The media session exists before the inbox yields to anyone (a client that reads
            # the desk, or is told "matched", offers at once): it is synchronous.
            for effect in effects:
                if isinstance(effect, StartMedia):
                    self._start_media(effect)
            written = self._to_write(effects, mark)
            self._effects.put_nowait(_Handled(effects, written, future, None, mark))

    def _to_write(self, effects: list[Effect], mark: str | None) -> asyncio.Future[None] | None:
        """Hand an event's records to the writer; the future it settles once they are written."""
        saves = [effect for effect in effects if isinstance(effect, Save)]
        if not saves:
            return None
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._writes.put_nowait(_Write(saves, written, mark))
        return written

    def _journaled(self, event: Event, origin: str | None, refused: bool) -> str | None:
        if self._journal is None:
            return None
        try:
            return self._journal.handled(event, origin, refused)
        except Exception:
            logger.exception("Service: could not journal %r", event)
            return None

    def carry_out_again(self, handled: Sequence[Again], done: str, start: str) -> None:
        """A node taking over a desk from its replica (cluster/journal.py): the effects of the
        events the last leader handled after ``done`` (the last whose effects it carried out),
        in order. Records are written only where ``Again.write`` says they never were (with
        the event's own mark, the last leader's); parties are told again; timers and media
        sessions are not here (the caller arms the desk's pending timers and adopts its live
        calls). Until all are carried out, this leader's writes say how far it has got in the
        last leader's journal (a takeover then goes on from there, or from the records); then
        its own ``start`` (``"<epoch>:0"``), written with its journal's position. Call before
        the first event, right after ``start``."""
        self._done = done
        for again in handled:
            effects: list[Effect] = [
                e
                for e in again.effects
                if not isinstance(e, StartMedia | SetTimer | CancelTimer)
                and (again.write or not isinstance(e, Save))
            ]
            written = self._to_write(effects, again.mark)  # saves only where they never were
            self._effects.put_nowait(_Handled(effects, written, None, None, again.mark))
        self._effects.put_nowait(_Handled([], None, None, None, start, tail_end=True))

    def handled_origins(self, origins: Mapping[str, BaseException | None]) -> None:
        """Requests of followers that a desk decided (this one, or the one it went on from:
        ``Replica.origins``), each with its refusal (None: handled; detached, as the replica
        keeps them): asked again, they are answered as they were, not decided again."""
        for origin, refusal in origins.items():
            self._remember(origin, refusal)

    def _remember(self, origin: str, refusal: BaseException | None) -> None:
        """``refusal``: detached already (``detached``), or None."""
        self._origins[origin] = refusal
        self._origins.move_to_end(origin)
        if len(self._origins) > ORIGINS_KEPT:
            self._origins.popitem(last=False)

    def decided(self, origin: str) -> bool:
        """Whether this desk (or the one it went on from) decided the request ``origin``."""
        return origin in self._origins

    def arm(self, timers: Mapping[str, SetTimer]) -> None:
        """Arm ``timers`` (a desk taken over: the ones it still waits for)."""
        for timer in timers.values():
            self._set_timer(timer)

    async def _write(self) -> None:
        """Group commit: everything waiting to be written goes in one transaction."""
        while True:
            batch: list[_Write] = []
            item = await self._writes.get()
            stop = item is _STOP
            while not stop:
                assert isinstance(item, _Write)
                batch.append(item)
                if sum(len(w.saves) for w in batch) >= WRITE_BATCH or self._writes.empty():
                    break
                item = self._writes.get_nowait()
                stop = item is _STOP
            if batch:
                await self._save(batch)
            if stop:
                break

    async def _save(self, batch: list[_Write]) -> None:
        """Write ``batch`` in one transaction; if that fails, event by event and then row by
        row, so that one bad row does not lose the others (each failure is logged). The
        writer goes on either way: a store that is down costs records, never the desk."""
        rows = [save for write in batch for save in write.saves]
        marks = [write.mark for write in batch if write.mark is not None]
        try:
            async with asyncio.timeout(EFFECT_TIMEOUT):
                await self._save_all(rows, marks[-1] if marks else None)
        except Exception:
            logger.exception("Service: writing %d records together failed", len(rows))
            for write in batch:
                await self._save_one_event(write.saves, write.mark)
        else:
            for save in rows:
                self._saved(save)
        for write in batch:
            if not write.written.done():
                write.written.set_result(None)

    async def _save_one_event(self, saves: list[Save], mark: str | None) -> None:
        """One event's records together, with its mark; if that fails, row by row, and the
        mark on its own once they are all tried (written or not: a store that fails a row
        loses it, as one that is down does), never before."""
        try:
            async with asyncio.timeout(EFFECT_TIMEOUT):
                await self._save_all(saves, mark)
        except Exception:
            if len(saves) == 1:
                logger.exception("Service: could not write %r", saves[0])
            else:
                for save in saves:
                    await self._save_one_event([save], None)
            if mark is not None and saves:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(EFFECT_TIMEOUT):
                        await self._save_all([], mark)
            return
        for save in saves:
            self._saved(save)

    async def _save_all(self, saves: list[Save], mark: str | None) -> None:
        if mark is None or self._journal is None:  # one node (or a row of an event marked after)
            await self._records.save_all(saves)
        else:  # with the effects carried out so far
            await self._records.save_all(saves, mark=self._journal.stored_mark(mark, self._done))

    async def _carry_out_all(self) -> None:
        while True:
            item = await self._effects.get()
            if item is _STOP:
                break
            assert isinstance(item, _Handled)
            if item.written is not None:
                await item.written  # never fails: the writer settles it either way
            if item.effects:
                await self._carry_out(item.effects)
            if item.mark is not None:
                self._done = item.mark
            if item.tail_end and self._journal is not None:
                # What the last leader left is carried out: a takeover from now on starts at
                # this journal's beginning at the latest (written behind every earlier write).
                written = asyncio.get_running_loop().create_future()
                self._writes.put_nowait(_Write([], written, self._journal.last_mark()))
            future = item.future
            if future is not None and not future.done():
                if item.refused is not None:
                    future.set_exception(item.refused)
                else:
                    future.set_result(item.effects)

    async def _carry_out(self, effects: list[Effect]) -> None:
        """One event's effects after its records are written (the media session is open)."""
        ordered = sorted(effects, key=lambda e: _ORDER.get(type(e), 5))
        # Each recipient gets its notifications in order; recipients are served side by side.
        by_party: dict[tuple[str, str], list[Notify]] = {}
        for effect in ordered:
            if isinstance(effect, Notify):
                by_party.setdefault((effect.to, effect.target_id), []).append(effect)
        notified = False
        for effect in ordered:
            if isinstance(effect, Save | StartMedia):
                continue  # done by the writer and the inbox
            if not isinstance(effect, Notify):
                await self._guarded(effect)
            elif not notified:
                notified = True
                await asyncio.gather(*(self._in_turn(notes) for notes in by_party.values()))

    def _start_media(self, effect: StartMedia) -> None:
        try:
            # The call's media, room and recording (videoassist/call_plane.py).
            self._media.open(
                effect.session_id, effect.ticket_id, effect.agent_id, effect.customer_joins_later
            )
        except Exception:
            logger.exception("Service: effect %r failed", effect)

    async def _in_turn(self, effects: list[Notify]) -> None:
        for effect in effects:
            await self._guarded(effect)

    async def _guarded(self, effect: Effect) -> None:
        try:
            async with asyncio.timeout(EFFECT_TIMEOUT):
                await self._apply(effect)
        except Exception:
            logger.exception("Service: effect %r failed", effect)

    async def _apply(self, effect: Effect) -> None:
        match effect:
            case Notify(to, target_id, event, data):
                await self._notifier.notify(to, target_id, event, data)
            case HandOverMedia(session_id, agent_id):
                await self._media.hand_over(session_id, agent_id)
            case StartMedia():
                self._start_media(effect)
            case StopMedia(session_id):
                await self._media.close_session(session_id)
            case SetTimer():
                self._set_timer(effect)
            case CancelTimer(key):
                self._cancel_timer(key)

    def _saved(self, save: Save) -> None:
        """What follows a record once it is safely written: the log lines and webhooks."""
        try:
            self._after_write(save)
        except Exception:
            logger.exception("Service: after writing %r", save)

    def _after_write(self, save: Save) -> None:
        match save:
            case SaveTicket(row):
                if self._on_ticket_saved is not None:
                    self._on_ticket_saved(row)
            case SaveSession(row):
                if row.ended_at is not None and row.wrapped_up_at is None:
                    self._log_finished(row)
                self._tell_integrations(row)
            case SaveAudit(row):
                logger.info(
                    "audit %s by=%s %s=%s %s",
                    row.action,
                    row.actor_name,
                    row.subject_kind,
                    row.subject_id,
                    dict(row.detail),
                )

    def _log_finished(self, row: SessionRow) -> None:
        """The canonical line for a finished call leg: one per leg, with everything an
        operator greps for (JSON fields when stderr is not a terminal, videoassist/logs.py)."""
        ticket = self.desk.tickets.get(row.ticket_id) or self.desk.closed.get(row.ticket_id)
        assert row.ended_at is not None
        fields: dict[str, Any] = {
            "event": "call_finished",
            "session_id": row.id,
            "call_id": row.call_id or row.id,
            "ticket_id": row.ticket_id,
            "queue": ticket.queue_id if ticket is not None else None,
            "agent": row.agent_id,
            "wait": round(row.answered_at - row.queued_at, 1),
            "duration": round(row.ended_at - row.answered_at, 1),
            "end_reason": row.end_reason,
        }
        # Per leg: worst and mean round-trip, loss and freezes at the end, mean bitrate.
        call_id = row.call_id or row.id
        quality = self._call_quality(call_id) if self._call_quality is not None else None
        if inspect.isawaitable(quality):
            # A call on another media node: its summary comes with that node's close, so
            # not for a leg handed over (the call goes on with the next agent).
            if self.desk.call_session(call_id) is None:
                task = asyncio.ensure_future(_log_when(fields, quality))
                self._logging.add(task)
                task.add_done_callback(self._logging.discard)
                return
            _discard(quality)
            quality = None
        fields["quality"] = quality
        logger.info("call finished", extra={"fields": fields})

    def _tell_integrations(self, row: SessionRow) -> None:
        ticket = self.desk.tickets.get(row.ticket_id) or self.desk.closed.get(row.ticket_id)
        event = session_event(row, ticket)
        if event is not None:
            self._integrations.publish(*event)

    def _set_timer(self, timer: SetTimer) -> None:
        self._cancel_timer(timer.key)
        delay = max(0.0, timer.at - self.clock())
        loop = asyncio.get_running_loop()
        self._timers[timer.key] = loop.call_later(delay, self._fire, timer.key, timer.event)

    def _fire(self, key: str, event: Event) -> None:
        self._timers.pop(key, None)
        self.post(event)

    def _cancel_timer(self, key: str) -> None:
        handle = self._timers.pop(key, None)
        if handle is not None:
            handle.cancel()


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


@dataclass(slots=True)
class _Write:
    """An event's records on their way through the writer."""

    saves: list[Save]
    written: asyncio.Future[None]  # settled once they are written (or could not be)
    mark: str | None  # its journal entry (several nodes)


@dataclass(slots=True)
class _Handled:
    """An event the desk has handled, on its way through the effector."""

    effects: list[Effect]
    written: asyncio.Future[None] | None  # its records are written (None: it had none)
    future: asyncio.Future[list[Effect]] | None  # who submitted it
    refused: BaseException | None  # the desk refused it (passed on in order)
    mark: str | None = None  # its journal entry's (several nodes)
    tail_end: bool = False  # the last of what a taken-over desk's last leader left


@dataclass(frozen=True, slots=True)
class Again:
    """One event a taken-over desk's last leader handled whose effects may not be carried
    out: its entry's ``mark``, and whether its records were not written either."""

    effects: list[Effect]
    mark: str
    write: bool


def detached(refusal: BaseException) -> BaseException:
    """A refusal kept to be answered again: its code, message and status, without the
    traceback (and the frames) of where it was raised."""
    if isinstance(refusal, DeskError):
        kept = DeskError(refusal.message)
        kept.code, kept.status = refusal.code, refusal.status
        return kept
    return RuntimeError(str(refusal))  # the desk failed on it (not a refusal of its own)


_STOP = object()
_SETTLED: Event = object()  # type: ignore[assignment]  # a marker in the inbox, not an event


async def _log_when(fields: dict[str, Any], quality: Awaitable[Quality]) -> None:
    try:
        fields["quality"] = await quality
    except Exception:
        logger.exception("call %s: its quality summary", fields["call_id"])
        fields["quality"] = None
    logger.info("call finished", extra={"fields": fields})


def _discard(awaitable: Awaitable[Any]) -> None:
    if inspect.iscoroutine(awaitable):
        awaitable.close()

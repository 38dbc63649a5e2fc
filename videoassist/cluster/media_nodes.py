"""Calls' media on media nodes: placed by the leader, asked for over Redis.

A node carries a few dozen calls' media (bench/RESULTS.md, encoded forwarding: about 1.3-2.5%
of a core per forwarded stream), while one desk holds thousands of waiting customers. So the
first thing several nodes share is media. The leader (the node that holds the desk) places each
new call on the live media node with the most room (``cluster/placement.py``: capacity, calls
live and placements in flight, in one Lua script), possibly itself; that node opens the call's
media session, room and recorder (``LocalCallPlane``). The browsers' sockets stay where they
are: every verb for the call (an SDP offer, a chat line, a mark, a freeze, a consent) is
authorized on the leader against its desk, then carried to the call's node over Redis
(``cluster/call_bus.py``) and answered from there; what the media node tells the parties goes
to their sockets wherever they are (socket.io's Redis manager). ICE runs between the browser
and the media node directly (each node gathers its own candidates and TURN relays).

* ``PlacedCalls`` (on the leader) is the service's media port and the gateway's call plane.
  ``open`` is synchronous, as the service wants (the session exists before anyone can ask for
  it): it records a future for the call's node and places it in a task; every verb for that
  call awaits the future, so an offer sent the moment the customer hears "matched" waits for
  the placement, never misses it.
* ``MediaNode`` (on a media node, ``NODE_ROLE=media``) registers its capacity, keeps its
  heartbeat and live count, and serves the leader's requests with its own ``LocalCallPlane``.
  What its media hub reports (a call's media failed) and what its recorder publishes
  (webhooks) go back to the desk through the ``desk`` queue, served by the leader.

What happens when a media node dies: its heartbeat lapses (``HEARTBEAT_TTL``), or, restarted,
it no longer reports the call; the leader opens each of its calls again on another node (the
room from its event log, recording in a new part) and tells both parties (``media_moved``),
whose pages offer media anew. A call that cannot be opened anywhere ends ``media_failed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Any, Protocol

from redis.exceptions import RedisError

from videoassist.call_plane import LocalCallPlane, dispatch
from videoassist.call_room import Side, Source
from videoassist.cluster import stopping
from videoassist.cluster.placement import Placement
from videoassist.desk.events import Party, StartMedia
from videoassist.errors import Problem, Refusal

logger = logging.getLogger(__name__)

DESK = "_desk"  # the bus queue the leader serves (no node id starts with "_": settings.py)
REQUEST_TIMEOUT = 10.0  # an SDP answer on a loaded node can take a few seconds
WATCH_INTERVAL = 1.0
PROBE_WITHIN = 1.5  # seconds a node has to answer "which calls do you hold?"
DRAIN_POLL = 0.2
SUMMARY_WAIT = 5.0  # seconds the desk waits for a remote call's quality summary to log it
SUMMARY_KEPT = 30.0  # seconds a remote call's summary is kept for its call_finished line


class Bus(Protocol):
    """The request/reply transport between nodes (videoassist.cluster.call_bus.CallBus)."""

    async def request(
        self,
        node: str,
        verb: str,
        args: dict[str, Any],
        *,
        within: float = ...,
        expires: float | None = ...,
    ) -> Any: ...


class AskingPlane:
    """Every call verb of the call plane as a request by name (``_ask``): the verbs' types
    in one place for the planes that carry them elsewhere (``PlacedCalls`` to the call's node,
    ``cluster.followers.LeaderPlane`` to the leader)."""

    async def _ask(self, verb: str, call_id: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def answer(self, call_id: str, party: Party, sdp: str) -> dict[str, str]:
        answer = await self._ask("answer", call_id, party=party, sdp=sdp)
        return {"type": str(answer["type"]), "sdp": str(answer["sdp"])}

    async def add_candidate(self, call_id: str, party: Party, candidate: dict[str, Any]) -> None:
        await self._ask("add_candidate", call_id, party=party, candidate=candidate)

    async def room(self, call_id: str) -> dict[str, Any]:
        return dict(await self._ask("room", call_id))

    async def say(self, call_id: str, side: Side, party_id: str, name: str, text: str) -> int:
        return int(
            await self._ask("say", call_id, side=side, party_id=party_id, name=name, text=text)
        )

    async def typing(self, call_id: str, side: Side, party_id: str, text: str) -> None:
        await self._ask("typing", call_id, side=side, party_id=party_id, text=text)

    async def annotate(
        self, call_id: str, agent_id: str, author: str, target: str, annotation: dict[str, Any]
    ) -> str:
        return str(
            await self._ask(
                "annotate",
                call_id,
                agent_id=agent_id,
                author=author,
                target=target,
                annotation=annotation,
            )
        )

    async def extend_pen(
        self, call_id: str, agent_id: str, target: str, mark_id: str, points: list[Any]
    ) -> None:
        await self._ask(
            "extend_pen", call_id, agent_id=agent_id, target=target, mark_id=mark_id, points=points
        )

    async def remove_annotation(
        self, call_id: str, agent_id: str, target: str, mark_id: str
    ) -> None:
        await self._ask(
            "remove_annotation", call_id, agent_id=agent_id, target=target, mark_id=mark_id
        )

    async def clear(self, call_id: str, agent_id: str, target: str) -> int:
        return int(await self._ask("clear", call_id, agent_id=agent_id, target=target))

    async def freeze(self, call_id: str, agent_id: str) -> dict[str, Any]:
        return dict(await self._ask("freeze", call_id, agent_id=agent_id))

    async def unfreeze(self, call_id: str, agent_id: str) -> None:
        await self._ask("unfreeze", call_id, agent_id=agent_id)

    async def request_source(self, call_id: str, agent_id: str, source: Source) -> None:
        await self._ask("request_source", call_id, agent_id=agent_id, source=source)

    async def source_changed(self, call_id: str, ticket_id: str, source: Source) -> None:
        await self._ask("source_changed", call_id, ticket_id=ticket_id, source=source)

    async def source_declined(self, call_id: str, ticket_id: str, source: Source) -> None:
        await self._ask("source_declined", call_id, ticket_id=ticket_id, source=source)

    async def media_state(self, call_id: str, ticket_id: str, audio: bool, video: bool) -> None:
        await self._ask("media_state", call_id, ticket_id=ticket_id, audio=audio, video=video)

    async def add_photo(
        self, call_id: str, ticket_id: str, content_type: str, data_b64: str
    ) -> dict[str, Any]:
        return dict(
            await self._ask(
                "add_photo",
                call_id,
                ticket_id=ticket_id,
                content_type=content_type,
                data_b64=data_b64,
            )
        )

    async def note(self, call_id: str, kind: str, actor: str, data: dict[str, Any]) -> None:
        await self._ask("note", call_id, kind=kind, actor=actor, data=data)

    async def recording_consent(self, call_id: str, ticket_id: str, accept: bool) -> dict[str, Any]:
        return dict(
            await self._ask("recording_consent", call_id, ticket_id=ticket_id, accept=accept)
        )

    async def recording_pause(self, call_id: str, agent_id: str) -> dict[str, Any]:
        return dict(await self._ask("recording_pause", call_id, agent_id=agent_id))

    async def recording_resume(self, call_id: str, agent_id: str) -> dict[str, Any]:
        return dict(await self._ask("recording_resume", call_id, agent_id=agent_id))

    async def supervise(self, call_id: str, staff_id: str, mode: str, sdp: str) -> dict[str, Any]:
        return dict(await self._ask("supervise", call_id, staff_id=staff_id, mode=mode, sdp=sdp))

    async def supervisor_candidate(
        self, call_id: str, staff_id: str, candidate: dict[str, Any]
    ) -> None:
        await self._ask("supervisor_candidate", call_id, staff_id=staff_id, candidate=candidate)

    async def unsupervise(self, call_id: str, staff_id: str) -> dict[str, Any]:
        return dict(await self._ask("unsupervise", call_id, staff_id=staff_id))


class PlacedCalls(AskingPlane):
    """The leader's view of live calls' media: which node holds each, and the way to it."""

    def __init__(
        self,
        local: LocalCallPlane,
        bus: Bus,
        placement: Placement,
        node: str,
        *,
        policy_of: Callable[[str], tuple[str, str]],
        settled: Callable[[], Awaitable[None]],
        on_failure: Callable[[str, str], None],
        on_moved: Callable[[str, float], None] | None = None,
        restore: Callable[[str], Awaitable[None]] | None = None,
        before_each: Callable[[], None] | None = None,
        timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        """``policy_of(ticket_id)``: the ticket's queue and recording policy, sent with the
        call to its node. ``settled()``: the desk's current event has had its effects (the
        parties were told "matched" before the node asks anyone anything). ``on_failure(call
        id, detail)``: the call's media cannot go on (placement failed, its node died)."""
        self.local = local
        self.bus = bus
        self.placement = placement
        self.node = node
        self.timeout = timeout
        self._policy_of = policy_of
        self._settled = settled
        self._on_failure = on_failure
        # on_moved(call id, lost at): the call is open elsewhere; the parties must offer media
        # anew (``media_moved``); its media was last known alive at ``lost at``.
        self._on_moved = on_moved
        self._seen: dict[str, float] = {}  # call id -> when its node last reported it
        # call id -> (ticket id, agent id, customer joins later): to open it again elsewhere.
        self._opened: dict[str, tuple[str, str, bool]] = {}
        self._restore = restore  # a call opened here that was live before gets its room back
        self._before_each = before_each  # the leader's lease check (cluster/leadership.py)
        self._where: dict[str, asyncio.Future[str]] = {}
        self._statuses: dict[str, dict[str, Any]] = {}  # remote calls, as last reported
        # Remote calls being closed -> their quality summary, as the node answers the close.
        self._summaries: dict[str, asyncio.Future[dict[str, Any] | None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._watcher: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ where calls are

    def placed(self) -> dict[str, str]:
        """call id -> node, for the calls placed and opened."""
        return {call_id: node for call_id in self._where if (node := self.where(call_id))}

    def where(self, call_id: str) -> str | None:
        """The node a call is placed and open on; None while it is placed, or if that failed."""
        future = self._where.get(call_id)
        if future is None or not future.done() or future.cancelled() or future.exception():
            return None
        return future.result()

    async def _node(self, call_id: str) -> str:
        future = self._where.get(call_id)
        if future is None:
            return self.node  # not a call of ours: the local plane refuses it as unknown
        try:
            return await asyncio.shield(future)
        except Problem:
            raise
        except Exception:
            raise Refusal("unavailable", "this call's media could not be placed") from None

    def status(self, call_id: str) -> dict[str, Any]:
        """What the wallboard shows of a call's media: asked here, or as its node last said
        (``WATCH_INTERVAL``)."""
        node = self.where(call_id) or self.node
        if node == self.node:
            return self.local.status(call_id)
        return self._statuses.get(call_id, {"recording": "off", "quality": None})

    def quality_summary(
        self, call_id: str
    ) -> dict[str, Any] | Awaitable[dict[str, Any] | None] | None:
        """A call's quality summary: at once for a call carried here; for a call on another
        node, once that node has closed it and answered with it (at most ``SUMMARY_WAIT``)."""
        summary = self._summaries.get(call_id)
        if summary is None:
            node = self.where(call_id)
            if node is None or node == self.node:
                return self.local.quality_summary(call_id)
            summary = self._summary(call_id)
        return self._summary_of(call_id, summary)

    def _summary(self, call_id: str) -> asyncio.Future[dict[str, Any] | None]:
        """The future a remote call's close fills; let go a while after, asked for or not."""
        summary = self._summaries.get(call_id)
        if summary is None:
            summary = asyncio.get_running_loop().create_future()
            self._summaries[call_id] = summary
            summary.add_done_callback(
                lambda done: asyncio.get_running_loop().call_later(
                    SUMMARY_KEPT, self._let_go_summary, call_id, done
                )
            )
        return summary

    def _let_go_summary(self, call_id: str, summary: asyncio.Future[Any]) -> None:
        if self._summaries.get(call_id) is summary:
            del self._summaries[call_id]

    async def _summary_of(
        self, call_id: str, summary: asyncio.Future[dict[str, Any] | None]
    ) -> dict[str, Any] | None:
        try:
            async with asyncio.timeout(SUMMARY_WAIT):
                return await asyncio.shield(summary)
        except TimeoutError:
            logger.info("call %s: its node did not say its quality in time", call_id)
            return None

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------ the service's media port

    def open(
        self, session_id: str, ticket_id: str, agent_id: str, customer_joins_later: bool
    ) -> None:
        self._opened[session_id] = (ticket_id, agent_id, customer_joins_later)
        future = self._placing(session_id)
        self._spawn(
            self._open(future, session_id, ticket_id, agent_id, customer_joins_later, new=True),
            f"place:{session_id}",
        )

    def adopt(self, calls: Iterable[StartMedia], fresh: Collection[str] = ()) -> None:
        """A desk taken over from a replica (its last leader died): its live calls stay on the
        node that holds them; a call whose node holds it no more (the last leader carried it)
        is opened again elsewhere and its parties told, as when a media node dies. A call in
        ``fresh`` had only just started (its parties may not know yet): opened as new."""
        for call in calls:
            opened = (call.ticket_id, call.agent_id, call.customer_joins_later)
            self._opened[call.session_id] = opened
            future = self._placing(call.session_id)
            self._spawn(
                self._adopt(future, call, call.session_id in fresh), f"adopt:{call.session_id}"
            )

    async def _adopt(self, future: asyncio.Future[str], call: StartMedia, fresh: bool) -> None:
        call_id = call.session_id
        before = await self._placed_before(call_id)
        args = (call_id, call.ticket_id, call.agent_id, call.customer_joins_later)
        if fresh or await self._holds(before, call_id):
            await self._open(future, *args, new=fresh)  # kept where it is, or placed now
        else:
            lost_at = time.time() - self.placement.heartbeat_ttl  # about its node's last word
            await self._reopen(future, *args, before or "", lost_at)

    def _placing(self, call_id: str) -> asyncio.Future[str]:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())  # seen: not logged
        self._where[call_id] = future
        return future

    async def _open(
        self,
        future: asyncio.Future[str],
        session_id: str,
        ticket_id: str,
        agent_id: str,
        joins_later: bool,
        *,
        new: bool = False,
        gone: str = "",
    ) -> None:
        """Place the call and open it there. ``new``: a call the desk just matched (its
        parties are told "matched" before its node may ask them anything); ``gone``: a node it
        was on that is dead. A call still open on a live media node (this desk restarted and
        restores it) stays there."""
        kept = "" if gone else await self._still_on(session_id)  # a new call has no "before"
        try:
            placed = None if kept else await self.placement.place()
        except (RedisError, OSError) as exc:
            logger.warning("placement unavailable (%s): call %s stays here", exc, session_id)
            placed = None
        if placed is None and not kept:
            logger.warning("call %s: no media node has room: carried here", session_id)
        node, placement_id = placed if placed is not None else (kept or self.node, "")
        try:
            try:
                before = await self.placement.assign(session_id, node)
            except (RedisError, OSError):
                before = None
            if before is not None and before not in (node, gone):
                await self._close_on(before, session_id)  # opened again elsewhere
            if node == self.node and kept != self.node:
                await self._open_local(session_id, ticket_id, agent_id, joins_later)
            elif node == self.node:
                logger.info("call %s is still open here: kept", session_id)
                await self.local.keep(session_id, agent_id)
            else:
                queue_id, policy = self._policy_of(ticket_id)
                if new:
                    await self._settled()
                args = {
                    "call_id": session_id,
                    "ticket_id": ticket_id,
                    "agent_id": agent_id,
                    "customer_joins_later": joins_later,
                    "queue_id": queue_id,
                    "recording": policy,
                    "resume": bool(kept),
                }
                await self.bus.request(node, "open_call", args, within=self.timeout)
        except Exception as exc:
            logger.warning("call %s could not be opened on %s: %s", session_id, node, exc)
            self._spawn(self._close_on(node, session_id), f"undo:{session_id}")
            # A node that failed to open a call nobody's media is on yet (it died as it was
            # asked, or refused): this node carries it, as when every node is full.
            here = node != self.node and not kept and self._where.get(session_id) is future
            if not here or not await self._open_here(session_id, ticket_id, agent_id, joins_later):
                with contextlib.suppress(RedisError, OSError):
                    await self.placement.unassign(session_id)
                if not future.done():
                    future.set_exception(Refusal("unavailable", "this call's media is unavailable"))
                self._on_failure(session_id, f"media node {node}: {exc}")
                return
            node, placement_id = self.node, ""
        if placement_id:
            with contextlib.suppress(RedisError, OSError):
                await self.placement.started(node, placement_id)
        if self._where.get(session_id) is not future:
            # The call ended (or moved again) while it was being opened: undo this one.
            self._spawn(self._close_on(node, session_id), f"undo:{session_id}")
        logger.info("call %s placed on %s", session_id, node)
        if not future.done():
            future.set_result(node)

    async def _open_local(
        self, session_id: str, ticket_id: str, agent_id: str, joins_later: bool
    ) -> None:
        """Open the call on this node (a call that was live before gets its room back)."""
        self.local.open(session_id, ticket_id, agent_id, joins_later)
        if self._restore is not None:
            await self._restore(session_id)

    async def _open_here(
        self, session_id: str, ticket_id: str, agent_id: str, joins_later: bool
    ) -> bool:
        """Open the call on this node after another failed it; False if that failed too."""
        try:
            with contextlib.suppress(RedisError, OSError):
                await self.placement.assign(session_id, self.node)
            await self._open_local(session_id, ticket_id, agent_id, joins_later)
        except Exception as exc:
            logger.warning("call %s could not be opened here either: %s", session_id, exc)
            return False
        logger.info("call %s: carried here instead", session_id)
        return True

    async def _still_on(self, call_id: str) -> str:
        """The media node a call was placed on before, if it still holds the call (asked, not
        assumed: a desk that stopped or a node that restarted holds nothing), or ''."""
        return await self._holds(await self._placed_before(call_id), call_id)

    async def _placed_before(self, call_id: str) -> str | None:
        try:
            return await self.placement.where(call_id)
        except (RedisError, OSError):
            return None

    async def _holds(self, before: str | None, call_id: str) -> str:
        """``before`` if that node still holds the call, else ''."""
        if before is None:
            return ""
        if before == self.node:  # this node held it before it led (every node serving)
            return before if call_id in self.local.rooms else ""
        try:
            serving = await self.bus.request(before, "serving", {}, within=PROBE_WITHIN)
        except Problem:
            return ""
        return before if call_id in serving.get("calls", ()) else ""

    async def hand_over(self, session_id: str, agent_id: str) -> None:
        """Spawned, not awaited: the service's effector must not wait on another node (the
        bus keeps the call's requests in order)."""
        if session_id in self._opened:
            ticket_id, _, joins_later = self._opened[session_id]
            self._opened[session_id] = (ticket_id, agent_id, joins_later)
        self._spawn(self._hand_over(session_id, agent_id), f"hand_over:{session_id}")

    async def _hand_over(self, session_id: str, agent_id: str) -> None:
        try:
            node = await self._node(session_id)
            if node == self.node:
                await self.local.hand_over(session_id, agent_id)
            else:
                args = {"call_id": session_id, "agent_id": agent_id}
                await self.bus.request(node, "hand_over_call", args, within=self.timeout)
        except Problem as exc:
            logger.warning("call %s: hand-over to %s failed: %s", session_id, agent_id, exc)

    async def close_session(self, session_id: str) -> None:
        self._opened.pop(session_id, None)
        self._seen.pop(session_id, None)
        self._statuses.pop(session_id, None)
        future = self._where.pop(session_id, None)
        if future is None:
            await self.local.close_session(session_id)
            # Not placed from here (a desk taken over: a call its last leader placed and
            # ended): wherever the placement says it is.
            self._spawn(self._close_placed(session_id), f"close:{session_id}")
            return
        settled = future.done() and not future.cancelled() and future.exception() is None
        if settled and future.result() == self.node:
            await self._closed_on(self.node, session_id)
            return
        # Remote, or still being placed: closed in the background (an open that completes
        # later sees the call gone and undoes itself); its node answers with its quality.
        earlier = self._summaries.get(session_id)
        if earlier is not None and earlier.done():  # a close of an earlier placement of it
            del self._summaries[session_id]
        summary = self._summary(session_id)
        self._spawn(self._close_when_placed(future, session_id, summary), f"close:{session_id}")

    async def _close_placed(self, call_id: str) -> None:
        try:
            node = await self.placement.where(call_id)
        except (RedisError, OSError):
            return
        if node is not None and node != self.node:
            await self._closed_on(node, call_id)

    async def _close_when_placed(
        self,
        future: asyncio.Future[str],
        call_id: str,
        summary: asyncio.Future[dict[str, Any] | None],
    ) -> None:
        quality = None
        try:
            node = await asyncio.shield(future)
        except Exception:
            node = None  # never opened anywhere (its open undid itself)
        try:
            if node is not None:
                reply = await self._closed_on(node, call_id)
                quality = self.local.quality_summary(call_id) if node == self.node else reply
        finally:
            if not summary.done():
                summary.set_result(quality if isinstance(quality, dict) else None)

    async def _closed_on(self, node: str, call_id: str) -> Any:
        try:
            return await self._close_on(node, call_id)
        finally:
            with contextlib.suppress(RedisError, OSError):
                await self.placement.unassign(call_id)
                await self.placement.ended(node)

    async def _close_on(self, node: str, call_id: str) -> Any:
        """Best effort: a node that is gone holds nothing any more. A remote node answers
        with the call's quality summary."""
        try:
            if node == self.node:
                await self.local.close_session(call_id)
                return None
            return await self.bus.request(node, "close_call", {"call_id": call_id}, within=2.0)
        except Exception as exc:
            logger.info("call %s: node %s did not close it: %s", call_id, node, exc)
            return None

    # ------------------------------------------------------------ media nodes that die

    def start(self) -> None:
        self._watcher = asyncio.create_task(self._watch(), name="PlacedCalls.watch")

    async def _watch(self) -> None:
        while not stopping():
            await asyncio.sleep(WATCH_INTERVAL)
            try:
                if self._before_each is not None:
                    self._before_each()  # a deposed leader acts on nothing
                await self._look()
            except (RedisError, OSError) as exc:
                logger.warning("cannot read media nodes' loads: %s", exc)
            except Exception:
                logger.exception("PlacedCalls: watching media nodes failed (going on)")

    async def _look(self) -> None:
        """Every media node is asked which calls it holds: calls on a node that does not
        answer, and whose heartbeat lapsed, or that no longer has them, are moved; calls a node
        holds that are not placed there (it was taken for dead, or an open was undone) are
        closed; what they report feeds the wallboard."""
        nodes = {load.node for load in await self.placement.loads()} - {self.node}
        placed = self.placed()
        for node in {n for n in placed.values() if n != self.node} - nodes:
            # Its heartbeat lapsed. Gone, or only Redis forgot it (a Redis restart): ask.
            if await self._answers(node) is None:
                last = time.time() - self.placement.heartbeat_ttl  # its last heartbeat
                for call_id in [c for c, n in placed.items() if n == node]:
                    self._move(call_id, node, "its heartbeat lapsed", last)
            else:
                nodes.add(node)
        statuses: dict[str, dict[str, Any]] = {}
        reports = await asyncio.gather(*(self._answers(node, "statuses") for node in nodes))
        now = time.time()
        for node, reported in zip(nodes, reports, strict=True):
            if reported is None:
                continue
            statuses.update(reported)
            for call_id, where in placed.items():  # as placed before the node was asked
                if where != node or self._where.get(call_id) is None:
                    continue
                if call_id in reported:
                    self._seen[call_id] = now
                elif self.where(call_id) == node:  # not moved meanwhile
                    last = self._seen.get(call_id, now)
                    self._move(call_id, node, "it no longer has the call", last)
            for call_id in reported:
                future = self._where.get(call_id)
                if future is None or (future.done() and self.where(call_id) != node):
                    # Not this node's call (moved away, ended, or an undone open).
                    self._spawn(self._close_on(node, call_id), f"stale:{call_id}")
        self._statuses = statuses

    async def _answers(self, node: str, verb: str = "serving") -> dict[str, Any] | None:
        try:
            return dict(await self.bus.request(node, verb, {}, within=PROBE_WITHIN))
        except Problem as exc:
            logger.info("media node %s did not answer %s: %s", node, verb, exc.message)
            return None

    def failed_on(self, node: str, call_id: str, detail: str) -> None:
        """A media node says a call's media failed there: it counts only if the call is still
        there (a node taken for dead whose calls were moved says so of calls it lost)."""
        if self.where(call_id) == node:
            self._on_failure(call_id, detail)
        else:
            logger.info("call %s: %s reported a failure of a call not on it", call_id, node)

    def _move(self, call_id: str, node: str, why: str, lost_at: float) -> None:
        """The call's media node is gone: open the call again on another node (or here), and
        have both parties offer media anew; it ends ``media_failed`` if that fails."""
        opened = self._opened.get(call_id)
        if opened is None:
            return
        logger.warning("call %s: media node %s is gone (%s): moving the call", call_id, node, why)
        ticket_id, agent_id, joins_later = opened
        future = self._placing(call_id)
        self._spawn(
            self._reopen(future, call_id, ticket_id, agent_id, joins_later, node, lost_at),
            f"move:{call_id}",
        )

    async def _reopen(
        self,
        future: asyncio.Future[str],
        call_id: str,
        ticket_id: str,
        agent_id: str,
        joins_later: bool,
        gone: str,
        lost_at: float,
    ) -> None:
        await self._open(future, call_id, ticket_id, agent_id, joins_later, gone=gone)
        moved = future.done() and not future.cancelled() and future.exception() is None
        if moved and self._where.get(call_id) is future and self._on_moved is not None:
            self._on_moved(call_id, lost_at)

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for future in self._where.values():  # nobody waits on a placement that will not come
            if not future.done():
                future.set_exception(Refusal("unavailable", "this server is stopping"))

    # ------------------------------------------------------------ the call plane's verbs

    async def _ask(self, verb: str, call_id: str, **kwargs: Any) -> Any:
        node = await self._node(call_id)
        if node == self.node:
            return await getattr(self.local, verb)(call_id, **kwargs)
        return await self.bus.request(
            node, verb, {"call_id": call_id, **kwargs}, within=self.timeout
        )


class MediaNode:
    """A node that carries calls' media for the leader: registered with its capacity, kept
    alive by a heartbeat, serving ``open_call``, ``hand_over_call``, ``close_call`` and the
    call plane's verbs from its bus queue."""

    def __init__(
        self,
        plane: LocalCallPlane,
        placement: Placement,
        node: str,
        capacity: int,
        *,
        live: Callable[[], int],
        restore: Callable[[str], Awaitable[None]] | None = None,
        policies: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        """``restore(call_id)``: a call opened here that was live before (a failover, a
        restart) gets its room back from its event log; a new call has none. ``policies``:
        ticket id -> (queue id, recording policy), filled as calls open (the recorder's)."""
        self.plane = plane
        self._live = live  # the calls this node's media hub carries, by its own count
        self._restore = restore
        self.placement = placement
        self.node = node
        self.capacity = capacity
        self.policies = policies if policies is not None else {}
        self._tickets: dict[str, str] = {}  # call id -> ticket id (its policy's key)
        self._draining = False
        self._heartbeat: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.placement.register(self.node, self.capacity)
        await self.placement.heartbeat(self.node, live=self._live())
        self._heartbeat = asyncio.create_task(self._beat(), name="MediaNode.heartbeat")

    async def _beat(self) -> None:
        interval = self.placement.heartbeat_ttl / 3
        while not stopping():
            await asyncio.sleep(interval)
            try:
                if not await self.placement.heartbeat(self.node, live=self._live()):
                    # Lapsed (Redis was away): back, with the calls it still carries.
                    await self.placement.register(self.node, self.capacity)
                    await self.placement.heartbeat(self.node, live=self._live())
                    if self._draining:
                        await self.placement.drain(self.node)
            except (RedisError, OSError) as exc:
                logger.warning("media node %s: heartbeat failed: %s", self.node, exc)

    async def drain(self, grace: float = 0.0) -> set[str]:
        """Take no new calls; wait up to ``grace`` seconds for the live ones to end. Returns
        the calls still live."""
        self._draining = True
        with contextlib.suppress(RedisError, OSError):
            await self.placement.drain(self.node)
        for _ in range(math.ceil(grace / DRAIN_POLL)):
            if not self._live():
                break
            await asyncio.sleep(DRAIN_POLL)  # calls end when their parties hang up
        return set(self.holds())

    async def close(self) -> None:
        """Stop beating and leave the placement at once: the desk moves what is left here."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        with contextlib.suppress(RedisError, OSError):
            await self.placement.deregister(self.node)

    def holds(self) -> list[str]:
        """The calls open here (a call's room lives as long as its media)."""
        return sorted(self.plane.rooms)

    async def handle(self, verb: str, args: Mapping[str, Any]) -> Any:
        match verb:
            case "open_call":
                return await self._open(args)
            case "hand_over_call":
                await self.plane.hand_over(str(args["call_id"]), str(args["agent_id"]))
                return None
            case "close_call":
                # Answered with the call's quality summary, for the desk's call_finished line.
                call_id = str(args["call_id"])
                self.policies.pop(self._tickets.pop(call_id, ""), None)
                await self.plane.close_session(call_id)
                return self.plane.quality_summary(call_id)
            case "serving":
                return {"node": self.node, "calls": self.holds()}
            case "statuses":
                return {call_id: self.plane.status(call_id) for call_id in self.holds()}
        return await dispatch(self.plane, verb, args)

    async def _open(self, args: Mapping[str, Any]) -> None:
        try:
            call_id = str(args["call_id"])
            ticket_id = str(args["ticket_id"])
            agent_id = str(args["agent_id"])
            joins_later = bool(args["customer_joins_later"])
            policy = (str(args["queue_id"]), str(args["recording"]))
        except KeyError as exc:
            raise Refusal("bad_request", f"open_call needs {exc}") from None
        self.policies[ticket_id] = policy
        self._tickets[call_id] = ticket_id
        if args.get("resume") and call_id in self.plane.rooms:
            # The desk's node restarted (or failed over) and opens its live calls again: this
            # one is still here, media, room and recording. It goes on; the parties' pages,
            # back on the desk's node, offer anew into the same session.
            logger.info("media node %s: call %s is still open here: kept", self.node, call_id)
            await self.plane.keep(call_id, agent_id)
            return
        if call_id in self.plane.rooms:  # an old session of it (this node was taken for dead)
            await self.plane.close_session(call_id)
        self.plane.open(call_id, ticket_id, agent_id, joins_later)
        if self._restore is not None:
            await self._restore(call_id)
        live = len(self.plane.rooms)
        logger.info("media node %s: call %s open (%d live)", self.node, call_id, live)


class DeskLink:
    """What a media node tells the desk's node, over its ``desk`` queue: a call's media failed
    (the desk ends or waits on the call). Never awaited. (Webhooks a media node publishes go
    into the shared outbox from the node itself.)"""

    def __init__(self, bus: Bus, node: str) -> None:
        self.bus = bus
        self.node = node
        self._tasks: set[asyncio.Task[Any]] = set()

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self, within: float = 5.0) -> None:
        """Wait (a bounded time) for what is on its way to the desk."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=within)

    def media_failed(self, call_id: str, detail: str) -> None:
        self._spawn(self._failed(call_id, detail))

    async def _failed(self, call_id: str, detail: str) -> None:
        try:
            args = {"call_id": call_id, "detail": detail, "node": self.node}
            await self.bus.request(DESK, "media_failed", args)
        except Exception as exc:
            logger.warning("call %s: media failure not told to the desk: %s", call_id, exc)

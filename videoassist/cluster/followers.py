"""Every node serving: a node that does not lead serves sockets and pages from a replica desk.

With ``DESK_REPLICAS`` every app node behind the load balancer takes sockets and requests. One
of them leads (``cluster/leadership.py``): it holds the desk, the records' writer, the timers
and the placement of calls' media. The others follow:

* **Reads** (a customer's place in line, an agent's console, the wallboard's picture, whether a
  socket may act on a call) come from the node's replica of the desk, kept up with the leader's
  journal (``cluster/journal.py``), a few milliseconds behind.
* **Changes** (``FollowerService.submit``) are asked of the leader over the signed call bus
  (verb ``submit`` on its ``desk`` queue). The leader's service handles the event as one of its
  own, journals it with the follower's ``origin``, and answers once its records are written and
  its parties told. The follower then returns what its replica made of that entry: the same
  effects, or the same refusal, as the leader's desk, since the replica is the leader's desk.
* **A call's verbs** (``LeaderPlane``) are asked of the leader too, which carries them to the
  call's media node (``PlacedCalls``): the follower does not know where calls are placed.
* What the leader tells a party reaches its socket wherever it is (socket.io's Redis manager).

``LeaderDoor`` is the leader's side: it serves those requests next to the media nodes' reports.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from videoassist.call_plane import VERBS, CallPlane, dispatch
from videoassist.cluster import stopping
from videoassist.cluster.journal import Outcome, Replica
from videoassist.cluster.media_nodes import DESK, AskingPlane, Bus
from videoassist.desk import AgentState, Desk, DeskError, TicketState
from videoassist.desk.codec import decode, encode
from videoassist.desk.events import (
    AgentDropped,
    AgentSignedOut,
    CustomerLeft,
    Effect,
    Event,
)
from videoassist.errors import Refusal

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT = 10.0  # as long as a call verb may take on a loaded media node
# How long a change may take on a follower, asked again after each silence: a leader's death
# (the lease lapses within 10 s, the next leader serves about a second later) and one request
# after it. Under the pages' acknowledgement timeout (web/shared/signaling.js, 20 s).
SUBMIT_WITHIN = 18.0
# How long one request for a change waits for the leader's answer before it is asked again (a
# leader answers in milliseconds; one under load that answers the first late answers the second
# as it decided the first: nothing is done twice).
SUBMIT_TRY = 4.0
RETRY_PAUSE = 0.5  # between two requests for the same change
DOOR_VERBS = frozenset({"submit", "post", "plane"})


class PresenceLookup(Protocol):
    async def absent(self, kind: str, party_ids: list[str]) -> list[str]: ...
    async def holder(self, kind: str, party_id: str) -> tuple[str, str] | None: ...


def _departure(event: Event) -> tuple[str, str] | None:
    """(kind, party) of an event that says a party's connection is gone."""
    if isinstance(event, CustomerLeft):
        return "customer", event.ticket_id
    if isinstance(event, AgentDropped | AgentSignedOut):
        return "agent", event.agent_id
    return None


async def connected_elsewhere(presence: PresenceLookup | None, event: Event) -> bool:
    """A departure told by one node while the party already has a connection on another (a
    page that reconnected elsewhere before its old node's word reached the leader, an agent
    whose grace ran out on the node they left): the desk must not hear it."""
    party = _departure(event)
    if party is None or presence is None:
        return False
    try:
        return await presence.holder(*party) is not None
    except Exception as exc:  # Redis away: the desk hears it, as on one node
        logger.warning("presence: %s %s not checked: %s", *party, exc)
        return False


def _order_key(event: Event) -> str:
    """Events about one party keep their order on the way to the leader (the bus runs
    requests naming the same key one after another)."""
    for name in ("ticket_id", "agent_id", "session_id", "staff_id"):
        value = getattr(event, name, None)
        if isinstance(value, str):
            return f"{name}:{value}"
    return type(event).__name__


class FollowerService:
    """The service as a follower's gateway and pages use it (``videoassist.service.Service``'s
    surface: ``desk``, ``now``, ``submit``, ``post``, ``settled``)."""

    def __init__(
        self,
        replica: Replica,
        bus: Bus,
        node: str,
        *,
        timeout: float = SUBMIT_TRY,
        within: float = SUBMIT_WITHIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``timeout``: how long one request for a change waits for the leader's answer;
        ``within``: how long a change may take, asked again after each silence."""
        self.replica = replica
        self.bus = bus
        self.node = node
        self.timeout = timeout
        self.within = within
        self.clock = clock
        self._posts: set[asyncio.Task[None]] = set()

    @property
    def desk(self) -> Desk:
        desk = self.replica.desk
        if desk is None:
            raise Refusal("unavailable", "this server is still starting", 503)
        return desk

    def now(self) -> float:
        return self.clock()

    async def submit(self, event: Event, origin: str | None = None) -> list[Effect]:
        """Ask the leader to handle ``event``; its effects as the desk gave them, or its
        ``DeskError``, once the leader has carried them out and this replica has applied it.

        A leader that dies with the request in hand (taken off the bus, or handled and not
        answered) leaves it unanswered: the follower asks again, under the same ``origin``,
        until ``within`` has passed, long enough for the lease to lapse and another node to
        take the lead. A leader decides an origin once (``Service.decided``: a request asked
        again that its desk, or the one it went on from, decided is answered as it was); an
        entry this replica applied answers the request whichever leader wrote it."""
        origin = f"{self.node}:{uuid.uuid4().hex}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.within
        outcome = self.replica.expect(origin)
        asked = 0
        try:
            while True:
                args: dict[str, Any] = {
                    "call_id": _order_key(event),
                    "event": encode(event),
                    "origin": origin,
                }
                if asked:
                    args["again"] = True
                asked += 1
                left = deadline - loop.time()
                try:
                    # Each copy may be carried out until the change's own deadline (a leader
                    # whose queue lags still takes the first it reaches); this one is waited
                    # for ``timeout`` only, then asked again.
                    reply = await self.bus.request(
                        DESK,
                        "submit",
                        args,
                        within=max(0.1, min(self.timeout, left)),
                        expires=max(0.1, left),
                    )
                    break
                except Refusal as exc:
                    if exc.code != "unavailable":
                        raise
                if outcome.done() and not _applied(outcome):
                    # This replica loaded another desk (the entry may be gone) or stopped.
                    outcome = self.replica.expect(origin)
                if not outcome.done():
                    await asyncio.wait({outcome}, timeout=RETRY_PAUSE)
                elif not _applied(outcome):
                    await asyncio.sleep(RETRY_PAUSE)  # a stopped replica: nothing to wait on
                if _applied(outcome):
                    return outcome.result().result()  # decided by a leader that then died
                if loop.time() >= deadline or stopping() or self._bus_closed():
                    raise Refusal("unavailable", "the desk did not answer in time", 503)
                logger.info("follower: asking the desk again for %s", type(event).__name__)
            if isinstance(reply, dict) and reply.get("unsure"):
                return _as_answered(reply)  # nothing journaled: no entry to wait for
            try:
                # The leader has answered: its entry reaches this replica in milliseconds,
                # unless the replica fell behind (a snapshot load), which this waits out.
                wait = min(REQUEST_TIMEOUT, max(2.0, deadline - loop.time()))
                async with asyncio.timeout(wait):
                    result = await outcome
            except (Refusal, TimeoutError):
                # The leader handled it and its records are written, but this replica lost
                # the entry (a new leader restored its desk meanwhile, or a divergence, or
                # this node leads now): the leader's word stands, and nothing calls for the
                # effects themselves.
                return _as_answered(reply)
        finally:
            self.replica.forget(origin)
        return result.result()

    def _bus_closed(self) -> bool:
        """This node is stopping: its bus asks nothing more."""
        return bool(getattr(self.bus, "closed", False))

    def post(self, event: Event, origin: str | None = None) -> None:
        """Tell the leader without waiting (a page gone: ``CustomerLeft``)."""
        task = asyncio.create_task(self._post(event), name=f"post:{type(event).__name__}")
        self._posts.add(task)
        task.add_done_callback(self._posts.discard)

    async def _post(self, event: Event) -> None:
        try:
            await self.bus.request(
                DESK,
                "post",
                {"call_id": _order_key(event), "event": encode(event)},
                within=REQUEST_TIMEOUT,
            )
        except Exception as exc:
            logger.warning("follower: the leader did not take %s: %s", type(event).__name__, exc)

    async def settled(self) -> None:
        """Nothing is carried out here: the leader's effects are done when it answers."""

    def start(self, announce_every: float = 1.0) -> None:
        """The leader announces positions and runs timers; a follower has nothing to start."""

    async def close(self) -> None:
        for task in list(self._posts):
            task.cancel()
        await asyncio.gather(*self._posts, return_exceptions=True)


def _applied(outcome: asyncio.Future[Outcome]) -> bool:
    """The replica applied the request's entry (its effects, or the desk's refusal)."""
    return outcome.done() and outcome.exception() is None


class AnsweredRefusal(DeskError):
    """The leader's desk refused an event whose journal entry this replica did not get."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def _as_answered(reply: Any) -> list[Effect]:
    if isinstance(reply, dict) and reply.get("refused"):
        raise AnsweredRefusal(
            str(reply.get("code", "bad_request")),
            str(reply.get("message", "refused")),
            int(reply.get("status", 400)),
        )
    return []


class LeaderPlane(AskingPlane):
    """A follower's call plane: every verb asked of the leader, which knows the call's node."""

    def __init__(self, bus: Bus, *, timeout: float = REQUEST_TIMEOUT) -> None:
        self.bus = bus
        self.timeout = timeout

    async def _ask(self, verb: str, call_id: str, **kwargs: Any) -> Any:
        args = {"call_id": call_id, "verb": verb, "args": {"call_id": call_id, **kwargs}}
        return await self.bus.request(DESK, "plane", args, within=self.timeout)

    def status(self, call_id: str) -> dict[str, Any]:
        """The wallboard's media columns are the leader's to draw: the pictures it pushes reach
        every node's supervisors. A follower's own picture (a ``sync``) leaves them blank."""
        return {"recording": "off", "quality": None}


class Serving:
    """The service and the call plane the gateway and the pages use on a node of several that
    all serve: the follower's until this node leads, then the leader's (``lead``)."""

    def __init__(self, service: Any, plane: Any) -> None:
        self.service = service
        self.plane = plane
        self.leading = False
        self.presence: PresenceLookup | None = None  # departures checked, once leading
        self._open = asyncio.Event()
        self._open.set()
        self._held: set[asyncio.Task[None]] = set()

    def hold(self) -> None:
        """This node is taking the lead: changes wait until its desk is restored."""
        self._open.clear()

    def lead(self, service: Any, plane: Any) -> None:
        self.service, self.plane, self.leading = service, plane, True
        self._open.set()

    @property
    def desk(self) -> Desk:
        desk: Desk = self.service.desk
        return desk

    def now(self) -> float:
        return float(self.service.now())

    async def submit(self, event: Event, origin: str | None = None) -> list[Effect]:
        await self._open.wait()
        effects: list[Effect] = await self.service.submit(event, origin)
        return effects

    def post(self, event: Event, origin: str | None = None) -> None:
        if self._open.is_set() and not (self.leading and _departure(event) is not None):
            self.service.post(event, origin)
            return
        task = asyncio.create_task(self._post_later(event, origin), name="post_later")
        self._held.add(task)
        task.add_done_callback(self._held.discard)

    async def _post_later(self, event: Event, origin: str | None) -> None:
        await self._open.wait()
        if self.leading and await connected_elsewhere(self.presence, event):
            return
        self.service.post(event, origin)

    async def settled(self) -> None:
        await self.service.settled()


class ServingPlane(AskingPlane):
    """The call plane of ``Serving``: the leader's plane once this node leads."""

    def __init__(self, serving: Serving) -> None:
        self.serving = serving

    async def _ask(self, verb: str, call_id: str, **kwargs: Any) -> Any:
        return await getattr(self.serving.plane, verb)(call_id, **kwargs)

    def status(self, call_id: str) -> dict[str, Any]:
        status: dict[str, Any] = self.serving.plane.status(call_id)
        return status


class LeaderDoor:
    """The leader's side: followers' requests, on the ``desk`` queue."""

    def __init__(
        self,
        service: Any,
        plane: CallPlane,
        presence: PresenceLookup | None = None,
        *,
        unsure_until: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``unsure_until`` (``clock`` time): a leader whose desk came from the records
        cannot tell whether the last leader decided a request asked again that its desk does
        not know (its records may be written and its journal entry lost); until then such a
        request is refused ``unavailable`` rather than decided a second time."""
        self.service = service
        self.plane = plane
        self.presence = presence
        self.unsure_until = unsure_until
        self._clock = clock

    async def handle(self, verb: str, args: Mapping[str, Any]) -> Any:
        match verb:
            case "submit":
                event = self._event(args)
                origin = args.get("origin")
                if (
                    args.get("again") is True
                    and isinstance(origin, str)
                    and self._clock() < self.unsure_until
                    and not self.service.decided(origin)
                ):
                    return {
                        "refused": True,
                        "unsure": True,
                        "code": "unavailable",
                        "message": "the desk changed leader and cannot tell whether this was "
                        "done: look, then try again",
                        "status": 503,
                    }
                try:
                    await self.service.submit(event, origin if isinstance(origin, str) else None)
                except DeskError as exc:  # the follower's replica refuses it the same way
                    return {
                        "refused": True,
                        "code": exc.code,
                        "message": exc.message,
                        "status": exc.status,
                    }
                return {"refused": False}
            case "post":
                event = self._event(args)
                if not await connected_elsewhere(self.presence, event):
                    self.service.post(event)
                return None
            case "plane":
                verb_of_call = args.get("verb")
                call_args = args.get("args")
                if not isinstance(verb_of_call, str) or verb_of_call not in VERBS:
                    raise Refusal("unknown_verb", f"the call plane has no verb {verb_of_call!r}")
                if not isinstance(call_args, dict):
                    raise Refusal("bad_request", "a call verb needs its arguments")
                return await dispatch(self.plane, verb_of_call, call_args)
        raise Refusal("unknown_verb", f"the desk has no verb {verb!r}")

    @staticmethod
    def _event(args: Mapping[str, Any]) -> Event:
        data = args.get("event")
        if not isinstance(data, dict):
            raise Refusal("bad_request", "submit needs an event")
        try:
            return decode(data)
        except ValueError as exc:
            raise Refusal("bad_request", f"not a desk event: {exc}") from None


class AbsentParties:
    """The leader's sweep: parties the desk holds as connected whose connection is on no node
    (``cluster/presence.py``: their node died, so its keys lapsed and nobody told the desk).
    Absent for ``absent_for`` (seen on every sweep since), each is told to the desk as its node
    would have on a disconnect: a customer left (the grace applies, their place is kept if
    they come back), a busy agent dropped (the call waits for them), any other agent signed
    out."""

    def __init__(
        self,
        service: Any,
        presence: PresenceLookup,
        *,
        every: float = 5.0,
        absent_for: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``absent_for``: how long a party must have been seen absent (at least a presence
        TTL: after a Redis restart every live node claims its parties again within a third
        of one)."""
        self.service = service
        self.presence = presence
        self.every = every
        self.absent_for = absent_for
        self.told = 0
        self._clock = clock
        self._since: dict[tuple[str, str], float] = {}  # party -> first seen absent

    async def run(self, after: float) -> None:
        await asyncio.sleep(after)  # parties of a restored desk have come back by then
        while not stopping():
            try:
                await self.sweep()
            except Exception as exc:
                logger.warning("presence sweep: %s", exc or type(exc).__name__)
            await asyncio.sleep(self.every)

    async def sweep(self) -> None:
        desk: Desk = self.service.desk
        customers = [
            ticket.id
            for ticket in desk.tickets.values()
            if ticket.connected
            and ticket.state in (TicketState.QUEUED, TicketState.OFFERED, TicketState.LIVE)
        ]
        agents = [
            agent_id
            for agent_id, agent in desk.agents.items()
            if agent.state is not AgentState.OFFLINE and not desk.agent_dropped(agent_id)
        ]
        absent = {("customer", c) for c in await self.presence.absent("customer", customers)}
        absent |= {("agent", a) for a in await self.presence.absent("agent", agents)}
        now = self.service.now()
        seen = self._clock()
        self._since = {party: self._since.get(party, seen) for party in absent}
        due = sorted(p for p, first in self._since.items() if seen - first >= self.absent_for)
        for kind, party_id in due:
            del self._since[(kind, party_id)]
            event: Event
            if kind == "customer":
                event = CustomerLeft(party_id, now)
            elif desk.agent_state(party_id) is AgentState.BUSY:
                event = AgentDropped(party_id, now)
            else:
                event = AgentSignedOut(party_id, now)
            logger.info("presence: %s %s is connected nowhere: %s", kind, party_id, event)
            self.service.post(event)
            self.told += 1

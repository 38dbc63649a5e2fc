"""Socket.IO edge: namespaces /customer and /agent, wire schemas, per-event authorization.

Every connection is authenticated in ``connect`` (customers: the signed ticket token from the tap
request; agents: the staff session cookie). Every event payload is parsed by one pydantic model
with size caps, and every event is checked against the session the caller is actually in, as the
desk knows it: a client never names its own role, ticket or agent id. Replies are acks of the form
``{"ok": true, ...}`` or ``{"error": {"code": ..., "message": ...}}``. docs/protocol.md lists them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any, Literal, TypeVar

import socketio
from engineio import packet as eio_packet
from engineio.async_drivers import aiohttp as eio_aiohttp
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from socketio import packet
from socketio.exceptions import ConnectionRefusedError as Unwelcome

from videoassist import annotations
from videoassist.auth import SESSION_COOKIE, StaffAuth, TicketTokens
from videoassist.call_content import CallContent, ContentError
from videoassist.desk import AgentState, DeskError, TicketState
from videoassist.desk.desk import TERMINAL_TICKET_STATES
from videoassist.desk.events import (
    DISPOSITIONS,
    AgentAway,
    AgentReady,
    AgentSignedIn,
    AgentSignedOut,
    CallbackRequested,
    CustomerCancelled,
    CustomerLeft,
    CustomerReturned,
    HungUp,
    OfferAccepted,
    OfferDeclined,
    Party,
    TransferRequested,
    WrapUpDone,
)
from videoassist.guidance import RoomError, vars_of
from videoassist.media.hub import MAX_SDP_BYTES, MediaError, MediaHub
from videoassist.ratelimit import RateLimiter
from videoassist.service import Service, ServiceClosed
from videoassist.settings import Settings
from videoassist.turn import ice_servers

logger = logging.getLogger(__name__)

AGENT_ROLES = ("agent", "supervisor")
Id = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")

# --------------------------------------------------------------------------- wire schemas


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Empty(Payload):
    pass


class SessionRef(Payload):
    session_id: str = Id


class TicketRef(Payload):
    ticket_id: str = Id


class TransferIn(Payload):
    session_id: str = Id
    queue_id: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$"
    )
    agent_id: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$"
    )


class ChatIn(Payload):
    session_id: str = Id
    text: str = Field(min_length=1, max_length=1000)


Target = Field(default="live", max_length=32, pattern=r"^(live|[0-9a-f]{16})$")


class AnnotateIn(Payload):
    session_id: str = Id
    target: str = Target
    annotation: dict[str, Any]


class PenPointsWire(Payload):
    session_id: str = Id
    target: str = Target
    id: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")
    points: list[Any] = Field(min_length=1, max_length=256)


class AnnotationRef(Payload):
    session_id: str = Id
    target: str = Target
    id: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")


class TypingIn(Payload):
    session_id: str = Id
    text: str = Field(default="", max_length=1000)


class SourceIn(Payload):
    session_id: str = Id
    source: Literal["camera", "camera_front", "camera_back", "screen"]


class ItemRef(Payload):
    session_id: str = Id
    target: str = Target


class AwayIn(Payload):
    reason: Literal["away", "break", "meeting", "training", "lunch"] = "away"


class WrapUpIn(Payload):
    session_id: str = Id
    disposition: Literal[DISPOSITIONS]  # type: ignore[valid-type]
    note: str = Field(default="", max_length=2000)


class RtcOfferIn(Payload):
    session_id: str = Id
    type: Literal["offer"]
    sdp: str = Field(min_length=10, max_length=MAX_SDP_BYTES)


class RtcCandidateIn(Payload):
    session_id: str = Id
    candidate: str = Field(default="", max_length=1024)
    sdpMid: str | None = Field(default=None, max_length=32)  # the browser's field names
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=16)


# --------------------------------------------------------------------------- plumbing


class Refusal(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


M = TypeVar("M", bound=Payload)
Handler = Callable[[Any, str, dict[str, Any], M], Awaitable[dict[str, Any] | None]]


def event(model: type[M]) -> Callable[[Handler[M]], Callable[..., Awaitable[dict[str, Any]]]]:
    """Validate the payload with ``model``, run the handler, turn every failure into an ack."""

    def wrap(fn: Handler[M]) -> Callable[..., Awaitable[dict[str, Any]]]:
        @functools.wraps(fn)
        async def handler(self: Any, sid: str, data: Any = None) -> dict[str, Any]:
            if self.limiter.take(sid):
                return _error("rate_limited", "too many events; slow down")
            try:
                payload = model.model_validate({} if data is None else data)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "payload"
                return _error("invalid", f"{where}: {first['msg']}")
            try:
                who = await self.get_session(sid)
                result = await fn(self, sid, who, payload)
            except Refusal as exc:
                return _error(exc.code, exc.message)
            except DeskError as exc:
                return _error(exc.code, exc.message)
            except (MediaError, ContentError) as exc:
                return _error(exc.code, exc.message)
            except ServiceClosed:
                return _error("unavailable", "the service is shutting down")
            except Exception:
                logger.exception("Gateway: %s failed", fn.__name__)
                return _error("internal", "something went wrong on our side")
            return {"ok": True, **(result or {})}

        return handler

    return wrap


def _first_problem(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    return str(exc)


def _cookie(environ: Mapping[str, Any], name: str) -> str | None:
    raw = environ.get("HTTP_COOKIE")
    if not raw:
        return None
    try:
        jar = SimpleCookie(raw)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


class _Base(socketio.AsyncNamespace):
    party: Party

    def __init__(
        self,
        namespace: str,
        service: Service,
        hub: MediaHub,
        limiter: RateLimiter,
        content: CallContent,
    ) -> None:
        super().__init__(namespace)
        self.service = service
        self.hub = hub
        self.limiter = limiter  # per connection (sid)
        self.content = content
        self._sids: dict[str, str] = {}  # party id -> its current connection

    def _live_call(self, party_id: str, session_id: str) -> tuple[str, str]:
        """(session id, media call id) of the caller's live call, checked against the id they
        name: a customer names the call, an agent names their own session."""
        live = self.service.desk.live_call(self.party, party_id)
        named = None if live is None else (live[1] if self.party == "customer" else live[0])
        if live is None or named != session_id:
            raise Refusal("forbidden", "you are not in that session")
        return live

    async def _take_over(self, party_id: str, sid: str) -> None:
        """One connection per ticket or agent: a new one replaces the old quietly."""
        old = self._sids.get(party_id)
        self._sids[party_id] = sid
        if old is not None and old != sid:
            await self.disconnect(old)

    async def kick(self, party_id: str) -> None:
        sid = self._sids.get(party_id)
        if sid is not None:
            await self.disconnect(sid)

    async def disconnect_all(self) -> None:
        for sid in list(self._sids.values()):
            await self.disconnect(sid)

    def _release(self, party_id: str, sid: str) -> bool:
        if self._sids.get(party_id) == sid:
            del self._sids[party_id]
            return True
        return False

    async def _rtc_offer(self, party_id: str, payload: RtcOfferIn) -> dict[str, Any]:
        _, call_id = self._live_call(party_id, payload.session_id)
        answer = await self.hub.answer(call_id, self.party, payload.sdp)
        return {"type": answer.type, "sdp": answer.sdp}

    async def _rtc_candidate(self, party_id: str, payload: RtcCandidateIn) -> None:
        _, call_id = self._live_call(party_id, payload.session_id)
        await self.hub.add_candidate(
            call_id,
            self.party,
            {
                "candidate": payload.candidate,
                "sdpMid": payload.sdpMid,
                "sdpMLineIndex": payload.sdpMLineIndex,
            },
        )

    # ------------------------------------------------------------ in-call content

    async def _to_both(self, call_id: str, event: str, data: dict[str, Any]) -> None:
        session = self.hub.sessions.get(call_id)
        if session is None:
            return
        await self.server.emit(
            event, data, room=f"ticket:{session.ticket_id}", namespace="/customer"
        )
        await self.server.emit(event, data, room=f"agent:{session.agent_id}", namespace="/agent")

    async def _chat(self, party_id: str, name: str, p: ChatIn) -> dict[str, Any]:
        _, call_id = self._live_call(party_id, p.session_id)
        try:
            line = self.hub.room(call_id).say(self.party, name, p.text)
        except RoomError as exc:
            raise Refusal(exc.code, exc.message) from None
        data = vars_of(line)
        await self.content.log(call_id, "chat", f"{self.party}:{party_id}", data)
        await self._to_both(call_id, "chat", data)
        return {"id": line.id}

    async def _typing(self, party_id: str, p: TypingIn) -> None:
        """Real-time text: the draft as it is typed goes to the other side, unlogged."""
        _, call_id = self._live_call(party_id, p.session_id)
        session = self.hub.session(call_id)
        if self.party == "customer":
            room, namespace = f"agent:{session.agent_id}", "/agent"
        else:
            room, namespace = f"ticket:{session.ticket_id}", "/customer"
        await self.server.emit("typing", {"text": p.text}, room=room, namespace=namespace)

    def _room_state(self, call_id: str) -> dict[str, Any]:
        room = self.hub.room(call_id)
        state = room.snapshot()
        state["items"] = {
            item_id: {"kind": kind, "url": self.content.url(call_id, item_id)}
            for item_id, kind in room.items.items()
        }
        return state


# --------------------------------------------------------------------------- customers


class CustomerNamespace(_Base):
    party = "customer"

    def __init__(
        self,
        service: Service,
        hub: MediaHub,
        tokens: TicketTokens,
        limiter: RateLimiter,
        content: CallContent,
    ) -> None:
        super().__init__("/customer", service, hub, limiter, content)
        self.ice_servers_for: Callable[[str], list[dict[str, Any]]] = lambda subject: []
        self.tokens = tokens

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        ticket_id = self.tokens.verify(token)
        if ticket_id is None:
            raise Unwelcome("invalid or expired ticket token")
        state = self.service.desk.ticket_state(ticket_id)
        if state not in (TicketState.QUEUED, TicketState.OFFERED, TicketState.LIVE):
            raise Unwelcome("this ticket is closed")
        await self.save_session(sid, {"ticket_id": ticket_id})
        await self.enter_room(sid, f"ticket:{ticket_id}")
        await self._take_over(ticket_id, sid)
        ticket = self.service.desk.tickets.get(ticket_id)
        if ticket is not None and not ticket.connected:
            try:
                await self.service.submit(CustomerReturned(ticket_id, self.service.now()))
            except (DeskError, ServiceClosed) as exc:
                self._release(ticket_id, sid)
                raise Unwelcome(str(exc)) from None

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.limiter.forget(sid)
        who = await self.get_session(sid)
        ticket_id = who.get("ticket_id")
        if not ticket_id or not self._release(ticket_id, sid):
            return
        if self.service.desk.draining:
            return  # the server is going away, not the customer: their ticket stays queued
        state = self.service.desk.ticket_state(ticket_id)
        if state in (TicketState.QUEUED, TicketState.OFFERED, TicketState.LIVE):
            self.service.post(CustomerLeft(ticket_id, self.service.now()))

    @event(Empty)
    async def on_sync(self, sid: str, who: dict[str, Any], _: Empty) -> dict[str, Any]:
        desk = self.service.desk
        ticket_id = who["ticket_id"]
        state = desk.ticket_state(ticket_id)
        if state is None or state in TERMINAL_TICKET_STATES:
            return {"state": state.value if state else "closed"}
        ticket = desk.tickets[ticket_id]
        position, estimate = desk.standing(ticket_id)
        return {
            "state": state.value,
            "session_id": ticket.call_id if state is TicketState.LIVE else None,
            # Fresh TURN credentials: the ones from the tap may have expired while waiting.
            "ice_servers": self.ice_servers_for(f"t:{ticket_id}"),
            "position": position,
            "estimated_wait": estimate,
            "agents_available": desk.staffed(ticket.queue_id),
            "queue_id": ticket.queue_id,
            "callback": ticket.callback,
        }

    @event(Empty)
    async def on_callback(self, sid: str, who: dict[str, Any], _: Empty) -> None:
        await self.service.submit(CallbackRequested(who["ticket_id"], self.service.now()))

    @event(Empty)
    async def on_cancel(self, sid: str, who: dict[str, Any], _: Empty) -> None:
        await self.service.submit(CustomerCancelled(who["ticket_id"], self.service.now()))

    @event(SessionRef)
    async def on_hangup(self, sid: str, who: dict[str, Any], payload: SessionRef) -> None:
        ticket_id = who["ticket_id"]
        session_id, _ = self._live_call(ticket_id, payload.session_id)
        await self.service.submit(HungUp(session_id, "customer", ticket_id, self.service.now()))

    @event(RtcOfferIn)
    async def on_rtc_offer(self, sid: str, who: dict[str, Any], p: RtcOfferIn) -> dict[str, Any]:
        return await self._rtc_offer(who["ticket_id"], p)

    @event(RtcCandidateIn)
    async def on_rtc_candidate(self, sid: str, who: dict[str, Any], p: RtcCandidateIn) -> None:
        await self._rtc_candidate(who["ticket_id"], p)

    @event(ChatIn)
    async def on_chat(self, sid: str, who: dict[str, Any], p: ChatIn) -> dict[str, Any]:
        return await self._chat(who["ticket_id"], "Customer", p)

    @event(TypingIn)
    async def on_typing(self, sid: str, who: dict[str, Any], p: TypingIn) -> None:
        await self._typing(who["ticket_id"], p)

    @event(SourceIn)
    async def on_source_changed(self, sid: str, who: dict[str, Any], p: SourceIn) -> None:
        _, call_id = self._live_call(who["ticket_id"], p.session_id)
        await self.content.log(
            call_id, "source", f"customer:{who['ticket_id']}", {"source": p.source}
        )
        session = self.hub.session(call_id)
        await self.server.emit(
            "source_changed",
            {"source": p.source},
            room=f"agent:{session.agent_id}",
            namespace="/agent",
        )

    @event(SessionRef)
    async def on_room(self, sid: str, who: dict[str, Any], p: SessionRef) -> dict[str, Any]:
        _, call_id = self._live_call(who["ticket_id"], p.session_id)
        return self._room_state(call_id)


# --------------------------------------------------------------------------- agents


class AgentNamespace(_Base):
    party = "agent"

    def __init__(
        self,
        service: Service,
        hub: MediaHub,
        staff: StaffAuth,
        limiter: RateLimiter,
        content: CallContent,
    ) -> None:
        super().__init__("/agent", service, hub, limiter, content)
        self.staff = staff

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        member = await self.staff.staff_for(_cookie(environ, SESSION_COOKIE))
        if member is None:
            raise Unwelcome("please log in")
        if member.role not in AGENT_ROLES:
            raise Unwelcome("this console is for agents")
        agent_id = member.agent_id
        await self.save_session(sid, {"agent_id": agent_id, "name": member.display_name})
        await self.enter_room(sid, f"agent:{agent_id}")
        await self._take_over(agent_id, sid)
        if self.service.desk.agent_state(agent_id) is AgentState.OFFLINE:
            try:
                await self.service.submit(
                    AgentSignedIn(agent_id, member.display_name, self.service.now())
                )
            except (DeskError, ServiceClosed) as exc:
                self._release(agent_id, sid)
                raise Unwelcome(str(exc)) from None

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.limiter.forget(sid)
        who = await self.get_session(sid)
        agent_id = who.get("agent_id")
        if (
            agent_id
            and self._release(agent_id, sid)
            and self.service.desk.agent_state(agent_id) is not AgentState.OFFLINE
        ):
            self.service.post(AgentSignedOut(agent_id, self.service.now()))

    @event(Empty)
    async def on_sync(self, sid: str, who: dict[str, Any], _: Empty) -> dict[str, Any]:
        view = self.service.desk.agent_view(who["agent_id"], self.service.now())
        if view is None:
            raise Refusal("forbidden", "you are not signed in")
        return view

    @event(Empty)
    async def on_ready(self, sid: str, who: dict[str, Any], _: Empty) -> None:
        await self.service.submit(AgentReady(who["agent_id"], self.service.now()))

    @event(AwayIn)
    async def on_away(self, sid: str, who: dict[str, Any], p: AwayIn) -> None:
        await self.service.submit(AgentAway(who["agent_id"], self.service.now(), p.reason))

    @event(TicketRef)
    async def on_accept(self, sid: str, who: dict[str, Any], p: TicketRef) -> dict[str, Any]:
        await self.service.submit(OfferAccepted(who["agent_id"], p.ticket_id, self.service.now()))
        return {"session_id": self.service.desk.agents[who["agent_id"]].session_id}

    @event(TicketRef)
    async def on_decline(self, sid: str, who: dict[str, Any], p: TicketRef) -> None:
        await self.service.submit(OfferDeclined(who["agent_id"], p.ticket_id, self.service.now()))

    @event(SessionRef)
    async def on_hangup(self, sid: str, who: dict[str, Any], p: SessionRef) -> None:
        session_id, _ = self._live_call(who["agent_id"], p.session_id)
        await self.service.submit(HungUp(session_id, "agent", who["agent_id"], self.service.now()))

    @event(TransferIn)
    async def on_transfer(self, sid: str, who: dict[str, Any], p: TransferIn) -> None:
        session_id, _ = self._live_call(who["agent_id"], p.session_id)
        await self.service.submit(
            TransferRequested(
                session_id,
                who["agent_id"],
                self.service.now(),
                queue_id=p.queue_id,
                to_agent_id=p.agent_id,
            )
        )

    @event(Empty)
    async def on_directory(self, sid: str, who: dict[str, Any], _: Empty) -> dict[str, Any]:
        return self.service.desk.directory(who["agent_id"])

    @event(WrapUpIn)
    async def on_wrap_up(self, sid: str, who: dict[str, Any], p: WrapUpIn) -> None:
        await self.service.submit(
            WrapUpDone(who["agent_id"], p.session_id, p.disposition, p.note, self.service.now())
        )

    @event(RtcOfferIn)
    async def on_rtc_offer(self, sid: str, who: dict[str, Any], p: RtcOfferIn) -> dict[str, Any]:
        return await self._rtc_offer(who["agent_id"], p)

    @event(RtcCandidateIn)
    async def on_rtc_candidate(self, sid: str, who: dict[str, Any], p: RtcCandidateIn) -> None:
        await self._rtc_candidate(who["agent_id"], p)

    @event(ChatIn)
    async def on_chat(self, sid: str, who: dict[str, Any], p: ChatIn) -> dict[str, Any]:
        return await self._chat(who["agent_id"], who["name"], p)

    @event(SessionRef)
    async def on_room(self, sid: str, who: dict[str, Any], p: SessionRef) -> dict[str, Any]:
        _, call_id = self._live_call(who["agent_id"], p.session_id)
        return self._room_state(call_id)

    @event(TypingIn)
    async def on_typing(self, sid: str, who: dict[str, Any], p: TypingIn) -> None:
        await self._typing(who["agent_id"], p)

    @event(AnnotateIn)
    async def on_annotate(self, sid: str, who: dict[str, Any], p: AnnotateIn) -> dict[str, Any]:
        """A mark drawn by the agent: stamped with author and media time, kept with the call and
        shown to everyone in it. A laser pointer is relayed and forgotten."""
        _, call_id = self._live_call(who["agent_id"], p.session_id)
        try:
            shape = annotations.parse_client(p.annotation)
        except ValueError as exc:
            raise Refusal("invalid", f"annotation: {_first_problem(exc)}") from None
        room = self.hub.room(call_id)
        wire = annotations.to_wire(
            annotations.stamp(shape, author=who["name"], created_at=room.clock())
        )
        if shape.kind in annotations.EPHEMERAL_KINDS:
            await self._to_both(call_id, "laser", {"target": p.target, "annotation": wire})
            return {"id": wire["id"]}
        try:
            room.add_annotation(p.target, wire)
        except RoomError as exc:
            raise Refusal(exc.code, exc.message) from None
        if wire.get("sticky") and p.target == "live":
            self.hub.sticky(call_id).add(wire)
        await self.content.log(
            call_id, "annotate", f"agent:{who['agent_id']}", {"target": p.target, **wire}
        )
        await self._to_both(call_id, "annotation", {"target": p.target, "annotation": wire})
        return {"id": wire["id"]}

    @event(PenPointsWire)
    async def on_annotate_points(self, sid: str, who: dict[str, Any], p: PenPointsWire) -> None:
        _, call_id = self._live_call(who["agent_id"], p.session_id)
        room = self.hub.room(call_id)
        current = room.annotations.get(p.target, {}).get(p.id)
        if current is None or current.get("kind") != "pen":
            raise Refusal("not_found", "no pen stroke with that id")
        try:
            more = annotations.parse_pen_points({"id": p.id, "points": p.points})
            pen = annotations.ANNOTATION_ADAPTER.validate_python(current)
            wire = annotations.to_wire(annotations.extend_pen(pen, more))
        except ValueError as exc:
            raise Refusal("invalid", f"points: {_first_problem(exc)}") from None
        room.annotations[p.target][p.id] = wire
        if wire.get("sticky") and p.target == "live":
            self.hub.sticky(call_id).replace(wire)
        await self.content.log(
            call_id,
            "annotate_points",
            f"agent:{who['agent_id']}",
            {"target": p.target, "id": p.id, "points": wire["points"][len(current["points"]) :]},
        )
        await self._to_both(
            call_id,
            "annotation_points",
            {"target": p.target, "id": p.id, "points": wire["points"][len(current["points"]) :]},
        )

    @event(AnnotationRef)
    async def on_annotation_remove(self, sid: str, who: dict[str, Any], p: AnnotationRef) -> None:
        _, call_id = self._live_call(who["agent_id"], p.session_id)
        try:
            self.hub.room(call_id).remove_annotation(p.target, p.id)
        except RoomError as exc:
            raise Refusal(exc.code, exc.message) from None
        self.hub.sticky(call_id).remove(p.id)
        await self.content.log(
            call_id,
            "annotation_remove",
            f"agent:{who['agent_id']}",
            {"target": p.target, "id": p.id},
        )
        await self._to_both(call_id, "annotation_removed", {"target": p.target, "id": p.id})

    @event(ItemRef)
    async def on_annotations_clear(
        self, sid: str, who: dict[str, Any], p: ItemRef
    ) -> dict[str, Any]:
        _, call_id = self._live_call(who["agent_id"], p.session_id)
        removed = self.hub.room(call_id).clear(p.target)
        if p.target == "live":
            self.hub.sticky(call_id).clear()
        await self.content.log(
            call_id, "annotations_clear", f"agent:{who['agent_id']}", {"target": p.target}
        )
        await self._to_both(call_id, "annotations_cleared", {"target": p.target})
        return {"removed": removed}

    @event(SessionRef)
    async def on_freeze(self, sid: str, who: dict[str, Any], p: SessionRef) -> dict[str, Any]:
        _, call_id = self._live_call(who["agent_id"], p.session_id)
        item = await self.content.freeze(call_id, f"agent:{who['agent_id']}")
        await self._to_both(call_id, "frozen", {"still_id": item["id"], "url": item["url"]})
        return item

    @event(SessionRef)
    async def on_unfreeze(self, sid: str, who: dict[str, Any], p: SessionRef) -> None:
        _, call_id = self._live_call(who["agent_id"], p.session_id)
        room = self.hub.room(call_id)
        if room.frozen is None:
            raise Refusal("not_frozen", "the video is not frozen")
        room.frozen = None
        await self.content.log(call_id, "unfreeze", f"agent:{who['agent_id']}", {})
        await self._to_both(call_id, "unfrozen", {})

    @event(SourceIn)
    async def on_request_source(self, sid: str, who: dict[str, Any], p: SourceIn) -> None:
        """Ask the customer to switch camera or share their screen (they accept or not)."""
        _, call_id = self._live_call(who["agent_id"], p.session_id)
        session = self.hub.session(call_id)
        await self.server.emit(
            "source_requested",
            {"source": p.source},
            room=f"ticket:{session.ticket_id}",
            namespace="/customer",
        )


# --------------------------------------------------------------------------- delivery


class SocketNotifier:
    """The notify port: desk Notify effects become emits to the party's room. A call that is
    starting carries fresh ICE servers (TURN credentials are short-lived; the ones handed out
    at tap or login time may have expired while the customer waited)."""

    def __init__(self, sio: socketio.AsyncServer, settings: Settings) -> None:
        self._sio = sio
        self._settings = settings

    async def notify(
        self, to: Party, target_id: str, event: str, data: Mapping[str, object]
    ) -> None:
        payload = dict(data)
        if to == "customer":
            if event == "matched":
                payload["ice_servers"] = ice_servers(self._settings, f"t:{target_id}")
            await self._sio.emit(event, payload, room=f"ticket:{target_id}", namespace="/customer")
        else:
            if event == "session_started":
                payload["ice_servers"] = ice_servers(self._settings, f"a:{target_id}")
            await self._sio.emit(event, payload, room=f"agent:{target_id}", namespace="/agent")


class _StrictPacket(packet.Packet):
    """socket.io's packet, refusing at decoding what the JavaScript server's decoder refuses
    ("invalid payload"): an event whose payload is not a non-empty array, an ack whose payload
    is not an array. python-socketio would index into such a payload and fail with a logged
    traceback; a ValueError here makes GuardedServer close the connection instead."""

    def decode(self, encoded_packet: Any) -> int:
        try:
            attachments: int = super().decode(encoded_packet)
        except (TypeError, LookupError) as exc:  # e.g. a binary frame that is not an attachment
            raise ValueError(f"undecodable packet ({exc})") from None
        data = self.data
        if self.packet_type in (packet.EVENT, packet.BINARY_EVENT):
            valid = isinstance(data, list) and len(data) > 0
        elif self.packet_type in (packet.ACK, packet.BINARY_ACK):
            valid = isinstance(data, list)
        else:
            valid = True
        if not valid:
            raise ValueError("invalid payload")
        return attachments


class _CheckedWebSocket(eio_aiohttp.WebSocket):
    """engine.io decodes each websocket frame outside its own error handling: a frame that is
    not an engine.io packet (empty, no packet type, bad base64) fails the whole request with a
    traceback logged at ERROR and leaves that socket's writer task waiting until the ping
    timeout; an unknown packet type ("7") logs a traceback for every frame. Here such a frame
    ends the connection like a closed socket, which engine.io handles. (Installed by
    GuardedServer; python-engineio is pinned by python-socketio 5.18, and
    tests/integration/test_fuzz.py::TestRawFrames covers it.)"""

    async def wait(self) -> Any:
        data = await super().wait()
        try:
            kind = eio_packet.Packet(encoded_packet=data).packet_type
        except ValueError as exc:
            kind, problem = None, str(exc)
        else:
            problem = f"unknown packet type {kind}"
        if kind is None or not 0 <= kind < len(eio_packet.packet_names):
            logger.info("Gateway: closing a websocket that sent a malformed frame (%s)", problem)
            raise OSError("not an engine.io packet")
        return data


class GuardedServer(socketio.AsyncServer):
    """python-socketio would route a client-sent event named "connect" or "disconnect" to the
    connection handlers, pass extra arguments through, and ack unknown events with nothing.
    Here every event is one payload for a handler that exists, or an error ack. (This hooks a
    private method; python-socketio is pinned to 5.18 and tests/integration cover it.)"""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.eio._async = {**self.eio._async, "websocket": _CheckedWebSocket}

    async def _handle_event_internal(
        self,
        server: socketio.AsyncServer,
        sid: str,
        eio_sid: str,
        data: list[Any],
        namespace: str,
        id: int | None,
    ) -> None:
        name = data[0] if data else None
        handlers = self.namespace_handlers.get(namespace)
        problem = None
        known = (
            isinstance(name, str)
            and name not in self.reserved_events
            and callable(getattr(handlers, f"on_{name}", None))
        )
        if not known:
            problem = _error("unknown_event", f"no such event: {name!r}")
        elif len(data) > 2:
            problem = _error("invalid", "send one payload object per event")
        if problem is None:
            await super()._handle_event_internal(server, sid, eio_sid, data, namespace, id)
        elif id is not None:
            ack = self.packet_class(packet.ACK, namespace=namespace, id=id, data=[problem])
            await self._send_packet(eio_sid, ack)

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        """A packet socket.io cannot accept (bad JSON, an integer of over 100 digits, an unknown
        packet type, a stray or mismatched binary attachment) closes that connection, as the
        JavaScript server does. python-socketio raises ValueError for these (and the binary
        reconstruction LookupError/TypeError); uncaught, engine.io logs a traceback at ERROR
        for every such packet and the event is never answered. (tests/integration/test_fuzz.py)"""
        if eio_sid not in self.environ:
            return  # a message still in flight from a connection that has been closed
        attachment = eio_sid in self._binary_packet
        if not data and not attachment:  # skips decoding: an "event" with no payload at all
            await self._refuse_packet(eio_sid, ValueError("empty packet"))
            return
        try:
            await super()._handle_eio_message(eio_sid, data)
        except ValueError as exc:
            await self._refuse_packet(eio_sid, exc)
        except (LookupError, TypeError) as exc:
            if not attachment:
                raise
            await self._refuse_packet(eio_sid, exc)

    async def _refuse_packet(self, eio_sid: str, exc: Exception) -> None:
        logger.info("Gateway: closing connection %s: malformed packet (%s)", eio_sid, exc)
        self._binary_packet.pop(eio_sid, None)
        await self.eio.disconnect(eio_sid)


def create_socket_server(
    *, allowed_origins: tuple[str, ...], max_message: int
) -> socketio.AsyncServer:
    return GuardedServer(
        async_mode="aiohttp",
        transports=["websocket"],
        serializer=_StrictPacket,
        # None = same origin only; an explicit list for embedding sites.
        cors_allowed_origins=list(allowed_origins) or None,
        max_http_buffer_size=max_message,
        # Engine.IO's ping/pong is the consoles' heartbeat: a console that stops answering is
        # disconnected (and its agent signed out) within ping_interval + ping_timeout = 10 s.
        ping_interval=5,
        ping_timeout=5,
    )

"""The socket.io namespaces: ``/customer`` and ``/agent``.

Every connection is authenticated in ``connect`` (customers: the signed ticket token from the
tap request; agents: the staff session cookie); a refusal carries a machine-readable ``code`` in
its data, and the pages branch on it. Every event is checked against the session the caller is
actually in, as the desk knows it: a client never names its own role, ticket or agent id.
Handlers are thin: the ack wrapper validates, the handler authorizes and calls the desk (through
the service) or the call plane (a live call's media, room and recording, wherever its media is:
videoassist/call_plane.py), and returns what the ack carries.
docs/protocol.md lists the events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any, Protocol

import socketio
from socketio.exceptions import ConnectionRefusedError as Unwelcome

from videoassist.auth import AGENT_ROLES, SESSION_COOKIE, StaffAuth, TicketTokens
from videoassist.call_plane import CallPlane
from videoassist.delivery import AGENTS, CUSTOMERS, Delivery, agent_room, customer_room
from videoassist.desk import AgentState, DeskError, ServerEvent, TicketState
from videoassist.desk.events import (
    AgentAway,
    AgentDropped,
    AgentReady,
    AgentReturned,
    AgentSignedIn,
    AgentSignedOut,
    CallbackRequested,
    CustomerCancelled,
    CustomerLeft,
    CustomerReturned,
    Event,
    HungUp,
    OfferAccepted,
    OfferDeclined,
    Party,
    TransferRequested,
    WrapUpDone,
)
from videoassist.errors import Refusal
from videoassist.gateway.acks import event
from videoassist.gateway.schemas import (
    AnnotateIn,
    AnnotationRef,
    AwayIn,
    ChatIn,
    Empty,
    ItemRef,
    MediaStateIn,
    PenPointsWire,
    RecordingConsentIn,
    RtcCandidateIn,
    RtcOfferIn,
    SessionRef,
    SourceIn,
    TicketRef,
    TransferIn,
    TutorialProgressIn,
    TutorialPushIn,
    TypingIn,
    WrapUpIn,
)
from videoassist.ratelimit import RateLimiter
from videoassist.service import Service, ServiceClosed

logger = logging.getLogger(__name__)

Who = dict[str, Any]


class TutorialControl(Protocol):
    """Tutorials as the gateway uses them (videoassist.tutorials.Tutorials)."""

    async def push(
        self,
        call_id: str,
        ticket_id: str,
        agent_id: str,
        tutorial_id: str,
        chapter: int | None,
        at: float | None,
    ) -> dict[str, Any]: ...
    async def for_topic(self, ticket_id: str, topic: str) -> dict[str, Any]: ...
    async def progress(
        self,
        ticket_id: str,
        call_id: str | None,
        tutorial_id: str,
        push_id: str | None,
        state: str,
        position: float,
    ) -> None: ...


class PresencePort(Protocol):
    """Which node holds each party's connection, with every node serving
    (videoassist.cluster.presence.Presence)."""

    async def connected(self, kind: str, party_id: str, sid: str) -> tuple[str, str] | None: ...
    async def disconnected(self, kind: str, party_id: str, sid: str) -> bool: ...
    async def holder(self, kind: str, party_id: str) -> tuple[str, str] | None: ...


def refuse(code: str, message: str) -> Unwelcome:
    """A refused connection: the client's ``connect_error`` has ``message`` and ``data.code``."""
    return Unwelcome(message, {"code": code})


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
    caller: str  # the connection's session key that names the caller: "ticket_id" or "agent_id"

    def __init__(
        self,
        namespace: str,
        service: Service,
        plane: CallPlane,
        delivery: Delivery,
        limiter: RateLimiter,
        tutorials: TutorialControl | None = None,
    ) -> None:
        super().__init__(namespace)
        self.tutorials = tutorials
        self.service = service
        self.plane = plane  # the live calls: media, rooms, recording (videoassist/call_plane.py)
        self.delivery = delivery
        self.limiter = limiter  # per connection (sid)
        self._sids: dict[str, str] = {}  # party id -> its current connection
        # With every node serving: a party's connection on any node (one per party, cluster-
        # wide); None on one node.
        self.presence: PresencePort | None = None

    def _live_call(self, party_id: str, session_id: str) -> tuple[str, str]:
        """(session id, media call id) of the caller's live call, checked against the id they
        name: a customer names the call, an agent names their own session."""
        live = self.service.desk.live_call(self.party, party_id)
        named = None if live is None else (live[1] if self.party == "customer" else live[0])
        if live is None or named != session_id:
            raise Refusal("forbidden", "you are not in that session")
        return live

    def _call_of(self, party_id: str, session_id: str) -> str:
        return self._live_call(party_id, session_id)[1]

    async def _take_over(self, party_id: str, sid: str) -> None:
        """One connection per ticket or agent: a new one replaces the old, which is told why
        before it is disconnected (so that its page does not take the place back)."""
        old = self._sids.get(party_id)
        self._sids[party_id] = sid
        if self.presence is not None:
            try:
                elsewhere = await self.presence.connected(self.party, party_id, sid)
            except Exception as exc:  # Redis away: this node's own rule still holds
                logger.warning("presence: %s %s not claimed: %s", self.party, party_id, exc)
                elsewhere = None
            if elsewhere is not None and elsewhere[1] not in ("", old):
                # Its connection on another node: told and disconnected there (socket.io's
                # Redis manager carries both); that node does not tell the desk it left.
                await self.delivery.to_connection(
                    self.party, elsewhere[1], ServerEvent.REPLACED, {}
                )
                await self.disconnect(elsewhere[1])
        if old is not None and old != sid:
            await self.delivery.to_connection(self.party, old, ServerEvent.REPLACED, {})
            await self.disconnect(old)

    async def _gone_from_here(self, party_id: str, sid: str) -> bool:
        """A connection closed: whether the party has no newer one (on another node). Only
        then is the desk told they left."""
        if self.presence is None:
            return True
        try:
            mine = await self.presence.disconnected(self.party, party_id, sid)
        except Exception as exc:
            logger.warning("presence: %s %s not released: %s", self.party, party_id, exc)
            return True
        if mine:
            return True
        holder = await self._holder(party_id)
        return holder is None  # lapsed meanwhile: nobody else holds it

    async def _holder(self, party_id: str) -> tuple[str, str] | None:
        if self.presence is None:
            return None
        try:
            return await self.presence.holder(self.party, party_id)
        except Exception:
            return None

    async def kick(self, party_id: str) -> None:
        """Close the party's connection on this node (every node is asked: app ``KICK``)."""
        sid = self._sids.get(party_id)
        if sid is not None:
            await self.disconnect(sid)

    async def disconnect_all(self, *, quietly: bool = False) -> None:
        """Disconnect every connection here. ``quietly``: the desk is not told they left (a
        new leader restored its desk from the records and awaits everyone's return)."""
        held = list(self._sids.items())
        if quietly:
            self._sids.clear()
        for party_id, sid in held:
            if quietly:
                await self._gone_from_here(party_id, sid)  # they claim it again on return
            await self.disconnect(sid)

    async def _admit(self, party_id: str, sid: str, event: Event) -> None:
        """Tell the desk that a connection has come back (or signed in); if the desk refuses,
        the connection is refused with the desk's code and this party's slot is given up."""
        try:
            await self.service.submit(event)
        except DeskError as exc:
            self._release(party_id, sid)
            raise refuse(exc.code, exc.message) from None
        except ServiceClosed as exc:
            self._release(party_id, sid)
            raise refuse("unavailable", str(exc)) from None

    def _release(self, party_id: str, sid: str) -> bool:
        if self._sids.get(party_id) == sid:
            del self._sids[party_id]
            return True
        return False

    async def _rtc_offer(self, party_id: str, p: RtcOfferIn) -> dict[str, Any]:
        return await self.plane.answer(self._call_of(party_id, p.session_id), self.party, p.sdp)

    async def _rtc_candidate(self, party_id: str, p: RtcCandidateIn) -> None:
        await self.plane.add_candidate(
            self._call_of(party_id, p.session_id),
            self.party,
            {"candidate": p.candidate, "sdpMid": p.sdpMid, "sdpMLineIndex": p.sdpMLineIndex},
        )

    async def _chat(self, party_id: str, name: str, p: ChatIn) -> dict[str, Any]:
        call_id = self._call_of(party_id, p.session_id)
        return {"id": await self.plane.say(call_id, self.party, party_id, name, p.text)}

    async def _typing(self, party_id: str, p: TypingIn) -> None:
        await self.plane.typing(self._call_of(party_id, p.session_id), self.party, party_id, p.text)

    # Events both parties send alike, each about the caller's own live call.

    @event(RtcOfferIn)
    async def on_rtc_offer(self, sid: str, who: Who, p: RtcOfferIn) -> dict[str, Any]:
        return await self._rtc_offer(who[self.caller], p)

    @event(RtcCandidateIn)
    async def on_rtc_candidate(self, sid: str, who: Who, p: RtcCandidateIn) -> None:
        await self._rtc_candidate(who[self.caller], p)

    @event(TypingIn)
    async def on_typing(self, sid: str, who: Who, p: TypingIn) -> None:
        await self._typing(who[self.caller], p)

    @event(SessionRef)
    async def on_room(self, sid: str, who: Who, p: SessionRef) -> dict[str, Any]:
        return await self.plane.room(self._call_of(who[self.caller], p.session_id))

    def _tutorials(self) -> TutorialControl:
        if self.tutorials is None:
            raise Refusal("not_supported", "this server has no tutorials")
        return self.tutorials


# --------------------------------------------------------------------------- customers


class CustomerNamespace(_Base):
    party = "customer"
    caller = "ticket_id"

    def __init__(
        self,
        service: Service,
        plane: CallPlane,
        delivery: Delivery,
        tokens: TicketTokens,
        limiter: RateLimiter,
        ice_servers_for: Callable[[str], list[dict[str, Any]]],
        tutorials: TutorialControl | None = None,
    ) -> None:
        super().__init__(CUSTOMERS, service, plane, delivery, limiter, tutorials)
        self.ice_servers_for = ice_servers_for
        self.tokens = tokens

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        ticket_id = self.tokens.verify(token)
        if ticket_id is None:
            raise refuse("invalid_token", "invalid or expired ticket token")
        state = self.service.desk.ticket_state(ticket_id)
        if state not in (
            TicketState.JOINING,
            TicketState.QUEUED,
            TicketState.OFFERED,
            TicketState.LIVE,
        ):
            raise refuse("ticket_closed", "this ticket is closed")
        await self.save_session(sid, {"ticket_id": ticket_id})
        await self.enter_room(sid, customer_room(ticket_id))
        await self._take_over(ticket_id, sid)
        if self.service.desk.customer_away(ticket_id):
            await self._admit(ticket_id, sid, CustomerReturned(ticket_id, self.service.now()))

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.limiter.forget(sid)
        who = await self.get_session(sid)
        ticket_id = who.get("ticket_id")
        if not ticket_id or not self._release(ticket_id, sid):
            return
        if not await self._gone_from_here(ticket_id, sid):
            return  # their page is connected on another node now
        state = self.service.desk.ticket_state(ticket_id)
        if state in (TicketState.QUEUED, TicketState.OFFERED, TicketState.LIVE):
            self.service.post(CustomerLeft(ticket_id, self.service.now()))

    @event(Empty)
    async def on_sync(self, sid: str, who: Who, _: Empty) -> dict[str, Any]:
        ticket_id = who["ticket_id"]
        view = self.service.desk.customer_view(ticket_id, self.service.now())
        if "position" in view:  # an open ticket
            # Fresh TURN credentials: the ones from the tap may have expired while waiting.
            view["ice_servers"] = self.ice_servers_for(f"t:{ticket_id}")
        return view

    @event(Empty)
    async def on_callback(self, sid: str, who: Who, _: Empty) -> None:
        await self.service.submit(CallbackRequested(who["ticket_id"], self.service.now()))

    @event(Empty)
    async def on_cancel(self, sid: str, who: Who, _: Empty) -> None:
        # Self-served, if they watched a tutorial while waiting: counted when the ticket's row
        # is written (Tutorials.ticket_saved), as for a customer whose page closed for good.
        await self.service.submit(CustomerCancelled(who["ticket_id"], self.service.now()))

    @event(SessionRef)
    async def on_hangup(self, sid: str, who: Who, p: SessionRef) -> None:
        ticket_id = who["ticket_id"]
        session_id, _ = self._live_call(ticket_id, p.session_id)
        await self.service.submit(HungUp(session_id, "customer", ticket_id, self.service.now()))

    @event(ChatIn)
    async def on_chat(self, sid: str, who: Who, p: ChatIn) -> dict[str, Any]:
        return await self._chat(who["ticket_id"], "Customer", p)

    @event(SourceIn)
    async def on_source_changed(self, sid: str, who: Who, p: SourceIn) -> None:
        ticket_id = who["ticket_id"]
        await self.plane.source_changed(self._call_of(ticket_id, p.session_id), ticket_id, p.source)

    @event(SourceIn)
    async def on_source_declined(self, sid: str, who: Who, p: SourceIn) -> None:
        ticket_id = who["ticket_id"]
        call_id = self._call_of(ticket_id, p.session_id)
        await self.plane.source_declined(call_id, ticket_id, p.source)

    @event(MediaStateIn)
    async def on_media_state(self, sid: str, who: Who, p: MediaStateIn) -> None:
        ticket_id = who["ticket_id"]
        call_id = self._call_of(ticket_id, p.session_id)
        await self.plane.media_state(call_id, ticket_id, p.audio, p.video)

    @event(RecordingConsentIn)
    async def on_recording_consent(
        self, sid: str, who: Who, p: RecordingConsentIn
    ) -> dict[str, Any]:
        """The customer's answer to ``recording_consent_requested``."""
        ticket_id = who["ticket_id"]
        call_id = self._call_of(ticket_id, p.session_id)
        return await self.plane.recording_consent(call_id, ticket_id, p.accept)

    @event(Empty)
    async def on_tutorials(self, sid: str, who: Who, _: Empty) -> dict[str, Any]:
        """Published tutorials for the caller's own ticket's topic (waiting or in a call)."""
        ticket_id = who["ticket_id"]
        ticket = self.service.desk.tickets.get(ticket_id)
        if ticket is None:
            raise Refusal("forbidden", "this ticket is closed")
        return await self._tutorials().for_topic(ticket_id, ticket.topic)

    @event(TutorialProgressIn)
    async def on_tutorial_progress(self, sid: str, who: Who, p: TutorialProgressIn) -> None:
        ticket_id = who["ticket_id"]
        live = self.service.desk.live_call("customer", ticket_id)
        await self._tutorials().progress(
            ticket_id,
            None if live is None else live[1],
            p.tutorial_id,
            p.push_id,
            p.state,
            p.position,
        )


# --------------------------------------------------------------------------- agents


class AgentNamespace(_Base):
    party = "agent"
    caller = "agent_id"

    def __init__(
        self,
        service: Service,
        plane: CallPlane,
        delivery: Delivery,
        staff: StaffAuth,
        limiter: RateLimiter,
        tutorials: TutorialControl | None = None,
        grace: float = 0.0,
    ) -> None:
        super().__init__(AGENTS, service, plane, delivery, limiter, tutorials)
        self.staff = staff
        # A console that drops while nothing rides on it (wrap-up, Away) keeps its state this
        # long, so a reload finds the wrap-up (and its notes) where it was. Ready, ringing and
        # busy agents are signed out at once: a customer waits on them.
        self.grace = grace
        self._leaving: dict[str, asyncio.TimerHandle] = {}
        self._kicked: set[str] = set()  # logged out or disabled: no grace

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        member = await self.staff.staff_for(_cookie(environ, SESSION_COOKIE))
        if member is None:
            raise refuse("login_required", "please log in")
        if member.role not in AGENT_ROLES:
            raise refuse("wrong_role", "this console is for agents")
        agent_id = member.agent_id
        await self.save_session(sid, {"agent_id": agent_id, "name": member.display_name})
        await self.enter_room(sid, agent_room(agent_id))
        leaving = self._leaving.pop(agent_id, None)
        if leaving is not None:
            leaving.cancel()  # back within the grace: nothing happened
        await self._take_over(agent_id, sid)
        if self.service.desk.agent_state(agent_id) is AgentState.OFFLINE:
            signed_in = AgentSignedIn(agent_id, member.display_name, self.service.now())
            await self._admit(agent_id, sid, signed_in)
        elif self.service.desk.agent_dropped(agent_id):
            # Their call waited for them; the console learns it from ``sync`` and offers media.
            await self._admit(agent_id, sid, AgentReturned(agent_id, self.service.now()))

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.limiter.forget(sid)
        who = await self.get_session(sid)
        agent_id = who.get("agent_id")
        if not agent_id or not self._release(agent_id, sid):
            return
        if not await self._gone_from_here(agent_id, sid):
            self._kicked.discard(agent_id)
            return  # their console is connected on another node now
        state = self.service.desk.agent_state(agent_id)
        kicked = agent_id in self._kicked
        self._kicked.discard(agent_id)
        if (
            self.grace > 0
            and state in (AgentState.WRAP_UP, AgentState.AWAY)
            and not self.service.desk.draining
            and not kicked
        ):
            self._leaving[agent_id] = asyncio.get_running_loop().call_later(
                self.grace, self._sign_out_if_gone, agent_id
            )
        elif state is AgentState.BUSY and not kicked:
            # The desk decides: the call waits for them (CALL_RESUME_WINDOW) or ends.
            self.service.post(AgentDropped(agent_id, self.service.now()))
        elif state is not AgentState.OFFLINE:
            self.service.post(AgentSignedOut(agent_id, self.service.now()))

    def _sign_out_if_gone(self, agent_id: str) -> None:
        self._leaving.pop(agent_id, None)
        if (
            agent_id not in self._sids
            and self.service.desk.agent_state(agent_id) is not AgentState.OFFLINE
        ):
            self.service.post(AgentSignedOut(agent_id, self.service.now()))

    async def kick(self, party_id: str) -> None:
        """Logged out or disabled: signed out at once, grace or not."""
        leaving = self._leaving.pop(party_id, None)
        if leaving is not None:
            leaving.cancel()
            self._sign_out_if_gone(party_id)
        if party_id in self._sids:
            self._kicked.add(party_id)
        await super().kick(party_id)

    async def disconnect_all(self, *, quietly: bool = False) -> None:
        for agent_id, leaving in list(self._leaving.items()):
            leaving.cancel()
            if not quietly:
                self._sign_out_if_gone(agent_id)  # the server is leaving: no one comes back here
        if quietly:
            self._leaving.clear()
        await super().disconnect_all(quietly=quietly)

    @event(Empty)
    async def on_sync(self, sid: str, who: Who, _: Empty) -> dict[str, Any]:
        view = self.service.desk.agent_view(who["agent_id"], self.service.now())
        if view is None:
            raise Refusal("forbidden", "you are not signed in")
        return view

    @event(Empty)
    async def on_ready(self, sid: str, who: Who, _: Empty) -> None:
        await self.service.submit(AgentReady(who["agent_id"], self.service.now()))

    @event(AwayIn)
    async def on_away(self, sid: str, who: Who, p: AwayIn) -> None:
        await self.service.submit(AgentAway(who["agent_id"], self.service.now(), p.reason))

    @event(TicketRef)
    async def on_accept(self, sid: str, who: Who, p: TicketRef) -> dict[str, Any]:
        agent_id = who["agent_id"]
        await self.service.submit(OfferAccepted(agent_id, p.ticket_id, self.service.now()))
        return {"session_id": self.service.desk.agent_session(agent_id)}

    @event(TicketRef)
    async def on_decline(self, sid: str, who: Who, p: TicketRef) -> None:
        await self.service.submit(OfferDeclined(who["agent_id"], p.ticket_id, self.service.now()))

    @event(SessionRef)
    async def on_hangup(self, sid: str, who: Who, p: SessionRef) -> None:
        session_id, _ = self._live_call(who["agent_id"], p.session_id)
        await self.service.submit(HungUp(session_id, "agent", who["agent_id"], self.service.now()))

    @event(TransferIn)
    async def on_transfer(self, sid: str, who: Who, p: TransferIn) -> None:
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
    async def on_directory(self, sid: str, who: Who, _: Empty) -> dict[str, Any]:
        return self.service.desk.directory(who["agent_id"])

    @event(WrapUpIn)
    async def on_wrap_up(self, sid: str, who: Who, p: WrapUpIn) -> None:
        await self.service.submit(
            WrapUpDone(who["agent_id"], p.session_id, p.disposition, p.note, self.service.now())
        )

    @event(ChatIn)
    async def on_chat(self, sid: str, who: Who, p: ChatIn) -> dict[str, Any]:
        return await self._chat(who["agent_id"], who["name"], p)

    @event(AnnotateIn)
    async def on_annotate(self, sid: str, who: Who, p: AnnotateIn) -> dict[str, Any]:
        call_id = self._call_of(who["agent_id"], p.session_id)
        mark_id = await self.plane.annotate(
            call_id, who["agent_id"], who["name"], p.target, p.annotation
        )
        return {"id": mark_id}

    @event(PenPointsWire)
    async def on_annotate_points(self, sid: str, who: Who, p: PenPointsWire) -> None:
        call_id = self._call_of(who["agent_id"], p.session_id)
        await self.plane.extend_pen(call_id, who["agent_id"], p.target, p.id, p.points)

    @event(AnnotationRef)
    async def on_annotation_remove(self, sid: str, who: Who, p: AnnotationRef) -> None:
        call_id = self._call_of(who["agent_id"], p.session_id)
        await self.plane.remove_annotation(call_id, who["agent_id"], p.target, p.id)

    @event(ItemRef)
    async def on_annotations_clear(self, sid: str, who: Who, p: ItemRef) -> dict[str, Any]:
        call_id = self._call_of(who["agent_id"], p.session_id)
        return {"removed": await self.plane.clear(call_id, who["agent_id"], p.target)}

    @event(SessionRef)
    async def on_freeze(self, sid: str, who: Who, p: SessionRef) -> dict[str, Any]:
        return await self.plane.freeze(
            self._call_of(who["agent_id"], p.session_id), who["agent_id"]
        )

    @event(SessionRef)
    async def on_unfreeze(self, sid: str, who: Who, p: SessionRef) -> None:
        await self.plane.unfreeze(self._call_of(who["agent_id"], p.session_id), who["agent_id"])

    @event(SourceIn)
    async def on_request_source(self, sid: str, who: Who, p: SourceIn) -> None:
        """Ask the customer to switch camera or share their screen (they accept or not)."""
        call_id = self._call_of(who["agent_id"], p.session_id)
        await self.plane.request_source(call_id, who["agent_id"], p.source)

    @event(SessionRef)
    async def on_recording_pause(self, sid: str, who: Who, p: SessionRef) -> dict[str, Any]:
        """Keep what follows out of the recording (a password, a card number) until resumed."""
        call_id = self._call_of(who["agent_id"], p.session_id)
        return await self.plane.recording_pause(call_id, who["agent_id"])

    @event(SessionRef)
    async def on_recording_resume(self, sid: str, who: Who, p: SessionRef) -> dict[str, Any]:
        call_id = self._call_of(who["agent_id"], p.session_id)
        return await self.plane.recording_resume(call_id, who["agent_id"])

    @event(TutorialPushIn)
    async def on_tutorial_push(self, sid: str, who: Who, p: TutorialPushIn) -> dict[str, Any]:
        agent_id = who["agent_id"]
        session_id, call_id = self._live_call(agent_id, p.session_id)
        ticket_id = self.service.desk.sessions[session_id].ticket_id
        return await self._tutorials().push(
            call_id, ticket_id, agent_id, p.tutorial_id, p.chapter, p.at
        )

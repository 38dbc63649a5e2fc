"""``/supervisor``: the floor's wallboard and what a supervisor may do to it.

Connections are staff with the role supervisor or admin (the staff session cookie, as on
``/agent``); refusals carry a ``code`` like the other namespaces'. A connection joins the
supervisors' room, where the wallboard (videoassist/floor.py) pushes ``floor`` whenever the
picture changes; ``sync`` returns it at once. Each action is a desk event naming the
supervisor; the desk checks it, carries it out and writes its audit row (who, what, when, on
whom) before anyone is told. Any supervisor may act on any agent or waiting customer: the floor
is theirs to run, and the audit log is the check on it (docs/threat-model.md).

On a live call a supervisor may ``supervise`` (monitor, whisper or barge: an offer for their own
peer connection, see videoassist/media/supervision.py) and ``leave``. Each is audited by the desk
(``CallSupervised``) before the media side acts. While watching, the connection is in the call's
watch room and gets the call room's events (annotations, chat, ...) as ``call_event``. The agent
is told ``supervision`` when a supervisor's voice starts or stops reaching them (whisper, barge),
the customer only when one barges in (or leaves after barging): a silent monitor tells nobody.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import socketio

from videoassist.auth import SESSION_COOKIE, StaffAuth
from videoassist.call_plane import CallPlane
from videoassist.delivery import SUPERVISOR_ROOM, SUPERVISORS, Delivery, watch_room
from videoassist.desk import DeskError, ServerEvent
from videoassist.desk.events import (
    AgentForcedOut,
    AgentSentAway,
    CallSupervised,
    TicketMoved,
    TicketReprioritized,
)
from videoassist.errors import Problem, Refusal
from videoassist.gateway.acks import event
from videoassist.gateway.namespaces import Who, _cookie, refuse
from videoassist.gateway.schemas import (
    AgentRef,
    Empty,
    MoveIn,
    PriorityIn,
    RtcCandidateIn,
    SendAwayIn,
    SessionRef,
    SuperviseIn,
)
from videoassist.ratelimit import RateLimiter
from videoassist.service import Service

logger = logging.getLogger(__name__)

SUPERVISOR_ROLES = ("supervisor", "admin")


class SupervisorNamespace(socketio.AsyncNamespace):
    def __init__(
        self,
        service: Service,
        staff: StaffAuth,
        limiter: RateLimiter,
        draw: Callable[[], dict[str, Any]],
        kick_agent: Callable[[str], Awaitable[None]],
        plane: CallPlane | None = None,
        delivery: Delivery | None = None,
    ) -> None:
        super().__init__(SUPERVISORS)
        self.plane = plane  # live calls' media and rooms, wherever they are (call_plane.py)
        self.delivery = delivery
        # sid -> (desk session id, media call id) of the call that connection watches.
        self.watching_calls: dict[str, tuple[str, str]] = {}
        # call id -> what its parties were last told they hear: (agent's, customer's) mode.
        self._told: dict[str, tuple[str | None, str | None]] = {}
        self.service = service
        self.staff = staff
        self.limiter = limiter  # per connection (sid)
        self._draw = draw
        self._kick_agent = kick_agent
        # Several wallboards per supervisor are fine (a desk and a wall screen): sid -> staff id.
        self.sids: dict[str, str] = {}

    @property
    def watching(self) -> bool:
        return bool(self.sids)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        member = await self.staff.staff_for(_cookie(environ, SESSION_COOKIE))
        if member is None:
            raise refuse("login_required", "please log in")
        if member.role not in SUPERVISOR_ROLES:
            raise refuse("wrong_role", "the wallboard is for supervisors and admins")
        await self.save_session(sid, {"staff_id": member.agent_id, "username": member.username})
        await self.enter_room(sid, SUPERVISOR_ROOM)
        self.sids[sid] = member.agent_id

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.limiter.forget(sid)
        staff_id = self.sids.pop(sid, None)
        if sid in self.watching_calls and staff_id is not None:
            # A closed page leaves the call like the Leave button does (and is audited so).
            try:
                await self._leave(sid, staff_id, "")
            except Exception:
                logger.exception("SupervisorNamespace leaving on disconnect failed")

    async def kick(self, staff_id: str) -> None:
        """Logging out closes that member's wallboards: sockets were authenticated on connect."""
        for sid, owner in list(self.sids.items()):
            if owner == staff_id:
                await self.disconnect(sid)

    async def disconnect_all(self, *, quietly: bool = False) -> None:
        """``quietly``: a new leader's desk does not know of the calls they watched."""
        if quietly:
            self.watching_calls.clear()
        for sid in list(self.sids):
            await self.disconnect(sid)

    def _by(self, who: Who) -> tuple[str, str]:
        return who["staff_id"], who["username"]

    @event(Empty)
    async def on_sync(self, sid: str, who: Who, _: Empty) -> dict[str, Any]:
        return self._draw()

    @event(SendAwayIn)
    async def on_set_away(self, sid: str, who: Who, p: SendAwayIn) -> None:
        now = self.service.now()
        await self.service.submit(AgentSentAway(p.agent_id, *self._by(who), now, p.reason))

    @event(AgentRef)
    async def on_sign_out(self, sid: str, who: Who, p: AgentRef) -> None:
        await self.service.submit(AgentForcedOut(p.agent_id, *self._by(who), self.service.now()))
        # The console was told why (``signed_out``); now its connection goes, so that it does
        # not sign the agent straight back in.
        await self._kick_agent(p.agent_id)

    @event(MoveIn)
    async def on_move(self, sid: str, who: Who, p: MoveIn) -> None:
        now = self.service.now()
        await self.service.submit(TicketMoved(p.ticket_id, p.queue_id, *self._by(who), now))

    @event(PriorityIn)
    async def on_set_priority(self, sid: str, who: Who, p: PriorityIn) -> None:
        now = self.service.now()
        await self.service.submit(TicketReprioritized(p.ticket_id, p.priority, *self._by(who), now))

    # ------------------------------------------------------------ live calls

    def _supervision(self) -> CallPlane:
        if self.plane is None:
            raise Refusal("not_supported", "this server cannot join calls")
        return self.plane

    def _live(self, session_id: str) -> tuple[str, str, str]:
        """(call id, agent id, ticket id) of a live session, or the refusal ``no_session``."""
        row = self.service.desk.sessions.get(session_id)
        if row is None or row.ended_at is not None:
            raise Refusal("no_session", "that call is not live")
        return row.call_id, row.agent_id, row.ticket_id

    @event(SuperviseIn)
    async def on_supervise(self, sid: str, who: Who, p: SuperviseIn) -> dict[str, Any]:
        plane = self._supervision()
        call_id, _, _ = self._live(p.session_id)
        watched = self.watching_calls.get(sid)
        if watched is not None and watched[0] != p.session_id:
            await self._leave(sid, who["staff_id"], who["username"])  # one call per connection
        await self.service.submit(
            CallSupervised(p.session_id, p.mode, *self._by(who), self.service.now())
        )
        answer = await plane.supervise(call_id, who["staff_id"], p.mode, p.sdp)
        self.watching_calls[sid] = (p.session_id, call_id)
        await self.enter_room(sid, watch_room(call_id))
        await self._tell_parties(p.session_id, answer["heard"])
        return {
            "type": answer["type"],
            "sdp": answer["sdp"],
            "mode": p.mode,
            "room": answer["room"],
        }

    @event(RtcCandidateIn)
    async def on_supervise_candidate(self, sid: str, who: Who, p: RtcCandidateIn) -> None:
        watched = self.watching_calls.get(sid)
        if watched is None or watched[0] != p.session_id:
            raise Refusal("forbidden", "you are not watching that call")
        await self._supervision().supervisor_candidate(
            watched[1],
            who["staff_id"],
            {"candidate": p.candidate, "sdpMid": p.sdpMid, "sdpMLineIndex": p.sdpMLineIndex},
        )

    @event(SessionRef)
    async def on_leave(self, sid: str, who: Who, p: SessionRef) -> None:
        watched = self.watching_calls.get(sid)
        if watched is None or watched[0] != p.session_id:
            raise Refusal("forbidden", "you are not watching that call")
        await self._leave(sid, who["staff_id"], who["username"])

    async def _leave(self, sid: str, staff_id: str, username: str) -> None:
        session_id, call_id = self.watching_calls.pop(sid)
        await self.leave_room(sid, watch_room(call_id))
        heard: list[str | None] = [None, None]
        if self.plane is not None:
            try:
                heard = (await self.plane.unsupervise(call_id, staff_id))["heard"]
            except (
                Problem
            ) as exc:  # the call's media is gone: leaving it goes on record all the same
                logger.info("supervisor %s left call %s: %s", staff_id, call_id, exc.message)
        # A call over and forgotten raises DeskError: its end closed the leg already.
        with contextlib.suppress(DeskError):
            await self.service.submit(
                CallSupervised(session_id, "leave", staff_id, username, self.service.now())
            )
        await self._tell_parties(session_id, heard)

    async def _tell_parties(self, session_id: str, now_heard: Sequence[str | None]) -> None:
        """Tell the agent (whisper, barge) and the customer (barge) whose voice they now hear
        (``now_heard``: agent's and customer's mode, from the call's media), when it changed."""
        row = self.service.desk.sessions.get(session_id)
        if row is None or self.delivery is None:
            return
        heard = (now_heard[0], now_heard[1])
        told = self._told.get(row.call_id, (None, None))
        if heard == (None, None):
            self._told.pop(row.call_id, None)
        else:
            self._told[row.call_id] = heard
        if heard[0] != told[0]:
            await self.delivery.to_agent(
                row.agent_id, ServerEvent.SUPERVISION, {"session_id": row.id, "mode": heard[0]}
            )
        if heard[1] != told[1]:
            await self.delivery.to_customer(
                row.ticket_id,
                ServerEvent.SUPERVISION,
                {"session_id": row.call_id, "mode": heard[1]},
            )

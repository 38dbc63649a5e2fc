"""``/supervisor``: the floor's wallboard and what a supervisor may do to it.

Connections are staff with the role supervisor or admin (the staff session cookie, as on
``/agent``); refusals carry a ``code`` like the other namespaces'. A connection joins the
supervisors' room, where the wallboard (videoassist/floor.py) pushes ``floor`` whenever the
picture changes; ``sync`` returns it at once. Each action is a desk event naming the
supervisor; the desk checks it, carries it out and writes its audit row (who, what, when, on
whom) before anyone is told. Any supervisor may act on any agent or waiting customer: the floor
is theirs to run, and the audit log is the check on it (docs/threat-model.md).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from videoassist.auth import SESSION_COOKIE, StaffAuth
from videoassist.delivery import SUPERVISOR_ROOM, SUPERVISORS
from videoassist.desk.events import (
    AgentForcedOut,
    AgentSentAway,
    TicketMoved,
    TicketReprioritized,
)
from videoassist.gateway.acks import event
from videoassist.gateway.namespaces import Who, _cookie, refuse
from videoassist.gateway.schemas import AgentRef, Empty, MoveIn, PriorityIn, SendAwayIn
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
    ) -> None:
        super().__init__(SUPERVISORS)
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
        self.sids.pop(sid, None)

    async def kick(self, staff_id: str) -> None:
        """Logging out closes that member's wallboards: sockets were authenticated on connect."""
        for sid, owner in list(self.sids.items()):
            if owner == staff_id:
                await self.disconnect(sid)

    async def disconnect_all(self) -> None:
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

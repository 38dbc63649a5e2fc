"""Delivery: the one port through which the server speaks to connected clients.

Every emit in the server goes through a ``Delivery``; nothing else knows room names or
namespaces. An audience is addressed by who it is, never by a room string:

* ``to_customer(ticket_id, ...)``: every connection of that ticket on ``/customer``;
* ``to_agent(agent_id, ...)``: the agent's console on ``/agent``;
* ``to_call(parties, ...)``: both sides of a call (the customer first, then the agent);
* ``to_supervisors(...)``: every supervisor watching the floor (no such audience connects yet);
* ``to_connection(audience, sid, ...)``: one connection, for what concerns that connection
  alone (it has been replaced by a newer one).

``SocketDelivery`` is the adapter on python-socketio. Its rooms are node-local; in a cluster the
server's client manager (socket.io's Redis manager) carries the same emits to every node, and
nothing here changes. ``DeskNotifier`` is the service's notify port on top of a delivery.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import socketio

from videoassist.desk import ServerEvent
from videoassist.desk.events import Party

CUSTOMERS = "/customer"
AGENTS = "/agent"
SUPERVISORS = "/supervisor"
SUPERVISOR_ROOM = "supervisors"

Data = Mapping[str, Any]


def customer_room(ticket_id: str) -> str:
    return f"ticket:{ticket_id}"


def watch_room(call_id: str) -> str:
    """The supervisors watching one call (their wallboard connections)."""
    return f"watch:{call_id}"


def agent_room(agent_id: str) -> str:
    return f"agent:{agent_id}"


@dataclass(frozen=True, slots=True)
class Parties:
    """Who is in a call right now: the ticket on the customer side, the agent on the other."""

    ticket_id: str
    agent_id: str


class Delivery(Protocol):
    async def to_customer(self, ticket_id: str, event: ServerEvent, data: Data) -> None: ...
    async def to_agent(self, agent_id: str, event: ServerEvent, data: Data) -> None: ...
    async def to_call(self, parties: Parties, event: ServerEvent, data: Data) -> None: ...
    async def to_supervisors(self, event: ServerEvent, data: Data) -> None: ...
    async def to_watchers(self, call_id: str, event: ServerEvent, data: Data) -> None: ...
    async def to_connection(
        self, audience: Party, sid: str, event: ServerEvent, data: Data
    ) -> None: ...


class SocketDelivery:
    def __init__(self, sio: socketio.AsyncServer) -> None:
        self._sio = sio

    async def to_customer(self, ticket_id: str, event: ServerEvent, data: Data) -> None:
        await self._sio.emit(event, dict(data), room=customer_room(ticket_id), namespace=CUSTOMERS)

    async def to_agent(self, agent_id: str, event: ServerEvent, data: Data) -> None:
        await self._sio.emit(event, dict(data), room=agent_room(agent_id), namespace=AGENTS)

    async def to_call(self, parties: Parties, event: ServerEvent, data: Data) -> None:
        await self.to_customer(parties.ticket_id, event, data)
        await self.to_agent(parties.agent_id, event, data)

    async def to_supervisors(self, event: ServerEvent, data: Data) -> None:
        await self._sio.emit(event, dict(data), room=SUPERVISOR_ROOM, namespace=SUPERVISORS)

    async def to_watchers(self, call_id: str, event: ServerEvent, data: Data) -> None:
        await self._sio.emit(event, dict(data), room=watch_room(call_id), namespace=SUPERVISORS)

    async def to_connection(
        self, audience: Party, sid: str, event: ServerEvent, data: Data
    ) -> None:
        namespace = CUSTOMERS if audience == "customer" else AGENTS
        await self._sio.emit(event, dict(data), to=sid, namespace=namespace)


class DeskNotifier:
    """The service's notify port: a desk ``Notify`` becomes a delivery to that party. A call
    that is starting carries fresh ICE servers: TURN credentials are short-lived, and the
    ones handed out at tap or login time may have expired while the customer waited."""

    def __init__(
        self, delivery: Delivery, ice_servers: Callable[[str], list[dict[str, Any]]]
    ) -> None:
        self._delivery = delivery
        self._ice_servers = ice_servers

    async def notify(self, to: Party, target_id: str, event: ServerEvent, data: Data) -> None:
        payload = dict(data)
        if to == "customer":
            if event is ServerEvent.MATCHED:
                payload["ice_servers"] = self._ice_servers(f"t:{target_id}")
            await self._delivery.to_customer(target_id, event, payload)
        else:
            if event is ServerEvent.SESSION_STARTED:
                payload["ice_servers"] = self._ice_servers(f"a:{target_id}")
            await self._delivery.to_agent(target_id, event, payload)

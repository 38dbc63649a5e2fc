"""A media node asked to open again a call it still holds (cluster/media_nodes.py
``MediaNode``; the desk restarted, or another node took the lead): the call goes on where it
is, with the agent the desk says. A hand-over the desk made whose word never reached the node
(its leader died first) is carried out then."""

from __future__ import annotations

from typing import Any

from tests.unit.test_call_room import Items, Media, Sent
from videoassist.call_plane import LocalCallPlane
from videoassist.call_room import CallRooms
from videoassist.cluster.media_nodes import MediaNode


class Hub:
    """The media hub's port (the real one is MediaHub): which sessions it opened and to whom
    it handed them."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.handed: list[tuple[str, str]] = []

    def open(
        self, session_id: str, ticket_id: str, agent_id: str, customer_joins_later: bool
    ) -> None:
        self.opened.append(session_id)

    async def hand_over(self, session_id: str, agent_id: str) -> None:
        self.handed.append((session_id, agent_id))


def node() -> tuple[MediaNode, LocalCallPlane, Hub]:
    hub = Hub()
    plane = LocalCallPlane(hub, CallRooms(Sent(), Media(), Items()))  # type: ignore[arg-type]
    return MediaNode(plane, None, "m1", 4, live=lambda: 1), plane, hub  # type: ignore[arg-type]


def open_call(agent_id: str, resume: bool) -> dict[str, Any]:
    return {
        "call_id": "c1",
        "ticket_id": "t1",
        "agent_id": agent_id,
        "customer_joins_later": False,
        "queue_id": "general",
        "recording": "off",
        "resume": resume,
    }


async def test_a_call_opened_again_goes_on_with_the_agent_the_desk_says() -> None:
    media_node, plane, hub = node()
    await media_node.handle("open_call", open_call("a1", resume=False))
    await media_node.handle("open_call", open_call("a1", resume=True))  # the same agent
    assert hub.opened == ["c1"] and hub.handed == []
    # The desk handed the call to a2; the word died with its leader. The next desk says so.
    await media_node.handle("open_call", open_call("a2", resume=True))
    assert hub.opened == ["c1"]  # kept, not opened anew
    assert hub.handed == [("c1", "a2")]
    assert plane.rooms.room("c1").parties.agent_id == "a2"

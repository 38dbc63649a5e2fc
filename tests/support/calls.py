"""Getting a call going on a running ``Harness``: ready agents, taps that ring, accepted calls."""

from __future__ import annotations

from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection

from tests.support.harness import Harness, Party


async def ready_agent(harness: Harness, name: str = "alice", *, cookie: str | None = None) -> Party:
    """A console for a new agent ``name`` (or the session ``cookie``), once it has said Ready."""
    agent = await harness.agent(cookie if cookie is not None else await harness.add_staff(name))
    reply = await agent.call("ready")
    assert reply == {"ok": True}, reply
    return agent


async def ringing(harness: Harness, agent: Party) -> tuple[Party, dict[str, Any]]:
    """A customer taps and connects, and ``agent`` is offered them: (customer, ticket)."""
    ticket = await harness.tap()
    customer = await harness.customer(ticket["token"])
    await agent.inbox.next("offer")
    return customer, ticket


async def live_call(
    harness: Harness, agent: Party | None = None
) -> tuple[Party, Party, str, dict[str, Any]]:
    """``agent`` (else a new alice) accepts a tap: (customer, agent, session_id, ticket)."""
    if agent is None:
        agent = await ready_agent(harness)
    customer, ticket = await ringing(harness, agent)
    session_id = (await agent.call("accept", {"ticket_id": ticket["ticket_id"]}))["session_id"]
    await customer.inbox.next("matched")
    return customer, agent, session_id, ticket


async def offer_without_candidates() -> str:
    """A real offer with audio and video, sendrecv like a browser's, without its candidates."""
    # Nothing would answer the candidates: without them the server's ICE waits instead of
    # failing the call while the test runs.
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio", direction="sendrecv")
    pc.addTransceiver("video", direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return "".join(
        line
        for line in sdp.splitlines(keepends=True)
        if not line.startswith(("a=candidate:", "a=end-of-candidates"))
    )

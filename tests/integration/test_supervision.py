"""Supervisors in a live call, through a real MediaHub and real aiortc peers on loopback.

Every party speaks its own tone (customer 440 Hz, agent 660 Hz, supervisor 1000 Hz) and shows
its own colour, so what each one receives says whose media reached it. The hub is driven with
SDP directly (it is signaling-agnostic); tests/integration/test_supervisor.py covers the socket
events, the audit rows and who may send them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.encoded import loopback_hub
from tests.support.harness import wait_until
from tests.support.tones import TonePeer
from videoassist.errors import MediaError
from videoassist.media.hub import MediaHub

CUSTOMER_HZ, AGENT_HZ, SUPERVISOR_HZ = 440.0, 660.0, 1000.0
# The customer and agent pages' sections: 0 video, 1 the other party's voice, 2 a supervisor's.
PARTY_VOICE, SUPERVISOR_VOICE = 1, 2
# A supervisor's: 0 customer audio, 1 customer video, 2 agent audio, 3 agent video.


def near(value: float | None, hz: float) -> bool:
    return value is not None and abs(value - hz) < 30


@pytest.fixture
async def hub() -> AsyncIterator[MediaHub]:
    async with loopback_hub(quality_interval=0.5) as made:
        yield made


async def call(hub: MediaHub, peers: list[TonePeer]) -> tuple[TonePeer, TonePeer]:
    hub.open("s1", "t1", "alice")
    customer = TonePeer.party("red", CUSTOMER_HZ)
    agent = TonePeer.party("blue", AGENT_HZ)
    peers += [customer, agent]
    for peer, party in ((customer, "customer"), (agent, "agent")):
        await peer.accept(await hub.answer("s1", party, await peer.offer()))  # type: ignore[arg-type]
    await wait_until(
        lambda: (
            near(customer.heard[PARTY_VOICE].tone(), AGENT_HZ)
            and near(agent.heard[PARTY_VOICE].tone(), CUSTOMER_HZ)
        ),
        20,
        what="the two parties hearing each other",
    )
    return customer, agent


async def join(hub: MediaHub, peers: list[TonePeer], mode: str, staff_id: str = "sue") -> TonePeer:
    supervisor = TonePeer.supervisor(None if mode == "monitor" else SUPERVISOR_HZ)
    peers.append(supervisor)
    await supervisor.accept(await hub.supervise("s1", staff_id, mode, await supervisor.offer()))  # type: ignore[arg-type]
    return supervisor


async def sees_and_hears_both(supervisor: TonePeer) -> None:
    await wait_until(
        lambda: (
            supervisor.heard[1].colour() == "red"
            and supervisor.heard[3].colour() == "blue"
            and near(supervisor.heard[0].tone(), CUSTOMER_HZ)
            and near(supervisor.heard[2].tone(), AGENT_HZ)
        ),
        20,
        what=lambda: (
            "the supervisor seeing and hearing both parties: "
            f"{[(h.colour(), h.tone()) for h in supervisor.heard.values()]}"
        ),
    )


class TestSilentMonitor:
    async def test_a_monitor_gets_both_parties_and_sends_no_rtp_packet(
        self, hub: MediaHub, peers: list[TonePeer]
    ) -> None:
        customer, agent = await call(hub, peers)
        supervisor = await join(hub, peers, "monitor")
        await sees_and_hears_both(supervisor)
        leg = hub.session("s1").supervisors["sue"]
        # Counted on both ends, after both parties' media has flowed for a while.
        await wait_until(lambda: supervisor.heard[1].video_frames >= 60, 20)
        assert await leg.received_rtp() == 0
        assert await supervisor.sent_rtp() == 0
        # Nobody hears a supervisor (the parties' supervisor sections stay silent).
        assert customer.heard[SUPERVISOR_VOICE].audio_frames == 0
        assert agent.heard[SUPERVISOR_VOICE].audio_frames == 0
        # Forwarded, not transcoded: aiortc's decoders never ran on the server.
        assert hub.session("s1").dump()["receiver_decodes"] == 0

    async def test_a_monitor_that_offers_to_send_is_answered_sendonly_and_sends_nothing(
        self, hub: MediaHub, peers: list[TonePeer]
    ) -> None:
        await call(hub, peers)
        # A page that offers its microphone while only monitoring: the answer refuses it.
        supervisor = TonePeer.supervisor(SUPERVISOR_HZ)
        peers.append(supervisor)
        answer = await hub.supervise("s1", "sue", "monitor", await supervisor.offer())
        assert "a=recvonly" not in answer.sdp and "a=sendrecv" not in answer.sdp
        await supervisor.accept(answer)
        await sees_and_hears_both(supervisor)
        await wait_until(lambda: supervisor.heard[1].video_frames >= 60, 20)
        assert await hub.session("s1").supervisors["sue"].received_rtp() == 0
        assert await supervisor.sent_rtp() == 0


class TestWhisperAndBarge:
    async def test_whisper_reaches_the_agent_and_not_the_customer(
        self, hub: MediaHub, peers: list[TonePeer]
    ) -> None:
        customer, agent = await call(hub, peers)
        supervisor = await join(hub, peers, "whisper")
        await sees_and_hears_both(supervisor)
        await wait_until(
            lambda: near(agent.heard[SUPERVISOR_VOICE].tone(), SUPERVISOR_HZ),
            20,
            what=lambda: f"the agent hearing the whisper: {agent.heard[SUPERVISOR_VOICE].tone()}",
        )
        # The agent still hears the customer on their own track; the customer hears the agent
        # only: not one frame of the supervisor's voice, and not that tone on the agent's track.
        assert near(agent.heard[PARTY_VOICE].tone(), CUSTOMER_HZ)
        frames_then = agent.heard[SUPERVISOR_VOICE].audio_frames
        await wait_until(lambda: agent.heard[SUPERVISOR_VOICE].audio_frames >= frames_then + 50)
        assert customer.heard[SUPERVISOR_VOICE].audio_frames == 0
        assert near(customer.heard[PARTY_VOICE].tone(), AGENT_HZ)
        assert hub.heard("s1") == ("whisper", None)

    async def test_barge_reaches_both_and_leaving_stops_it(
        self, hub: MediaHub, peers: list[TonePeer]
    ) -> None:
        customer, agent = await call(hub, peers)
        await join(hub, peers, "whisper")
        await wait_until(lambda: near(agent.heard[SUPERVISOR_VOICE].tone(), SUPERVISOR_HZ), 20)
        assert customer.heard[SUPERVISOR_VOICE].audio_frames == 0
        # From whisper to barge: a new offer, a new leg; now the customer hears it too.
        await join(hub, peers, "barge")
        assert len(hub.session("s1").supervisors) == 1
        await wait_until(
            lambda: (
                near(customer.heard[SUPERVISOR_VOICE].tone(), SUPERVISOR_HZ)
                and near(agent.heard[SUPERVISOR_VOICE].tone(), SUPERVISOR_HZ)
            ),
            20,
            what="both parties hearing the barge",
        )
        assert hub.heard("s1") == ("barge", "barge")
        assert near(customer.heard[PARTY_VOICE].tone(), AGENT_HZ)
        # Leave: the voice stops reaching both, and the leg's peer connection is given back.
        connections = hub.peer_connections
        assert await hub.unsupervise("s1", "sue") is True
        assert hub.heard("s1") == (None, None)
        assert hub.peer_connections == connections - 1
        heard = customer.heard[SUPERVISOR_VOICE].audio_frames
        # The customer's own call goes on (the agent's voice keeps arriving) ...
        voice = customer.heard[PARTY_VOICE].audio_frames
        await wait_until(lambda: customer.heard[PARTY_VOICE].audio_frames >= voice + 50, 10)
        # ... while the supervisor's track got at most what was in flight when they left.
        assert customer.heard[SUPERVISOR_VOICE].audio_frames <= heard + 5


class TestLegs:
    async def test_a_supervisor_cannot_join_a_call_that_has_ended(
        self, hub: MediaHub, peers: list[TonePeer]
    ) -> None:
        await call(hub, peers)
        await join(hub, peers, "monitor")
        await hub.close_session("s1")
        supervisor = TonePeer.supervisor(None)
        peers.append(supervisor)
        with pytest.raises(MediaError) as caught:
            await hub.supervise("s1", "sue", "monitor", await supervisor.offer())
        assert caught.value.code == "no_session"
        await wait_until(lambda: hub.peer_connections == 0, 10)

    async def test_a_party_that_offers_no_supervisor_section_still_connects(
        self, hub: MediaHub, peers: list[TonePeer]
    ) -> None:
        """Pages and SDKs from before supervision offer one audio section: they work as before."""
        from tests.support.peers import ColourTrack
        from tests.support.tones import ToneTrack

        hub.open("s1", "t1", "alice")
        customer = TonePeer(
            [("video", "sendrecv", ColourTrack("red")), ("audio", "sendrecv", ToneTrack(440))]
        )
        agent = TonePeer.party("blue", AGENT_HZ)
        peers += [customer, agent]
        for peer, party in ((customer, "customer"), (agent, "agent")):
            await peer.accept(await hub.answer("s1", party, await peer.offer()))  # type: ignore[arg-type]
        await join(hub, peers, "barge")
        await wait_until(
            lambda: (
                near(agent.heard[SUPERVISOR_VOICE].tone(), SUPERVISOR_HZ)
                and near(customer.heard[1].tone(), AGENT_HZ)
                and customer.heard[0].colour() == "blue"
            ),
            20,
        )


class TestQuality:
    async def test_each_legs_quality_is_sampled_for_the_wallboard(
        self, hub: MediaHub, peers: list[TonePeer]
    ) -> None:
        await call(hub, peers)

        def sampled() -> bool:
            quality = hub.quality("s1")
            return quality is not None and all(
                leg is not None and leg["kbps"] and leg["rtt_ms"] is not None
                for leg in quality.values()
            )

        await wait_until(sampled, 20, what=lambda: f"quality samples: {hub.quality('s1')}")
        quality = hub.quality("s1")
        assert quality is not None
        for leg in quality.values():
            # Loopback: the colour video and the tone are a few hundred kb/s, nothing lost.
            assert 10 < leg["kbps"] < 5000, leg
            assert leg["loss_pct"] == 0.0 and leg["freezes"] == 0, leg
            assert 0 <= leg["rtt_ms"] < 1000, leg

    async def test_a_closed_calls_quality_is_summarised_over_all_its_samples(
        self, hub: MediaHub, peers: list[TonePeer]
    ) -> None:
        await call(hub, peers)

        def sampled_twice() -> bool:
            summary = hub.quality_summary("s1")
            return summary is not None and all(
                leg["samples"] >= 2 and leg["kbps_mean"] and leg["rtt_ms_max"] is not None
                for leg in summary.values()
            )

        await wait_until(sampled_twice, 20, what=lambda: f"{hub.quality_summary('s1')}")
        await hub.close_session("s1")
        # Closed: still there for the call's log line, carried out just after.
        summary = hub.quality_summary("s1")
        assert summary is not None and set(summary) == {"customer", "agent"}
        for leg in summary.values():
            assert 10 < leg["kbps_mean"] < 5000, leg
            assert leg["rtt_ms_mean"] <= leg["rtt_ms_max"] < 1000, leg
            assert leg["loss_pct"] == 0.0 and leg["freezes"] == 0, leg
            assert leg["transcoded"] is False
        assert hub.quality_summary("no-such-call") is None

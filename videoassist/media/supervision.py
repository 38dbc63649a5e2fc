"""A supervisor's leg of a live call: silent monitor, whisper to the agent, barge in.

A ``SupervisorLeg`` is one peer connection between the server and one supervisor's browser,
inside a ``MediaSession``. The server sends it four streams, each through its own ``Outlet``
fed by the parties' taps (so every attach asks the source for a keyframe, and nothing is
decoded or re-encoded): the customer's audio and video, then the agent's audio and video, in
that order of media sections. The supervisor's offer lists four sections in the same order
(audio, video, audio, video); the page tells the streams apart by that order.

What comes back depends on the mode, and is decided by the server's answer, not by the page:

* ``monitor``: every section is answered ``sendonly`` (the server sends, the browser may not),
  so a monitoring browser sends no RTP at all, whatever it offered.
* ``whisper``: the first audio section is ``sendrecv``; the supervisor's voice goes to the
  agent's supervisor outlet (a second audio track the agent page plays) and nowhere else.
* ``barge``: the same voice goes to the customer's supervisor outlet too.

A mode change is a new offer and a new leg (aiortc has no renegotiation of a running peer
connection worth relying on); the old leg closes first. ``MediaSession.route_voices`` decides
whose voice the parties' supervisor outlets carry: the most recent whisperer or barger.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, Literal

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from videoassist.closing import CloseOnce
from videoassist.errors import MediaError
from videoassist.media import aiortc_internals
from videoassist.media.forwarding import Outlet, Tap

if TYPE_CHECKING:
    from videoassist.media.hub import MediaSession

logger = logging.getLogger(__name__)

Mode = Literal["monitor", "whisper", "barge"]
MODES: tuple[Mode, ...] = ("monitor", "whisper", "barge")
# The streams a supervisor receives, in the order of their media sections.
FEEDS: tuple[tuple[str, str], ...] = (
    ("customer", "audio"),
    ("customer", "video"),
    ("agent", "audio"),
    ("agent", "video"),
)
CLOSE_TIMEOUT = 5.0


class SupervisorLeg:
    def __init__(self, session: MediaSession, staff_id: str, mode: Mode) -> None:
        if mode not in MODES:
            raise MediaError("bad_mode", f"the mode must be one of {MODES}")
        self.session = session
        self.staff_id = staff_id
        self.mode: Mode = mode
        self.pc: RTCPeerConnection | None = None
        self.outlets: dict[tuple[str, str], Outlet] = {
            feed: Outlet(feed[1], f"{self.name}/{feed[0]}-{feed[1]}") for feed in FEEDS
        }
        self.voice: Tap | None = None  # the supervisor's microphone (whisper and barge only)
        self.connected = asyncio.Event()
        self._closing = CloseOnce()
        self.closed = False

    @property
    def name(self) -> str:
        return f"{self.session.id}/supervisor:{self.staff_id}"

    @property
    def speaking(self) -> bool:
        """Whispering or barging (the voice may not have arrived yet: the parties are told
        from the start, and hear it as soon as it comes)."""
        return self.mode != "monitor" and not self.closed

    async def answer(self, sdp: str) -> RTCSessionDescription:
        from videoassist.media.hub import _check_offer, _video_preferences

        hub = self.session.hub
        hub.reserve_peer()
        pc = RTCPeerConnection(hub.rtc_configuration(f"s:{self.name}"))
        self.pc = pc
        pc.on("track", lambda track: self._on_track(pc, track))
        pc.on("connectionstatechange", lambda: self._on_state(pc))
        try:
            _check_offer(sdp)
            for feed in FEEDS:
                hears = feed == ("customer", "audio") and self.mode != "monitor"
                transceiver = pc.addTransceiver(
                    self.outlets[feed], direction="sendrecv" if hears else "sendonly"
                )
                if feed[1] == "video":
                    transceiver.setCodecPreferences(_video_preferences())
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            aiortc_internals.rebundle(pc)  # two sections of each kind
            for transceiver in pc.getTransceivers():
                outlet = transceiver.sender.track
                if isinstance(outlet, Outlet):
                    outlet.codec = aiortc_internals.sender_codec(transceiver)
                    aiortc_internals.on_keyframe_request(
                        transceiver.sender, outlet.keyframe_requested
                    )
                    aiortc_internals.on_bandwidth_estimate(
                        transceiver.sender, outlet.bandwidth_estimate
                    )
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:
            logger.info("SupervisorLeg(%s) offer refused: %s", self.name, exc)
            await self.close()
            raise MediaError("bad_offer", f"the offer could not be used: {exc}") from None
        for feed in self.outlets:
            self.attach(feed, self.session.participants[feed[0]].fanouts.get(feed[1]))
        logger.info("SupervisorLeg(%s) %s", self.name, self.mode)
        return pc.localDescription

    def attach(self, feed: tuple[str, str], source: Any) -> None:
        """A party's stream (re)appeared: its outlet here follows, from a keyframe."""
        if not self.closed and isinstance(source, Tap):
            self.outlets[feed].set_source(source)

    async def add_candidate(self, data: dict[str, Any]) -> None:
        from videoassist.media.hub import _parse_candidate

        text = data.get("candidate") or ""
        pc = self.pc
        if pc is None or pc.remoteDescription is None:
            return
        if not text:
            await pc.addIceCandidate(None)
            return
        candidate = _parse_candidate(text)
        candidate.sdpMid = data.get("sdpMid")
        candidate.sdpMLineIndex = data.get("sdpMLineIndex")
        if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
            candidate.sdpMLineIndex = 0
        await pc.addIceCandidate(candidate)

    def _on_track(self, pc: RTCPeerConnection, track: MediaStreamTrack) -> None:
        if pc is not self.pc or self.closed or track.kind != "audio" or self.mode == "monitor":
            return
        receiver = next(r for r in pc.getReceivers() if r.track is track)
        old, self.voice = self.voice, Tap("audio", f"{self.name}/voice", receiver)
        if old is not None:
            self.session.track_tasks(old.close(), "supervisor.voice.close")
        self.session.route_voices()

    def _on_state(self, pc: RTCPeerConnection) -> None:
        if pc is not self.pc:
            return
        logger.info("SupervisorLeg(%s) connection %s", self.name, pc.connectionState)
        if pc.connectionState == "connected":
            self.connected.set()
        elif pc.connectionState == "failed":
            self.session.track_tasks(self.session.unsupervise(self.staff_id), "supervisor.fail")

    async def received_rtp(self) -> int:
        """RTP packets the server has received on this leg (a monitor's must stay 0)."""
        pc = self.pc
        if pc is None:
            return 0
        report = await pc.getStats()
        return sum(
            int(getattr(stat, "packetsReceived", 0))
            for stat in report.values()
            if getattr(stat, "type", "") == "inbound-rtp"
        )

    async def close(self) -> None:
        """Idempotent: stops the outlets, the voice and the peer connection."""
        self.closed = True
        await self._closing.run(self._close)

    async def _close(self) -> None:
        voice, self.voice = self.voice, None
        for outlet in self.outlets.values():
            outlet.stop()
        self.session.route_voices()
        if voice is not None:
            await voice.close()
        pc, self.pc = self.pc, None
        if pc is not None:
            self.session.hub.release_peer()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pc.close(), CLOSE_TIMEOUT)
        logger.info("SupervisorLeg(%s) closed", self.name)

    def dump(self) -> dict[str, Any]:
        return {
            "staff_id": self.staff_id,
            "mode": self.mode,
            "connection": self.pc.connectionState if self.pc else None,
            "outlets": {f"{p}/{k}": o.dump() for (p, k), o in self.outlets.items()},
            "voice": self.voice.dump() if self.voice is not None else None,
        }

"""The media hub: one ``MediaSession`` per live support session, one peer connection per party.

Ownership (closing cascades downwards, every ``close()`` is idempotent):

    MediaHub ─► MediaSession ─► StickyMarks (the tracker, once a sticky mark is drawn)
                             ├► PixelDecoder (customer video → newest decoded frame)
                             ├► Participant ─► RTCPeerConnection
                             │             ├─► Tap (one per remote track)
                             │             ├─► Outlet (one per outgoing kind, and one more
                             │             │   audio outlet for a supervisor's voice)
                             │             └─► the connect watchdog task
                             └► SupervisorLeg (one per watching supervisor) ─► RTCPeerConnection
                                           ├─► Outlet (both parties' audio and video)
                                           └─► Tap (the supervisor's voice: whisper, barge)

The hub knows nothing of what a call shares besides media: the call room
(videoassist/call_room.py) owns that, and asks the hub for stills and for a tracker.

The customer's camera/screen and microphone go to the agent; the agent's camera and microphone
go to the customer. With ``forwarding="encoded"`` (the default) they go as they came: a ``Tap``
takes each remote track's packets before aiortc's jitter buffer and hands encoded frames to the
other party's ``Outlet``, which its sender only packetizes (videoassist.media.forwarding); only
the customer's video is decoded, once, for stills and sticky marks (videoassist.media.pixels).
``forwarding="transcode"`` keeps the old path (aiortc decodes, each sender re-encodes: ``Fanout``
and ``ProxyTrack``), for comparison in bench/media_forwarding.py. Nothing CPU-heavy runs on the
event loop either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Literal

from aiortc import (
    RTCConfiguration,
    RTCIceCandidate,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import SessionDescription, candidate_from_sdp

from videoassist.closing import CloseOnce
from videoassist.errors import MediaError
from videoassist.media import aiortc_internals
from videoassist.media.clock import MediaClock, SenderClock, StreamClock
from videoassist.media.fanout import Fanout, ProxyTrack
from videoassist.media.forwarding import CLOCK_RATES, Outlet, Tap
from videoassist.media.limits import MAX_M_SECTIONS, MAX_SDP_BYTES
from videoassist.media.network import PortRange, host_addresses
from videoassist.media.pixels import LINGER as PIXEL_LINGER
from videoassist.media.pixels import PixelDecoder
from videoassist.media.quality import QualityTally
from videoassist.media.recorder import Recorder
from videoassist.media.sticky import StickyMarks, Update
from videoassist.media.supervision import Mode, SupervisorLeg

logger = logging.getLogger(__name__)

ENDED_KEPT = 64  # closed calls whose quality summary is kept for their log line

Party = Literal["customer", "agent"]
Forwarding = Literal["encoded", "transcode"]
FORWARDING_MODES = ("encoded", "transcode")
OTHER: dict[str, Party] = {"customer": "agent", "agent": "customer"}
KINDS = ("audio", "video")
CLOSE_TIMEOUT = 5.0
QUALITY_INTERVAL = 2.0  # seconds between two samples of a call's media quality (wallboard)
STILL_WAIT = 3.0  # seconds a still may wait for the decoder to start (a keyframe round trip)


def encode_jpeg(frame: Any, quality: int = 92) -> bytes:
    import cv2  # imported here: only stills and photos need OpenCV

    ok, data = cv2.imencode(
        ".jpg", frame.to_ndarray(format="bgr24"), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise MediaError("encode_failed", "the still could not be encoded")
    return bytes(data)


def _video_preferences() -> list[Any]:
    """VP8 first: browsers send it, aiortc forwards it as-is, and it is cheap to decode; the
    rest stay acceptable (an H.264-only party gets the transcode fallback)."""
    codecs = RTCRtpSender.getCapabilities("video").codecs
    return sorted(codecs, key=lambda c: c.mimeType.lower() != "video/vp8")


def _parse_candidate(text: str) -> RTCIceCandidate:
    try:
        return candidate_from_sdp(text.removeprefix("candidate:"))
    except (AssertionError, ValueError, IndexError):
        raise MediaError("bad_candidate", "the ICE candidate could not be parsed") from None


def _check_offer(sdp: str) -> None:
    """Refuse what aiortc would accept but only trip over later, in the connect task it starts
    in the background, where the failure is an exception nobody retrieves and a call that never
    connects (both found by tests/integration/test_fuzz.py):

    * a media section without a DTLS fingerprint (aiortc asserts one when DTLS starts);
    * a BUNDLE group whose first mid is no media section aiortc uses: the sections bundled on
      it get no transport at all (an offer whose first m= line is missing or of an unknown
      kind)."""
    description = SessionDescription.parse(sdp)
    usable = [m for m in description.media if m.kind in ("audio", "video", "application")]
    for media in usable:
        if media.dtls is None or not media.dtls.fingerprints:
            raise ValueError(f"media section {media.rtp.muxId!r} has no DTLS fingerprint")
    bundle = next((g for g in description.group if g.semantic == "BUNDLE"), None)
    mids = {media.rtp.muxId for media in usable}
    if bundle is not None and bundle.items and bundle.items[0] not in mids:
        raise ValueError(f"BUNDLE names media section {bundle.items[0]!r}, which is not offered")


def _audio_sections(sdp: str) -> int:
    return sum(1 for line in sdp.splitlines() if line.startswith("m=audio "))


class PortsUsedUp(MediaError):
    def __init__(self, ports: PortRange) -> None:
        super().__init__(
            "media_busy",
            f"the media port range {ports} is used up; widen MEDIA_PORT_RANGE or route media "
            "through TURN",
        )


class Participant:
    def __init__(self, session: MediaSession, party: Party) -> None:
        self.session = session
        self.party = party
        self.pc: RTCPeerConnection | None = None
        self.encoded = session.hub.forwarding == "encoded"
        self.outgoing: dict[str, Any] = {
            kind: Outlet(kind, f"{self.name}/{kind}") if self.encoded else ProxyTrack(kind)
            for kind in KINDS
        }
        # A supervisor's voice (whisper reaches the agent's, barge both): a second audio track,
        # sent only to a page that offers a second audio section (encoded forwarding only).
        self.supervisor_audio: Outlet | None = (
            Outlet("audio", f"{self.name}/supervisor-audio") if self.encoded else None
        )
        # One feed per remote track: a Tap (encoded forwarding) or a Fanout (transcode).
        self.fanouts: dict[str, Any] = {}
        self._pending_candidates: list[dict[str, Any]] = []
        self._watchdog: asyncio.Task[None] | None = None
        self._negotiating = asyncio.Lock()
        self.connected = asyncio.Event()
        # This party's NTP clock (its sender reports), per peer connection: lip sync.
        self.sender_clock = SenderClock()
        self._last_sample: tuple[float, int] | None = None  # (when, bytes received then)

    async def quality(self, now: float) -> dict[str, Any] | None:
        """This party's leg as the server sees it: round-trip time (from the party's receiver
        reports), loss of what the party sends (since the leg started), the bitrate received
        since the last sample, video freezes, and whether what the party receives is transcoded
        (its codec differs from the other party's: decode-and-re-encode for this leg). None
        before the leg exists."""
        pc = self.pc
        if pc is None:
            return None
        report = await pc.getStats()
        rtts = [
            s.roundTripTime
            for s in report.values()
            if s.type == "remote-inbound-rtp" and getattr(s, "roundTripTime", None) is not None
        ]
        received = lost = 0
        for stat in report.values():
            if stat.type == "inbound-rtp":
                received += stat.packetsReceived or 0
                lost += max(0, stat.packetsLost or 0)
        taps = [f for f in self.fanouts.values() if isinstance(f, Tap)]
        total = sum(t.bytes for t in taps)
        kbps = None
        if self._last_sample is not None and now > self._last_sample[0]:
            kbps = round((total - self._last_sample[1]) * 8 / 1000 / (now - self._last_sample[0]))
        self._last_sample = (now, total)
        return {
            "rtt_ms": round(max(rtts) * 1000) if rtts else None,
            "loss_pct": round(100 * lost / (received + lost), 1) if received + lost else None,
            "kbps": kbps,
            "freezes": sum(t.freezes for t in taps),
            "transcoded": self.transcoded,
        }

    @property
    def transcoded(self) -> bool:
        """The party's video is decoded and re-encoded on the server (a codec mismatch)."""
        return any(isinstance(o, Outlet) and o.transcoding for o in self.outgoing.values())

    @property
    def name(self) -> str:
        return f"{self.session.id}/{self.party}"

    async def answer(self, sdp: str) -> RTCSessionDescription:
        # One offer at a time per participant: a connection's events are handled concurrently,
        # and two offers interleaving here each made a peer connection of which only one was
        # kept; the other was never closed nor counted back, so a client could use up
        # MAX_PEER_CONNECTIONS (found by tests/integration/test_fuzz.py).
        async with self._negotiating:
            return await self._answer(sdp)

    async def _answer(self, sdp: str) -> RTCSessionDescription:
        if self.pc is not None:
            # aiortc has no ICE restart: a new offer is a reconnect with a new peer connection.
            await self._close_pc()
            self._renew_outgoing()
        if self.session.closed:
            raise MediaError("no_session", "this session has no media (it has ended)")
        hub = self.session.hub
        hub.reserve_peer()
        pc = RTCPeerConnection(hub.rtc_configuration(f"s:{self.name}"))
        self.pc = pc
        self.sender_clock = SenderClock()
        self.connected.clear()
        pc.on("track", lambda track: self._on_track(pc, track))
        pc.on("connectionstatechange", lambda: self._on_state(pc))
        try:
            _check_offer(sdp)
            # Made before the offer is applied so that the codec preference takes part in the
            # negotiation; the offer's sections are matched to them by kind.
            for kind in KINDS:
                transceiver = pc.addTransceiver(self.outgoing[kind], direction="sendrecv")
                if kind == "video":
                    transceiver.setCodecPreferences(_video_preferences())
            if self.supervisor_audio is not None and _audio_sections(sdp) >= 2:
                # Matched to the offer's second audio section (pages that play a supervisor's
                # voice offer one); an offer without it is answered as before.
                pc.addTransceiver(self.supervisor_audio, direction="sendonly")
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            aiortc_internals.rebundle(pc)  # the supervisor's audio section shares a transport
            if self.encoded:
                self._hook_senders(pc)
            await pc.setLocalDescription(await pc.createAnswer())
            if hub.media_ports is not None and "a=candidate:" not in pc.localDescription.sdp:
                raise PortsUsedUp(hub.media_ports)
            pending, self._pending_candidates = self._pending_candidates, []
            for candidate in pending:
                await self._add_candidate(pc, candidate)
        except PortsUsedUp as exc:
            await self._close_pc()
            raise MediaError("media_busy", str(exc)) from None
        except Exception as exc:
            logger.info("Participant(%s) offer refused: %s", self.name, exc)
            await self._close_pc()
            raise MediaError("bad_offer", f"the offer could not be used: {exc}") from None
        self._watchdog = asyncio.create_task(
            self._connect_watchdog(pc), name=f"Participant({self.name}).watchdog"
        )
        return pc.localDescription

    async def add_candidate(self, candidate: dict[str, Any]) -> None:
        if candidate.get("candidate"):
            _parse_candidate(candidate["candidate"])  # refuse garbage now, not at the offer
        pc = self.pc
        if pc is None or pc.remoteDescription is None:
            if len(self._pending_candidates) < 32:
                self._pending_candidates.append(candidate)
            return
        await self._add_candidate(pc, candidate)

    async def _add_candidate(self, pc: RTCPeerConnection, data: dict[str, Any]) -> None:
        text = data.get("candidate") or ""
        if not text:
            await pc.addIceCandidate(None)
            return
        candidate = _parse_candidate(text)
        candidate.sdpMid = data.get("sdpMid")
        candidate.sdpMLineIndex = data.get("sdpMLineIndex")
        if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
            candidate.sdpMLineIndex = 0
        await pc.addIceCandidate(candidate)

    def _renew_outgoing(self) -> None:
        """New outgoing tracks for a new peer connection, fed as the old ones were: aiortc stops
        a sender's track when its connection closes (a reload, a reconnect after the party's
        network or this server dropped). A new outlet starts the other party's picture at a
        keyframe, which it asks the source for when its sender first reads."""
        other = self.session.participants[OTHER[self.party]]
        for kind, old in list(self.outgoing.items()):
            old.set_source(None)
            old.stop()
            fresh = Outlet(kind, f"{self.name}/{kind}") if self.encoded else ProxyTrack(kind)
            feed = other.fanouts.get(kind)
            if feed is not None:
                fresh.set_source(self.session.feed_for(feed))
            self.outgoing[kind] = fresh
        if self.supervisor_audio is not None:
            voice = self.supervisor_audio.source
            self.supervisor_audio.stop()
            self.supervisor_audio = Outlet("audio", f"{self.name}/supervisor-audio")
            self.supervisor_audio.set_source(voice)

    def _hook_senders(self, pc: RTCPeerConnection) -> None:
        """Consumers' keyframe requests go to the source; note what each sender sends."""
        for transceiver in pc.getTransceivers():
            outlet = transceiver.sender.track
            if isinstance(outlet, Outlet) and (
                outlet is self.outgoing.get(outlet.kind) or outlet is self.supervisor_audio
            ):
                outlet.codec = aiortc_internals.sender_codec(transceiver)
                aiortc_internals.on_keyframe_request(transceiver.sender, outlet.keyframe_requested)
                aiortc_internals.on_bandwidth_estimate(
                    transceiver.sender, outlet.bandwidth_estimate
                )

    def _on_track(self, pc: RTCPeerConnection, track: MediaStreamTrack) -> None:
        if pc is not self.pc:
            return
        name = f"{self.name}/{track.kind}"
        if self.encoded:
            receiver = next(r for r in pc.getReceivers() if r.track is track)
            timeline = StreamClock(
                CLOCK_RATES[track.kind], self.sender_clock, self.session.clock.now
            )
            feed: Any = Tap(track.kind, name, receiver, timeline=timeline)
        else:
            feed = Fanout(track, name)
        old = self.fanouts.get(track.kind)
        self.fanouts[track.kind] = feed
        if old is not None:
            self.session.track_tasks(old.close(), f"{self.party}.{track.kind}.close")
        other = self.session.participants[OTHER[self.party]]
        if track.kind in other.outgoing:
            other.outgoing[track.kind].set_source(self.session.feed_for(feed))
        if self.party == "customer" and track.kind == "video" and self.session.pixels:
            self.session.pixels.set_source(feed)
        if self.session.recorder is not None and isinstance(feed, Tap):
            self.session.recorder.set_source(self.party, track.kind, feed)
        for leg in self.session.supervisors.values():
            leg.attach((self.party, track.kind), feed)
        logger.info("Participant(%s) receiving %s", self.name, track.kind)

    def _on_state(self, pc: RTCPeerConnection) -> None:
        if pc is not self.pc:
            return
        state = pc.connectionState
        logger.info("Participant(%s) connection %s", self.name, state)
        if state == "connected":
            self.connected.set()
        elif state == "failed":
            self.session.failed(f"{self.party} connection failed")

    async def _connect_watchdog(self, pc: RTCPeerConnection) -> None:
        try:
            await asyncio.wait_for(self.connected.wait(), self.session.hub.connect_timeout)
        except TimeoutError:
            if pc is self.pc:
                self.session.failed(f"{self.party} media did not connect in time")

    async def _close_pc(self) -> None:
        pc, self.pc = self.pc, None
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None and watchdog is not asyncio.current_task():
            watchdog.cancel()
            await asyncio.gather(watchdog, return_exceptions=True)
        fanouts, self.fanouts = self.fanouts, {}
        for fanout in fanouts.values():
            try:
                await fanout.close()
            except Exception:  # the close cascade goes on whatever one track did
                logger.exception("Participant(%s) feed close failed", self.name)
        if pc is not None:
            self.session.hub.release_peer()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pc.close(), CLOSE_TIMEOUT)

    async def close(self) -> None:
        await self._close_pc()
        for track in self.outgoing.values():
            track.stop()
        if self.supervisor_audio is not None:
            self.supervisor_audio.stop()


class MediaSession:
    def __init__(
        self,
        hub: MediaHub,
        session_id: str,
        ticket_id: str,
        agent_id: str,
        customer_joins_later: bool = False,
    ) -> None:
        self.hub = hub
        self.id = session_id
        # The call's one media clock: the call room stamps events with it, the recorder packets.
        self.clock = MediaClock()
        self.recorder: Recorder | None = None  # made once recording is allowed
        self.ticket_id = ticket_id
        self.agent_id = agent_id
        self.participants: dict[str, Participant] = {
            "customer": Participant(self, "customer"),
            "agent": Participant(self, "agent"),
        }
        self.closed = False
        self._closing = CloseOnce()
        self._failed = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self.sticky: StickyMarks | None = None  # made when the first sticky mark is drawn
        self.supervisors: dict[str, SupervisorLeg] = {}  # staff id -> their leg
        self.pixels = (
            PixelDecoder(f"{session_id}/customer", linger=hub.pixel_linger)
            if hub.forwarding == "encoded"
            else None
        )
        waiting_for = ("agent",) if customer_joins_later else ("customer", "agent")
        self.track_tasks(self._watch_offers(waiting_for), "offers")
        # The newest sample of each leg's quality, for the wallboard (MediaHub.quality), and
        # every sample folded per leg, for the call's log line (MediaHub.quality_summary).
        self.quality: dict[str, Any] | None = None
        self.tallies: dict[str, QualityTally] = {}
        self.track_tasks(self._sample_quality(hub.quality_interval), "quality")

    async def _sample_quality(self, interval: float) -> None:
        while not self.closed:
            await asyncio.sleep(interval)
            try:
                now = asyncio.get_running_loop().time()
                sampled = {party: await p.quality(now) for party, p in self.participants.items()}
            except Exception:  # a leg closing under us: the next sample will do
                logger.debug("MediaSession(%s) quality sample failed", self.id, exc_info=True)
                continue
            self.quality = sampled
            for party, sample in sampled.items():
                self.tallies.setdefault(party, QualityTally()).add(sample)

    async def _watch_offers(self, parties: tuple[str, ...]) -> None:
        """A party that never even sends an offer fails the session like one that never connects."""
        await asyncio.sleep(self.hub.connect_timeout)
        for party in parties:
            if self.participants[party].pc is None:
                self.failed(f"{party} never started media")
                return

    def track_tasks(self, coro: Any, what: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(f"MediaSession({self.id}).{what}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def failed(self, detail: str) -> None:
        if not self._failed and not self.closed:
            self._failed = True
            logger.warning("MediaSession(%s) failed: %s", self.id, detail)
            self.hub.on_failure(self.id, detail)

    def feed_for(self, feed: Any) -> Any:
        """What an outgoing track takes from a feed: the tap itself, or a fanout subscription."""
        return feed if isinstance(feed, Tap) else feed.subscribe()

    def _customer_frame(self) -> Any:
        """The newest decoded frame of the customer's video (stills, sticky marks)."""
        if self.pixels is not None:
            return self.pixels.current()  # keeps the decoder running while it is asked
        fanout = self.participants["customer"].fanouts.get("video")
        return fanout.latest if fanout is not None else None

    def marks(self, on_moved: Update) -> StickyMarks:
        if self.sticky is None:
            self.sticky = StickyMarks(self.id, self._customer_frame, on_moved)
        return self.sticky

    def record(self, folder: Any) -> Recorder:
        """Start recording into ``folder`` (once: a second call returns the same recorder).
        Nothing is recorded before this is called."""
        if self.pixels is None:
            raise MediaError("not_supported", "recording needs encoded forwarding")
        if self.closed:
            raise MediaError("no_session", "this session has no media (it has ended)")
        if self.recorder is None:
            self.recorder = Recorder(self.id, folder)
            for party, participant in self.participants.items():
                for kind, feed in participant.fanouts.items():
                    if isinstance(feed, Tap):
                        self.recorder.set_source(party, kind, feed)
            self.recorder.start()
        return self.recorder

    async def supervise(self, staff_id: str, mode: Mode, sdp: str) -> RTCSessionDescription:
        """A supervisor joins (or changes mode: a new leg replaces theirs); returns the answer."""
        if self.pixels is None:
            raise MediaError("not_supported", "supervising needs encoded forwarding")
        if self.closed:
            raise MediaError("no_session", "this session has no media (it has ended)")
        await self.unsupervise(staff_id)
        leg = SupervisorLeg(self, staff_id, mode)
        self.supervisors[staff_id] = leg
        try:
            return await leg.answer(sdp)
        except BaseException:
            if self.supervisors.get(staff_id) is leg:
                del self.supervisors[staff_id]
            raise

    async def unsupervise(self, staff_id: str) -> bool:
        """The supervisor's leg closes; False if they had none."""
        leg = self.supervisors.pop(staff_id, None)
        if leg is None:
            return False
        await leg.close()
        return True

    def speaker(self) -> SupervisorLeg | None:
        """The supervisor whose voice the parties hear: the latest to whisper or barge."""
        speaking = [leg for leg in self.supervisors.values() if leg.speaking]
        return speaking[-1] if speaking else None

    def route_voices(self) -> None:
        """Whisper reaches the agent only; barge reaches both; monitor reaches nobody."""
        leg = self.speaker()
        voice = leg.voice if leg is not None else None
        to_customer = voice if leg is not None and leg.mode == "barge" else None
        for party, source in (("agent", voice), ("customer", to_customer)):
            outlet = self.participants[party].supervisor_audio
            if outlet is not None and outlet.readyState == "live":
                outlet.set_source(source)

    async def close(self) -> None:
        """Idempotent; a second caller waits until the first has finished closing."""
        self.closed = True
        await self._closing.run(self._close)

    async def _close(self) -> None:
        if self.recorder is not None:
            try:
                await self.recorder.close()  # finalize first: its files end with the call
            except Exception:
                logger.exception("MediaSession(%s) recorder close failed", self.id)
        for staff_id in list(self.supervisors):
            await self.unsupervise(staff_id)
        if self.sticky is not None:
            await self.sticky.close()
        if self.pixels is not None:
            await self.pixels.close()
        for participant in self.participants.values():
            await participant.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        logger.info("MediaSession(%s) closed", self.id)

    async def replace_agent(self, agent_id: str) -> None:
        """Warm transfer: a new agent side takes over; the customer's connection stays up."""
        old = self.participants["agent"]
        fresh = Participant(self, "agent")
        self.participants["agent"] = fresh
        self.agent_id = agent_id
        customer = self.participants["customer"]
        for kind, feed in customer.fanouts.items():
            fresh.outgoing[kind].set_source(self.feed_for(feed))
        self.route_voices()  # a whisper goes on to the new agent
        await old.close()
        logger.info("MediaSession(%s) handed over to agent %s", self.id, agent_id)

    def fallbacks(self) -> list[str]:
        """Legs whose source codec the consumer's sender cannot take as-is (e.g. H.264 from one
        party, VP8 negotiated with the other): "<consumer>/<kind>: <source> -> <sent>". Video
        legs among them are transcoded (``Participant.transcoded``)."""
        found = []
        for party, p in self.participants.items():
            for kind, track in p.outgoing.items():
                if isinstance(track, Outlet) and track.mismatched:
                    found.append(f"{party}/{kind}: {track.mismatched} -> {track.codec}")
        return found

    def dump(self) -> dict[str, Any]:
        encoded = self.pixels is not None
        return {
            "id": self.id,
            "forwarding": self.hub.forwarding,
            "fallbacks": self.fallbacks(),
            "receiver_decodes": sum(
                f.receiver_decodes
                for p in self.participants.values()
                for f in p.fanouts.values()
                if isinstance(f, Tap)
            ),
            "pixels": self.pixels.dump() if self.pixels is not None else None,
            "recorder": self.recorder.dump() if self.recorder is not None else None,
            "supervisors": [leg.dump() for leg in self.supervisors.values()],
            "participants": {
                party: {
                    "connection": p.pc.connectionState if p.pc else None,
                    "receiving": {kind: f.frames for kind, f in p.fanouts.items()},
                    "transcoded": p.transcoded,
                    **(
                        {
                            "taps": {kind: f.dump() for kind, f in p.fanouts.items()},
                            "outlets": {kind: o.dump() for kind, o in p.outgoing.items()},
                        }
                        if encoded
                        else {}
                    ),
                }
                for party, p in self.participants.items()
            },
        }


class MediaHub:
    def __init__(
        self,
        *,
        ice_servers: tuple[dict[str, Any], ...],
        connect_timeout: float,
        max_peer_connections: int,
        on_failure: Callable[[str, str], None],
        turn_server: Callable[[str], dict[str, Any]] | None = None,
        forwarding: Forwarding = "encoded",
        pixel_linger: float = PIXEL_LINGER,
        media_ports: PortRange | None = None,
        quality_interval: float = QUALITY_INTERVAL,
    ) -> None:
        """``pixel_linger``: seconds the customer-video decoder keeps running after the last
        use (a still, a sticky mark's tick)."""
        if forwarding not in FORWARDING_MODES:
            raise ValueError(f"forwarding must be one of {FORWARDING_MODES}, not {forwarding!r}")
        # "encoded": forward what parties send; "transcode": decode and re-encode (the old path).
        self.forwarding = forwarding
        self.pixel_linger = pixel_linger
        self.quality_interval = quality_interval
        # The UDP ports media may use (configure_gathering binds them); None: any port.
        self.media_ports = media_ports
        self.ice_servers = ice_servers
        # Mints a TURN ICE server (fresh credentials) for one server leg, named by the subject.
        self.turn_server = turn_server
        self.connect_timeout = connect_timeout
        self.max_peer_connections = max_peer_connections
        self.on_failure = on_failure
        self.sessions: dict[str, MediaSession] = {}
        # The quality tallies of the last calls closed, newest last (quality_summary).
        self._ended: dict[str, dict[str, QualityTally]] = {}
        self.peer_connections = 0
        self._closing: set[asyncio.Task[None]] = set()

    def rtc_configuration(self, subject: str) -> RTCConfiguration:
        # Always an explicit list: with None aiortc would use a public STUN server.
        entries = list(self.ice_servers)
        if self.turn_server is not None:
            # Minted per peer connection, so credentials are fresh when the allocation is made.
            entries.append(self.turn_server(subject))
        servers = [
            RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
            for s in entries
        ]
        return RTCConfiguration(iceServers=servers)

    def reserve_peer(self) -> None:
        if self.peer_connections >= self.max_peer_connections:
            raise MediaError("media_busy", "this server has no room for more media connections")
        if self.media_ports is not None:
            # Each peer connection takes one port per host address (BUNDLE and rtcp-mux).
            per_connection = max(1, len(host_addresses()))
            if (self.peer_connections + 1) * per_connection > self.media_ports.size:
                raise PortsUsedUp(self.media_ports)
        self.peer_connections += 1

    def release_peer(self) -> None:
        self.peer_connections -= 1

    def open(
        self, session_id: str, ticket_id: str, agent_id: str, customer_joins_later: bool = False
    ) -> MediaSession:
        session = self.sessions.get(session_id)
        if session is None:
            session = MediaSession(self, session_id, ticket_id, agent_id, customer_joins_later)
            self.sessions[session_id] = session
        return session

    async def close_session(self, session_id: str) -> None:
        """Detach the session at once; its peer connections close in the background."""
        session = self.sessions.pop(session_id, None)
        if session is not None:
            self._ended[session_id] = session.tallies  # for the call's log line, just after
            while len(self._ended) > ENDED_KEPT:
                self._ended.pop(next(iter(self._ended)))
            task = asyncio.create_task(session.close(), name=f"MediaSession({session_id}).close")
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def marks(self, session_id: str, on_moved: Update) -> StickyMarks:
        """The tracker of the call's sticky marks; ``on_moved`` hears of moves and losses."""
        return self._session(session_id).marks(on_moved)

    async def still(self, session_id: str) -> bytes:
        """A full-quality JPEG of the customer's current video frame (encoded off the loop)."""
        session = self._session(session_id)
        if session.pixels is not None:
            # The decoder may be idle: start it and wait for a frame of now, not of then.
            frame = await session.pixels.fresh(STILL_WAIT)
        else:
            frame = session._customer_frame()
        if frame is None:
            raise MediaError("no_video", "there is no video from the customer yet")
        return await asyncio.get_running_loop().run_in_executor(None, encode_jpeg, frame)

    def record(self, session_id: str, folder: Any) -> Recorder:
        """Start recording the call into ``folder`` (videoassist.recording decides when)."""
        return self._session(session_id).record(folder)

    def clock_origin(self, session_id: str) -> float | None:
        """The monotonic instant the call's media clock counts from (the call room uses it)."""
        session = self.sessions.get(session_id)
        return session.clock.origin if session is not None else None

    def session(self, session_id: str) -> MediaSession:
        """The live media session, or MediaError ``no_session``."""
        return self._session(session_id)

    def _session(self, session_id: str) -> MediaSession:
        session = self.sessions.get(session_id)
        if session is None or session.closed:
            raise MediaError("no_session", "this session has no media (it has ended)")
        return session

    async def hand_over(self, session_id: str, agent_id: str) -> None:
        session = self.sessions.get(session_id)
        if session is not None and not session.closed:
            await session.replace_agent(agent_id)

    async def answer(self, session_id: str, party: Party, sdp: str) -> RTCSessionDescription:
        if len(sdp.encode()) > MAX_SDP_BYTES:
            raise MediaError("bad_offer", "the offer is too large")
        if sdp.count("\nm=") + sdp.startswith("m=") > MAX_M_SECTIONS:
            raise MediaError(
                "bad_offer", f"the offer has more than {MAX_M_SECTIONS} media sections"
            )
        return await self._participant(session_id, party).answer(sdp)

    async def supervise(
        self, session_id: str, staff_id: str, mode: Mode, sdp: str
    ) -> RTCSessionDescription:
        """A supervisor monitors, whispers to the agent of or barges into a live call."""
        if len(sdp.encode()) > MAX_SDP_BYTES:
            raise MediaError("bad_offer", "the offer is too large")
        if sdp.count("\nm=") + sdp.startswith("m=") > MAX_M_SECTIONS:
            raise MediaError(
                "bad_offer", f"the offer has more than {MAX_M_SECTIONS} media sections"
            )
        return await self._session(session_id).supervise(staff_id, mode, sdp)

    async def supervisor_candidate(
        self, session_id: str, staff_id: str, candidate: dict[str, Any]
    ) -> None:
        leg = self._session(session_id).supervisors.get(staff_id)
        if leg is None:
            raise MediaError("not_supervising", "you are not watching that call")
        await leg.add_candidate(candidate)

    async def unsupervise(self, session_id: str, staff_id: str) -> bool:
        """The supervisor leaves the call's media (False: they were not in it, or it ended)."""
        session = self.sessions.get(session_id)
        return False if session is None else await session.unsupervise(staff_id)

    def quality(self, session_id: str) -> dict[str, Any] | None:
        """The newest sample of a call's media quality per leg (None before the first)."""
        session = self.sessions.get(session_id)
        return session.quality if session is not None else None

    def quality_summary(self, session_id: str) -> dict[str, Any] | None:
        """A call's media quality per leg over all its samples (also for a call closed a
        moment ago: the end of a call is logged after its media is let go)."""
        session = self.sessions.get(session_id)
        tallies = session.tallies if session is not None else self._ended.get(session_id)
        if not tallies:
            return None
        return {party: tally.summary() for party, tally in tallies.items()}

    def watched(self, session_id: str) -> bool:
        """Whether a supervisor is in the call's media."""
        session = self.sessions.get(session_id)
        return session is not None and bool(session.supervisors)

    def heard(self, session_id: str) -> tuple[str | None, str | None]:
        """Whose supervisor voice each party hears now: (agent's, customer's) mode or None."""
        session = self.sessions.get(session_id)
        leg = session.speaker() if session is not None and not session.closed else None
        if leg is None:
            return None, None
        return leg.mode, "barge" if leg.mode == "barge" else None

    async def add_candidate(self, session_id: str, party: Party, candidate: dict[str, Any]) -> None:
        await self._participant(session_id, party).add_candidate(candidate)

    def _participant(self, session_id: str, party: Party) -> Participant:
        return self._session(session_id).participants[party]

    async def close(self) -> None:
        for session_id in list(self.sessions):
            await self.close_session(session_id)
        await asyncio.gather(*self._closing, return_exceptions=True)

    def dump(self) -> dict[str, Any]:
        return {
            "peer_connections": self.peer_connections,
            "sessions": [s.dump() for s in self.sessions.values()],
        }

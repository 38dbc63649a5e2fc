"""Encoded forwarding: taps assemble what a party sends, outlets hand it to each consumer.

Theory of operation (docs/media.md has the long form):

* A ``Tap`` stands in for aiortc's jitter buffer of one remote track (installed through
  videoassist.media.aiortc_internals). aiortc still does SRTP, RTX unwrapping, NACKs and REMB,
  then hands the tap every depacketized packet on the event loop. The tap locks onto one SSRC,
  assembles frames (``VideoAssembler``: marker bit and contiguous sequence numbers; Opus packets
  pass straight through) and pushes each complete frame at once to its outlets. It never returns
  a frame to aiortc, so aiortc's decoder thread stays idle.
* An ``Outlet`` is one consumer's track: the other party's sender, later a supervisor or the
  recorder, and the pixel decoder. ``recv()`` returns ``av.Packet``, which aiortc's sender only
  packetizes. An outlet lives as long as its consumer and can be switched to another tap (a
  reconnect, a warm transfer): it starts every source at a keyframe and rebases timestamps so
  they stay monotonic. Its queue is bounded: on overflow it flushes and waits for a keyframe.
* Keyframe requests (loss, an outlet attaching or overflowing, a consumer's PLI/FIR) go to the
  tap, which sends a PLI upstream, at most one per ``KEYFRAME_INTERVAL``; requests in between are
  coalesced into one sent when the interval is over.

The assemblers are sans-IO (time comes from an injected clock) and tested with fake packets.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from videoassist.media import aiortc_internals
from videoassist.media.transcode import Transcoder

logger = logging.getLogger(__name__)

GAP_TIMEOUT = 0.25  # how long a missing packet may take to be retransmitted
KEYFRAME_INTERVAL = 0.3  # libwebrtc ignores requests sooner than this apart
KEYFRAME_RETRY = 1.0  # ask again while still waiting for a keyframe
WAITING_PACKETS = 128  # packets kept while waiting for a keyframe start
MAX_PACKETS = 1024  # packets kept while assembling: more means the stream is broken
CLOCK_RATES = {"audio": 48000, "video": 90000}
TIME_BASES = {kind: Fraction(1, rate) for kind, rate in CLOCK_RATES.items()}
OUTLET_QUEUE = {"audio": 50, "video": 60}  # one second of Opus, two of video
FREEZE_GAP = 0.5  # seconds without a video frame, once frames flow, that count as a freeze
ESTIMATE_TTL = 5.0  # a consumer's bandwidth estimate (REMB) counts this long (browsers: ~1/s)


@dataclass(slots=True)
class Packet:
    """What the assemblers need of one depacketized RTP packet."""

    seq: int
    timestamp: int
    marker: bool
    data: bytes
    start: bool | None = None  # begins a frame (None: the codec does not say)
    keyframe: bool = False  # begins a frame that needs no earlier one


@dataclass(slots=True)
class EncodedFrame:
    data: bytes
    timestamp: int  # RTP clock, unwrapped (never wraps, may start anywhere)
    keyframe: bool
    codec: str
    source: int = 0  # the tap that assembled it (outlets rebase per source)
    size: tuple[int, int] | None = None  # width, height of a VP8 keyframe
    at: float | None = None  # the call's media clock (seconds), when the tap has a timeline


@dataclass(slots=True)
class Assembled:
    frames: list[EncodedFrame]
    need_keyframe: bool = False


def unwrap(value: int, last: int | None, bits: int) -> int:
    """Extend a wrapping counter (sequence numbers: 16 bits, timestamps: 32) next to ``last``."""
    if last is None:
        return value
    span = 1 << bits
    delta = (value - last) % span
    if delta >= span // 2:
        delta -= span
    return last + delta


def vp8_packet(payload: bytes, data: bytes) -> tuple[bool, bool, tuple[int, int] | None]:
    """(start, keyframe, size) of a VP8 RTP packet (RFC 7741) from its payload descriptor's
    first octet and the depacketized data."""
    if not payload:
        return False, False, None
    start = bool(payload[0] & 0x10) and (payload[0] & 0x0F) == 0
    keyframe = start and len(data) >= 3 and not data[0] & 0x01
    size = None
    if keyframe and len(data) >= 10 and data[3:6] == b"\x9d\x01\x2a":
        size = (
            int.from_bytes(data[6:8], "little") & 0x3FFF,
            int.from_bytes(data[8:10], "little") & 0x3FFF,
        )
    return start, keyframe, size


def h264_packet(data: bytes) -> tuple[bool | None, bool]:
    """(start, keyframe) of a depacketized H.264 packet (Annex B NAL units)."""
    types = [data[i + 3] & 0x1F for i in range(len(data) - 3) if data[i : i + 3] == b"\x00\x00\x01"]
    keyframe = 5 in types or 7 in types
    return (True if types and types[0] in (7, 9) else None), keyframe


class VideoAssembler:
    """Frames from packets, in order, never a broken reference chain.

    A frame is the packets from a frame start to a packet with the marker bit, contiguous and
    sharing one timestamp. A hole waits ``gap_timeout`` for the retransmission; then everything
    up to the next keyframe is dropped and a keyframe is asked for (``need_keyframe``)."""

    def __init__(
        self,
        codec: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        gap_timeout: float = GAP_TIMEOUT,
    ) -> None:
        self.codec = codec
        self._clock = clock
        self._gap_timeout = gap_timeout
        self._packets: dict[int, Packet] = {}  # by unwrapped sequence number
        self._sizes: dict[int, tuple[int, int]] = {}
        self._highest: int | None = None
        self._next: int | None = None  # where the next frame starts; None: find a keyframe
        self._last_ts: int | None = None
        self._gap_since: float | None = None
        self.frames = 0
        self.lost = 0  # times the chain broke and we dropped to a keyframe
        self.late = 0  # packets that came after their frame was done or dropped

    @property
    def waiting_for_keyframe(self) -> bool:
        return self._next is None

    @property
    def deadline(self) -> float | None:
        """When ``poll()`` must run to give up on a hole, if one is open."""
        return None if self._gap_since is None else self._gap_since + self._gap_timeout

    def add(self, packet: Packet, size: tuple[int, int] | None = None) -> Assembled:
        seq = unwrap(packet.seq, self._highest, 16)
        packet.seq = seq
        if (self._next is not None and seq < self._next) or seq in self._packets:
            self.late += 1
            return Assembled([])
        self._packets[seq] = packet
        if size is not None:
            self._sizes[seq] = size
        if self._highest is None or seq > self._highest:
            self._highest = seq
        return self._drain()

    def poll(self) -> Assembled:
        return self._drain()

    def _drain(self) -> Assembled:
        out = Assembled([])
        while True:
            if self._next is None:
                start = self._keyframe_start()
                if start is None:
                    self._trim(self._highest_or(0) - WAITING_PACKETS)
                    break
                self._trim(start)
                self._next = start
            frame, hole = self._assemble(self._next)
            if frame is not None:
                out.frames.append(frame)
                continue
            if hole is None:
                self._gap_since = None
                break  # the frame's next packet is simply not here yet
            if hole == -1 or len(self._packets) > MAX_PACKETS:
                self._lose(self._next + 1)  # not a frame start, or a frame without marker
                out.need_keyframe = True
                continue
            now = self._clock()
            if self._gap_since is None:
                self._gap_since = now
            if now - self._gap_since < self._gap_timeout:
                break
            self._lose(hole)
            out.need_keyframe = True
        return out

    def _highest_or(self, default: int) -> int:
        return self._highest if self._highest is not None else default

    def _assemble(self, start: int) -> tuple[EncodedFrame | None, int | None]:
        """(frame, None) when complete; (None, seq) with a hole at seq; (None, -1) if broken;
        (None, None) when the rest has not arrived and nothing later has either."""
        first = self._packets.get(start)
        if first is None:
            return None, (start if self._highest_or(start) > start else None)
        if first.start is False:
            return None, -1
        seq, parts = start, []
        while True:
            packet = self._packets.get(seq)
            if packet is None:
                return None, (seq if self._highest_or(seq) > seq else None)
            if packet.timestamp != first.timestamp:
                return None, -1
            parts.append(packet.data)
            if packet.marker:
                break
            seq += 1
        for done in range(start, seq + 1):
            del self._packets[done]
        self._next = seq + 1
        self._gap_since = None
        self._last_ts = unwrap(first.timestamp, self._last_ts, 32)
        self.frames += 1
        return (
            EncodedFrame(
                b"".join(parts),
                self._last_ts,
                first.keyframe,
                self.codec,
                size=self._sizes.pop(start, None),
            ),
            None,
        )

    def _keyframe_start(self) -> int | None:
        for seq in sorted(self._packets):
            if self._packets[seq].keyframe:
                return seq
        return None

    def _lose(self, upto: int) -> None:
        """Give up on the frame being assembled: drop every packet before ``upto``."""
        logger.debug("VideoAssembler(%s) lost the chain before %d", self.codec, upto)
        self.lost += 1
        self._trim(upto)
        self._next = None
        self._gap_since = None

    def _trim(self, before: int) -> None:
        for seq in [s for s in self._packets if s < before]:
            del self._packets[seq]
            self._sizes.pop(seq, None)


class AudioAssembler:
    """Every Opus packet is a frame: forwarded at once, late ones dropped, no waiting."""

    def __init__(self, codec: str) -> None:
        self.codec = codec
        self._highest: int | None = None
        self._last_ts: int | None = None
        self.frames = 0
        self.late = 0
        self.lost = 0
        self.waiting_for_keyframe = False
        self.deadline: float | None = None

    def add(self, packet: Packet, size: tuple[int, int] | None = None) -> Assembled:
        seq = unwrap(packet.seq, self._highest, 16)
        if self._highest is not None and seq <= self._highest:
            self.late += 1
            return Assembled([])
        self._highest = seq
        self._last_ts = unwrap(packet.timestamp, self._last_ts, 32)
        self.frames += 1
        return Assembled([EncodedFrame(packet.data, self._last_ts, True, self.codec)])

    def poll(self) -> Assembled:
        return Assembled([])


class KeyframeThrottle:
    """At most one request per ``interval``; a request inside the interval is not lost but sent
    when the interval ends (sans-IO: the caller sends and schedules)."""

    def __init__(self, interval: float = KEYFRAME_INTERVAL) -> None:
        self.interval = interval
        self._last: float | None = None
        self.pending = False

    def request(self, now: float) -> float:
        """0: send now; otherwise the delay after which ``due()`` must run (once)."""
        if self._last is None or now - self._last >= self.interval:
            self._last = now
            self.pending = False
            return 0.0
        self.pending = True
        return self._last + self.interval - now

    def due(self, now: float) -> bool:
        """Whether the deferred request is to be sent now."""
        if not self.pending:
            return False
        self.pending = False
        self._last = now
        return True


_tap_ids = itertools.count(1)


class Tap:
    """Stands in for one receiver's jitter buffer and feeds encoded frames to outlets."""

    def __init__(
        self,
        kind: str,
        name: str,
        receiver: Any,
        *,
        clock: Callable[[], float] = time.monotonic,
        timeline: Any = None,
    ) -> None:
        """``timeline``: a ``videoassist.media.clock.StreamClock`` that stamps every frame with
        the call's media time (``EncodedFrame.at``), corrected by the sender's reports."""
        self.kind = kind
        self.name = name
        self.id = next(_tap_ids)
        self.timeline = timeline
        self.codec: str | None = None
        self.ssrc: int | None = None
        self.size: tuple[int, int] | None = None
        self.keyframe_requests = 0  # PLIs sent upstream
        self.bytes = 0  # payload bytes of the frames assembled (bitrate on the wallboard)
        self.freezes = 0  # video: gaps of more than FREEZE_GAP between frames
        self._last_frame_at: float | None = None
        self.foreign_packets = 0  # other SSRCs (simulcast layers, stray streams)
        self.pixels: Any = None  # the PixelDecoder fed by this tap, if any (stills, tracking)
        self._receiver = receiver
        self._clock = clock
        self._codecs = aiortc_internals.receiver_codecs(receiver)
        self._decoder_queue = aiortc_internals.install_tap(receiver, self)
        if timeline is not None:
            aiortc_internals.on_sender_report(receiver, self._sender_report)
        if kind == "video":
            # The REMB sent to the source: no more than the smallest consumer can take.
            aiortc_internals.cap_bandwidth_estimate(receiver, self.consumer_estimate)
        self._assembler: VideoAssembler | AudioAssembler | None = None
        self._outlets: set[Outlet] = set()
        self._throttle = KeyframeThrottle()
        self._last_request = -1e9
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closed = False

    @property
    def frames(self) -> int:
        return self._assembler.frames if self._assembler is not None else 0

    @property
    def latest(self) -> Any:
        """The newest decoded frame, if a pixel decoder listens to this tap; asking for it keeps
        the decoder running (it decodes only while someone looks)."""
        return self.pixels.current() if self.pixels is not None else None

    @property
    def receiver_decodes(self) -> int:
        """Frames aiortc's own decoder was given: 0 as long as the tap works."""
        return self._decoder_queue.frames

    # -- aiortc's side: the jitter buffer contract (aiortc 1.16.0) ---------------------------

    def add(self, packet: Any) -> tuple[bool, None]:
        if self.closed:
            return False, None
        if self.ssrc is None:
            self.ssrc = packet.ssrc
        elif packet.ssrc != self.ssrc:
            self.foreign_packets += 1
            return False, None
        codec = self._codecs.get(packet.payload_type)
        if codec is None:
            return False, None
        if self._assembler is None:
            self.codec = codec.name
            if self.kind == "video":
                self._assembler = VideoAssembler(codec.name, clock=self._clock)
            else:
                self._assembler = AudioAssembler(codec.name)
        elif codec.name != self.codec:
            return False, None  # one codec per tap; a renegotiation is a new peer connection
        data: bytes = packet._data
        size = None
        start: bool | None
        if self.codec == "VP8":
            start, keyframe, size = vp8_packet(packet.payload, data)
        elif self.codec == "H264":
            start, keyframe = h264_packet(data)
        else:
            start, keyframe = True, True
        result = self._assembler.add(
            Packet(
                packet.sequence_number, packet.timestamp, bool(packet.marker), data, start, keyframe
            ),
            size,
        )
        self._deliver(result)
        if (
            self._assembler.waiting_for_keyframe
            and self._clock() - self._last_request > KEYFRAME_RETRY
        ):
            self.request_keyframe("waiting")
        return False, None

    def _sender_report(self, ssrc: int, ntp: int, rtp_timestamp: int) -> None:
        if ssrc == self.ssrc and self.timeline is not None and not self.closed:
            self.timeline.report(rtp_timestamp, ntp)

    def _deliver(self, result: Assembled) -> None:
        if result.frames and self.kind == "video":
            now = self._clock()
            if self._last_frame_at is not None and now - self._last_frame_at > FREEZE_GAP:
                self.freezes += 1
            self._last_frame_at = now
        for frame in result.frames:
            self.bytes += len(frame.data)
            frame.source = self.id
            if self.timeline is not None:
                frame.at = self.timeline.map(frame.timestamp)
            if frame.size is not None:
                self.size = frame.size
            for outlet in list(self._outlets):
                outlet.push(frame)
        if result.need_keyframe:
            self.request_keyframe("loss")
        deadline = self._assembler.deadline if self._assembler is not None else None
        if deadline is not None and "gap" not in self._timers:
            loop = asyncio.get_running_loop()
            delay = max(0.0, deadline - self._clock()) + 0.001
            self._timers["gap"] = loop.call_later(delay, self._gap_due)

    def _gap_due(self) -> None:
        self._timers.pop("gap", None)
        if self._assembler is not None and not self.closed:
            self._deliver(self._assembler.poll())

    # -- consumers' side ----------------------------------------------------------------------

    def attach(self, outlet: Outlet, *, ask_keyframe: bool = True) -> None:
        """``ask_keyframe``: the outlet is being read already (else it asks on its first read)."""
        if self.closed:
            return
        self._outlets.add(outlet)
        if ask_keyframe:
            self.request_keyframe(f"attach {outlet.name}")

    def detach(self, outlet: Outlet) -> None:
        self._outlets.discard(outlet)

    def consumer_estimate(self) -> int | None:
        """The smallest recent bandwidth estimate (bits/s) of the consumers forwarded packets
        as they came; None without one. A transcoded leg is left out: its own encoder follows
        its consumer's estimate."""
        now = self._clock()
        fresh = [
            outlet.estimate[0]
            for outlet in self._outlets
            if isinstance(outlet, Outlet)
            and outlet.estimate is not None
            and now - outlet.estimate[1] <= ESTIMATE_TTL
            and not outlet.transcoding
        ]
        return min(fresh) if fresh else None

    def request_keyframe(self, reason: str) -> None:
        if self.kind != "video" or self.closed:
            return
        now = self._clock()
        self._last_request = now
        delay = self._throttle.request(now)
        if delay == 0.0:
            self._send_pli(reason)
        elif "keyframe" not in self._timers:
            loop = asyncio.get_running_loop()
            self._timers["keyframe"] = loop.call_later(delay, self._keyframe_due)

    def _keyframe_due(self) -> None:
        self._timers.pop("keyframe", None)
        if not self.closed and self._throttle.due(self._clock()):
            self._send_pli("deferred")

    def _send_pli(self, reason: str) -> None:
        if self.ssrc is None:
            # Nothing received yet: the first frames wait for a keyframe and ask then.
            return
        self.keyframe_requests += 1
        logger.debug("Tap(%s) keyframe request (%s)", self.name, reason)
        task = asyncio.get_running_loop().create_task(
            aiortc_internals.send_pli(self._receiver, self.ssrc), name=f"Tap({self.name}).pli"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Idempotent. Detaches every outlet (they wait for a new source), stops the timers."""
        if self.closed:
            return
        self.closed = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for outlet in list(self._outlets):
            outlet.source_closed(self)
        self._outlets.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        logger.debug("Tap(%s) closed after %d frames", self.name, self.frames)

    def dump(self) -> dict[str, Any]:
        assembler = self._assembler
        return {
            "codec": self.codec,
            "ssrc": self.ssrc,
            "size": self.size,
            "frames": self.frames,
            "lost": assembler.lost if assembler is not None else 0,
            "late_packets": assembler.late if assembler is not None else 0,
            "foreign_packets": self.foreign_packets,
            "keyframe_requests": self.keyframe_requests,
            "freezes": self.freezes,
            "receiver_decodes": self.receiver_decodes,
            "consumer_estimate": self.consumer_estimate() if self.kind == "video" else None,
            "outlets": sorted(o.name for o in self._outlets),
        }


class Outlet(MediaStreamTrack):
    """One consumer's track of encoded packets: long-lived, its source (a ``Tap``) switchable.

    aiortc senders stop for good when their track raises ``MediaStreamError``, so a sender gets
    one outlet for its whole life and only ``stop()`` ends it."""

    def __init__(
        self,
        kind: str,
        name: str,
        *,
        maxlen: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.name = name
        self.codec: str | None = None  # what the consumer accepts (a sender's negotiated codec)
        self._clock = clock
        self._rate = CLOCK_RATES[kind]
        self._queue: deque[EncodedFrame] = deque()
        self._maxlen = maxlen or OUTLET_QUEUE[kind]
        self._wakeup = asyncio.Event()
        self._source: Tap | None = None
        self._need_keyframe = kind == "video"
        # Nothing is queued before the consumer first asks: a sender whose peer connection is
        # still connecting would otherwise get seconds of stale frames in one burst.
        self._started = False
        self._rebased_source: int | None = None
        self._offset = 0
        self._last_pts: int | None = None
        self._last_at: float | None = None
        self.frames = 0
        self.overflows = 0
        self.skipped = 0  # frames not queued while waiting for a keyframe
        self.mismatched: str | None = None  # a source codec the consumer cannot take as-is
        # Decode-and-re-encode for this leg alone, made on the first mismatched video frame.
        self.transcoder: Transcoder | None = None
        self.transcoding = False  # the last frame handed to the consumer was transcoded
        self.estimate: tuple[int, float] | None = None  # the consumer's last REMB: (bps, when)

    @property
    def source(self) -> Tap | None:
        return self._source

    def set_source(self, tap: Tap | None) -> None:
        old, self._source = self._source, tap
        if old is tap:
            return
        if old is not None:
            old.detach(self)
        if self.kind == "video":
            self._need_keyframe = True
        if tap is not None:
            tap.attach(self, ask_keyframe=self._started)

    def source_closed(self, tap: Tap) -> None:
        if self._source is tap:
            self._source = None

    def keyframe_requested(self) -> None:
        """The consumer lost pictures (its PLI or FIR): pass the request to the source."""
        if self._source is not None:
            self._source.request_keyframe(f"consumer {self.name}")

    def bandwidth_estimate(self, bitrate: int) -> None:
        """The consumer's REMB for what this outlet sends (bits/s): caps the source's REMB."""
        self.estimate = (bitrate, self._clock())

    def resync(self) -> None:
        """Drop what is queued and start again at the next keyframe (a decoder's error)."""
        self._queue.clear()
        if self.kind == "video":
            self._need_keyframe = True
            if self._source is not None:
                self._source.request_keyframe(f"resync {self.name}")

    def push(self, frame: EncodedFrame) -> None:
        if self.readyState != "live":
            return
        if not self._started:
            self.skipped += 1
            return
        if self.codec is not None and frame.codec != self.codec and self.mismatched != frame.codec:
            self.mismatched = frame.codec
            logger.warning(
                "Outlet(%s) source codec %s, consumer takes %s: %s",
                self.name,
                frame.codec,
                self.codec,
                "transcoding this leg" if self._transcodable(frame) else "not forwardable as-is",
            )
        if self._need_keyframe:
            if not frame.keyframe:
                self.skipped += 1
                return
            self._need_keyframe = False
        if len(self._queue) >= self._maxlen:
            self.overflows += 1
            self._queue.clear()
            if self.kind == "video" and not frame.keyframe:
                logger.info("Outlet(%s) overflowed: waiting for a keyframe", self.name)
                self._need_keyframe = True
                self.skipped += 1
                if self._source is not None:
                    self._source.request_keyframe(f"overflow {self.name}")
                return
        self._queue.append(frame)
        self._wakeup.set()

    async def next_frame(self) -> EncodedFrame:
        """The next frame with its timestamp rebased (pts); raises MediaStreamError once stopped."""
        if not self._started:
            self._started = True
            if self.kind == "video" and self._source is not None:
                self._source.request_keyframe(f"start {self.name}")
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._wakeup.clear()
            await self._wakeup.wait()
        if self.readyState != "live":
            raise MediaStreamError
        frame = self._queue.popleft()
        now = self._clock()
        if frame.source != self._rebased_source:
            # A new source: continue from where the last one left off, plus the time since.
            if self._last_pts is None or self._last_at is None:
                start = 0
            else:
                start = self._last_pts + max(1, round((now - self._last_at) * self._rate))
            self._offset = start - frame.timestamp
            self._rebased_source = frame.source
        pts = frame.timestamp + self._offset
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        self._last_pts, self._last_at = pts, now
        self.frames += 1
        return EncodedFrame(
            frame.data, pts, frame.keyframe, frame.codec, frame.source, frame.size, frame.at
        )

    def _transcodable(self, frame: EncodedFrame) -> bool:
        """Whether this leg must decode ``frame`` for the sender to re-encode it."""
        return (
            self.kind == "video"
            and self.codec is not None
            and frame.codec != self.codec
            and Transcoder.can_decode(frame.codec)
        )

    async def recv(self) -> av.Packet | av.VideoFrame:  # type: ignore[override]
        """An ``av.Packet`` (the sender only packetizes it), or on a leg whose consumer did not
        negotiate the source's codec a decoded ``av.VideoFrame`` (the sender encodes it)."""
        while True:
            frame = await self.next_frame()
            if self._transcodable(frame):
                picture = await self._transcode(frame)
                if picture is None:
                    continue
                return picture
            self.transcoding = False
            packet = av.Packet(frame.data)
            packet.pts = packet.dts = frame.timestamp
            packet.time_base = TIME_BASES[self.kind]
            packet.is_keyframe = frame.keyframe
            return packet

    async def _transcode(self, frame: EncodedFrame) -> av.VideoFrame | None:
        if self.transcoder is None:
            self.transcoder = Transcoder(self.name)
        try:
            picture = await self.transcoder.decode(frame.data, frame.timestamp, frame.codec)
        except av.FFmpegError as exc:
            self.transcoder.failed(exc)
            self.resync()  # the chain is broken: start again at the source's next keyframe
            return None
        if picture is not None:
            self.transcoding = True
        return picture

    def stop(self) -> None:
        super().stop()
        self.set_source(None)
        self._queue.clear()
        self._wakeup.set()
        if self.transcoder is not None:
            self.transcoder.close()

    def dump(self) -> dict[str, Any]:
        return {
            "codec": self.codec,
            "source": self._source.name if self._source is not None else None,
            "frames": self.frames,
            "queued": len(self._queue),
            "overflows": self.overflows,
            "skipped": self.skipped,
            "mismatched": self.mismatched,
            "transcoded": self.transcoding,
            "estimate": self.estimate[0] if self.estimate is not None else None,
            "transcoder": self.transcoder.dump() if self.transcoder is not None else None,
        }

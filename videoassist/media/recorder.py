"""The recorder: one more outlet per stream, written as it came (no decode, no re-encode).

Theory of operation (docs/media.md has the long form):

* A ``Recorder`` belongs to one ``MediaSession`` and exists only once recording is allowed
  (the policy says "always", or the customer said yes): before that there is no outlet, so no
  media byte can reach a file. It has four ``Outlet``s (customer and agent, video and audio);
  the session points them at the current taps, and at the new ones after a reconnect or a warm
  transfer, like any consumer. Video starts at a keyframe. Its outlets (``RecorderOutlet``)
  hand each frame on as the tap pushes it, with no queue or task of their own.
* One file per party: ``customer.webm`` and ``agent.webm`` (WebM: VP8 + Opus), each written by
  its own ``PartyWriter`` thread from a bounded queue, in batches (``WRITER_BATCH``). The
  event loop only ever ``put_nowait``s;
  when a queue is full the packet is dropped and counted (``overflows``), and a video outlet
  drops to its next keyframe (a skipped frame would break the reference chain).
* Every packet's pts is its media time (``EncodedFrame.at``: the call's media clock, from the
  tap's ``StreamClock``) in the packet's own time base (1/90000 video, 1/48000 audio: the
  Matroska muxer rewrites the stream time base to 1/1000 when it writes the header, so the
  packet must say what its ticks are). Both files share the media clock, so they line up with
  each other and with the sidecar event log without any offset bookkeeping.
* Files are muxed with ``cluster_time_limit=1000`` and ``flush_packets=1``: a killed process
  leaves a file playable to within about a second; ``repair()`` remuxes one (no decode) so its
  duration is written.
* ``pause()`` drops what arrives until ``resume()``; video resumes at a keyframe. The gap stays
  in the media time line (players show the last picture and silence).
* A party whose video is H.264 (a non-browser endpoint: every WebRTC browser must offer VP8,
  RFC 7742) cannot go into WebM as it came; its writer thread decodes it and encodes VP8
  (``ToVp8``), the one re-encode in the recorder, for that party's file only, and counted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from videoassist.media.forwarding import CLOCK_RATES, EncodedFrame, Outlet, Tap

logger = logging.getLogger(__name__)

PARTIES = ("customer", "agent")
KINDS = ("video", "audio")
MUX_OPTIONS = {
    "cluster_time_limit": "1000",  # a cluster (and so a readable stretch) per second at most
    "flush_packets": "1",  # each packet reaches the file at once: a kill loses ≤ 1 cluster
    # The interleaver waits for a packet of every stream before writing; a party with its
    # camera off sends no video, so bound the wait (µs) instead of buffering forever.
    "max_interleave_delta": "500000",
}
WRITER_QUEUE = 600  # packets per party (≈4 s of 30 fps video and 50 pps Opus)
# The writer wakes at most this often and writes what has come meanwhile: a thread wake-up per
# packet costs more CPU than the muxing itself. Well inside the second a kill may lose.
WRITER_BATCH = 0.1
KEYFRAME_WAIT = 1.0  # media seconds of audio kept while waiting for video's size
DEFAULT_SIZE = (640, 480)  # header size when a party sends no video (players use in-band size)
# What WebRTC's Opus is (RFC 7587): 48 kHz, signalled as two channels.
OPUS_LAYOUT = "stereo"


RECORD_DECODERS = {"H264": "h264"}  # video codecs re-encoded to VP8 for the file (ToVp8)
VP8_BITRATE = 1_000_000  # the re-encoded video: about what a browser sends at 640x480
VP8_KEYFRAME_EVERY = 60  # frames: a re-encoded file can be sought every couple of seconds


@dataclass(slots=True)
class Item:
    kind: str
    data: bytes
    at: float  # media-clock seconds
    keyframe: bool
    size: tuple[int, int] | None = None
    codec: str = "VP8"  # video: as it came (H.264 is re-encoded by the writer thread)


class ToVp8:
    """In a writer thread: decode one party's H.264 and encode it as VP8 for the WebM file.

    The encoder is made at the first decoded picture's size and made again when the size
    changes (the file's video then changes size in band, as a browser's VP8 does). Realtime
    settings: a recording must keep up with the call, not win on quality.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.decoded = 0
        self.encoded = 0
        self.errors = 0
        self._decoder: Any = None
        self._codec = ""
        self._encoder: Any = None
        self._size: tuple[int, int] | None = None

    def convert(self, item: Item, pts: int) -> list[tuple[bytes, int, bool]]:
        """VP8 packets (data, pts in 1/90000 s, keyframe) for one H.264 frame; none while the
        decoder waits for a keyframe or after a corrupt frame."""
        if item.codec != self._codec:
            self._decoder = av.CodecContext.create(RECORD_DECODERS[item.codec], "r")
            self._codec = item.codec
        try:
            pictures = self._decoder.decode(av.Packet(item.data))
        except av.FFmpegError:
            self.errors += 1
            return []
        out: list[tuple[bytes, int, bool]] = []
        for picture in pictures:
            self.decoded += 1
            size = (picture.width, picture.height)
            if size != self._size:
                self._encoder = self._new_encoder(size)
                self._size = size
            picture = picture.reformat(format="yuv420p")
            picture.pts = pts
            picture.time_base = Fraction(1, 90000)
            for packet in self._encoder.encode(picture):
                self.encoded += 1
                out.append((bytes(packet), pts, bool(packet.is_keyframe)))
        return out

    @staticmethod
    def _new_encoder(size: tuple[int, int]) -> Any:
        encoder = av.CodecContext.create("libvpx", "w")
        encoder.width, encoder.height = size
        encoder.pix_fmt = "yuv420p"
        encoder.time_base = Fraction(1, 90000)
        encoder.bit_rate = VP8_BITRATE
        encoder.gop_size = VP8_KEYFRAME_EVERY
        encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        return encoder


@dataclass(slots=True)
class StreamStats:
    packets: int = 0
    first: float | None = None
    last: float | None = None


@dataclass(slots=True)
class FileSummary:
    party: str
    name: str
    size: int
    start: float | None  # media time of the first packet
    end: float | None
    streams: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        if self.start is None or self.end is None:
            return 0.0
        return round(self.end - self.start, 3)

    def row(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "name": self.name,
            "size": self.size,
            "start": self.start,
            "duration": self.duration,
            "streams": self.streams,
        }


class PartyWriter:
    """One party's file, written by one thread from a bounded queue."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        self.queue: queue.Queue[Item | None] = queue.Queue(maxsize=WRITER_QUEUE)
        self.stats = {kind: StreamStats() for kind in KINDS}
        self.overflows = 0
        self.errors = 0
        self.bytes = 0
        self.to_vp8: ToVp8 | None = None  # made on the first H.264 frame
        self._thread = threading.Thread(target=self._run, name=f"Recorder({name})", daemon=True)
        self._started = False
        self._done = False

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def put(self, item: Item) -> bool:
        """From the event loop: never blocks; False when the queue is full (item dropped)."""
        try:
            self.queue.put_nowait(item)
        except queue.Full:
            self.overflows += 1
            return False
        return True

    def finish(self) -> None:
        """Blocking (run it in a thread): write what is queued, close the file."""
        if self._done:
            return
        self._done = True
        if not self._started:
            return
        self.queue.put(None)
        self._thread.join()

    # -- the writer thread --------------------------------------------------------------------

    def _run(self) -> None:
        container: Any = None
        streams: dict[str, Any] = {}
        last_pts: dict[str, int] = {}
        pending: list[Item] = []
        try:
            for item in self._items():
                if container is None:
                    pending.append(item)
                    video = item.kind == "video" and item.keyframe
                    if not video and item.at - pending[0].at < KEYFRAME_WAIT:
                        continue
                    container, streams = self._open(pending)
                    for held in pending:
                        self._write(container, streams, last_pts, held)
                    pending = []
                    continue
                self._write(container, streams, last_pts, item)
            if container is None and pending:
                container, streams = self._open(pending)
                for held in pending:
                    self._write(container, streams, last_pts, held)
        except Exception:
            self.errors += 1
            logger.exception("PartyWriter(%s) failed; the file ends here", self.name)
            while self.queue.get() is not None:  # keep draining so finish() returns
                pass
        finally:
            if container is not None:
                try:
                    container.close()
                except Exception:
                    self.errors += 1
                    logger.exception("PartyWriter(%s) could not close its file", self.name)
            if self.path.exists():
                self.bytes = self.path.stat().st_size

    def _items(self) -> Iterator[Item]:
        """What is queued, in batches: block for one, pause, then take all there is."""
        while True:
            batch = [self.queue.get()]
            if batch[0] is not None:
                time.sleep(WRITER_BATCH)
                while True:
                    try:
                        batch.append(self.queue.get_nowait())
                    except queue.Empty:
                        break
            for item in batch:
                if item is None:
                    return
                yield item

    def _open(self, pending: list[Item]) -> tuple[Any, dict[str, Any]]:
        size = next((i.size for i in pending if i.kind == "video" and i.size), DEFAULT_SIZE)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        container = av.open(str(self.path), "w", format="webm", options=MUX_OPTIONS)
        video = container.add_mux_stream("vp8", width=size[0], height=size[1])
        # A codec context only so that the header gets Opus's identification header (OpusHead:
        # channels, pre-skip) as the file's CodecPrivate; no audio is ever encoded with it.
        audio = container.add_stream("libopus", rate=48000, layout=OPUS_LAYOUT)
        logger.info("PartyWriter(%s) writing %s at %dx%d", self.name, self.path, *size)
        return container, {"video": video, "audio": audio}

    def _write(
        self, container: Any, streams: dict[str, Any], last_pts: dict[str, int], item: Item
    ) -> None:
        rate = CLOCK_RATES[item.kind]
        pts = round(item.at * rate)
        previous = last_pts.get(item.kind)
        if previous is not None and pts <= previous:
            pts = previous + 1  # the muxer refuses non-monotonic timestamps
        last_pts[item.kind] = pts
        if item.kind == "video" and item.codec != "VP8":
            if self.to_vp8 is None:
                self.to_vp8 = ToVp8(self.name)
                logger.info("PartyWriter(%s) re-encodes %s video to VP8", self.name, item.codec)
            packets = self.to_vp8.convert(item, pts)
        else:
            packets = [(item.data, pts, item.keyframe)]
        for data, at, keyframe in packets:
            packet = av.Packet(data)
            packet.pts = packet.dts = at
            packet.time_base = Fraction(1, rate)
            packet.stream = streams[item.kind]
            packet.is_keyframe = keyframe
            container.mux(packet)
        stats = self.stats[item.kind]
        stats.packets += 1
        if stats.first is None:
            stats.first = item.at
        stats.last = item.at + (960 / 48000 if item.kind == "audio" else 0.0)

    def summary(self, party: str) -> FileSummary:
        present = [s for s in self.stats.values() if s.first is not None]
        return FileSummary(
            party,
            self.path.name,
            self.bytes,
            min((s.first for s in present if s.first is not None), default=None),
            max((s.last for s in present if s.last is not None), default=None),
            {
                kind: {"packets": s.packets, "start": s.first, "end": s.last}
                for kind, s in self.stats.items()
            },
        )


class RecorderOutlet(Outlet):
    """An outlet whose consumer takes each frame as the tap pushes it (no queue, no task): the
    writer's queue is the buffer. From a keyframe on, like any outlet; ``sink`` returns False
    when it could not take a frame, and video then drops to the next keyframe."""

    def __init__(self, kind: str, name: str, sink: Callable[[Outlet, EncodedFrame], bool]) -> None:
        super().__init__(kind, name)
        self._sink = sink
        self._started = True  # read from the start: attaching asks for a keyframe

    def push(self, frame: EncodedFrame) -> None:
        if self.readyState != "live":
            return
        if self.kind == "video" and frame.codec != "VP8" and frame.codec not in RECORD_DECODERS:
            # WebM takes VP8 (H.264 is re-encoded by the writer); a codec we cannot decode
            # would make a file no player reads: that party's file keeps its voice only.
            if self.mismatched != frame.codec:
                self.mismatched = frame.codec
                logger.warning(
                    "RecorderOutlet(%s) %s video is not recorded", self.name, frame.codec
                )
            self.skipped += 1
            return
        if self._need_keyframe:
            if not frame.keyframe:
                self.skipped += 1
                return
            self._need_keyframe = False
        self.frames += 1
        if not self._sink(self, frame):
            self.overflows += 1
            if self.kind == "video":
                self.resync()


class Recorder:
    """One call's recording: an outlet per stream, a writer thread per party."""

    def __init__(self, call_id: str, folder: Path) -> None:
        self.call_id = call_id
        self.folder = folder
        self.writers = {
            party: PartyWriter(f"{call_id}/{party}", folder / f"{party}.webm") for party in PARTIES
        }
        self.outlets: dict[tuple[str, str], Outlet] = {
            (party, kind): RecorderOutlet(
                kind, f"{call_id}/{party}/{kind}/recorder", self._sink_for(party)
            )
            for party in PARTIES
            for kind in KINDS
        }
        self.paused = False
        self.dropped = 0  # frames dropped because a writer queue was full
        self._closing: asyncio.Future[list[FileSummary]] | None = None

    @property
    def closed(self) -> bool:
        return self._closing is not None

    def start(self) -> None:
        """Start the writers (the outlets take frames as soon as they have a source)."""
        for writer in self.writers.values():
            writer.start()

    def set_source(self, party: str, kind: str, tap: Tap | None) -> None:
        outlet = self.outlets.get((party, kind))
        if outlet is not None and not self.closed:
            outlet.set_source(tap)

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            for (_, kind), outlet in self.outlets.items():
                if kind == "video":
                    outlet.resync()  # the first frame written after a pause is a keyframe

    def _sink_for(self, party: str) -> Callable[[Outlet, EncodedFrame], bool]:
        writer = self.writers[party]

        def sink(outlet: Outlet, frame: EncodedFrame) -> bool:
            if self.paused or frame.at is None:
                return True  # not wanted: not a loss
            item = Item(outlet.kind, frame.data, frame.at, frame.keyframe, frame.size, frame.codec)
            if writer.put(item):
                return True
            self.dropped += 1
            if writer.overflows == 1 or writer.overflows % 100 == 0:
                logger.warning(
                    "Recorder(%s) %s writer queue full: %d packets dropped so far",
                    self.call_id,
                    party,
                    writer.overflows,
                )
            return False

        return sink

    async def close(self) -> list[FileSummary]:
        """Idempotent: stops the outlets, lets each writer write what it has queued and close
        its file (in a thread), and returns what was written. A second caller waits."""
        if self._closing is not None:
            return await asyncio.shield(self._closing)
        self._closing = asyncio.get_running_loop().create_future()
        try:
            for outlet in self.outlets.values():
                outlet.stop()
            for writer in self.writers.values():
                await asyncio.to_thread(writer.finish)
            files = [w.summary(p) for p, w in self.writers.items() if w.path.exists()]
            logger.info(
                "Recorder(%s) finished: %s",
                self.call_id,
                ", ".join(f"{f.name} {f.duration:.1f}s {f.size}B" for f in files) or "no files",
            )
            self._closing.set_result(files)
        except BaseException as exc:
            self._closing.set_exception(exc)
            raise
        return files

    def dump(self) -> dict[str, Any]:
        return {
            "paused": self.paused,
            "dropped": self.dropped,
            "outlets": {f"{p}/{k}": o.dump() for (p, k), o in self.outlets.items()},
            "writers": {
                p: {
                    "queued": w.queue.qsize(),
                    "overflows": w.overflows,
                    "errors": w.errors,
                    "packets": {k: s.packets for k, s in w.stats.items()},
                    "reencoded": w.to_vp8.encoded if w.to_vp8 is not None else 0,
                }
                for p, w in self.writers.items()
            },
        }


def repair(path: Path) -> tuple[float, int]:
    """Blocking: remux a file a killed writer left (no decode) so its duration and cues are
    written; the original is replaced atomically. Returns (duration seconds, size)."""
    fixed = path.with_suffix(".repair.webm")
    with av.open(str(path)) as source:
        streams = list(source.streams)
        with av.open(str(fixed), "w", format="webm", options=MUX_OPTIONS) as out:
            mapping = {s.index: out.add_stream_from_template(s) for s in streams}
            for packet in source.demux(streams):
                if packet.dts is None or packet.size == 0:
                    continue  # demux's end-of-stream markers
                packet.stream = mapping[packet.stream.index]
                try:
                    out.mux(packet)
                except av.FFmpegError:
                    break  # a torn packet at the very end of a killed file
    os.replace(fixed, path)
    return probe_duration(path), path.stat().st_size


def probe_duration(path: Path) -> float:
    with av.open(str(path)) as container:
        return round((container.duration or 0) / 1_000_000, 3)

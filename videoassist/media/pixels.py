"""Pixels where they are needed, and only while they are: one decoder per customer video, off
the event loop.

A ``PixelDecoder`` is an outlet's consumer like any sender: it reads encoded frames from a
keyframe on, decodes every one of them (VP8 delta frames cannot be skipped) with PyAV in its own
single thread, and keeps the newest decoded frame for freeze-frame stills and sticky-mark
tracking. A decode error drops the queue and waits for the next keyframe, asking for one.

Decoding costs about as much as forwarding a stream, and most of a call needs no pixels, so the
decoder runs on demand: ``want()`` (sticky marks ask at every tick) keeps it running for
``LINGER`` seconds more; ``fresh()`` (a still) starts it and waits for a frame decoded now.
Idle, its outlet is detached from the tap: nothing is copied or queued for it. Starting again
asks the source for a keyframe (about 0.1 s with a browser), so a still takes that much longer
when nothing was decoding.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError

from videoassist.media.forwarding import TIME_BASES, EncodedFrame, Outlet, Tap

logger = logging.getLogger(__name__)

LINGER = 5.0  # seconds the decoder keeps running after the last want()

DECODERS = {"VP8": "vp8", "H264": "h264"}  # RTP codec name → FFmpeg decoder


class PixelDecoder:
    def __init__(
        self, name: str, *, linger: float = LINGER, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.linger = linger
        self.outlet = Outlet("video", f"{name}/pixels")
        self.latest: av.VideoFrame | None = None
        self.decoded = 0
        self.errors = 0
        self.runs = 0  # how many times demand started the decoder
        self._clock = clock
        self._tap: Tap | None = None
        self._wanted_until = 0.0
        self._active = False
        self._decoded_event = asyncio.Event()
        self._codec: str | None = None
        self._context: Any = None
        self._executor: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self.closed = False

    def set_source(self, tap: Tap | None) -> None:
        """The customer's video tap (a new one after a reconnect); decoding follows demand."""
        if self.closed:
            return
        if tap is not None:
            tap.pixels = self
        self._tap = tap
        if self._active:
            self.outlet.set_source(tap)

    @property
    def active(self) -> bool:
        return self._active

    def want(self) -> None:
        """Someone needs pixels now: decode (again) and keep decoding ``linger`` seconds more."""
        if self.closed:
            return
        self._wanted_until = max(self._wanted_until, self._clock() + self.linger)
        if self._active:
            return
        self._active = True
        self.runs += 1
        self.latest = None  # a frame from an earlier run is out of date
        if self._task is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"PixelDecoder({self.name})")
            self._task = asyncio.create_task(self._run(), name=f"PixelDecoder({self.name})")
        self.outlet.set_source(self._tap)

    def current(self) -> av.VideoFrame | None:
        """The newest frame of this run (None when idle): reading it counts as wanting it."""
        self.want()
        return self.latest

    async def fresh(self, wait: float) -> av.VideoFrame | None:
        """A frame decoded after this call (starting the decoder if idle), or None after
        ``wait`` seconds."""
        self.want()
        seen = self.decoded
        deadline = self._clock() + wait
        while self.decoded == seen or self.latest is None:
            remaining = deadline - self._clock()
            if remaining <= 0 or self.closed:
                return None
            self._decoded_event.clear()
            try:
                await asyncio.wait_for(self._decoded_event.wait(), remaining)
            except TimeoutError:
                return None
        return self.latest

    def _idle(self) -> None:
        self._active = False
        self.outlet.set_source(None)
        self.outlet.resync()  # what was queued is dropped; the next run starts at a keyframe

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                frame = await self.outlet.next_frame()
                try:
                    decoded = await loop.run_in_executor(self._executor, self._decode, frame)
                except av.FFmpegError as exc:
                    self.errors += 1
                    logger.info("PixelDecoder(%s) decode failed: %s", self.name, exc)
                    self.outlet.resync()
                    continue
                if decoded is not None and self._active:
                    self.latest = decoded
                    self._decoded_event.set()
                if self._active and self._clock() > self._wanted_until:
                    self._idle()
        except MediaStreamError:
            pass

    def _decode(self, frame: EncodedFrame) -> av.VideoFrame | None:
        """In the decoder's thread: PyAV releases the GIL while FFmpeg works."""
        if frame.codec != self._codec:
            name = DECODERS.get(frame.codec)
            if name is None:
                return None
            self._context = av.CodecContext.create(name, "r")
            self._codec = frame.codec
        packet = av.Packet(frame.data)
        packet.pts = frame.timestamp
        packet.time_base = TIME_BASES["video"]
        newest = None
        for decoded in self._context.decode(packet):
            newest = decoded
        self.decoded += 1
        return newest

    async def close(self) -> None:
        """Idempotent: stops the outlet, then cancels and awaits the task; a frame in the
        decoder's thread finishes there."""
        if self.closed:
            return
        self.closed = True
        self._active = False
        self._decoded_event.set()
        self.outlet.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=False)

    def dump(self) -> dict[str, Any]:
        return {
            "codec": self._codec,
            "decoded": self.decoded,
            "errors": self.errors,
            "active": self._active,
            "runs": self.runs,
            "size": (self.latest.width, self.latest.height) if self.latest is not None else None,
            "outlet": self.outlet.dump(),
        }

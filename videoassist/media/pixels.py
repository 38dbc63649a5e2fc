"""Pixels where they are needed: one decoder per customer video, off the event loop.

A ``PixelDecoder`` is an outlet's consumer like any sender: it reads encoded frames from a
keyframe on, decodes every one of them (VP8 delta frames cannot be skipped) with PyAV in its own
single thread, and keeps the newest decoded frame for freeze-frame stills and sticky-mark
tracking. A decode error drops the queue and waits for the next keyframe, asking for one.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError

from videoassist.media.forwarding import TIME_BASES, EncodedFrame, Outlet, Tap

logger = logging.getLogger(__name__)

DECODERS = {"VP8": "vp8", "H264": "h264"}  # RTP codec name → FFmpeg decoder


class PixelDecoder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.outlet = Outlet("video", f"{name}/pixels")
        self.latest: av.VideoFrame | None = None
        self.decoded = 0
        self.errors = 0
        self._codec: str | None = None
        self._context: Any = None
        self._executor: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self.closed = False

    def set_source(self, tap: Tap | None) -> None:
        if self.closed:
            return
        if tap is not None:
            tap.pixels = self
        self.outlet.set_source(tap)
        if self._task is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"PixelDecoder({self.name})")
            self._task = asyncio.create_task(self._run(), name=f"PixelDecoder({self.name})")

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
                if decoded is not None:
                    self.latest = decoded
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
            "size": (self.latest.width, self.latest.height) if self.latest is not None else None,
            "outlet": self.outlet.dump(),
        }

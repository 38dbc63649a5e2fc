"""Decode-and-re-encode for one leg whose consumer cannot take the source's codec as-is.

Encoded forwarding hands a sender the source's packets untouched, which only works when both
sides negotiated the same codec. A party whose browser offers only H.264 facing one that offers
only VP8 (or the reverse) gets this fallback, for that leg alone: the consumer's ``Outlet``
decodes each source frame here, in a thread of its own, and returns a decoded ``av.VideoFrame``
to aiortc's sender, which then encodes it in the codec it negotiated (aiortc's own encoder, in
the loop's default executor) instead of merely packetizing. Every other leg of the hub keeps
forwarding packets.

What stays the same on a transcoded leg: the outlet still starts at a keyframe, rebases pts,
bounds its queue and relays the consumer's keyframe requests upstream; aiortc's encoder also
makes a keyframe of its own for such a request (``aiortc_internals.on_keyframe_request`` keeps
its flag). A decode error drops the outlet's queue and waits for the next source keyframe.
The consumer's REMB estimate reaches aiortc's encoder on this leg (docs/media.md, "Bandwidth").
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from typing import Any

import av

logger = logging.getLogger(__name__)

DECODERS = {"VP8": "vp8", "H264": "h264"}  # RTP codec name → FFmpeg decoder
VIDEO_TIME_BASE = Fraction(1, 90000)


class Transcoder:
    """One leg's video decoder (made on the first mismatched frame, in its own thread)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.codec: str | None = None  # the source codec being decoded
        self.decoded = 0  # frames decoded for this leg
        self.errors = 0
        self._context: Any = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"Transcoder({name})")
        self.closed = False

    @staticmethod
    def can_decode(codec: str) -> bool:
        return codec in DECODERS

    async def decode(self, data: bytes, pts: int, codec: str) -> av.VideoFrame | None:
        """The picture of one encoded frame, with ``pts`` in 1/90000 s (None: the decoder gave
        nothing for it). Raises ``av.FFmpegError`` on a corrupt frame."""
        if self.closed:
            return None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._decode, data, pts, codec)

    def _decode(self, data: bytes, pts: int, codec: str) -> av.VideoFrame | None:
        """In the leg's decoder thread: PyAV releases the GIL while FFmpeg works."""
        if codec != self.codec:
            self._context = av.CodecContext.create(DECODERS[codec], "r")
            self.codec = codec
        packet = av.Packet(data)
        packet.pts = pts
        packet.time_base = VIDEO_TIME_BASE
        newest = None
        for picture in self._context.decode(packet):
            newest = picture
        if newest is None:
            return None
        self.decoded += 1
        # The sender's encoder reads pts and time base: keep the outlet's (rebased) timing.
        newest.pts = pts
        newest.time_base = VIDEO_TIME_BASE
        return newest

    def failed(self, exc: Exception) -> None:
        self.errors += 1
        logger.info("Transcoder(%s) decode failed: %s", self.name, exc)
        self._context = None  # a fresh decoder for the next keyframe
        self.codec = None

    def close(self) -> None:
        """Idempotent; a frame in the decoder's thread finishes there."""
        if not self.closed:
            self.closed = True
            self._executor.shutdown(wait=False)

    def dump(self) -> dict[str, Any]:
        return {"codec": self.codec, "decoded": self.decoded, "errors": self.errors}

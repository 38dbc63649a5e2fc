"""Forwarding between participants: a pump per remote track, proxies per outgoing sender.

* ``Fanout`` consumes a remote track for as long as it lives (so frames never pile up in the
  track's unbounded queue, whether anyone listens or not) and hands each frame to its
  subscriptions.
* ``Subscription`` is one consumer's bounded buffer: video keeps only the newest frame (a slow
  encoder skips frames instead of falling behind), audio keeps a few (a late read loses 20 ms
  packets only when it is far behind).
* ``ProxyTrack`` feeds a sender for the whole life of the session. Its source can be swapped
  (a participant reconnects with a new peer connection) without the sender noticing: aiortc
  senders stop for good when their track raises ``MediaStreamError``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import cast

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.frame import Frame

logger = logging.getLogger(__name__)


class Subscription:
    def __init__(self, maxlen: int) -> None:
        self._frames: deque[Frame] = deque(maxlen=maxlen)
        self._wakeup = asyncio.Event()
        self.closed = False

    def push(self, frame: Frame) -> None:
        self._frames.append(frame)
        self._wakeup.set()

    def close(self) -> None:
        self.closed = True
        self._wakeup.set()

    async def recv(self) -> Frame | None:
        """The next frame, or None once the subscription is closed and drained."""
        while not self._frames:
            if self.closed:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._frames.popleft()


class Fanout:
    def __init__(self, track: MediaStreamTrack, name: str) -> None:
        self.kind = track.kind
        self.name = name
        self.frames = 0
        self.latest: Frame | None = None  # newest frame, for stills and tracking
        self._track = track
        self._subscriptions: set[Subscription] = set()
        self._task = asyncio.create_task(self._pump(), name=f"Fanout({name})")

    def subscribe(self) -> Subscription:
        sub = Subscription(maxlen=1 if self.kind == "video" else 5)
        if self._task.done():
            sub.close()
        else:
            self._subscriptions.add(sub)
        return sub

    async def _pump(self) -> None:
        try:
            while True:
                # Remote tracks yield decoded frames on this path (never packets).
                frame = cast(Frame, await self._track.recv())
                self.frames += 1
                self.latest = frame
                for sub in self._subscriptions:
                    sub.push(frame)
        except MediaStreamError:
            logger.debug("Fanout(%s) source ended after %d frames", self.name, self.frames)
        finally:
            for sub in self._subscriptions:
                sub.close()
            self._subscriptions.clear()

    async def close(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            if not self._task.cancelled():
                raise


class ProxyTrack(MediaStreamTrack):
    """A long-lived outgoing track whose source can be switched at any time."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._source: Subscription | None = None
        self._source_set = asyncio.Event()

    def set_source(self, source: Subscription | None) -> None:
        old, self._source = self._source, source
        if old is not None and old is not source:
            old.close()
        if source is not None:
            self._source_set.set()

    async def recv(self) -> Frame:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            source = self._source
            if source is None:
                self._source_set.clear()
                await self._source_set.wait()
                continue
            frame = await source.recv()
            if frame is not None:
                return frame
            if self._source is source:
                self._source = None

    def stop(self) -> None:
        super().stop()
        if self._source is not None:
            self._source.close()
        self._source_set.set()

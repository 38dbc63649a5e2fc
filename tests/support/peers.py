"""aiortc client peers for tests and benchmarks: send a solid colour, record what arrives."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import socketio
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack
from av import VideoFrame

COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 200, 30)}


class ColourTrack(VideoStreamTrack):
    """A 320x240 video of one solid colour at 30 fps."""

    def __init__(self, colour: str) -> None:
        super().__init__()
        rgb = np.zeros((240, 320, 3), dtype=np.uint8)
        rgb[:, :] = COLOURS[colour]
        self._image = rgb

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame.from_ndarray(self._image, format="rgb24")
        frame.pts = pts
        frame.time_base = time_base
        return frame


def dominant_colour(frame: VideoFrame) -> str:
    mean = frame.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)
    return min(
        COLOURS, key=lambda c: sum((m - v) ** 2 for m, v in zip(mean, COLOURS[c], strict=True))
    )


class ClientPeer:
    """One participant's peer connection to the server, offered by us like a browser does."""

    def __init__(
        self,
        colour: str | VideoStreamTrack | None = None,
        *,
        ice_servers: list[dict[str, Any]] | None = None,
        relay_only: bool = False,
    ) -> None:
        """``ice_servers`` as the API hands them out; ``relay_only``: TURN candidates only."""
        servers = [
            RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
            for s in ice_servers or []
        ]
        policy = RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=servers, iceTransportPolicy=policy))
        self.video_frames: list[VideoFrame] = []  # the first 200
        self.last_video: VideoFrame | None = None
        self.audio_frames = 0
        self.first_frame_at: float | None = None
        self._frame_seen = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        if isinstance(colour, VideoStreamTrack):
            self.pc.addTransceiver(colour, direction="sendrecv")
        elif colour is not None:
            self.pc.addTransceiver(ColourTrack(colour), direction="sendrecv")
        else:
            self.pc.addTransceiver("video", direction="sendrecv")
        self.pc.addTransceiver(AudioStreamTrack(), direction="sendrecv")
        self.pc.on("track", self._on_track)

    def _on_track(self, track: Any) -> None:
        task = asyncio.create_task(self._consume(track))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _consume(self, track: Any) -> None:
        try:
            while True:
                frame = await track.recv()
                if track.kind == "video":
                    if self.first_frame_at is None:
                        self.first_frame_at = time.perf_counter()
                    if len(self.video_frames) < 200:
                        self.video_frames.append(frame)
                    self.last_video = frame
                    self._frame_seen.set()
                else:
                    self.audio_frames += 1
        except MediaStreamError:
            pass

    async def connect(self, client: socketio.AsyncClient, namespace: str, session_id: str) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        reply = await client.call(
            "rtc_offer",
            {"session_id": session_id, "type": "offer", "sdp": self.pc.localDescription.sdp},
            namespace=namespace,
            timeout=10,
        )
        if "error" in reply:
            raise AssertionError(f"offer refused: {reply['error']}")
        await self.pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], reply["type"]))

    async def wait_for_video(self, count: int = 1, timeout: float = 15.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.video_frames) < count:
                self._frame_seen.clear()
                await self._frame_seen.wait()

    async def sees(self, colour: str, timeout: float = 15.0) -> None:
        """Until the newest frame received is mostly ``colour`` (a new sender got through)."""
        async with asyncio.timeout(timeout):
            while self.last_video is None or dominant_colour(self.last_video) != colour:
                self._frame_seen.clear()
                await self._frame_seen.wait()

    async def close(self) -> None:
        await self.pc.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class PanningTrack(VideoStreamTrack):
    """A textured scene (tests.support.synthetic) seen by a camera panning steadily to the
    left, so objects move right in the picture by ``speed`` pixels a frame; ``blank()`` turns
    the picture into flat grey (a finger over the lens)."""

    def __init__(self, speed: float = 2.0) -> None:
        super().__init__()
        from tests.support.synthetic import textured_scene

        self._scene = textured_scene(seed=3)
        self._speed = speed
        self._index = 0
        self.blanked = False

    def offset(self, index: int) -> float:
        return -self._speed * index

    def blank(self) -> None:
        self.blanked = True

    async def recv(self) -> VideoFrame:
        import cv2

        from tests.support.synthetic import camera_matrix

        pts, time_base = await self.next_timestamp()
        if self.blanked:
            gray = np.full((480, 640), 128, np.uint8)
        else:
            matrix = camera_matrix(pan=(self.offset(self._index), 0.0))
            gray = cv2.warpPerspective(self._scene, matrix, (640, 480))
        self._index += 1
        frame = VideoFrame.from_ndarray(cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB), format="rgb24")
        frame.pts = pts
        frame.time_base = time_base
        return frame

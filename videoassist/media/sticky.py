"""Sticky marks: follow the customer's camera with the annotations that asked to stick.

One ``StickyMarks`` per call, owned by its ``MediaSession``. While any sticky mark exists, a task
samples the customer's newest decoded frame at ``rate`` Hz (latest frame wins), runs the
trackers (videoassist.media.tracking) in the default executor, maps the points that place each
mark (``videoassist.annotations.points_of``) through its tracked transform, and reports the marks
that moved or were lost. The reports go to ``on_update(call_id, [(mark, newly_lost, found)])``,
which the composition root wires to socket.io. A lost mark whose object comes back into view is
found again by the tracker: it is reported as a normal move (its ``lost`` key gone) with ``found``
true, once. A moved rect or ellipse also carries ``quad``, the corners of its box carried through
the tracked transform, so renderers draw it turned and tilted with its object.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from videoassist.annotations import box_of, points_of, with_points, with_quad

if TYPE_CHECKING:
    from videoassist.media.tracking import Point, TrackerSet, TrackResult

logger = logging.getLogger(__name__)

Update = Callable[[str, list[tuple[dict[str, Any], bool, bool]]], Awaitable[None]]
MARGIN = 0.03  # grow the tracked region around a shape, in frame units
MOVE_EPSILON = 0.0015  # smaller moves are not worth an event


def region_of(points: list[Point]) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, y0 = max(0.0, min(xs) - MARGIN), max(0.0, min(ys) - MARGIN)
    x1, y1 = min(1.0, max(xs) + MARGIN), min(1.0, max(ys) + MARGIN)
    return (x0, y0, max(0.02, x1 - x0), max(0.02, y1 - y0))


class StickyMarks:
    def __init__(
        self,
        call_id: str,
        latest_frame: Callable[[], Any],
        on_update: Update,
        rate: float = 12.0,
    ) -> None:
        self.call_id = call_id
        self._latest = latest_frame
        self._on_update = on_update
        self._period = 1.0 / rate
        # Imported here, not at the top: the gateway and the HTTP layer import this module through
        # the hub, and OpenCV and numpy load only once a call needs them.
        from videoassist.media.tracking import TrackerSet

        self._trackers: TrackerSet[str] = TrackerSet()
        self._marks: dict[str, dict[str, Any]] = {}  # as drawn (reference frame)
        self._shown: dict[str, dict[str, Any]] = {}  # as last reported
        self._lost: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def add(self, mark: dict[str, Any]) -> None:
        points = points_of(mark)
        self._marks[mark["id"]] = mark
        self._shown[mark["id"]] = mark
        self._trackers.add(mark["id"], region_of(points), points[:1])
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"StickyMarks({self.call_id})")

    def replace(self, mark: dict[str, Any]) -> None:
        """The mark grew (more pen points): track its whole shape from now on."""
        mark_id = mark["id"]
        if mark_id in self._marks and mark_id not in self._lost:
            self._marks[mark_id] = mark
            self._shown[mark_id] = mark

    def remove(self, mark_id: str) -> None:
        self._trackers.remove(mark_id)
        self._marks.pop(mark_id, None)
        self._shown.pop(mark_id, None)
        self._lost.discard(mark_id)

    def clear(self) -> None:
        for mark_id in list(self._marks):
            self.remove(mark_id)

    async def close(self) -> None:
        self.clear()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last_frame = None
        while self._marks:
            started = loop.time()
            frame = self._latest()
            if frame is not None and frame is not last_frame:
                last_frame = frame
                try:
                    results = await loop.run_in_executor(None, self._track, frame)
                    await self._report(results)
                except Exception:  # one bad frame must not end tracking for the call
                    logger.exception("StickyMarks(%s) tracking failed", self.call_id)
            await asyncio.sleep(max(0.0, self._period - (loop.time() - started)))

    def _track(self, frame: Any) -> dict[str, TrackResult]:
        from videoassist.media.tracking import to_gray  # loaded by __init__ already

        return self._trackers.update(to_gray(frame, max_side=640))

    async def _report(self, results: dict[str, TrackResult]) -> None:
        changes: list[tuple[dict[str, Any], bool, bool]] = []
        for mark_id, result in results.items():
            mark = self._marks.get(mark_id)
            if mark is None:
                continue
            if result.lost:
                if mark_id not in self._lost:
                    self._lost.add(mark_id)
                    shown = {**self._shown[mark_id], "lost": True}
                    self._shown[mark_id] = shown
                    changes.append((shown, True, False))
                continue
            moved = with_points(mark, result.apply(points_of(mark)))
            box = box_of(mark)
            if box is not None:  # a box or an ellipse turns and tilts with its object
                moved = with_quad(moved, result.apply(box))
            if mark_id in self._lost:
                self._lost.discard(mark_id)
                self._shown[mark_id] = moved
                changes.append((moved, False, True))
            elif _distance(moved, self._shown[mark_id]) > MOVE_EPSILON:
                self._shown[mark_id] = moved
                changes.append((moved, False, False))
        if changes:
            await self._on_update(self.call_id, changes)


def _distance(a: dict[str, Any], b: dict[str, Any]) -> float:
    """How far the mark moved: its placing points, and the corners of its box (a circle
    turning in place keeps its centre and radii)."""
    pa, pb = _placement(a), _placement(b)
    return max(math.hypot(x0 - x1, y0 - y1) for (x0, y0), (x1, y1) in zip(pa, pb, strict=False))


def _placement(mark: dict[str, Any]) -> list[tuple[float, float]]:
    quad = mark.get("quad")
    box = [(p[0], p[1]) for p in quad] if quad is not None else box_of(mark)
    return points_of(mark) + (box or [])

"""Sticky marks: follow the customer's camera with the annotations that asked to stick.

One ``StickyMarks`` per call, owned by its ``MediaSession``. While any sticky mark exists, a task
samples the customer's newest decoded frame at ``rate`` Hz (latest frame wins), runs the
trackers (videoassist.media.tracking) in the default executor, maps every point of each shape
through its tracked transform, and reports the marks that moved or were lost. The reports go to
``on_update(call_id, [(mark, newly_lost)])``, which the composition root wires to socket.io.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from videoassist.media.tracking import Point, TrackerSet, TrackResult, to_gray

logger = logging.getLogger(__name__)

Update = Callable[[str, list[tuple[dict[str, Any], bool]]], Awaitable[None]]
MARGIN = 0.03  # grow the tracked region around a shape, in frame units
MOVE_EPSILON = 0.0015  # smaller moves are not worth an event


def shape_points(mark: dict[str, Any]) -> list[Point]:
    kind = mark["kind"]
    if kind == "arrow":
        return [tuple(mark["from"]), tuple(mark["to"])]  # type: ignore[list-item]
    if kind == "rect":
        x, y, w, h = mark["x"], mark["y"], mark["w"], mark["h"]
        return [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
    if kind == "ellipse":
        (cx, cy), (rx, ry) = mark["center"], mark["radii"]
        return [(cx, cy), (cx + rx, cy), (cx, cy + ry)]
    if kind == "pen":
        return [tuple(p) for p in mark["points"]]  # type: ignore[misc]
    return [tuple(mark["at"])]  # type: ignore[list-item]


def _clamp(v: float) -> float:
    return round(min(1.0, max(0.0, v)), 4)


def moved_mark(mark: dict[str, Any], points: list[Point]) -> dict[str, Any]:
    """The mark with its points replaced by ``points`` (same order as ``shape_points``)."""
    out = dict(mark)
    kind = mark["kind"]
    pts = [(_clamp(x), _clamp(y)) for x, y in points]
    if kind == "arrow":
        out["from"], out["to"] = list(pts[0]), list(pts[1])
    elif kind == "rect":
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        out["x"], out["y"] = min(xs), min(ys)
        out["w"], out["h"] = round(max(xs) - min(xs), 4), round(max(ys) - min(ys), 4)
    elif kind == "ellipse":
        (cx, cy), (ex, ey), (fx, fy) = pts
        out["center"] = [cx, cy]
        out["radii"] = [
            max(0.001, round(math.hypot(ex - cx, ey - cy), 4)),
            max(0.001, round(math.hypot(fx - cx, fy - cy), 4)),
        ]
    elif kind == "pen":
        out["points"] = [list(p) for p in pts]
    else:
        out["at"] = list(pts[0])
    return out


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
        self._trackers: TrackerSet[str] = TrackerSet()
        self._marks: dict[str, dict[str, Any]] = {}  # as drawn (reference frame)
        self._shown: dict[str, dict[str, Any]] = {}  # as last reported
        self._lost: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def add(self, mark: dict[str, Any]) -> None:
        points = shape_points(mark)
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
        return self._trackers.update(to_gray(frame, max_side=640))

    async def _report(self, results: dict[str, TrackResult]) -> None:
        changes: list[tuple[dict[str, Any], bool]] = []
        for mark_id, result in results.items():
            mark = self._marks.get(mark_id)
            if mark is None or mark_id in self._lost:
                continue
            if result.lost:
                self._lost.add(mark_id)
                shown = {**self._shown[mark_id], "lost": True}
                self._shown[mark_id] = shown
                changes.append((shown, True))
                continue
            moved = moved_mark(mark, result.apply(shape_points(mark)))
            if _distance(moved, self._shown[mark_id]) > MOVE_EPSILON:
                self._shown[mark_id] = moved
                changes.append((moved, False))
        if changes:
            await self._on_update(self.call_id, changes)


def _distance(a: dict[str, Any], b: dict[str, Any]) -> float:
    pa, pb = shape_points(a), shape_points(b)
    return max(math.hypot(x0 - x1, y0 - y1) for (x0, y0), (x1, y1) in zip(pa, pb, strict=False))

"""A tutorial's timeline: which parts of a recording it keeps, and where each moment lands.

Pure (no I/O, no numpy): the render job, the search index and the HTTP layer use it alike.

Theory of operation:

- A recording has one media clock (its files and its ``events.jsonl`` sidecar share it; see
  docs/media.md). A tutorial keeps ``[trim_in, trim_out)`` of it minus the ``cuts``; what is
  kept, played back to back, is the **output** timeline, starting at 0.
- ``Timeline.to_output`` maps a source time that is kept to the output; a source time that is
  removed has no output time (``None``). ``Timeline.place`` is for *events*: an event in a
  removed part happened before the next kept part starts, so it lands at that part's first
  output instant (a mark drawn during a cut is on screen when the video resumes); an event
  before ``trim_in`` lands at 0 and one at or after the end has no place.
- The mapping is exact (a sum of segment lengths), so a mark drawn at source time ``t`` is drawn
  on the output frame whose source frame is the one at ``t``: within one frame of where it was.
- ``Overlay`` replays the sidecar's annotation events (target ``live`` only: what was drawn on
  the video) and answers which marks are on screen at a source time; the render job asks it in
  increasing time order, which is what it is fast at.
"""

from __future__ import annotations

import bisect
import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Segment = tuple[float, float]
LIVE = "live"


class TimelineError(ValueError):
    """An edit that does not describe a timeline (the trainer's fault: a 422)."""


@dataclass(frozen=True, slots=True)
class Timeline:
    segments: tuple[Segment, ...]  # kept source segments: sorted, disjoint, each non-empty

    @classmethod
    def of(
        cls,
        duration: float,
        trim_in: float = 0.0,
        trim_out: float | None = None,
        cuts: Iterable[Sequence[float]] = (),
    ) -> Timeline:
        """The kept part of a recording of ``duration`` seconds. Cuts may overlap each other
        and the trim (they are merged and clipped); a timeline that keeps nothing is refused."""
        end = duration if trim_out is None else min(trim_out, duration)
        if not (math.isfinite(trim_in) and math.isfinite(end)) or trim_in < 0:
            raise TimelineError("trim: times must be finite and not negative")
        if end <= trim_in:
            raise TimelineError("trim: the out point must come after the in point")
        removed: list[Segment] = []
        for cut in sorted((float(c[0]), float(c[1])) for c in cuts):
            start, stop = cut
            if not (math.isfinite(start) and math.isfinite(stop)) or stop <= start:
                raise TimelineError("cuts: each cut is [start, end) with end after start")
            if removed and start <= removed[-1][1]:
                removed[-1] = (removed[-1][0], max(removed[-1][1], stop))
            else:
                removed.append(cut)
        kept: list[Segment] = []
        cursor = trim_in
        for start, stop in removed:
            if start > cursor:
                kept.append((cursor, min(start, end)))
            cursor = max(cursor, stop)
            if cursor >= end:
                break
        if cursor < end:
            kept.append((cursor, end))
        kept = [(a, b) for a, b in kept if b > a]
        if not kept:
            raise TimelineError("cuts: nothing of the recording is left")
        return cls(tuple(kept))

    @property
    def duration(self) -> float:
        return sum(b - a for a, b in self.segments)

    @property
    def start(self) -> float:
        return self.segments[0][0]

    @property
    def end(self) -> float:
        return self.segments[-1][1]

    def _offsets(self) -> list[float]:
        offsets, total = [], 0.0
        for a, b in self.segments:
            offsets.append(total)
            total += b - a
        return offsets

    def to_output(self, t: float) -> float | None:
        """Where the kept source time ``t`` plays in the output; None if it is not kept."""
        starts = [a for a, _ in self.segments]
        i = bisect.bisect_right(starts, t) - 1
        if i < 0:
            return None
        a, b = self.segments[i]
        if t >= b:
            return None
        return self._offsets()[i] + (t - a)

    def place(self, t: float) -> float | None:
        """Where an event at source time ``t`` belongs in the output (see the module doc)."""
        offsets = self._offsets()
        for (a, b), offset in zip(self.segments, offsets, strict=True):
            if t < a:
                return offset
            if t < b:
                return offset + (t - a)
        return None

    def to_source(self, out: float) -> float:
        """The source time an output time shows (clamped into the output)."""
        out = max(0.0, out)
        offsets = self._offsets()
        for (a, b), offset in zip(self.segments, offsets, strict=True):
            if out < offset + (b - a):
                return a + (out - offset)
        return self.segments[-1][1]

    def keeps(self, t: float) -> bool:
        return self.to_output(t) is not None

    def intervals(self, start: float, end: float) -> list[Segment]:
        """The output intervals that show the source interval ``[start, end)``."""
        out = []
        for (a, b), offset in zip(self.segments, self._offsets(), strict=True):
            lo, hi = max(a, start), min(b, end)
            if hi > lo:
                out.append((offset + lo - a, offset + hi - a))
        return out


def remap_events(events: Iterable[Mapping[str, Any]], timeline: Timeline) -> list[dict[str, Any]]:
    """The sidecar's lines on the output timeline: each line's ``at`` replaced by its place
    (lines without a media time, and lines after the end, are dropped); order is kept."""
    out = []
    for line in events:
        at = line.get("at")
        if not isinstance(at, int | float):
            continue
        placed = timeline.place(float(at))
        if placed is not None:
            out.append({**line, "at": round(placed, 6), "source_at": at})
    return out


@dataclass(frozen=True, slots=True)
class Blur:
    start: float
    end: float
    x: float
    y: float
    w: float
    h: float

    def active(self, t: float) -> bool:
        return self.start <= t < self.end


class Overlay:
    """The marks on the live video at each source time, replayed from the sidecar.

    ``keep``: the ids of the marks to draw, or None for all. Lasers are kept as drawn (they
    fade by themselves); marks removed or cleared leave the screen at that time."""

    def __init__(self, events: Iterable[Mapping[str, Any]], keep: set[str] | None = None) -> None:
        self._keep = keep
        steps: list[tuple[float, str, dict[str, Any]]] = []
        for line in events:
            at, kind, data = line.get("at"), line.get("kind"), line.get("data")
            if not isinstance(at, int | float) or not isinstance(data, dict):
                continue
            if kind == "recording_started":
                room = data.get("room") or {}
                marks = (room.get("annotations") or {}).get(LIVE) or []
                for mark in marks.values() if isinstance(marks, dict) else marks:
                    if isinstance(mark, dict):
                        steps.append((float(at), "annotate", {"target": LIVE, **mark}))
                continue
            if data.get("target", LIVE) != LIVE:
                continue
            steps.append((float(at), str(kind), data))
        steps.sort(key=lambda s: s[0])  # stable: same-time lines keep their order
        self._steps = steps
        self._times = [s[0] for s in steps]
        self._cursor = 0
        self._last = -math.inf
        self._marks: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lasers: list[dict[str, Any]] = []

    def _wanted(self, mark_id: Any) -> bool:
        return self._keep is None or mark_id in self._keep

    def _apply(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "annotate":
            mark = {k: v for k, v in data.items() if k != "target"}
            if self._wanted(mark.get("id")):
                self._marks[str(mark["id"])] = mark
        elif kind == "annotate_points":
            pen = self._marks.get(str(data.get("id")))
            if pen is not None and pen.get("kind") == "pen":
                # A new dict, never a change in place: the renderer caches by object.
                more = {**pen, "points": [*pen["points"], *data.get("points", [])]}
                self._marks[str(data["id"])] = more
        elif kind == "annotation_moved":
            moved = data.get("annotation")
            if isinstance(moved, dict) and str(data.get("id")) in self._marks:
                self._marks[str(data["id"])] = dict(moved)
        elif kind == "annotation_remove":
            self._marks.pop(str(data.get("id")), None)
        elif kind == "annotations_clear":
            self._marks.clear()
        elif kind == "laser":
            laser = data.get("annotation")
            if isinstance(laser, dict) and self._wanted(laser.get("id")):
                self._lasers.append(dict(laser))

    def at(self, t: float) -> list[dict[str, Any]]:
        """Every mark (wire form) on screen at source time ``t``: those drawn at or before it
        and not yet removed, then the lasers of the last few seconds. Times must not go back
        (a new ``Overlay`` is cheap)."""
        if t < self._last:
            raise ValueError("Overlay.at: time went backwards")
        self._last = t
        end = bisect.bisect_right(self._times, t)
        for _, kind, data in self._steps[self._cursor : end]:
            self._apply(kind, data)
        self._cursor = end
        self._lasers = [x for x in self._lasers if t - float(x.get("created_at", t)) < 5.0]
        return [*self._marks.values(), *self._lasers]

    def labels(self) -> list[tuple[float, str]]:
        """(source time, text) of every text mark kept: for the search index."""
        return [
            (at, str(data["text"]))
            for at, kind, data in self._steps
            if kind == "annotate"
            and data.get("kind") == "text"
            and self._wanted(data.get("id"))
            and isinstance(data.get("text"), str)
        ]

"""Frozen copy of videoassist/media/tracking.py before issue 17 (commit d8281a6): the baseline
that bench/tracking.py measures the tracker against, in the same run. Do not edit.

Sticky annotations: keep a mark on the object it was drawn on while the camera moves.

Pure and synchronous: no asyncio, no aiortc. The media layer runs ``TrackerSet.update`` in a
worker thread on the latest decoded frame of the customer's video (latest frame wins, at a
reduced rate) and broadcasts the results. OpenCV releases the GIL in every call used here.

Theory of operation
-------------------
A tracker follows the region under one annotation. At creation it picks corners
(``goodFeaturesToTrack``) inside the region grown by a margin, and remembers each corner's
position in the *reference* frame (the frame the annotation was drawn on). On every frame:

1. The corners are moved from the previous frame to this one by pyramidal Lucas-Kanade optical
   flow, started from a constant-velocity guess (the last frame-to-frame motion applied again),
   and flowed back again; a corner that does not come back to where it started (forward-backward
   error) or falls off the frame is dropped. Both passes run on a crop of the two frames around
   the region: building pyramids of whole frames would cost more than the tracking itself.
2. One robust estimate maps reference positions to current positions: a similarity (rotation,
   uniform scale, translation; ``estimateAffinePartial2D`` with RANSAC) or, with
   ``motion="homography"`` and enough corners, a homography. Estimating from the reference frame
   every time, instead of chaining frame-to-frame estimates, keeps errors from compounding;
   corners that disagree (RANSAC outliers) are dropped for good.
3. When too few corners are left, new ones are picked inside the region as it is now (the
   reference region mapped by the current estimate), away from the surviving corners, and given
   reference positions through the inverse of the estimate.

A frame with too few surviving corners or inliers, too small an inlier ratio or an implausible
jump is a *hold*: the result keeps the last good position (with a low ``confidence``) and the
next frame is tracked from the last good frame, so one garbled frame, a blur or a hand passing
by does not end tracking. The tracker is **lost** when holds last ``lost_after`` frames, when
less than ``min_visible`` of the region is inside the frame, when the estimate degenerates
(scale out of ``scale_limits``, a folded homography), or when the picture changes shape
(below). A lost tracker stays lost and returns its last position; there is no re-acquisition.

Coordinates
-----------
Everything that crosses this module's boundary is *normalized*: x and y in 0..1 of the frame
width and height, measured from the frame's top-left edge (a pixel centre ``px`` is
``(px + 0.5) / width``), so a point means the same spot at any resolution. Internally the work is
done in pixels of a *working frame*: the input scaled down so that its longer side is at most
``max_side`` (cost does not grow with the camera's resolution).

Resolution changes: when the input size changes but its aspect ratio does not (WebRTC scaling
the stream down under congestion and back up), the previous working frame and the corners are
rescaled and tracking continues; normalized results stay consistent. When the aspect ratio
changes (camera <-> screen share, portrait <-> landscape, a crop), the picture is not the same
picture any more: every tracker is lost with reason ``"resolution"``.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

import cv2
import numpy as np

if TYPE_CHECKING:
    from av import VideoFrame

logger = logging.getLogger(__name__)

Point = tuple[float, float]
Region = tuple[float, float, float, float]
"""Normalized (x, y, width, height) of the region's top-left corner and size."""
Matrix = tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]

LostReason = Literal["texture", "features", "left_frame", "degenerate", "resolution"]

_EYE: Matrix = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """Tuning. Pixel figures are in working-frame pixels (longer side ``max_side``)."""

    max_side: int = 640
    motion: Literal["similarity", "homography"] = "similarity"
    max_features: int = 30
    """Corners per region; the cost of a frame grows with it (two LK passes per corner)."""
    reseed_below: int = 18
    """Pick new corners when fewer inliers than this remain."""
    min_inliers: int = 8
    """Fewer corners surviving the flow, or fewer inliers, than this and a frame is a hold; also
    the least a region needs at the start (else it is lost for ``"texture"``)."""
    min_inlier_ratio: float = 0.3
    lost_after: int = 3
    """Consecutive holds before the tracker is lost."""
    quality_level: float = 0.01
    min_distance: float = 6.0
    block_size: int = 5
    grow: float = 0.15
    """Margin added around the region on each side when picking corners, as a fraction of its
    size; a region smaller than ``min_seed_size`` is grown to that size."""
    min_seed_size: float = 64.0
    win_size: int = 15
    max_level: int = 3
    fb_max_error: float = 1.0
    """Forward-backward distance (pixels) above which a corner is dropped."""
    ransac_threshold: float = 2.0
    crop_margin: int = 16
    """LK runs on the frames cropped to the corners and their expected positions, plus the reach
    of a window at the coarsest pyramid level (``win_size // 2 << max_level``), plus this. A
    tighter crop puts mirrored border pixels under the coarse windows and breaks fast motion."""
    homography_min_inliers: int = 20
    """With ``motion="homography"``: fewer corners than this and the similarity is used."""
    min_visible: float = 0.35
    """Lost when less than this fraction of the region is inside the frame."""
    scale_limits: tuple[float, float] = (0.25, 4.0)
    """Lost when the region's scale relative to the reference frame leaves this range."""
    max_step_scale: float = 1.5
    """A frame whose estimate changes scale by more than this factor (or its inverse) since the
    previous frame is a hold."""
    aspect_tolerance: float = 0.02


@dataclass(frozen=True, slots=True)
class TrackResult:
    """Where one sticky annotation is in the latest frame.

    ``anchors``: the annotation's anchor points, normalized, in the order they were given.
    ``transform``: 3x3 row-major matrix (homogeneous) mapping normalized coordinates of the
    reference frame (the one the annotation was drawn on) to normalized coordinates of the latest
    frame; apply it to every point of the shape (``apply``). A similarity in pixels is an affine
    map in normalized terms when the frame is not square.
    ``inliers``: corners that agree with the estimate in this frame.
    ``confidence``: ``inliers`` over the corners that were tracked into this frame (0..1); low
    during a hold, 0 when lost.
    ``lost``: the mark should be greyed and the agent told; final for this tracker.
    ``reason``: why it was lost (``None`` while tracking): ``"texture"`` (too few corners to
    start with), ``"features"`` (corners lost or in disagreement), ``"left_frame"``,
    ``"degenerate"``, ``"resolution"`` (the picture changed shape).
    """

    anchors: tuple[Point, ...]
    transform: Matrix
    inliers: int
    confidence: float
    lost: bool = False
    reason: LostReason | None = None

    def matrix(self) -> np.ndarray:
        return np.array(self.transform, np.float64)

    def apply(self, points: Sequence[Point]) -> list[Point]:
        """Map normalized reference-frame points (any shape's points) into the latest frame."""
        mapped = _map(self.matrix(), np.asarray(points, np.float64).reshape(-1, 2))
        return [(float(x), float(y)) for x, y in mapped]

    def as_lost(self, reason: LostReason) -> TrackResult:
        return TrackResult(self.anchors, self.transform, 0, 0.0, True, reason)


def to_gray(frame: VideoFrame, max_side: int | None = None) -> np.ndarray:
    """A decoded PyAV frame as a grayscale uint8 array (H x W).

    With ``max_side``, a larger frame is scaled down by libswscale on the way (cheaper than
    converting at full size and resizing); the tracker would scale it down anyway.
    """
    w, h = frame.width, frame.height
    if max_side and max(w, h) > max_side:
        s = max_side / max(w, h)
        frame = frame.reformat(
            width=round(w * s), height=round(h * s), format="gray", interpolation="AREA"
        )
    return np.ascontiguousarray(frame.to_ndarray(format="gray"))


# -- internals -----------------------------------------------------------------------------------


def _map(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a 3x3 homogeneous matrix to N x 2 points."""
    if len(pts) == 0:
        return pts.reshape(0, 2)
    out = pts @ h[:2, :2].T + h[:2, 2]
    w = pts @ h[2, :2] + h[2, 2]
    return out / w[:, None]


def _lk_points(pts: np.ndarray) -> np.ndarray:
    """N x 1 x 2 float32, C-ordered: OpenCV rejects other layouts for LK's in/out points."""
    return np.ascontiguousarray(pts, dtype=np.float32).reshape(-1, 1, 2)


def _normalizer(size: tuple[int, int]) -> np.ndarray:
    """Working pixels -> normalized coordinates (pixel centres at (i + 0.5) / n)."""
    w, h = size
    return np.array([[1 / w, 0, 0.5 / w], [0, 1 / h, 0.5 / h], [0, 0, 1]], np.float64)


def _denormalizer(size: tuple[int, int]) -> np.ndarray:
    """The inverse of ``_normalizer``."""
    w, h = size
    return np.array([[w, 0, -0.5], [0, h, -0.5], [0, 0, 1]], np.float64)


def _working_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    s = min(1.0, max_side / max(width, height))
    return max(1, round(width * s)), max(1, round(height * s))


def _as_matrix(h: np.ndarray) -> Matrix:
    h = h / h[2, 2]
    return tuple(tuple(float(v) for v in row) for row in h)  # type: ignore[return-value]


_NEXT = np.array([1, 2, 3, 0])


def _area(quad: np.ndarray) -> float:
    """Signed area of a quadrilateral (shoelace); positive for the corner order used here."""
    x, y = quad[:, 0], quad[:, 1]
    return 0.5 * float(x @ y[_NEXT] - y @ x[_NEXT])


@dataclass(slots=True)
class _Frames:
    """Input frames -> working frames, and what changed about their size."""

    max_side: int
    aspect_tolerance: float
    cur: np.ndarray | None = None
    input_size: tuple[int, int] | None = None

    @property
    def size(self) -> tuple[int, int]:
        assert self.cur is not None
        return self.cur.shape[1], self.cur.shape[0]

    def push(self, gray: np.ndarray) -> Literal["first", "same", "rescaled", "reshaped"]:
        if gray.ndim != 2 or gray.dtype != np.uint8:
            raise ValueError(f"expected a 2-D uint8 grayscale frame, got {gray.dtype} {gray.shape}")
        h, w = gray.shape
        work = _working_size(w, h, self.max_side)
        img = gray if (w, h) == work else cv2.resize(gray, work, interpolation=cv2.INTER_AREA)
        old, self.input_size = self.input_size, (w, h)
        prev, self.cur = self.cur, img
        if old is None or prev is None:
            return "first"
        if old == (w, h):
            return "same"
        if abs(math.log((w / h) / (old[0] / old[1]))) > self.aspect_tolerance:
            return "reshaped"
        return "rescaled" if prev.shape != img.shape else "same"


_GRID = np.array([(x, y) for y in np.linspace(0, 1, 5) for x in np.linspace(0, 1, 5)])


@dataclass(slots=True)
class _Track:
    """One region's state, independent of where frames come from (``_Frames``)."""

    cfg: TrackerConfig
    region: np.ndarray  # 4 corners, reference working px
    seed_quad: np.ndarray  # corners of the grown seeding region, reference working px
    anchors: np.ndarray  # normalized, reference frame
    ref_size: tuple[int, int]
    ref: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    pts: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    h: np.ndarray = field(default_factory=lambda: np.eye(3))  # reference px -> current px
    h_inv: np.ndarray = field(default_factory=lambda: np.eye(3))
    h_prev: np.ndarray = field(default_factory=lambda: np.eye(3))  # of the previous good frame
    h_prev_inv: np.ndarray = field(default_factory=lambda: np.eye(3))
    base: np.ndarray | None = None
    """The working frame ``pts`` are positions in: the last frame that was not a hold."""
    scale: float = 1.0
    """Linear size of the region now over its size in the reference frame, in working pixels."""
    region_area: float = 1.0
    holds: int = 0
    result: TrackResult | None = None

    @classmethod
    def start(
        cls, frame: np.ndarray, region: Region, anchors: Sequence[Point], cfg: TrackerConfig
    ) -> _Track:
        x, y, w, h = (float(v) for v in region)
        if not (w > 0 and h > 0):
            raise ValueError(f"region must have a positive size, got {region!r}")
        fh, fw = frame.shape
        px0, py0, px1, py1 = x * fw - 0.5, y * fh - 0.5, (x + w) * fw - 0.5, (y + h) * fh - 0.5
        quad = np.array([(px0, py0), (px1, py0), (px1, py1), (px0, py1)], np.float64)
        gw = max((px1 - px0) * (1 + 2 * cfg.grow), cfg.min_seed_size)
        gh = max((py1 - py0) * (1 + 2 * cfg.grow), cfg.min_seed_size)
        cx, cy = (px0 + px1) / 2, (py0 + py1) / 2
        seed = np.array(
            [
                (cx - gw / 2, cy - gh / 2),
                (cx + gw / 2, cy - gh / 2),
                (cx + gw / 2, cy + gh / 2),
                (cx - gw / 2, cy + gh / 2),
            ],
            np.float64,
        )
        anchor_arr = np.asarray(anchors, np.float64).reshape(-1, 2)
        track = cls(cfg, quad, seed, anchor_arr, (fw, fh), region_area=_area(quad))
        found = track._pick(frame, cfg.max_features)
        if len(found) < cfg.min_inliers:
            # A plain region: look a little wider before giving up.
            track.seed_quad = (seed - (cx, cy)) * 2 + (cx, cy)
            found = track._pick(frame, cfg.max_features)
        track.pts = track.ref = found
        track.base = frame
        result = TrackResult(
            tuple((float(a), float(b)) for a, b in anchor_arr), _EYE, len(found), 1.0
        )
        if len(found) < cfg.min_inliers:
            result = result.as_lost("texture")
        track.result = result
        return track

    @property
    def lost(self) -> bool:
        return self.result is not None and self.result.lost

    def _pick(self, frame: np.ndarray, count: int) -> np.ndarray:
        """New corners inside the seeding region as it is now, away from the current corners."""
        fh, fw = frame.shape
        quad = _map(self.h, self.seed_quad)
        x0, y0 = np.floor(quad.min(0)).astype(int)
        x1, y1 = np.ceil(quad.max(0)).astype(int)
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1 + 1, fw), min(y1 + 1, fh)
        if count <= 0 or x1 - x0 < 8 or y1 - y0 < 8:
            return np.zeros((0, 2), np.float32)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(mask, np.round(quad - (x0, y0)).astype(np.int32), 255)
        radius = max(1, round(self.cfg.min_distance))
        for px, py in self.pts:
            cv2.circle(mask, (round(px) - x0, round(py) - y0), radius, 0, -1)
        corners = cv2.goodFeaturesToTrack(
            frame[y0:y1, x0:x1],
            maxCorners=count,
            qualityLevel=self.cfg.quality_level,
            minDistance=self.cfg.min_distance,
            mask=mask,
            blockSize=self.cfg.block_size,
        )
        if corners is None:
            return np.zeros((0, 2), np.float32)
        return (corners.reshape(-1, 2) + np.array((x0, y0))).astype(np.float32)

    def rescale(self, base: np.ndarray, sx: float, sy: float) -> None:
        """The working frame changed size (same aspect): move current-frame state along."""
        self.base = base
        s = np.diag([sx, sy, 1.0])
        s_inv = np.diag([1 / sx, 1 / sy, 1.0])
        self.pts = (self.pts * np.array((sx, sy))).astype(np.float32)
        self.h, self.h_inv = s @ self.h, self.h_inv @ s_inv
        self.h_prev, self.h_prev_inv = s @ self.h_prev, self.h_prev_inv @ s_inv
        self.scale *= math.sqrt(sx * sy)

    def expected(self) -> tuple[np.ndarray, np.ndarray]:
        """Constant-velocity guess: the last frame-to-frame motion, and its inverse, once per
        frame since the base frame (more than one after holds)."""
        step, back = self.h @ self.h_prev_inv, self.h_prev @ self.h_inv
        for _ in range(self.holds):
            step, back = step @ (self.h @ self.h_prev_inv), back @ (self.h_prev @ self.h_inv)
        return step, back

    def advance(self, frame: np.ndarray, new: np.ndarray, ok: np.ndarray) -> TrackResult:
        assert self.result is not None
        cfg = self.cfg
        ref, cur = self.ref[ok], new[ok]
        h, inl = self._estimate(ref, cur) if len(cur) >= cfg.min_inliers else (None, ok[ok])
        inliers = int(inl.sum()) if h is not None else 0
        ratio = inliers / max(len(self.pts), 1)
        if h is not None and (inliers < cfg.min_inliers or ratio < cfg.min_inlier_ratio):
            h = None
        quad = _map(h, self.region) if h is not None else self.region
        scale = math.sqrt(max(_area(quad), 0.0) / self.region_area)
        if h is not None and not (
            1 / cfg.max_step_scale <= scale / self.scale <= cfg.max_step_scale
        ):
            h = None
        if h is None:
            # A hold: corners, estimate and base frame stay as they were, so the next frame is
            # tracked from the last good one (a garbled frame or a blur does not end tracking).
            self.holds += 1
            if self.holds >= cfg.lost_after:
                return self._lose("features")
            self.result = TrackResult(self.result.anchors, self.result.transform, inliers, ratio)
            return self.result
        assert h is not None
        self.holds = 0
        self.h_prev, self.h_prev_inv = self.h, self.h_inv
        self.h, self.h_inv = h, np.linalg.inv(h)
        self.ref, self.pts = ref[inl], cur[inl]
        self.base = frame
        self.scale = scale

        # Compared in normalized terms, so that a resolution change is not a zoom.
        size = scale * math.sqrt(self.ref_size[0] * self.ref_size[1] / frame.size)
        if not (cfg.scale_limits[0] <= size <= cfg.scale_limits[1]):
            return self._lose("degenerate")
        if cfg.motion == "homography" and not _is_convex(quad):
            return self._lose("degenerate")
        if self._visible(frame, quad) < cfg.min_visible:
            return self._lose("left_frame")

        if inliers < cfg.reseed_below:
            fresh = self._pick(frame, cfg.max_features - len(self.pts))
            if len(fresh):
                back = _map(self.h_inv, fresh.astype(np.float64)).astype(np.float32)
                self.ref = np.concatenate([self.ref, back])
                self.pts = np.concatenate([self.pts, fresh])

        fh, fw = frame.shape
        t = _normalizer((fw, fh)) @ h @ _denormalizer(self.ref_size)
        anchors = _map(t, self.anchors)
        self.result = TrackResult(
            tuple((float(a), float(b)) for a, b in anchors), _as_matrix(t), inliers, ratio
        )
        return self.result

    def _estimate(self, ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        cfg = self.cfg
        if cfg.motion == "homography" and len(cur) >= cfg.homography_min_inliers:
            m, inl = cv2.findHomography(ref, cur, cv2.RANSAC, cfg.ransac_threshold)
            if m is not None and inl is not None:
                return m.astype(np.float64), inl.ravel().astype(bool)
        m, inl = cv2.estimateAffinePartial2D(
            ref,
            cur,
            method=cv2.RANSAC,
            ransacReprojThreshold=cfg.ransac_threshold,
            maxIters=2000,
            confidence=0.995,
            refineIters=10,
        )
        if m is None or inl is None:
            return None, np.zeros(len(cur), bool)
        h = np.eye(3)
        h[:2] = m
        return h, inl.ravel().astype(bool)

    def _visible(self, frame: np.ndarray, quad: np.ndarray) -> float:
        """The share of the region inside the frame (sampled on a 5x5 grid)."""
        fh, fw = frame.shape
        lo, hi = quad.min(0), quad.max(0)
        if lo[0] >= -0.5 and lo[1] >= -0.5 and hi[0] <= fw - 0.5 and hi[1] <= fh - 0.5:
            return 1.0
        x0, y0 = self.region[0]
        x1, y1 = self.region[2]
        p = _map(self.h, _GRID * np.array((x1 - x0, y1 - y0)) + np.array((x0, y0)))
        inside = (p[:, 0] >= -0.5) & (p[:, 0] <= fw - 0.5) & (p[:, 1] >= -0.5)
        return float((inside & (p[:, 1] <= fh - 0.5)).mean())

    def _lose(self, reason: LostReason) -> TrackResult:
        assert self.result is not None
        self.result = self.result.as_lost(reason)
        self.ref = self.pts = np.zeros((0, 2), np.float32)
        self.base = None
        return self.result


def _is_convex(quad: np.ndarray) -> bool:
    return bool(cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2)))


def _groups(tracks: Sequence[_Track]) -> list[list[_Track]]:
    """Live tracks grouped by base frame: normally one group (the previous frame); a track in a
    hold has its own."""
    groups: dict[int, list[_Track]] = {}
    for t in tracks:
        if not t.lost and t.base is not None:
            groups.setdefault(id(t.base), []).append(t)
    return list(groups.values())


def _advance_all(cur: np.ndarray, tracks: Sequence[_Track], cfg: TrackerConfig) -> None:
    for t in tracks:
        if t.lost or t.base is None:
            continue
        step, back = t.expected()
        guess = _map(step, t.pts.astype(np.float64))
        new, ok = _flow(t.base, cur, t.pts, guess, back, cfg)
        t.advance(cur, new, ok)


def _flow(
    prev: np.ndarray,
    cur: np.ndarray,
    pts: np.ndarray,
    guess: np.ndarray,
    back: np.ndarray,
    cfg: TrackerConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Forward-backward LK of one track's corners from ``prev`` to ``cur``.

    ``guess``: where each corner is expected in ``cur``; ``back``: the 3x3 expected motion from
    ``cur`` back to ``prev``, the starting point of the backward pass (without it a fast pan
    would fail the check for lack of a guess). Returns the new positions and a mask of corners
    found both ways that came back to within ``fb_max_error`` of where they started and are
    inside the frame.

    Both passes run on a crop of the two frames around the corners and their guesses (see
    ``crop_margin``): every LK call builds the pyramids and derivatives of its images, which at
    640x480 costs more than tracking 30 corners, and a region is a small part of the frame.
    """
    if len(pts) == 0:
        return pts.reshape(0, 2), np.zeros(0, bool)
    fh, fw = cur.shape
    # A guess off the frame is no use, and a wild one (a long hold) must not blow up the crop.
    guess = np.clip(guess, (0, 0), (fw - 1, fh - 1))
    both = np.concatenate([pts, guess])
    margin = (cfg.win_size // 2 << cfg.max_level) + cfg.crop_margin
    x0, y0 = np.floor(both.min(0)).astype(int) - margin
    x1, y1 = np.ceil(both.max(0)).astype(int) + margin + 1
    x0, y0, x1, y1 = max(int(x0), 0), max(int(y0), 0), min(int(x1), fw), min(int(y1), fh)
    offset = np.array((x0, y0), np.float64)
    a, b = prev[y0:y1, x0:x1], cur[y0:y1, x0:x1]
    win = (cfg.win_size, cfg.win_size)
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)
    p0 = _lk_points(pts - offset)
    p1, st1, _ = cv2.calcOpticalFlowPyrLK(
        a,
        b,
        p0,
        _lk_points(guess - offset),
        winSize=win,
        maxLevel=cfg.max_level,
        criteria=crit,
        flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
    )
    new = p1.reshape(-1, 2).astype(np.float64) + offset
    g0 = _lk_points(_map(back, new) - offset)
    p0r, st0, _ = cv2.calcOpticalFlowPyrLK(
        b,
        a,
        p1,
        g0,
        winSize=win,
        maxLevel=cfg.max_level,
        criteria=crit,
        flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
    )
    fb = np.linalg.norm((p0r - p0).reshape(-1, 2), axis=1)
    inside = (new[:, 0] >= 0) & (new[:, 0] <= fw - 1) & (new[:, 1] >= 0) & (new[:, 1] <= fh - 1)
    ok = (st1.ravel() == 1) & (st0.ravel() == 1) & (fb <= cfg.fb_max_error) & inside
    return new.astype(np.float32), ok


def _on_new_frame(frames: _Frames, gray: np.ndarray, tracks: Sequence[_Track]) -> bool:
    """Push a frame; rescale or lose tracks as its size demands. True if tracks may advance."""
    change = frames.push(gray)
    if change == "reshaped":
        for t in tracks:
            if not t.lost:
                t._lose("resolution")
        return False
    if change == "rescaled":
        size = frames.size
        for group in _groups(tracks):
            old = group[0].base
            assert old is not None
            base = cv2.resize(old, size, interpolation=cv2.INTER_LINEAR)
            sx, sy = size[0] / old.shape[1], size[1] / old.shape[0]
            for t in group:
                t.rescale(base, sx, sy)
    return change != "first"


class RegionTracker:
    """Follows one region of a video. Create it with the frame the annotation was drawn on."""

    def __init__(
        self,
        gray: np.ndarray,
        region: Region,
        anchors: Sequence[Point],
        config: TrackerConfig | None = None,
    ) -> None:
        self.config = config or TrackerConfig()
        self._frames = _Frames(self.config.max_side, self.config.aspect_tolerance)
        self._frames.push(gray)
        assert self._frames.cur is not None
        self._track = _Track.start(self._frames.cur, region, anchors, self.config)

    @property
    def result(self) -> TrackResult:
        """The latest result (at creation: the anchors as given, identity transform)."""
        assert self._track.result is not None
        return self._track.result

    @property
    def lost(self) -> bool:
        return self._track.lost

    def update(self, gray: np.ndarray) -> TrackResult:
        """Track into the next frame (a 2-D uint8 array of any size)."""
        if not self.lost and _on_new_frame(self._frames, gray, [self._track]):
            assert self._frames.cur is not None
            _advance_all(self._frames.cur, [self._track], self.config)
        return self.result

    def dump(self) -> dict[str, object]:
        t = self._track
        return {
            "corners": len(t.pts),
            "holds": t.holds,
            "working_size": self._frames.size,
            "result": self.result,
        }


K = TypeVar("K", bound=Hashable)


class TrackerSet(Generic[K]):
    """The sticky annotations of one video: trackers by annotation id, fed the same frames.

    ``add`` and ``remove`` may be called from any thread, also while ``update`` runs in a worker
    (the event loop adds and removes marks while the executor tracks); they take effect at the
    next ``update``. ``update`` itself must not run in two threads at once: one worker per set.
    """

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._frames = _Frames(self.config.max_side, self.config.aspect_tolerance)
        self._lock = threading.Lock()
        self._tracks: dict[K, _Track] = {}  # replaced only by update, under the lock
        self._pending: dict[K, tuple[Region, tuple[Point, ...]]] = {}
        self._removed: set[K] = set()

    def add(self, key: K, region: Region, anchors: Sequence[Point]) -> None:
        """Start tracking on the next frame given to ``update`` (the freshest frame, which is the
        closest the server has to the one the agent drew on). Replaces a tracker with that key."""
        entry = (region, tuple((float(x), float(y)) for x, y in anchors))
        with self._lock:
            self._pending[key] = entry

    def remove(self, key: K) -> None:
        """Stop tracking ``key``; unknown keys are ignored."""
        with self._lock:
            self._pending.pop(key, None)
            self._removed.add(key)

    def _keys(self) -> list[K]:
        with self._lock:
            live = [k for k in self._tracks if k not in self._removed and k not in self._pending]
            return live + list(self._pending)

    def __contains__(self, key: object) -> bool:
        return key in self._keys()

    def __len__(self) -> int:
        return len(self._keys())

    def __iter__(self) -> Iterator[K]:
        return iter(self._keys())

    def update(self, gray: np.ndarray) -> dict[K, TrackResult]:
        """Track every annotation into this frame; new ones start on it (identity result).

        Lost trackers keep being reported (lost, at their last position) until removed."""
        with self._lock:
            pending, self._pending = self._pending, {}
            tracks = {
                k: t for k, t in self._tracks.items() if k not in self._removed and k not in pending
            }
            self._removed.clear()
        was_lost = {key for key, t in tracks.items() if t.lost}
        if _on_new_frame(self._frames, gray, list(tracks.values())):
            assert self._frames.cur is not None
            _advance_all(self._frames.cur, list(tracks.values()), self.config)
        for key, t in tracks.items():
            if t.lost and key not in was_lost and t.result is not None:
                logger.debug("TrackerSet(%x) %r lost: %s", id(self), key, t.result.reason)
        assert self._frames.cur is not None
        for key, (region, anchors) in pending.items():
            tracks[key] = _Track.start(self._frames.cur, region, anchors, self.config)
        with self._lock:
            # What was removed while we worked stays removed.
            self._tracks = {k: t for k, t in tracks.items() if k not in self._removed}
            return {k: t.result for k, t in self._tracks.items() if t.result is not None}

    def dump(self) -> dict[str, object]:
        with self._lock:
            tracks, pending = dict(self._tracks), list(self._pending)
        return {
            "working_size": self._frames.size if self._frames.cur is not None else None,
            "tracks": {
                str(k): {"corners": len(t.pts), "holds": t.holds, "lost": t.lost}
                for k, t in tracks.items()
            },
            "pending": [str(k) for k in pending],
        }

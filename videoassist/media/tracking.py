"""Sticky annotations: keep a mark on the object it was drawn on while the camera moves.

Pure and synchronous: no asyncio, no aiortc. The media layer runs ``TrackerSet.update`` in a
worker thread on the latest decoded frame of the customer's video (latest frame wins, at a
reduced rate) and broadcasts the results. OpenCV releases the GIL in every call used here.

Theory of operation
-------------------
Every working frame is first scaled to a fixed mean and contrast (``normalize``): a phone's
auto-exposure and white balance change the gain and level of the whole picture, which breaks
optical flow's brightness constancy but not the geometry.

A tracker follows the region under one annotation. At creation it picks corners
(``goodFeaturesToTrack``, none weaker than ``min_corner_strength``) inside the region grown by a
margin, and remembers each corner's position in the *reference* frame (the frame the annotation
was drawn on). A plain region (a wall, the sky) seeds from a wider surround instead, up to four
times the size. On every frame:

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

Beside the trackers, one ``_Scene`` per video follows corners spread over the whole frame (at
half resolution) and estimates the camera's frame-to-frame motion. When a region's own estimate
fails (too few corners or inliers, too small an inlier ratio, an implausible jump) but the
scene's motion is known, the region follows the scene (``source="scene"``) and re-seeds where
it now is. When both fail, the frame is a *hold*: the result keeps the last good position (with
a low ``confidence``) and the next frame is tracked from the last good frame, so one garbled
frame or a blur does not end tracking. The tracker is **lost** when holds last ``lost_after``
frames, when less than ``min_visible`` of the region is inside the frame, when its corners fail
and the frame where the camera's motion puts it no longer looks like its template (something
covers it: ``"occluded"``, ``occluded_score``), when the estimate
degenerates (scale out of ``scale_limits``, a folded homography), or when the picture changes
shape (below).

Re-acquisition: a tracker keeps a template of its region (reference pixels, with its corners).
A lost tracker's estimate keeps following the scene's motion while that chain is unbroken
(``_Scene.epoch``), also out of view. Once the predicted region is back in view
(``reacquire_visible``) and the camera is not whipping past (``reacquire_max_motion``), the
template is searched around the prediction (normalized correlation) and, when found, its own
corners give a fresh estimate from exact reference positions; the result is reported once with
``source="found"`` and tracking goes on. A plain region without a template is placed back by the
scene's unbroken motion alone. A mark whose object never comes back stays lost.

Marks help each other. Two marks on one scene keep a fixed relation between their reference
frames (``inv(h_a) @ h_b``), learned on every frame where both are followed by their own corners,
well inside the frame and moving slowly (``_relate``). A lost mark is first looked for where the
nearest mark still followed puts it (``reacquire_by_peers``): confirmed by its template there, or,
for a plain mark, placed there if that mark is near (``reacquire_peer_reach``) and nothing covers
it. This brings a plain mark back after a pan the camera's motion cannot be summed over.

A mark found again may have found a lookalike (the rim of a cup matches itself a little further
on), so it is not believed at once: it is *unconfirmed* until the nearest confirmed mark puts it
where it is (``confirm_agree``), or, with no confirmed mark to ask, its template agrees where it
is at a slow moment (``_reanchor``). One found further than ``reacquire_agree`` (plus
``peer_slack`` of the way to that mark) from where the confirmed marks put it is a lookalike: it
is looked for again only around where they put it, and lost again if not there (``_check_found``).
Wherever a lost mark is found, it must agree with the confirmed marks. Until confirmed, a mark
neither places a plain mark nor teaches relations.

A pose found during a pan keeps the error of that moment (new corners inherit it), so every
``anchor_every`` frames one slowly moving mark with a template is put back onto it
(``_reanchor``): the template's corners by LK, or, when they are too weak for LK (a smooth cup),
a dense rigid alignment (ECC). A template that has found its object again is never dropped as
"plain" afterwards.

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
from collections.abc import Callable, Hashable, Iterator, Sequence
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

LostReason = Literal["texture", "features", "left_frame", "occluded", "degenerate", "resolution"]

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
    min_corner_strength: float = 2e-4
    """The least minimal eigenvalue (``cornerMinEigenVal`` with ``block_size``, on the normalized
    frame) a region needs somewhere to count as textured: ``goodFeaturesToTrack``'s quality level
    is relative to the region's best corner, so on a plain wall it returns noise and codec
    blocks (measured: 3e-5 on a plain wall, 4e-3 to 1e-2 on textured regions, VP8 800 kbit/s)."""
    win_size: int = 15
    max_level: int = 3
    fb_max_error: float = 1.0
    """Forward-backward distance (pixels) above which a corner is dropped."""
    fb_max_level: int = 3
    """Pyramid levels of the backward LK pass, which starts from the expected motion back."""
    ransac_threshold: float = 2.0
    crop_margin: int = 16
    """LK runs on the frames cropped to the corners and their expected positions, plus the reach
    of a window at the coarsest pyramid level (``win_size // 2 << max_level``), plus this. A
    tighter crop puts mirrored border pixels under the coarse windows and breaks fast motion."""
    merge_crops: bool = True
    """Run the LK of marks whose crops overlap on the crop around them all (``_flow_together``):
    0.3-0.9 ms less per frame with five marks (on the coffee photo's clips, in one process, p50
    2.39 ms against 2.98 ms). A wider crop lets the coarse pyramid levels find lookalikes, which
    made re-acquisition on the coffee photo worse (p95 error 4.5% against 1.7%, bench/RESULTS.md,
    2026-12-05) until found marks were checked against the confirmed ones (``_check_found``):
    since, 0.88% against 0.80% with it off, every goal met either way."""
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
    normalize: bool = True
    """Scale every working frame to a fixed mean and contrast before anything else: an
    auto-exposure or white-balance step is a global gain and offset, which breaks LK's
    brightness constancy but not the geometry."""
    scene_features: int = 60
    """Corners spread over the whole frame (at half resolution) for the camera's own motion."""
    scene_min_inliers: int = 12
    scene_max_misses: int = 10
    """Frames the scene may fail to explain (a fast, blurred pan) before it starts over; until
    then the next frame is compared with the last one it explained."""
    reacquire_visible: float = 0.6
    """A lost mark is looked for again once this share of its predicted region is in view."""
    reacquire_search: int = 40
    """Half-size (working px, reference frame) of the window searched around the prediction: the
    camera's motion, summed over a second of panning away and back, drifts by about 30 px."""
    reacquire_max_motion: float = 40.0
    """No search while the camera moves more than this (working px per frame) at the mark: the
    motion blur of a whip pan smears the template along it and the match slides. Below it the
    template's own corners put the match right (``_refine``); on the phone clips 20 px let 5% of
    the in-view frames go by lost while the camera slowed down, 40 px 3.3% at the same error."""
    reacquire_score: float = 0.55
    """Normalized correlation above which the mark's template is taken as found again."""
    reacquire_agree: float = 12.0
    """While a lost mark has been carried by the camera's unbroken motion, a match further than
    this (working px), or than a tenth of the way the camera carried it since the loss, from
    where that motion puts it is another part of the picture that looks alike (the fins of an
    engine, the hand half off it) and is not taken."""
    confirm_agree: float = 6.0
    """A mark found again is confirmed (``_check_found``) once its pose puts it within this
    (working px) of where the nearest confirmed mark puts it; further than ``reacquire_agree``
    and it is a lookalike. Between the two it waits, unconfirmed."""
    peer_slack: float = 0.03
    """What a peer's prediction may be off by, per working px between the peer and the
    predicted mark, added to ``reacquire_agree`` when a found mark is held against it (and to
    the reach of the search there): the relation between two similarities is fixed only up to
    the camera's tilt, and the peer's own small error in turn or scale grows with the distance.
    Measured on the phone clips with both marks right: 99% of predictions within 2-5% of that
    distance. Without it a right mark far from the only confirmed one (the poster's wall, 250
    px away) was taken for a lookalike and stayed lost; 0.05 brought one mark fewer back on the
    astronaut photo's away clips."""
    occluded_score: float = 0.4
    """When a region's own corners fail and the camera's motion carries it, its template is
    compared with the frame where that motion puts it: below this normalized correlation
    something covers the object (a hand) and the mark is lost for ``"occluded"`` instead of
    re-seeding on the cover and following it away. Not while the camera moves more than
    ``reacquire_max_motion`` at the mark: a whip pan's blur makes anything unlike itself. On the
    phone clips the object itself scores 0.5 to 0.96 there; a hand over it -0.3 to -0.1, and
    0.32 with 60% of it covered (0.3 let that hand drag the mark off on the zoom clip)."""
    blur_motion: float = 8.0
    """Working px per frame the mark moves above which a region that proves plain when re-seeded
    is taken as blurred by the motion, and keeps its template: on the coffee photo two of five
    marks lost theirs as a pan began, and with them any way of being found again."""
    cover_strength: float = 8e-4
    cover_ratio: float = 2.0
    """A mark seeded from its surround (its own patch plain) is lost for ``"occluded"`` when the
    strongest corner in its own region exceeds both ``cover_strength`` and ``cover_ratio`` times
    what it was at the start: on the coffee photo such a patch measures 1e-4 to 5.4e-4 through
    exposure steps and VP8, and 1e-3 to 1.7e-3 under a hand (its template, from the wider
    surround, still scores 0.6 there: the hand covers the mark, not its surround)."""
    reckon_only_within: float = 120.0
    """A lost mark with no template (a plain patch) is shown again where the camera's motion
    alone puts it only if that motion carried it less than this (working px) since the loss:
    the drift is about a tenth of the way, and past this a mark would be drawn beside its
    object (on the coffee photo, 3% of the diagonal after a pan away and back), which is worse
    than staying grey."""
    reacquire_anywhere: bool = True
    """A lost mark whose position the camera's motion no longer knows (the scene started over:
    a pan across a plain table top, blank frames) is looked for over the whole frame, at half
    size, at the scale and rotation its last position implies. One such search a frame, taken
    in turn by the marks that need one, so the cost stays bounded however many are lost."""
    reacquire_anywhere_score: float = 0.7
    """What a match found over the whole frame must score, after the local search and
    ``_refine`` have put it exactly, where it lands (``_likeness``): stricter than
    ``reacquire_score``, since nothing else says it is the right object, and a mark drawn on
    the wrong object is worse than a grey one."""
    reacquire_by_peers: bool = True
    """A lost mark is looked for where the marks still tracked say it is: two marks on the same
    scene keep a fixed relation between their reference frames (``_Track.peers``), so one
    followed by its own corners places the other, at once, without the drift of the camera's
    motion summed over a pan away and back. A mark with a template must then match there; a
    plain one is placed by the nearest such mark (``reacquire_peer_reach``)."""
    reacquire_peer_reach: float = 4.0
    """A plain mark (no template to confirm it) is placed by a peer only if the peer is within
    this many of its own sizes: the further the relation is carried, the more a small error in
    the peer's rotation or scale moves it."""
    anchor_every: int = 8
    """For ``anchor_found`` frames after a mark is found again, every this many frames it is
    put back onto its template if it moves slowly (``_reanchor``; one mark a frame, in turn):
    a pose found during a pan (motion blur, rolling shutter) keeps its error for good
    otherwise, since new corners inherit the pose they were picked with (measured on the coffee
    photo: 9-13 px off after coming back). 0: never."""
    anchor_found: int = 45
    anchor_steady: int = 120
    """Otherwise every this many frames, against slow drift: rarely enough that the frames
    carrying the extra work stay out of the cost's 95th percentile with five marks."""
    anchor_dense: bool = True
    """When the template's corners are too weak for LK (a smooth object: a cup, skin, a
    painted panel), put the pose back by dense alignment instead (``cv2.findTransformECC``,
    rigid, at quarter then half size), in the same turn (one mark a frame). Measured on the
    coffee photo: a pose 13 px off came back to 1.3 px."""
    anchor_dense_score: float = 0.6
    """The least correlation ECC must reach for its alignment to be taken."""
    anchor_max_shift: float = 20.0
    """A correction larger than this (working px at the region) is not taken: the template has
    slid onto something alike, not corrected a drift."""
    reacquire_anywhere_margin: float = 0.15
    """How much the whole-frame match (half size) must beat the best match elsewhere in the
    frame: on the coffee photo a mark on a smooth patch matches its true place at 0.97 and
    another at 0.91, and a weak template on a place it is not at 0.76 against 0.58."""


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
    ``lost``: the mark should be greyed and the agent told; until it is found again (a result
    with ``source="found"``), if its object comes back into view.
    ``reason``: why it was lost (``None`` while tracking): ``"texture"`` (too few corners to
    start with, in the region, its surround and the whole picture), ``"features"`` (corners
    lost or in disagreement while the scene's motion was unknown too), ``"left_frame"``,
    ``"occluded"`` (its corners failed and, where the camera's motion puts it, the picture no
    longer looks like it: a hand in front), ``"degenerate"``, ``"resolution"`` (the picture
    changed shape).
    ``source``: what placed the mark in this frame: ``"features"`` (its own corners),
    ``"scene"`` (the camera's motion, for a region with too few corners of its own) or
    ``"found"`` (found again after being lost, in this frame).
    """

    anchors: tuple[Point, ...]
    transform: Matrix
    inliers: int
    confidence: float
    lost: bool = False
    reason: LostReason | None = None
    source: Literal["features", "scene", "found"] = "features"

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
    normalize: bool = True
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
        if self.normalize:
            img = _normalized(img)
        old, self.input_size = self.input_size, (w, h)
        prev, self.cur = self.cur, img
        if old is None or prev is None:
            return "first"
        if old == (w, h):
            return "same"
        if abs(math.log((w / h) / (old[0] / old[1]))) > self.aspect_tolerance:
            return "reshaped"
        return "rescaled" if prev.shape != img.shape else "same"


_TARGET_MEAN, _TARGET_STD = 128.0, 45.0


def _normalized(img: np.ndarray) -> np.ndarray:
    """``img`` with a fixed mean and standard deviation (statistics from every 4th pixel, which is
    plenty and 16x cheaper). A flat frame is left alone: stretching noise makes corners of it."""
    mean, std = (float(v[0, 0]) for v in cv2.meanStdDev(img[::4, ::4]))
    if std < 2.0:
        return img
    alpha = _TARGET_STD / std
    return cv2.convertScaleAbs(img, alpha=alpha, beta=_TARGET_MEAN - alpha * mean)


_HALF = np.array([[0.5, 0, -0.25], [0, 0.5, -0.25], [0, 0, 1]], np.float64)
"""Working px -> half-resolution px (pixel centres: x_half = (x + 0.5) / 2 - 0.5)."""
_HALF_INV = np.linalg.inv(_HALF)


@dataclass(slots=True)
class _Scene:
    """The camera's frame-to-frame motion, from corners spread over the whole frame.

    A mark on a wall or the sky has no corners of its own, but the scene around it moves with the
    camera; for such a mark (and for any mark whose corners fail for a frame) this motion is the
    best estimate there is. It runs at half resolution, forward flow only (RANSAC throws out what
    moves on its own), to stay a fraction of a millisecond, and only on frames where a mark asks
    for it (``motion``): while every mark follows its own corners it costs nothing but a resize.
    """

    cfg: TrackerConfig
    prev: np.ndarray | None = None
    pts: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    last: np.ndarray = field(default_factory=lambda: np.eye(3))  # half px, prev -> cur
    misses: int = 0
    epoch: int = 0
    """Changes when the scene starts over: motion from before cannot be chained with motion after
    (a lost mark carried by it no longer knows where its object is)."""
    latest: np.ndarray | None = None  # this frame at half size
    before: np.ndarray | None = None  # the one before it
    seen: int = 0
    stepped: int = -2  # ``seen`` when ``motion`` last ran
    answer: np.ndarray | None = None  # of ``motion`` for this frame, once it ran
    anchored_at: int = -1  # ``seen`` when a mark was last put back onto its template

    def anchor_turn(self) -> bool:
        """Whether a mark may be put back onto its template on this frame (and claims the turn
        if so): one a frame for all marks, so the cost of a frame stays bounded."""
        if self.anchored_at == self.seen:
            return False
        self.anchored_at = self.seen
        return True

    def reset(self) -> None:
        self.prev, self.pts, self.last, self.misses = None, self.pts[:0], np.eye(3), 0
        self.epoch += 1

    def see(self, frame: np.ndarray) -> None:
        """Every frame, before ``motion`` is asked for."""
        fh, fw = frame.shape
        self.before = self.latest
        self.latest = cv2.resize(frame, (fw // 2, fh // 2), interpolation=cv2.INTER_AREA)
        self.seen += 1

    def textured(self) -> bool:
        """Whether the latest frame has corners enough to follow (for a plain region's start)."""
        if len(self.pts) >= self.cfg.scene_min_inliers:
            return True
        found = self._detect(self.latest, self.pts[:0]) if self.latest is not None else self.pts
        return len(found) >= self.cfg.scene_min_inliers

    def motion(self) -> np.ndarray | None:
        """Working px of the previous accepted frame -> working px of this frame; ``None`` when
        the scene does not explain this frame (blank, garbled, another picture)."""
        if self.stepped == self.seen:
            return self.answer
        if self.stepped != self.seen - 1 and self.before is not None:
            # Nobody asked on the previous frame, so nothing was followed up to it: start from
            # it. No lost mark was relying on the chain (they ask every frame).
            self.prev, self.pts = self.before, self._detect(self.before, self.pts[:0])
            self.last, self.misses = np.eye(3), 0
        self.stepped = self.seen
        assert self.latest is not None
        self.answer = self._step(self.latest)
        return self.answer

    def _step(self, small: np.ndarray) -> np.ndarray | None:
        if self.prev is None or len(self.pts) < self.cfg.scene_min_inliers:
            self.prev, self.pts, self.last = small, self._detect(small, self.pts[:0]), np.eye(3)
            return None
        cfg = self.cfg
        # Frames it missed lie between the last one explained and this one: as many steps again.
        guess = _map(
            np.linalg.matrix_power(self.last, self.misses + 1), self.pts.astype(np.float64)
        )
        new, st, _ = cv2.calcOpticalFlowPyrLK(
            self.prev,
            small,
            _lk_points(self.pts),
            _lk_points(guess),
            winSize=(cfg.win_size, cfg.win_size),
            maxLevel=3,  # a fast pan moves 50 working px a frame: reach past it at half size
            criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03),
            flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
        )
        ok = st.ravel() == 1
        m, inl = None, None
        if ok.sum() >= cfg.scene_min_inliers:
            # 2 half-px: rolling shutter skews a fast pan away from any one similarity.
            m, inl = cv2.estimateAffinePartial2D(
                self.pts[ok], new.reshape(-1, 2)[ok], method=cv2.RANSAC, ransacReprojThreshold=2.0
            )
        if m is None or inl is None or inl.sum() < max(cfg.scene_min_inliers, 0.3 * len(self.pts)):
            # Keep the last good frame: the next one is compared with it. After a few misses the
            # picture has changed for good and the scene starts over.
            self.misses += 1
            if self.misses >= cfg.scene_max_misses:
                self.reset()
            return None
        step = np.eye(3)
        step[:2] = m
        keep = np.flatnonzero(ok)[inl.ravel().astype(bool)]
        self.pts = new.reshape(-1, 2)[keep]
        if len(self.pts) < cfg.scene_features * 2 // 3:
            self.pts = np.concatenate([self.pts, self._detect(small, self.pts)])
        self.prev = small
        # Per frame, for the next guess (a root when frames were missed in between).
        self.last = step if self.misses == 0 else _per_frame(step, self.misses + 1)
        self.misses = 0
        return _HALF_INV @ step @ _HALF

    def _detect(self, small: np.ndarray, existing: np.ndarray) -> np.ndarray:
        mask = np.full(small.shape, 255, np.uint8)
        for px, py in existing:
            cv2.circle(mask, (round(px), round(py)), 12, 0, -1)
        corners = cv2.goodFeaturesToTrack(
            small, self.cfg.scene_features - len(existing), 0.01, 12, mask=mask, blockSize=5
        )
        if corners is None:
            return np.zeros((0, 2), np.float32)
        return corners.reshape(-1, 2).astype(np.float32)


def _per_frame(step: np.ndarray, frames: int) -> np.ndarray:
    """A similarity spread evenly over ``frames`` frames (its ``frames``-th root)."""
    angle = math.atan2(step[1, 0], step[0, 0]) / frames
    scale = math.hypot(step[0, 0], step[1, 0]) ** (1 / frames)
    out = np.eye(3)
    out[:2, :2] = scale * np.array(
        [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]
    )
    out[:2, 2] = step[:2, 2] / frames
    return out


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
    template: np.ndarray | None = None
    """The seeding region as drawn (reference frame, normalized): the appearance a lost mark is
    recognized by. ``None`` when it is too plain to recognize anything by."""
    template_at: tuple[int, int] = (0, 0)
    """Reference px of the template's top-left pixel."""
    template_pts: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    """Corners of the template (template px): found again, they give the estimate exact
    reference positions, so that a found-again mark does not keep the error of the search."""
    reckoned: bool = False
    carried: float = 0.0
    """While reckoned: working px the camera's motion has moved the mark since the loss."""
    epoch: int = 0
    """The scene's epoch when the mark was lost (see ``reckoned``)."""
    template_proven: bool = False
    """The template has found the object again once: it is kept even if the region later
    looks plain (a found-again mark re-seeds in whatever light and blur the return brings)."""
    _soft_template: np.ndarray | None = None  # the template smoothed, for ``_likeness``
    since_anchor: int = 0
    """Frames since the pose was last put back onto the template (``anchor_every``)."""
    since_found: int = 1 << 30
    """Frames since the mark was last found again (``anchor_found``)."""
    confirmed: bool = True
    """Its pose is known to be its object's: false from being found again until the marks
    still confirmed put it where it is (``_check_found``) or, with none to ask, its template
    agrees there at a slow moment (``_reanchor``). An unconfirmed mark may sit on a lookalike,
    so it places no plain mark and teaches no relations (a mark with a template may still be
    looked for where it puts it: the template confirms the place or not)."""
    template_agreed: bool = False
    """Since it was last found, ``_reanchor`` has seen its template where ``h`` puts it."""
    peers: dict[int, np.ndarray] = field(default_factory=dict)
    """For each other mark (by ``id``) followed by its own corners on the same frames as this
    one: ``inv(h_peer) @ h``, this mark's reference px -> the peer's reference px, fixed while
    both lie on one scene (``reacquire_by_peers``), averaged over the last measurements."""
    peer_counts: dict[int, int] = field(default_factory=dict)
    plain_strength: float | None = None
    """For a mark seeded from its surround (its own patch too plain for corners): the strongest
    corner in its own region at the start, against which a cover is noticed (``_covered``)."""
    """While lost: ``h`` has followed the camera's motion every frame since the loss, so it still
    says where the object is (out of view, or in view with its corners gone)."""

    @classmethod
    def start(
        cls,
        frame: np.ndarray,
        region: Region,
        anchors: Sequence[Point],
        cfg: TrackerConfig,
        scene_textured: bool = False,
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
        while len(found) < cfg.min_inliers and track._widen():
            found = track._pick(frame, cfg.max_features)
        track.pts = track.ref = found
        track.base = frame
        track._keep_template(frame)
        if track.seed_quad[2, 0] - track.seed_quad[0, 0] > 1.5 * max(
            (quad[2, 0] - quad[0, 0]) * (1 + 2 * cfg.grow), cfg.min_seed_size
        ):  # widened (each step doubles it)
            # Seeded from its surround: its own patch is plain (see ``plain_strength``).
            track.plain_strength = track._strength(frame)
        result = TrackResult(
            tuple((float(a), float(b)) for a, b in anchor_arr), _EYE, len(found), 1.0
        )
        # A plain region in a textured picture follows the camera; only a picture with nothing
        # to follow at all is given up on.
        if len(found) < cfg.min_inliers and not scene_textured:
            result = result.as_lost("texture")
            track.base = None
        track.result = result
        return track

    def _widen(self) -> bool:
        """A plain region (a wall, the sky): seed from what surrounds it, on the same surface as
        likely as not. Corners around it tracked against their reference positions do not drift,
        as chaining the camera's frame-to-frame motion would. False when already widest."""
        size = self.seed_quad[2] - self.seed_quad[0]
        region = self.region[2] - self.region[0]
        if size[0] >= 4 * max(region[0] * (1 + 2 * self.cfg.grow), self.cfg.min_seed_size):
            return False
        centre = self.seed_quad.mean(0)
        self.seed_quad = (self.seed_quad - centre) * 2 + centre
        return True

    def _keep_template(self, frame: np.ndarray) -> None:
        """The template, in reference-frame pixels: cut from the reference frame at the start,
        or seen back through ``h`` when a plain region widens its seeding later."""
        fw, fh = self.ref_size
        # At most twice the unwidened seeding region around the mark: a template the size of
        # the frame would match a rolling-shutter-skewed pan by its far corners, not the mark.
        centre = self.seed_quad.mean(0)
        base = np.maximum(
            (self.region[2] - self.region[0]) * (1 + 2 * self.cfg.grow), self.cfg.min_seed_size
        )
        half = np.minimum((self.seed_quad[2] - self.seed_quad[0]) / 2, base)
        x0, y0 = np.floor(centre - half).astype(int)
        x1, y1 = np.ceil(centre + half).astype(int) + 1
        x0, y0, x1, y1 = max(int(x0), 0), max(int(y0), 0), min(int(x1), fw), min(int(y1), fh)
        if x1 - x0 < 16 or y1 - y0 < 16:
            return
        patch = cv2.warpPerspective(
            frame,
            self.h @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64),
            (x1 - x0, y1 - y0),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        # Recognizable only by corners as strong as the ones tracking needs (see ``_pick``): a
        # plain wall's template is its noise and codec blocks, and matches nothing later.
        cfg = self.cfg
        strongest = float(cv2.cornerMinEigenVal(patch, cfg.block_size).max())
        if strongest < cfg.min_corner_strength:
            return
        corners = cv2.goodFeaturesToTrack(
            patch,
            cfg.max_features,
            max(cfg.quality_level, cfg.min_corner_strength / strongest),
            cfg.min_distance,
            blockSize=cfg.block_size,
        )
        if corners is None or len(corners) < cfg.min_inliers:
            return
        self.template, self.template_at = patch, (x0, y0)
        self._soft_template = None
        self.template_pts = corners.reshape(-1, 2).astype(np.float32)

    @property
    def lost(self) -> bool:
        return self.result is not None and self.result.lost

    def _pick(self, frame: np.ndarray, count: int) -> np.ndarray:
        """New corners inside the seeding region as it is now, away from the current corners,
        none weaker than ``min_corner_strength``."""
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
        crop = frame[y0:y1, x0:x1]
        strongest = float(cv2.cornerMinEigenVal(crop, self.cfg.block_size).max())
        if strongest < self.cfg.min_corner_strength:
            return np.zeros((0, 2), np.float32)
        corners = cv2.goodFeaturesToTrack(
            crop,
            maxCorners=count,
            # The quality level is relative to the best corner: make it an absolute floor too.
            qualityLevel=max(self.cfg.quality_level, self.cfg.min_corner_strength / strongest),
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

    def advance(
        self,
        frame: np.ndarray,
        new: np.ndarray,
        ok: np.ndarray,
        scene: _Scene | None,
    ) -> TrackResult:
        """``scene``: the camera's motion from the previous accepted frame to this one (working
        px), ``None`` when it could not be estimated."""
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
        source: Literal["features", "scene"] = "features"
        carried = 0.0  # px the camera's motion moved the region this frame, when it carries it
        motion = scene.motion() if h is None and scene is not None else None
        epoch = scene.epoch if scene is not None else None
        if h is None and motion is not None:
            # The region's own corners do not say where it went (too few, a flat spot, a blur
            # that spared the rest of the frame) but the camera's motion does: follow it, and
            # give the region corners again where it now is.
            h = motion @ self.h
            centre = quad.mean(0, keepdims=True)
            carried = float(np.linalg.norm(_map(motion, centre) - centre))
            quad = _map(h, self.region)
            scale = math.sqrt(max(_area(quad), 0.0) / self.region_area)
            ref, cur = self.ref, _map(h, self.ref.astype(np.float64)).astype(np.float32)
            inl = np.ones(len(cur), bool)
            source = "scene"
        if h is None:
            # A hold: corners, estimate and base frame stay as they were, so the next frame is
            # tracked from the last good one (a garbled frame or a blur does not end tracking).
            self.holds += 1
            if self.holds >= cfg.lost_after:
                return self._lose("features", epoch)
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
            return self._lose("left_frame", epoch)

        speed = self._speed() if self.plain_strength is not None else math.inf
        if speed <= cfg.blur_motion and self._covered(frame):
            # Its plain patch has grown corners of its own: a hand or another object is over it.
            # (Not while it moves fast: the edges of a blurred, skewed pan come and go.)
            return self._lose("occluded", epoch)
        if source == "scene":
            if carried <= cfg.reacquire_max_motion and self._likeness(frame) < cfg.occluded_score:
                # Where the camera's motion puts the object, something else is in front of it.
                return self._lose("occluded", epoch)
            # Corners carried by the scene's motion are guesses: start over from fresh ones.
            self.ref = self.pts = self.ref[:0]
        if len(self.pts) < cfg.reseed_below:
            fresh = self._pick(frame, cfg.max_features - len(self.pts))
            while len(self.pts) + len(fresh) < cfg.min_inliers and self._widen():
                fresh = self._pick(frame, cfg.max_features - len(self.pts))
                if self._speed() > cfg.blur_motion or self.template_proven:
                    # Plain for the motion blur of a pan, not in itself, or a template that
                    # has found the object again: the template stays.
                    continue
                # The region proved plain: what its template held was noise (a dim room's
                # noise, stretched by the normalization, passes for corners at the start).
                self.template = None
                self._keep_template(frame)
            if len(fresh):
                back = _map(self.h_inv, fresh.astype(np.float64)).astype(np.float32)
                self.ref = np.concatenate([self.ref, back])
                self.pts = np.concatenate([self.pts, fresh])

        if source == "features" and cfg.anchor_every and self.template is not None:
            self.since_anchor += 1
            self.since_found += 1
            every = cfg.anchor_every if self.since_found <= cfg.anchor_found else cfg.anchor_steady
            if (
                self.since_anchor >= every
                and self._speed() <= cfg.blur_motion
                and scene is not None
                and scene.anchor_turn()
            ):
                self.since_anchor = 0
                self._reanchor(frame)
            h = self.h

        fh, fw = frame.shape
        t = _normalizer((fw, fh)) @ h @ _denormalizer(self.ref_size)
        anchors = _map(t, self.anchors)
        self.result = TrackResult(
            tuple((float(a), float(b)) for a, b in anchors),
            _as_matrix(t),
            inliers,
            ratio,
            source=source,
        )
        return self.result

    def searchable(self, camera: _Scene) -> bool:
        """Lost, with a template, and where its object is no longer known: it needs a search
        over the whole frame (``_anywhere``)."""
        return (
            self.lost
            and self.template is not None
            and self.result is not None
            and self.result.reason in _SEARCHED
            and (not self.reckoned or camera.epoch != self.epoch)
        )

    def search(
        self,
        frame: np.ndarray,
        camera: _Scene,
        anywhere: bool = False,
        peer: tuple[np.ndarray, float] | None = None,
        trusted: Sequence[tuple[np.ndarray, float]] = (),
    ) -> TrackResult:
        """One frame of a lost mark: first where a mark still tracked puts it (``peer``: that
        prediction of ``h`` and how far away the peer is, in this mark's sizes; ``trusted``:
        the same from every ``confirmed`` mark, nearest first); else carry its position along
        with the camera while that is known, and look for its template where it should be once
        it is back in view; with ``anywhere``, and its position no longer known, over the whole
        frame first. Wherever it is found, one of ``trusted`` must put it there."""
        assert self.result is not None
        cfg = self.cfg
        if self.result.reason not in _SEARCHED:
            return self.result
        # A template confirms the place any peer points at (and is checked again once confirmed
        # marks can judge it, ``_check_found``); a plain mark has only the peer's word for it,
        # which must not come from one that may itself sit on a lookalike.
        guide = peer if self.template is not None else (trusted[0] if trusted else None)
        if guide is not None:
            placed = self._placed_by_peer(frame, guide)
            if placed is not None:
                return self._resume(frame, placed)
        scene = camera.motion()
        if camera.epoch != self.epoch:
            self.reckoned = False
        if anywhere and not self.reckoned and camera.latest is not None:
            kept_h = self.h
            found = self._anywhere(frame, camera.latest)
            if (
                found is not None
                and not self._covered_at(frame, found)
                and self._agrees_with_any(found, trusted)
            ):
                return self._resume(frame, found)
            self.h = kept_h
        if scene is None:
            # The scene missed this frame; its next estimate spans from the last frame it
            # explained, which is where ``h`` still is.
            return self.result
        if self.reckoned:
            before = _map(self.h, self.region).mean(0, keepdims=True)
            self.h = scene @ self.h
            self.carried += float(np.linalg.norm(_map(self.h, self.region).mean(0) - before))
        quad = _map(self.h, self.region)
        if self._visible(frame, quad) < cfg.reacquire_visible:
            return self.result
        if self.reckoned:
            centre = quad.mean(0, keepdims=True)
            if float(np.linalg.norm(_map(scene, centre) - centre)) > cfg.reacquire_max_motion:
                return self.result
        found = self._match(frame)
        if found is not None and self.reckoned:
            centre = self.region.mean(0, keepdims=True)
            apart = float(np.linalg.norm(_map(found, centre) - _map(self.h, centre)))
            if apart > max(cfg.reacquire_agree, 0.1 * self.carried):
                return self.result
        if found is None:
            # A plain region cannot be recognized; the camera's unbroken motion still places it.
            if self.template is not None or not self.reckoned:
                return self.result
            if self.carried > cfg.reckon_only_within:
                # The motion's drift over so long a way would put it beside its object.
                return self.result
            found = self.h
        if self._covered_at(frame, found):
            return self.result
        if not self._agrees_with_any(found, trusted):
            # The confirmed marks put it elsewhere: this is something that looks alike.
            return self.result
        return self._resume(frame, found)

    def _reanchor(self, frame: np.ndarray) -> None:
        """Put ``h`` back onto the template where ``h`` says it is (no search): the template's
        corners followed by LK from the reference into the frame seen through ``h``. Taken only
        if the template then agrees with the frame at least as well as before, and the shift
        is a drift's, not a jump; the tracked corners keep their positions and get reference
        positions through the corrected pose."""
        assert self.template is not None
        cfg = self.cfg
        th, tw = self.template.shape
        ax, ay = self.template_at
        seen = cv2.warpPerspective(
            frame,
            self.h @ np.array([[1, 0, ax], [0, 1, ay], [0, 0, 1]], np.float64),
            (tw, th),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        corrected = self._refine(seen, (ax, ay))
        if corrected is None and cfg.anchor_dense:
            corrected = self._dense(seen)
        if corrected is None:
            return
        centre = self.region.mean(0, keepdims=True)
        shift = float(np.linalg.norm(_map(corrected, centre) - _map(self.h, centre)))
        if shift > cfg.anchor_max_shift:
            return
        self.template_agreed = True
        if shift < 0.5:
            return
        # Both ways verify themselves (LK: enough template corners agreeing on one motion;
        # ECC: its correlation), so no further likeness check: it would cost as much again.
        self.h = corrected
        self.h_inv = np.linalg.inv(corrected)
        self.ref = _map(self.h_inv, self.pts.astype(np.float64)).astype(np.float32)

    def _dense(self, seen: np.ndarray) -> np.ndarray | None:
        """``h`` corrected by aligning the template with ``seen`` (the frame seen through
        ``h`` over the template) densely: a rigid motion by ECC, coarse to fine at quarter and
        half size. For templates whose corners LK cannot follow."""
        assert self.template is not None
        cfg = self.cfg
        warp = np.eye(2, 3, dtype=np.float32)
        score = 0.0
        for factor in (0.25, 0.5):
            a = cv2.resize(self.template, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
            b = cv2.resize(seen, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
            if min(a.shape) < 16:
                return None
            start = warp.copy()
            start[:, 2] *= factor
            try:
                score, found = cv2.findTransformECC(
                    a,
                    b,
                    start,
                    cv2.MOTION_EUCLIDEAN,
                    (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 1e-4),
                    None,
                )
            except cv2.error:
                return None  # did not converge
            warp = np.asarray(found, np.float32)
            warp[:, 2] /= factor
        if score < cfg.anchor_dense_score:
            return None
        ax, ay = self.template_at
        to_template = np.array([[1, 0, ax], [0, 1, ay], [0, 0, 1]], np.float64)
        aligned = np.vstack([warp.astype(np.float64), (0.0, 0.0, 1.0)])
        result: np.ndarray = self.h @ to_template @ aligned @ np.linalg.inv(to_template)
        return result

    def _placed_by_peer(
        self, frame: np.ndarray, peer: tuple[np.ndarray, float]
    ) -> np.ndarray | None:
        """``h`` where a tracked mark says this one is, confirmed by the template there (or, for
        a plain mark, by a near peer and no cover); ``None`` when not in view or not confirmed."""
        cfg = self.cfg
        predicted, distance = peer
        quad = _map(predicted, self.region)
        if not _is_convex(quad) or self._visible(frame, quad) < cfg.reacquire_visible:
            return None
        size = math.sqrt(max(_area(quad), 0.0) / self.region_area)
        size *= math.sqrt(self.ref_size[0] * self.ref_size[1] / frame.size)
        if not cfg.scale_limits[0] <= size <= cfg.scale_limits[1]:
            return None
        kept = self.h
        self.h = predicted
        try:
            if self.template is None:
                if distance > cfg.reacquire_peer_reach or self._covered(frame):
                    return None
                return predicted
            # Only around where the peer puts it: a lookalike a little further on (the rim of
            # a cup) may match better than the object itself does in this frame.
            scale = math.sqrt(max(_area(quad), 1.0) / self.region_area)
            reach = (cfg.reacquire_agree + self._slack(peer)) / scale
            found = self._match(frame, min(reach, cfg.reacquire_search))
            if found is None:
                return None
            self.h = found
            if self._likeness(frame) < cfg.reacquire_score or self._covered(frame):
                return None
            if not self._agrees(found, peer, cfg.reacquire_agree):
                return None  # something alike nearby, not where the peer puts it
            return found
        finally:
            self.h = kept

    def _agrees(self, h: np.ndarray, peer: tuple[np.ndarray, float], within: float) -> bool:
        """Whether ``h`` puts the region's centre within ``within`` working px of where a
        peer's prediction does, plus ``peer_slack`` of the way from the peer: a small error in
        the peer's own turn or scale moves its prediction with the distance."""
        return _apart(self, h, peer[0]) <= within + self._slack(peer)

    def _agrees_with_any(self, h: np.ndarray, peers: Sequence[tuple[np.ndarray, float]]) -> bool:
        """``_agrees`` within ``reacquire_agree`` with one of ``peers``, or there are none: a
        mark is taken for a lookalike only when every confirmed mark puts it elsewhere (one of
        them may itself be a little off, and the nearest is not always right)."""
        within = self.cfg.reacquire_agree
        return not peers or any(self._agrees(h, peer, within) for peer in peers)

    def _slack(self, peer: tuple[np.ndarray, float]) -> float:
        predicted, distance = peer
        side = math.sqrt(max(_area(_map(predicted, self.region)), 1.0))
        return self.cfg.peer_slack * distance * side

    def _covered_at(self, frame: np.ndarray, h: np.ndarray) -> bool:
        if self.plain_strength is None:
            return False
        kept, self.h = self.h, h
        covered = self._covered(frame)
        self.h = kept
        return covered

    def _match(self, frame: np.ndarray, reach: float | None = None) -> np.ndarray | None:
        """``h`` corrected by the template's best match near where ``h`` puts it, if good:
        within ``reach`` (working px of the reference frame), by default
        ``reacquire_search``."""
        if self.template is None:
            return None
        r = self.cfg.reacquire_search if reach is None else max(math.ceil(reach), 2)
        th, tw = self.template.shape
        x0, y0 = self.template_at[0] - r, self.template_at[1] - r
        # The frame seen from the reference frame around the template: rotation and zoom undone.
        window = cv2.warpPerspective(
            frame,
            self.h @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64),
            (tw + 2 * r, th + 2 * r),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        score = cv2.matchTemplate(window, self.template, cv2.TM_CCOEFF_NORMED)
        _, best, _, (bx, by) = cv2.minMaxLoc(score)
        if best < self.cfg.reacquire_score:
            return None
        shift = np.array([[1, 0, bx - r], [0, 1, by - r], [0, 0, 1]], np.float64)
        th, tw = self.template.shape
        refined = self._refine(window[by : by + th, bx : bx + tw], (x0 + bx, y0 + by))
        return refined if refined is not None else self.h @ shift

    def _anywhere(self, frame: np.ndarray, small: np.ndarray) -> np.ndarray | None:
        """The template looked for over the whole of ``small`` (``frame`` at half size, as
        ``_Scene`` keeps it), turned and scaled as ``h`` last showed it; the best match is put
        exactly by ``_match`` around it and taken only if the template then agrees with the
        frame there (``reacquire_anywhere_score``). ``h`` is left as it was when nothing is."""
        assert self.template is not None
        cfg = self.cfg
        th, tw = self.template.shape
        centre = np.array(self.template_at, np.float64) + np.array(((tw - 1) / 2, (th - 1) / 2))
        # ``h`` near the template, as a linear map (exact for a similarity).
        p = _map(self.h, centre + np.array([(0, 0), (1, 0), (0, 1)], np.float64))
        lin = np.column_stack([p[1] - p[0], p[2] - p[0]])
        scale = math.sqrt(abs(float(np.linalg.det(lin))))
        if not scale > 0:
            return None
        angle = math.atan2(lin[1, 0], lin[0, 0])
        # The square inside the turned template: no border filling in the searched pattern.
        shrink = 1 / (abs(math.cos(angle)) + abs(math.sin(angle)))
        side = int(min(tw, th) * 0.5 * scale * shrink)
        sh, sw = small.shape
        if side < 12 or side >= min(sw, sh):
            return None
        # Template px -> pattern px: about the template's centre, half size, as ``h`` turns it.
        rot = 0.5 * lin
        m = np.zeros((2, 3))
        m[:, :2] = rot
        m[:, 2] = (side - 1) / 2 - rot @ ((tw - 1) / 2, (th - 1) / 2)
        pattern = cv2.warpAffine(self.template, m, (side, side), flags=cv2.INTER_AREA)
        score = cv2.matchTemplate(small, pattern, cv2.TM_CCOEFF_NORMED)
        _, best, _, (bx, by) = cv2.minMaxLoc(score)
        if best < cfg.reacquire_score:
            return None
        # Distinct, or it is one of several things alike (a tiled floor, a row of cups): the
        # best elsewhere than next to this one must score clearly less.
        r = max(side // 2, 2)
        score[max(by - r, 0) : by + r + 1, max(bx - r, 0) : bx + r + 1] = -1.0
        second = float(score.max())
        if best - second < cfg.reacquire_anywhere_margin:
            return None
        # The pattern's centre, from half px back to working px (see ``_HALF``).
        at = 2 * np.array((bx + (side - 1) / 2, by + (side - 1) / 2)) + 0.5
        guess = np.eye(3)
        guess[:2, :2] = lin
        guess[:2, 2] = at - lin @ centre
        kept = self.h
        self.h = guess
        found = self._match(frame)
        if found is not None:
            self.h = found
            size = math.sqrt(_area(_map(found, self.region)) / self.region_area)
            size *= math.sqrt(self.ref_size[0] * self.ref_size[1] / frame.size)
            if (
                cfg.scale_limits[0] <= size <= cfg.scale_limits[1]
                and self._visible(frame, _map(found, self.region)) >= cfg.reacquire_visible
                and self._likeness(frame) >= cfg.reacquire_anywhere_score
            ):
                return found
        self.h = kept
        return None

    def _speed(self) -> float:
        """Working px the region's centre moved from the previous good frame to this one."""
        centre = self.region.mean(0, keepdims=True)
        return float(np.linalg.norm(_map(self.h, centre) - _map(self.h_prev, centre)))

    def _strength(self, frame: np.ndarray) -> float:
        """The strongest corner (``cornerMinEigenVal``) in the mark's own region where ``h``
        puts it, seen from the reference frame."""
        x0, y0 = np.floor(self.region[0]).astype(int)
        x1, y1 = np.ceil(self.region[2]).astype(int) + 1
        patch = cv2.warpPerspective(
            frame,
            self.h @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64),
            (max(int(x1 - x0), 8), max(int(y1 - y0), 8)),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        return float(cv2.cornerMinEigenVal(patch, self.cfg.block_size).max())

    def _covered(self, frame: np.ndarray) -> bool:
        """A mark on a plain patch has no template of the patch to compare, but a cover (a
        hand, with its creases and edges) brings corners the patch never had."""
        if self.plain_strength is None:
            return False
        cfg = self.cfg
        limit = max(cfg.cover_strength, cfg.cover_ratio * self.plain_strength)
        return self._strength(frame) > limit

    def _likeness(self, frame: np.ndarray) -> float:
        """Normalized correlation of the template with the frame exactly where ``h`` puts it
        (1.0 without a template: a plain region cannot tell its object from a cover). Both are
        smoothed first: a dim room's noise or a little motion blur must not pass for a cover."""
        if self.template is None:
            return 1.0
        th, tw = self.template.shape
        x0, y0 = self.template_at
        seen = cv2.warpPerspective(
            frame,
            self.h @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64),
            (tw, th),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        return self._likeness_of(seen)

    def _likeness_of(self, seen: np.ndarray) -> float:
        """``_likeness`` of the frame already seen through ``h`` over the template."""
        assert self.template is not None
        if self._soft_template is None or self._soft_template.shape != self.template.shape:
            self._soft_template = cv2.GaussianBlur(self.template, (0, 0), 2.0)
        soft = cv2.GaussianBlur(seen, (0, 0), 2.0)
        return float(cv2.matchTemplate(soft, self._soft_template, cv2.TM_CCOEFF_NORMED)[0, 0])

    def _refine(self, window: np.ndarray, origin: tuple[int, int]) -> np.ndarray | None:
        """The template's corners followed by LK into the part of the window (the size of the
        template: LK wants equal sizes) where the match put it, at ``origin``: an
        estimate from exact reference positions (the match alone is good to a few pixels and
        knows nothing of a drift in rotation or scale)."""
        cfg = self.cfg
        assert self.template is not None
        if len(self.template_pts) < cfg.min_inliers:
            return None
        new, st, _ = cv2.calcOpticalFlowPyrLK(
            self.template,
            window,
            _lk_points(self.template_pts),
            # A copy: LK writes its answer into these in place, and they must not be the
            # template's own corners (which ``ascontiguousarray`` would hand over as they are).
            _lk_points(self.template_pts).copy(),
            winSize=(cfg.win_size, cfg.win_size),
            maxLevel=1,
            criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03),
            flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
        )
        ok = st.ravel() == 1
        if ok.sum() < cfg.min_inliers:
            return None
        ref = self.template_pts[ok].astype(np.float64) + self.template_at
        cur = _map(self.h, new.reshape(-1, 2)[ok].astype(np.float64) + origin)
        h, inl = self._estimate(ref.astype(np.float32), cur.astype(np.float32))
        if h is None or inl.sum() < cfg.min_inliers:
            return None
        return h

    def _resume(self, frame: np.ndarray, h: np.ndarray) -> TrackResult:
        assert self.result is not None
        self.h, self.h_inv = h, np.linalg.inv(h)
        self.h_prev, self.h_prev_inv = self.h, self.h_inv
        quad = _map(h, self.region)
        self.scale = math.sqrt(max(_area(quad), 0.0) / self.region_area)
        self.ref = self.pts = np.zeros((0, 2), np.float32)
        fresh = self._pick(frame, self.cfg.max_features)
        self.pts = fresh
        self.ref = _map(self.h_inv, fresh.astype(np.float64)).astype(np.float32)
        self.base, self.holds, self.reckoned = frame, 0, False
        self.since_anchor = max(self.cfg.anchor_every - 2, 0)  # found during a pan, perhaps
        self.since_found = 0
        self.confirmed = self.template_agreed = False
        self.template_proven = self.template is not None
        fh, fw = frame.shape
        t = _normalizer((fw, fh)) @ h @ _denormalizer(self.ref_size)
        anchors = _map(t, self.anchors)
        self.result = TrackResult(
            tuple((float(a), float(b)) for a, b in anchors),
            _as_matrix(t),
            len(fresh),
            1.0,
            source="found",
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

    def _lose(self, reason: LostReason, epoch: int | None = None) -> TrackResult:
        """``epoch``: the scene's, when its motion can carry the mark from here (it left the
        view, or its corners failed while the scene's motion stayed known)."""
        assert self.result is not None
        self.reckoned = epoch is not None
        self.carried = 0.0
        self.epoch = epoch if epoch is not None else -1
        self.result = self.result.as_lost(reason)
        self.ref = self.pts = np.zeros((0, 2), np.float32)
        self.base = None
        return self.result


_SEARCHED: tuple[LostReason, ...] = ("left_frame", "features", "occluded")
"""Why a mark may be lost and still be looked for (not a changed resolution or texture)."""


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


def _advance_all(
    cur: np.ndarray, tracks: Sequence[_Track], cfg: TrackerConfig, scene: _Scene
) -> None:
    scene.see(cur)
    turn: _Track | None = None
    if cfg.reacquire_anywhere:
        # At most one whole-frame search a frame, taken in turn by the marks that need one.
        waiting = [t for t in tracks if t.searchable(scene)]
        if waiting:
            turn = waiting[scene.seen % len(waiting)]
    lost = [t for t in tracks if t.lost]
    fh, fw = cur.shape
    for group in _groups(tracks):
        jobs = []
        for t in group:
            step, back = t.expected()
            guess = np.clip(_map(step, t.pts.astype(np.float64)), (0, 0), (fw - 1, fh - 1))
            jobs.append((t.pts, guess, back))
        base = group[0].base
        assert base is not None
        for t, (new, ok) in zip(group, _flow_together(base, cur, jobs, cfg), strict=True):
            t.advance(cur, new, ok, scene)
    followed: list[_Track] = []
    trusted: list[_Track] = []
    if cfg.reacquire_by_peers:
        followed = [t for t in tracks if _followed(t)]
        trusted = [t for t in followed if t.confirmed]
        for t in followed:
            if not t.confirmed:
                _check_found(t, trusted, cur, scene)
        followed = [t for t in tracks if _followed(t)]
        trusted = [t for t in followed if t.confirmed]
        if scene.seen % RELATE_EVERY == 0:
            _relate(trusted, cur)
    for t in lost:
        t.search(
            cur,
            scene,
            anywhere=t is turn,
            peer=next(iter(_peer_predictions(t, followed)), None),
            trusted=_peer_predictions(t, trusted),
        )


def _check_found(t: _Track, trusted: Sequence[_Track], frame: np.ndarray, scene: _Scene) -> None:
    """A mark found again (not yet ``confirmed``), held against where the confirmed marks put
    it. All marks move with one camera: found where its peers put it, it is its object; found
    further from there than ``reacquire_agree``, it is a lookalike (along a cup's rim, a
    template matches the rim a little further on) and is taken back to where they put it, or
    lost again when its template is not there. With no confirmed mark to ask, a template that
    agrees where it is at a slow moment (``_reanchor``) confirms it; a plain mark has nothing
    better than where it was placed."""
    peers = _peer_predictions(t, trusted)
    if not peers:
        t.confirmed = t.template_agreed or t.template is None
        return
    if _apart(t, t.h, peers[0][0]) <= t.cfg.confirm_agree:
        t.confirmed = True
    elif not t._agrees_with_any(t.h, peers):
        for peer in peers:
            placed = t._placed_by_peer(frame, peer)
            if placed is not None:
                t._resume(frame, placed)
                return
        t.h = peers[0][0]  # the lost mark's search starts where its peers put it
        t._lose("features", scene.epoch if scene.motion() is not None else None)


def _apart(t: _Track, h: np.ndarray, other: np.ndarray) -> float:
    """Working px between where two poses put the centre of ``t``'s region."""
    centre = t.region.mean(0, keepdims=True)
    return float(np.linalg.norm(_map(h, centre) - _map(other, centre)))


def _followed(t: _Track) -> bool:
    """Placed this frame by its own corners (or just found again): its ``h`` is measured."""
    return not t.lost and t.result is not None and t.result.source in ("features", "found")


def _relate(followed: Sequence[_Track], frame: np.ndarray) -> None:
    """Every pair of marks measured on this frame, both well inside it and moving slowly:
    remember how their references relate (a mark leaving the frame keeps fewer, one-sided
    corners; a fast pan blurs and skews the picture the estimates come from)."""
    inside = [
        t
        for t in followed
        if t._speed() <= t.cfg.blur_motion  # a pan's blur and skew bend the estimates
        and t._visible(frame, _map(t.h, t.region)) >= RELATE_VISIBLE
    ]
    inside = inside[:12]  # quadratic; more marks than anyone draws on one call
    for t in inside:
        for other in inside:
            if other is not t:
                seen = other.h_inv @ t.h
                seen = seen / seen[2, 2]
                held = t.peers.get(id(other))
                count = t.peer_counts.get(id(other), 0)
                # The mean of every measurement: the relation is fixed while both lie on one
                # scene, and one frame's holds each mark's own error (a small turn or scale,
                # multiplied by the distance between them).
                weight = 1.0 / min(count + 1, RELATE_MEMORY)
                t.peers[id(other)] = seen if held is None else held + weight * (seen - held)
                t.peer_counts[id(other)] = count + 1


RELATE_VISIBLE = 0.95
RELATE_MEMORY = 32  # measurements a relation is averaged over
RELATE_EVERY = 4  # frames: the relations of marks on one scene hold still; no need every frame


def _peer_predictions(t: _Track, followed: Sequence[_Track]) -> list[tuple[np.ndarray, float]]:
    """Where each mark measured on this frame puts lost ``t``, with how far away that mark is
    in ``t``'s sizes; nearest first."""
    out = []
    centre = t.region.mean(0, keepdims=True)
    for other in followed:
        relation = t.peers.get(id(other))
        if relation is None:
            continue
        predicted = other.h @ relation
        quad = _map(predicted, t.region)
        side = math.sqrt(max(_area(quad), 1.0))
        there = _map(predicted, centre)
        distance = float(np.linalg.norm(_map(other.h, other.region).mean(0) - there[0])) / side
        out.append((predicted, distance))
    return sorted(out, key=lambda p: p[1])


def _crop(
    pts: np.ndarray, guess: np.ndarray, shape: tuple[int, ...], cfg: TrackerConfig
) -> tuple[int, int, int, int]:
    """The part of the frame one track's LK needs: its corners and their guesses, plus the reach
    of a window at the coarsest pyramid level and ``crop_margin``."""
    fh, fw = shape[:2]
    both = np.concatenate([pts, guess])
    margin = (cfg.win_size // 2 << cfg.max_level) + cfg.crop_margin
    x0, y0 = np.floor(both.min(0)).astype(int) - margin
    x1, y1 = np.ceil(both.max(0)).astype(int) + margin + 1
    return max(int(x0), 0), max(int(y0), 0), min(int(x1), fw), min(int(y1), fh)


def _flow(
    prev: np.ndarray,
    cur: np.ndarray,
    pts: np.ndarray,
    guess: np.ndarray,
    back: np.ndarray | Callable[[np.ndarray], np.ndarray],
    cfg: TrackerConfig,
    box: tuple[int, int, int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Forward-backward LK of corners from ``prev`` to ``cur``.

    ``guess``: where each corner is expected in ``cur``; ``back``: where each is expected back
    in ``prev`` from its new position, as one 3x3 motion or a function of the new positions (the
    starting point of the backward pass: without it a fast pan would fail the check for lack of
    a guess). Returns the new positions and a mask of corners found both ways that came back to
    within ``fb_max_error`` of where they started and are inside the frame.

    Both passes run on ``box``, a crop of the two frames around the corners and their guesses
    (``_crop``): every LK call builds the pyramids and derivatives of its images, which at
    640x480 costs more than tracking 30 corners, and a region is a small part of the frame.
    """
    if len(pts) == 0:
        return pts.reshape(0, 2), np.zeros(0, bool)
    fh, fw = cur.shape
    x0, y0, x1, y1 = box if box is not None else _crop(pts, guess, cur.shape, cfg)
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
    expected_back = back(new) if callable(back) else _map(back, new)
    g0 = _lk_points(expected_back - offset)
    p0r, st0, _ = cv2.calcOpticalFlowPyrLK(
        b,
        a,
        p1,
        g0,
        winSize=win,
        maxLevel=cfg.fb_max_level,
        criteria=crit,
        flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
    )
    fb = np.linalg.norm((p0r - p0).reshape(-1, 2), axis=1)
    inside = (new[:, 0] >= 0) & (new[:, 0] <= fw - 1) & (new[:, 1] >= 0) & (new[:, 1] <= fh - 1)
    ok = (st1.ravel() == 1) & (st0.ravel() == 1) & (fb <= cfg.fb_max_error) & inside
    return new.astype(np.float32), ok


def _flow_together(
    prev: np.ndarray,
    cur: np.ndarray,
    jobs: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    cfg: TrackerConfig,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``_flow`` for several tracks on the same pair of frames, each job ``(pts, guess,
    back)``. Their crops are merged into one pair of LK calls when the crop around them all is
    no larger than their crops added up (marks near each other, or seeded from wide surrounds):
    each call builds its crops' pyramids, so five overlapping crops built separately cost up to
    five times the one around them. Marks far apart keep their own crops."""
    if len(jobs) < 2 or not cfg.merge_crops or not all(len(pts) for pts, _, _ in jobs):
        return [_flow(prev, cur, *job, cfg) for job in jobs]  # nothing to merge (or no corners)
    boxes = [_crop(pts, guess, cur.shape, cfg) for pts, guess, _ in jobs]
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[2] for b in boxes)
    y1 = max(b[3] for b in boxes)
    if (x1 - x0) * (y1 - y0) > sum((b[2] - b[0]) * (b[3] - b[1]) for b in boxes):
        return [
            _flow(prev, cur, pts, guess, back, cfg, box)
            for (pts, guess, back), box in zip(jobs, boxes, strict=True)
        ]
    cuts = np.cumsum([len(pts) for pts, _, _ in jobs])[:-1]

    def backs(new: np.ndarray) -> np.ndarray:
        parts = np.split(new, cuts)
        return np.concatenate(
            [_map(back, part) for (_, _, back), part in zip(jobs, parts, strict=True)]
        )

    new, ok = _flow(
        prev,
        cur,
        np.concatenate([pts for pts, _, _ in jobs]),
        np.concatenate([guess for _, guess, _ in jobs]),
        backs,
        cfg,
        (x0, y0, x1, y1),
    )
    out = []
    half = cfg.win_size // 2
    for box, part, good in zip(boxes, np.split(new, cuts), np.split(ok, cuts), strict=True):
        # A corner that wandered out of its own crop would have been lost there: LK on the crop
        # around them all must not find it further away (on a repetitive texture, coffee beans,
        # it finds a lookalike both ways).
        bx0, by0, bx1, by1 = box
        within = (
            (part[:, 0] >= bx0 + half)
            & (part[:, 0] <= bx1 - 1 - half)
            & (part[:, 1] >= by0 + half)
            & (part[:, 1] <= by1 - 1 - half)
        )
        out.append((part, good & within))
    return out


def _on_new_frame(
    frames: _Frames, gray: np.ndarray, tracks: Sequence[_Track], scene: _Scene
) -> bool:
    """Push a frame; rescale or lose tracks as its size demands. True if tracks may advance."""
    change = frames.push(gray)
    if change in ("reshaped", "rescaled"):
        scene.reset()
        scene.latest = None  # another size: nothing to compare with
    if change == "reshaped":
        for t in tracks:
            if not t.lost:
                t._lose("resolution")
            t.reckoned = False
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
        self._frames = _Frames(
            self.config.max_side, self.config.aspect_tolerance, self.config.normalize
        )
        self._scene = _Scene(self.config)
        self._frames.push(gray)
        assert self._frames.cur is not None
        self._scene.see(self._frames.cur)
        self._track = _Track.start(
            self._frames.cur, region, anchors, self.config, self._scene.textured()
        )

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
        if _on_new_frame(self._frames, gray, [self._track], self._scene):
            assert self._frames.cur is not None
            _advance_all(self._frames.cur, [self._track], self.config, self._scene)
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
        self._frames = _Frames(
            self.config.max_side, self.config.aspect_tolerance, self.config.normalize
        )
        self._scene = _Scene(self.config)
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

        Lost trackers keep being reported (lost, at their last position) until found again or
        removed."""
        with self._lock:
            pending, self._pending = self._pending, {}
            tracks = {
                k: t for k, t in self._tracks.items() if k not in self._removed and k not in pending
            }
            self._removed.clear()
        was_lost = {key for key, t in tracks.items() if t.lost}
        if _on_new_frame(self._frames, gray, list(tracks.values()), self._scene):
            assert self._frames.cur is not None
            _advance_all(self._frames.cur, list(tracks.values()), self.config, self._scene)
        else:
            assert self._frames.cur is not None
            self._scene.see(self._frames.cur)
        for key, t in tracks.items():
            if t.lost and key not in was_lost and t.result is not None:
                logger.debug("TrackerSet(%x) %r lost: %s", id(self), key, t.result.reason)
        assert self._frames.cur is not None
        for key, (region, anchors) in pending.items():
            tracks[key] = _Track.start(
                self._frames.cur, region, anchors, self.config, self._scene.textured()
            )
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

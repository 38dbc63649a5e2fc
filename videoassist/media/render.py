"""The server renderer: burns annotations into a BGR frame with OpenCV, as the browser would.

The browser twin is ``drawAnnotations`` in ``web/shared/annotations.js``; docs/annotations.md is
the contract both follow, and ``videoassist.annotations`` is the model both draw. The model stays
free of OpenCV and numpy so the signaling path can validate marks without loading either.

Theory of operation:

- A normalized ``(x, y)`` maps to the canvas pixel coordinate ``floor(x * W * 16 + 0.5) / 16``
  (and likewise for y): both renderers quantize to the same 1/16 px grid. Canvas pixel ``i``
  covers ``[i, i + 1)``; OpenCV puts pixel centres on integers, so the OpenCV coordinate is the
  canvas coordinate minus half a pixel.
- Sizes (stroke width, text size) are pixels at a reference frame whose short side is
  ``REFERENCE_SHORT_SIDE``; a frame whose short side is ``s`` scales them by ``s / 720``.
- Strokes have round caps and round joins: a stroke is the set of points within ``width / 2`` of
  its path. That is what Canvas 2D draws with ``lineCap = lineJoin = "round"``; here it is the
  union of one quadrilateral per segment and one disc per vertex.
- OpenCV's own anti-aliasing fattens shapes by most of a pixel and blends every primitive on its
  own, so instead each annotation is rasterized into a coverage mask at 4x4 supersampling
  (the sampling Skia itself uses for anti-aliased paths) and the mask is averaged down. Pixels
  blend ``dst * (1 - a * c) + colour * a * c`` for coverage ``c`` and annotation alpha ``a``;
  translucent annotations (fading laser, lost sticky marks) are composited as a group, as the
  browser does through a scratch canvas.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Any

import cv2
import numpy as np

from videoassist.annotations import (
    PALETTE,
    REFERENCE_SHORT_SIDE,
    AnyAnnotation,
    Arrow,
    Ellipse,
    Laser,
    Pen,
    Rect,
    Text,
    visibility,
)

# --- Rendering constants, identical in web/shared/annotations.js

ARROW_HEAD_ANGLE = math.radians(28.0)
ARROW_HEAD_MIN = 12.0  # reference px
ARROW_HEAD_PER_WIDTH = 3.0
LASER_RADIUS = 9.0  # reference px
TEXT_BASELINE = 0.8  # baseline sits this many font sizes below the anchor
TEXT_WEIGHT = 700  # bold, in both renderers
TEXT_OUTLINE = 1.0 / 12.0  # dark outline width per font size, for legibility on any video
TEXT_CAP_HEIGHT = 0.73  # cap height per font size of the browser's sans-serif
SUPERSAMPLE = 4
_FIXED = 16  # 1/16 px grid, OpenCV shift=4
_SHIFT = 4
# OpenCV 5 draws TrueType text (its bundled sans, with fallback glyphs for other scripts);
# OpenCV 4 has only the Hershey stroke fonts.
_SANS = cv2.FontFace("sans") if hasattr(cv2, "FontFace") else None


# --- Pixel geometry shared with the browser


def _quantize(v: float) -> float:
    return math.floor(v * _FIXED + 0.5) / _FIXED


def _px(v: float, size: int) -> float:
    return math.floor(v * size * _FIXED + 0.5) / _FIXED


def _scale(width: int, height: int) -> float:
    return min(width, height) / REFERENCE_SHORT_SIDE


def stroke_px(width: float, frame_w: int, frame_h: int) -> float:
    return max(1.0, _quantize(width * _scale(frame_w, frame_h)))


def arrow_geometry(
    tail: tuple[float, float], tip: tuple[float, float], sw: float, scale: float
) -> tuple[tuple[float, float], list[tuple[float, float]]] | None:
    """Pixel geometry of an arrow: (end of the shaft, head triangle [tip, left, right]).
    None when tail and tip coincide (drawn as a dot)."""
    dx, dy = tip[0] - tail[0], tip[1] - tail[1]
    length = math.hypot(dx, dy)
    if length == 0.0:
        return None
    ux, uy = dx / length, dy / length
    head = min(max(ARROW_HEAD_PER_WIDTH * sw, ARROW_HEAD_MIN * scale), length)
    c, s = math.cos(ARROW_HEAD_ANGLE), math.sin(ARROW_HEAD_ANGLE)
    left = (tip[0] - head * (ux * c - uy * s), tip[1] - head * (uy * c + ux * s))
    right = (tip[0] - head * (ux * c + uy * s), tip[1] - head * (uy * c - ux * s))
    shaft_end = (tip[0] - head * c * ux, tip[1] - head * c * uy)
    q = _quantize
    return (q(shaft_end[0]), q(shaft_end[1])), [
        tip,
        (q(left[0]), q(left[1])),
        (q(right[0]), q(right[1])),
    ]


def _rgb(color: str, lost: bool) -> tuple[float, float, float]:
    hex_ = PALETTE.get(color, color)
    r, g, b = (int(hex_[i : i + 2], 16) for i in (1, 3, 5))
    if lost:
        grey = math.floor(0.299 * r + 0.587 * g + 0.114 * b + 0.5)
        r = g = b = grey
    return float(r), float(g), float(b)


# --- Rasterization


class _Mask:
    """A coverage mask over a region of the frame, drawn at SUPERSAMPLE x SUPERSAMPLE."""

    # OpenCV's anti-aliased fill runs a ~1.3 px soft edge centred on the true edge over the
    # filled inside, so shapes come out fat: edges are pulled in by these many supersampled
    # pixels. The values are where the parity test's difference to Chromium bottoms out;
    # against exact coverage they leave under 8% error on any pixel. Anti-aliasing at this
    # level also smooths the 1/8 px steps a plain 4x4 sample grid leaves on straight edges.
    POLYGON_INSET = 0.7
    DISC_INSET = 0.6

    def __init__(self, x0: int, y0: int, x1: int, y1: int) -> None:
        self.x0, self.y0 = x0, y0
        self.w, self.h = x1 - x0, y1 - y0
        self.data = np.zeros((self.h * SUPERSAMPLE, self.w * SUPERSAMPLE), np.uint8)

    def _fixed(self, p: tuple[float, float]) -> tuple[int, int]:
        k = SUPERSAMPLE
        return (
            math.floor(((p[0] - self.x0) * k - 0.5) * _FIXED + 0.5),
            math.floor(((p[1] - self.y0) * k - 0.5) * _FIXED + 0.5),
        )

    def disc(self, c: tuple[float, float], r: float) -> None:
        radius = r * SUPERSAMPLE - self.DISC_INSET
        if radius <= 0:
            return
        cv2.circle(self.data, self._fixed(c), round(radius * _FIXED), 255, -1, cv2.LINE_AA, _SHIFT)

    def polygon(self, pts: Sequence[tuple[float, float]]) -> None:
        inset = _inset_convex(pts, self.POLYGON_INSET / SUPERSAMPLE)
        if inset is None:
            return
        poly = np.array([self._fixed(p) for p in inset], np.int32)
        cv2.fillConvexPoly(self.data, poly, 255, cv2.LINE_AA, _SHIFT)

    def stroke(self, pts: Sequence[tuple[float, float]], sw: float, closed: bool) -> None:
        r = sw / 2
        # Segment bodies are inset on their long sides only: the discs cover their ends.
        body = r - self.POLYGON_INSET / SUPERSAMPLE
        path = list(pts)
        if closed and len(path) > 1:
            path.append(path[0])
        for a, b in itertools.pairwise(path):
            dx, dy = b[0] - a[0], b[1] - a[1]
            length = math.hypot(dx, dy)
            if length == 0 or body <= 0:
                continue
            nx, ny = -dy / length * body, dx / length * body
            quad = [(a[0] + nx, a[1] + ny), (b[0] + nx, b[1] + ny)]
            quad += [(b[0] - nx, b[1] - ny), (a[0] - nx, a[1] - ny)]
            poly = np.array([self._fixed(p) for p in quad], np.int32)
            cv2.fillConvexPoly(self.data, poly, 255, cv2.LINE_AA, _SHIFT)
        for p in pts:
            self.disc(p, r)

    def text(self, line: str, org: tuple[float, float], font: float, grow: float) -> None:
        """``line`` with its baseline starting at ``org``, ``font`` px high (em), widened by
        ``grow`` px all round (the outline: what strokeText adds with a round join)."""
        k = SUPERSAMPLE
        x = round((org[0] - self.x0) * k - 0.5)
        y = round((org[1] - self.y0) * k - 0.5)
        size = max(1, round(font * k))
        if _SANS is not None:
            cv2.putText(self.data, line, (x, y), 255, _SANS, size, TEXT_WEIGHT)
        else:  # OpenCV 4: Hershey strokes, ASCII only; caps are 21 units tall at scale 1.
            ascii_line = line.encode("ascii", "replace").decode()
            scale = size * TEXT_CAP_HEIGHT / 21.0
            thickness = max(1, round(size * 0.12))
            cv2.putText(
                self.data,
                ascii_line,
                (x, y),
                cv2.FONT_HERSHEY_SIMPLEX,
                scale,
                255,
                thickness,
                cv2.LINE_AA,
            )
        if grow > 0:
            r = max(1, round(grow * k))
            disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
            self.data = np.asarray(cv2.dilate(self.data, disc), dtype=np.uint8)

    def coverage(self) -> np.ndarray:
        small = cv2.resize(self.data, (self.w, self.h), interpolation=cv2.INTER_AREA)
        return small.astype(np.float32) / 255.0


def square_to_quad(
    quad: Sequence[tuple[float, float]],
) -> tuple[float, float, float, float, float, float, float, float]:
    """The projective map ``(a, b, c, d, e, f, g, h)`` taking the unit square's corners (0, 0),
    (1, 0), (1, 1), (0, 1) to ``quad``'s four corners in that order: a point ``(u, v)`` lands
    at ``((a u + b v + c) / w, (d u + e v + f) / w)`` with ``w = g u + h v + 1``. A
    parallelogram gives an affine map (``g = h = 0``). The browser computes the same."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = quad
    sx, sy = x0 - x1 + x2 - x3, y0 - y1 + y2 - y3
    g = h = 0.0
    den = (x1 - x2) * (y3 - y2) - (x3 - x2) * (y1 - y2)
    if (sx != 0.0 or sy != 0.0) and den != 0.0:
        g = (sx * (y3 - y2) - (x3 - x2) * sy) / den
        h = ((x1 - x2) * sy - sx * (y1 - y2)) / den
    return (
        x1 - x0 + g * x1,
        x3 - x0 + h * x3,
        x0,
        y1 - y0 + g * y1,
        y3 - y0 + h * y3,
        y0,
        g,
        h,
    )


def quad_ring(quad: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The ellipse inscribed in a box whose corners are now at ``quad`` (pixels), as a closed
    polygon: the box's unit circle sampled evenly and carried through ``square_to_quad``.
    Enough vertices that the polygon strays under about 0.05 px from the curve."""
    a, b, c, d, e, f, g, h = square_to_quad(quad)
    reach = max(
        math.hypot(quad[i][0] - quad[i - 1][0], quad[i][1] - quad[i - 1][1]) for i in range(4)
    )
    n = max(16, math.ceil(math.pi * math.sqrt(10.0 * reach / 2.0)))
    ring = []
    for i in range(n):
        t = 2.0 * math.pi * i / n
        u, v = 0.5 + 0.5 * math.cos(t), 0.5 + 0.5 * math.sin(t)
        w = g * u + h * v + 1.0
        ring.append(((a * u + b * v + c) / w, (d * u + e * v + f) / w))
    return ring


def _inset_convex(pts: Sequence[tuple[float, float]], d: float) -> list[tuple[float, float]] | None:
    """Move every edge of a convex polygon inward by ``d`` (any winding)."""
    n = len(pts)
    area2 = sum(pts[i][0] * pts[(i + 1) % n][1] - pts[(i + 1) % n][0] * pts[i][1] for i in range(n))
    if area2 == 0:
        return None
    sign = 1.0 if area2 > 0 else -1.0
    lines = []
    for i in range(n):
        a, b = pts[i], pts[(i + 1) % n]
        ex, ey = b[0] - a[0], b[1] - a[1]
        length = math.hypot(ex, ey)
        if length == 0:
            continue
        # Inward normal for this winding, then the edge shifted along it.
        nx, ny = -ey / length * sign, ex / length * sign
        lines.append(((a[0] + nx * d, a[1] + ny * d), (ex, ey)))
    out = []
    for i in range(len(lines)):
        (p, r), (q, s) = lines[i - 1], lines[i]
        cross = r[0] * s[1] - r[1] * s[0]
        if cross == 0:
            out.append(q)
            continue
        t = ((q[0] - p[0]) * s[1] - (q[1] - p[1]) * s[0]) / cross
        out.append((p[0] + t * r[0], p[1] + t * r[1]))
    return out


def _layers(
    a: AnyAnnotation, width: int, height: int
) -> list[tuple[tuple[float, float, float] | None, list[tuple[str, Any]]]]:
    """Paint operations for one annotation: [(rgb or None for the annotation's colour, ops)]."""
    scale = _scale(width, height)

    def pt(p: tuple[float, float]) -> tuple[float, float]:
        return (_px(p[0], width), _px(p[1], height))

    if isinstance(a, Arrow):
        sw = stroke_px(a.width, width, height)
        tail, tip = pt(a.from_), pt(a.to)
        geometry = arrow_geometry(tail, tip, sw, scale)
        if geometry is None:
            return [(None, [("disc", (tip, sw / 2))])]
        shaft_end, head = geometry
        return [(None, [("stroke", ([tail, shaft_end], sw, False)), ("polygon", (head,))])]
    if isinstance(a, Rect | Ellipse) and a.quad is not None:
        # A tracked shape, turned or tilted with its object: drawn on its box's quadrilateral.
        sw = stroke_px(a.width, width, height)
        quad = [pt(p) for p in a.quad]
        if all(p == quad[0] for p in quad):
            return [(None, [("disc", (quad[0], sw / 2))])]
        ring = quad if isinstance(a, Rect) else quad_ring(quad)
        return [(None, [("stroke", (ring, sw, True))])]
    if isinstance(a, Rect):
        sw = stroke_px(a.width, width, height)
        x0, y0 = _px(a.x, width), _px(a.y, height)
        x1, y1 = _px(a.x + a.w, width), _px(a.y + a.h, height)
        return [(None, [("stroke", ([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], sw, True))])]
    if isinstance(a, Ellipse):
        sw = stroke_px(a.width, width, height)
        cx, cy = pt(a.center)
        rx, ry = _px(a.radii[0], width), _px(a.radii[1], height)
        # Enough vertices that the polygon strays under 0.05 px from the true ellipse.
        n = max(16, math.ceil(math.pi * math.sqrt(10.0 * max(rx, ry))))
        ring = [
            (cx + rx * math.cos(2 * math.pi * i / n), cy + ry * math.sin(2 * math.pi * i / n))
            for i in range(n)
        ]
        return [(None, [("stroke", (ring, sw, True))])]
    if isinstance(a, Pen):
        sw = stroke_px(a.width, width, height)
        path: list[tuple[float, float]] = []
        for p in a.points:
            q = pt(p)
            if not path or path[-1] != q:
                path.append(q)
        if len(path) == 1:
            return [(None, [("disc", (path[0], sw / 2))])]
        return [(None, [("stroke", (path, sw, False))])]
    if isinstance(a, Text):
        font = _quantize(a.size * scale)
        outline = max(1.0, font * TEXT_OUTLINE)
        x, top = pt(a.at)
        org = (x, top + font * TEXT_BASELINE)
        return [
            ((0.0, 0.0, 0.0), [("text", (a.text, org, font, outline))]),
            (None, [("text", (a.text, org, font, 0.0))]),
        ]
    if isinstance(a, Laser):
        r = max(3.0, _quantize(LASER_RADIUS * scale))
        return [(None, [("disc", (pt(a.at), r))])]
    raise TypeError(f"not an annotation: {a!r}")


def _bounds(ops: list[tuple[str, Any]], width: int, height: int) -> tuple[int, int, int, int]:
    xs: list[float] = []
    ys: list[float] = []
    for op, args in ops:
        if op == "disc":
            (cx, cy), r = args
            xs += [cx - r, cx + r]
            ys += [cy - r, cy + r]
        elif op == "stroke":
            pts, sw, _ = args
            xs += [p[0] - sw for p in pts] + [p[0] + sw for p in pts]
            ys += [p[1] - sw for p in pts] + [p[1] + sw for p in pts]
        elif op == "polygon":
            (pts,) = args
            xs += [p[0] for p in pts]
            ys += [p[1] for p in pts]
        elif op == "text":
            line, (ox, oy), font, grow = args
            if _SANS is not None:
                bx, by, bw, bh = cv2.getTextSize(
                    (width, height), line, (round(ox), round(oy)), _SANS, round(font), TEXT_WEIGHT
                )
                xs += [bx - grow - 1, bx + bw + grow + 1]
                ys += [by - grow - 1, by + bh + grow + 1]
            else:  # Generous: no glyph of a bold sans is wider than 1.2 em.
                xs += [ox - font - grow, ox + len(line) * font * 1.2 + grow]
                ys += [oy - font * 1.2 - grow, oy + font * 0.5 + grow]
    x0 = max(0, math.floor(min(xs)) - 2)
    y0 = max(0, math.floor(min(ys)) - 2)
    x1 = min(width, math.ceil(max(xs)) + 2)
    y1 = min(height, math.ceil(max(ys)) + 2)
    return x0, y0, x1, y1


def draw(
    img: np.ndarray, annotations: Iterable[AnyAnnotation], now: float | None = None
) -> np.ndarray:
    """A copy of ``img`` (BGR, HxWx3 uint8) with ``annotations`` drawn in order, as seen at media
    time ``now`` (None: every annotation, fully opaque). The input is not modified."""
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError("draw() takes a BGR uint8 image of shape (H, W, 3)")
    out = img.copy()
    height, width = out.shape[:2]
    for a in annotations:
        alpha = visibility(a, now)
        if alpha <= 0.0:
            continue
        colour = _rgb(a.color, a.lost)
        layers = _layers(a, width, height)
        x0, y0, x1, y1 = _bounds([op for _, ops in layers for op in ops], width, height)
        if x1 <= x0 or y1 <= y0:
            continue
        coverages = []
        for rgb, ops in layers:
            mask = _Mask(x0, y0, x1, y1)
            for op, args in ops:
                getattr(mask, op)(*args)
            coverages.append((rgb or colour, mask.coverage()))
        # Blend only the pixels some layer touches: most of a large shape's box is empty.
        ys, xs = np.nonzero(np.logical_or.reduce([c > 0 for _, c in coverages]))
        if ys.size == 0:
            continue
        roi = out[y0:y1, x0:x1]
        base = roi[ys, xs].astype(np.float32)
        composed = base.copy()
        for (r, g, b), coverage in coverages:
            c = coverage[ys, xs][:, None]
            composed = composed * (1.0 - c) + np.array([b, g, r], np.float32) * c
        if alpha < 1.0:
            composed = base * (1.0 - alpha) + composed * alpha
        roi[ys, xs] = np.clip(np.floor(composed + 0.5), 0, 255).astype(np.uint8)
    return out

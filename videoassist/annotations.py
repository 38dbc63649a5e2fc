"""Annotations: marks an agent draws over the customer's video, and the Python renderer.

Everything here is pure: the models validate what a client sends, ``stamp`` turns a client
payload into the record the server keeps (author and media-clock time are the server's, never
the client's), and ``draw`` burns a set of annotations into a BGR frame.

Theory of operation (the browser twin is ``web/shared/annotations.js``; docs/annotations.md is
the contract both follow):

- Coordinates are normalized to the video frame, 0..1 on each axis, rounded to 4 decimals.
  A normalized ``(x, y)`` maps to the canvas pixel coordinate ``floor(x * W * 16 + 0.5) / 16``
  (and likewise for y): both renderers quantize to the same 1/16 px grid. Canvas pixel ``i``
  covers ``[i, i + 1)``; OpenCV puts pixel centres on integers, so the OpenCV coordinate is the
  canvas coordinate minus half a pixel.
- Sizes (stroke width, text size) are pixels at a reference frame whose short side is 720 px;
  a frame whose short side is ``s`` scales them by ``s / 720``.
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
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal

import cv2
import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    model_validator,
)

# --- Limits (docs/annotations.md lists them; web/shared/annotations.js mirrors the ones it needs)

MAX_ANNOTATION_BYTES = 8 * 1024
MAX_PEN_POINTS = 256
MAX_TEXT_CHARS = 200
MAX_LIFETIME = 3600.0
REFERENCE_SHORT_SIDE = 720.0
DEFAULT_WIDTH = 6.0
MIN_WIDTH, MAX_WIDTH = 1.0, 48.0
DEFAULT_TEXT_SIZE = 32.0
MIN_TEXT_SIZE, MAX_TEXT_SIZE = 8.0, 160.0
COORD_DECIMALS = 4

# --- Rendering constants, identical in web/shared/annotations.js

ARROW_HEAD_ANGLE = math.radians(28.0)
ARROW_HEAD_MIN = 12.0  # reference px
ARROW_HEAD_PER_WIDTH = 3.0
LASER_RADIUS = 9.0  # reference px
LASER_FADE = 1.0  # seconds from full opacity to gone
LOST_ALPHA = 0.5
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

PALETTE: dict[str, str] = {
    "red": "#ff3b30",
    "orange": "#ff9500",
    "yellow": "#ffcc00",
    "green": "#34c759",
    "blue": "#0a84ff",
    "white": "#ffffff",
    "black": "#000000",
}

_HEX = re.compile(r"#[0-9a-f]{6}")
_ID = r"^[A-Za-z0-9_-]{1,40}$"
# Control characters, line breaks, and the bidi overrides that can make text read backwards.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class AnnotationError(ValueError):
    """A payload the client got wrong (too large, too many points); maps to a 4xx-style ack."""


# --- Field types


def _round_coord(v: float) -> float:
    return round(v, COORD_DECIMALS)


def _color(v: str) -> str:
    v = v.strip().lower()
    if v in PALETTE:
        return PALETTE[v]
    if not _HEX.fullmatch(v):
        raise ValueError(f"color must be one of {sorted(PALETTE)} or #rrggbb")
    return v


def _clean_text(v: str) -> str:
    if _CONTROL.search(v):
        raise ValueError("text must be one line without control characters")
    if not v.strip():
        raise ValueError("text must not be blank")
    return v


Coord = Annotated[float, Strict(), Field(ge=0.0, le=1.0), AfterValidator(_round_coord)]
Radius = Annotated[float, Strict(), Field(gt=0.0, le=1.0), AfterValidator(_round_coord)]
Point = tuple[Coord, Coord]
Color = Annotated[str, Field(max_length=16), AfterValidator(_color)]
Width = Annotated[float, Strict(), Field(ge=MIN_WIDTH, le=MAX_WIDTH)]
AnnotationId = Annotated[str, Field(pattern=_ID)]


class _Shape(BaseModel):
    # Extra keys are refused: that is what keeps a client from supplying author/created_at.
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        serialize_by_alias=True,
    )

    id: AnnotationId
    color: Color = PALETTE["red"]


class _Persistent(_Shape):
    lifetime: Annotated[float, Strict(), Field(gt=0.0, le=MAX_LIFETIME)] | None = None
    sticky: Annotated[bool, Strict()] = False


class _Stroked(_Persistent):
    width: Width = DEFAULT_WIDTH


class ArrowIn(_Stroked):
    kind: Literal["arrow"]
    from_: Point = Field(alias="from")
    to: Point


class EllipseIn(_Stroked):
    """An axis-aligned ellipse. ``radii`` are in frame widths (x) and frame heights (y)."""

    kind: Literal["ellipse"]
    center: Point
    radii: tuple[Radius, Radius]


class RectIn(_Stroked):
    kind: Literal["rect"]
    x: Coord
    y: Coord
    w: Coord
    h: Coord

    @model_validator(mode="after")
    def _inside(self) -> RectIn:
        if self.x + self.w > 1.0 + 1e-9 or self.y + self.h > 1.0 + 1e-9:
            raise ValueError("rect must lie inside the frame (x + w <= 1 and y + h <= 1)")
        return self


class PenIn(_Stroked):
    kind: Literal["pen"]
    points: Annotated[list[Point], Field(min_length=1, max_length=MAX_PEN_POINTS)]


class TextIn(_Persistent):
    """One line of text; ``at`` is the top-left corner of the text."""

    kind: Literal["text"]
    at: Point
    text: Annotated[
        str, Field(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(_clean_text)
    ]
    size: Annotated[float, Strict(), Field(ge=MIN_TEXT_SIZE, le=MAX_TEXT_SIZE)] = DEFAULT_TEXT_SIZE


class LaserIn(_Shape):
    """Ephemeral: relayed and drawn for ``LASER_FADE`` seconds, never stored as a mark."""

    kind: Literal["laser"]
    at: Point


class _Stamp(BaseModel):
    author: Annotated[str, Field(min_length=1, max_length=128)]
    created_at: Annotated[float, Strict(), Field(ge=0.0, allow_inf_nan=False)]
    # Set by the tracker when a sticky mark's object left the picture; drawn greyed out.
    lost: bool = False


class Arrow(_Stamp, ArrowIn):
    pass


class Ellipse(_Stamp, EllipseIn):
    pass


class Rect(_Stamp, RectIn):
    pass


class Pen(_Stamp, PenIn):
    pass


class Text(_Stamp, TextIn):
    pass


class Laser(_Stamp, LaserIn):
    pass


class PenPointsIn(BaseModel):
    """More points for a pen stroke being drawn (the browser's StrokeBatcher sends these)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: AnnotationId
    points: Annotated[list[Point], Field(min_length=1, max_length=MAX_PEN_POINTS)]


ClientAnnotation = Annotated[
    ArrowIn | EllipseIn | RectIn | PenIn | TextIn | LaserIn, Field(discriminator="kind")
]
Annotation = Annotated[Arrow | Ellipse | Rect | Pen | Text | Laser, Field(discriminator="kind")]
AnyAnnotation = Arrow | Ellipse | Rect | Pen | Text | Laser

CLIENT_ADAPTER: TypeAdapter[ClientAnnotation] = TypeAdapter(ClientAnnotation)
ANNOTATION_ADAPTER: TypeAdapter[Annotation] = TypeAdapter(Annotation)
_FULL: dict[str, type[AnyAnnotation]] = {
    "arrow": Arrow,
    "ellipse": Ellipse,
    "rect": Rect,
    "pen": Pen,
    "text": Text,
    "laser": Laser,
}
EPHEMERAL_KINDS = frozenset({"laser"})


def _json_size(data: bytes | str | Mapping[str, Any]) -> int:
    if isinstance(data, bytes):
        return len(data)
    if isinstance(data, str):
        return len(data.encode())
    try:
        return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
    except (TypeError, ValueError) as exc:
        raise AnnotationError("annotation is not plain JSON") from exc


def _check_size(data: bytes | str | Mapping[str, Any]) -> None:
    size = _json_size(data)
    if size > MAX_ANNOTATION_BYTES:
        raise AnnotationError(f"annotation is {size} bytes; the limit is {MAX_ANNOTATION_BYTES}")


def parse_client(data: bytes | str | Mapping[str, Any]) -> ClientAnnotation:
    """Validate what a client sent (JSON text or a decoded dict). Raises ValueError
    (pydantic's ValidationError or AnnotationError) on anything wrong, size first."""
    _check_size(data)
    if isinstance(data, bytes | str):
        return CLIENT_ADAPTER.validate_json(data)
    return CLIENT_ADAPTER.validate_python(data)


def parse_pen_points(data: bytes | str | Mapping[str, Any]) -> PenPointsIn:
    _check_size(data)
    if isinstance(data, bytes | str):
        return PenPointsIn.model_validate_json(data)
    return PenPointsIn.model_validate(data)


def stamp(shape: ClientAnnotation, *, author: str, created_at: float) -> AnyAnnotation:
    """The record of a client's shape: the server names the author and the media-clock time."""
    fields = shape.model_dump(by_alias=True)
    return _FULL[shape.kind].model_validate({**fields, "author": author, "created_at": created_at})


def extend_pen(pen: Pen, more: PenPointsIn) -> Pen:
    if more.id != pen.id:
        raise AnnotationError(f"points for {more.id!r} do not belong to pen {pen.id!r}")
    if len(pen.points) + len(more.points) > MAX_PEN_POINTS:
        raise AnnotationError(f"a pen stroke holds at most {MAX_PEN_POINTS} points")
    return pen.model_copy(update={"points": [*pen.points, *more.points]})


def to_wire(annotation: BaseModel) -> dict[str, Any]:
    return annotation.model_dump(mode="json", by_alias=True)


# --- Geometry helpers shared with the browser


def simplify(points: Sequence[Sequence[float]], epsilon: float) -> list[tuple[float, float]]:
    """Ramer-Douglas-Peucker: keep the points that deviate more than ``epsilon`` from the
    segment joining the points kept around them. Ends are always kept; distance is to the
    segment (not the infinite line), so a closed loop survives. Same as the browser's."""
    pts = [(float(p[0]), float(p[1])) for p in points]
    n = len(pts)
    if n < 3:
        return pts
    keep = [False] * n
    keep[0] = keep[n - 1] = True
    stack = [(0, n - 1)]
    while stack:
        first, last = stack.pop()
        best, index = -1.0, -1
        for i in range(first + 1, last):
            d = _segment_distance(pts[i], pts[first], pts[last])
            if d > best:
                best, index = d, i
        if index != -1 and best > epsilon:
            keep[index] = True
            stack.append((first, index))
            stack.append((index, last))
    return [p for p, k in zip(pts, keep, strict=True) if k]


def _segment_distance(
    p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]
) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    if length2 == 0.0:
        return math.hypot(p[0] - a[0], p[1] - a[1])
    t = ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2
    t = max(0.0, min(1.0, t))
    return math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy))


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


def visibility(annotation: AnyAnnotation, now: float | None) -> float:
    """Opacity of an annotation at media time ``now`` (None: ignore time), 0 when hidden."""
    alpha = LOST_ALPHA if annotation.lost else 1.0
    if now is None:
        return alpha
    age = now - annotation.created_at
    if age < 0:
        return 0.0
    if isinstance(annotation, Laser):
        return alpha * max(0.0, 1.0 - age / LASER_FADE)
    if annotation.lifetime is not None and age >= annotation.lifetime:
        return 0.0
    return alpha


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
            self.data = cv2.dilate(self.data, disc)

    def coverage(self) -> np.ndarray:
        small = cv2.resize(self.data, (self.w, self.h), interpolation=cv2.INTER_AREA)
        return small.astype(np.float32) / 255.0


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

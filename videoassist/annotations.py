"""Annotations: the marks an agent draws over the customer's video, as the server models them.

Everything here is pure and light: the models validate what a client sends, ``stamp`` turns a
client payload into the record the server keeps (author and media-clock time are the server's,
never the client's), and ``points_of``/``with_points`` let sticky marks move a mark without
knowing its kind. Nothing here imports OpenCV or numpy: the signaling path validates every mark
and must not pay for the renderer, which is ``videoassist.media.render``.

Theory of operation (the browser twin is ``web/shared/annotations.js``; docs/annotations.md is
the contract both follow):

- Coordinates are normalized to the video frame, 0..1 on each axis, rounded to 4 decimals.
- Sizes (stroke width, text size) are pixels at a reference frame whose short side is
  ``REFERENCE_SHORT_SIDE`` (720 px); the renderers scale them to the frame they draw on.
- Times (``created_at``, ``lifetime``) are seconds on the session's media clock; ``visibility``
  says how opaque a mark is at a given time, for both renderers.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

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
"""Largest client payload (a shape or a batch of pen points), in bytes of compact JSON."""
MAX_PEN_POINTS = 256
"""Most points one pen stroke holds, and one batch of points may carry."""
ID_MAX_LENGTH = 40
ID_PATTERN = rf"^[A-Za-z0-9_-]{{1,{ID_MAX_LENGTH}}}$"
"""What a client-chosen annotation id must match (the id is echoed into events and logs)."""
MAX_TEXT_CHARS = 200
MAX_LIFETIME = 3600.0
REFERENCE_SHORT_SIDE = 720.0
DEFAULT_WIDTH = 6.0
MIN_WIDTH, MAX_WIDTH = 1.0, 48.0
DEFAULT_TEXT_SIZE = 32.0
MIN_TEXT_SIZE, MAX_TEXT_SIZE = 8.0, 160.0
COORD_DECIMALS = 4
LASER_FADE = 1.0  # seconds from full opacity to gone; identical in the browser
QUAD_REACH = 1.0  # a tracked shape's corners stay within this many frames of the frame
LOST_ALPHA = 0.5  # opacity of a sticky mark whose object left the picture; identical too

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
# A tracked corner may leave the frame while the rest of its shape is still in view.
QuadCoord = Annotated[
    float, Strict(), Field(ge=-QUAD_REACH, le=1.0 + QUAD_REACH), AfterValidator(_round_coord)
]
Quad = tuple[
    tuple[QuadCoord, QuadCoord],
    tuple[QuadCoord, QuadCoord],
    tuple[QuadCoord, QuadCoord],
    tuple[QuadCoord, QuadCoord],
]
Color = Annotated[str, Field(max_length=16), AfterValidator(_color)]
Width = Annotated[float, Strict(), Field(ge=MIN_WIDTH, le=MAX_WIDTH)]
AnnotationId = Annotated[str, Field(pattern=ID_PATTERN)]


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


class _Transformed(BaseModel):
    # Set by the tracker on a sticky rect or ellipse carried through a rotation, a zoom or a
    # tilt: where the four corners of the shape's box (clockwise from its top-left, as drawn) are
    # now. Renderers draw the shape mapped onto this quadrilateral; ``x, y, w, h`` (or ``center,
    # radii``) stay the axis-aligned approximation for clients that do not know ``quad``.
    quad: Quad | None = None


class Ellipse(_Stamp, _Transformed, EllipseIn):
    pass


class Rect(_Stamp, _Transformed, RectIn):
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
    wire = annotation.model_dump(mode="json", by_alias=True)
    if "quad" in wire and wire["quad"] is None:
        del wire["quad"]  # an untransformed shape looks as it always did on the wire
    return wire


# --- A stored mark as the points that place it
#
# Sticky marks (videoassist.media.sticky) move stored marks 12 times a second per mark; they
# work on wire dicts, as the call room keeps them, rather than revalidating a model each time.

_MIN_RADIUS = 0.001  # a tracked zoom-out must not shrink an ellipse to nothing


def points_of(wire: Mapping[str, Any]) -> list[tuple[float, float]]:
    """The points that place a mark given in its wire form (``to_wire``), in the order
    ``with_points`` takes them back: an arrow's tail and tip; a rect's corners clockwise from
    the top-left; an ellipse's centre, then the ends of its x and y radii; every point of a pen;
    the anchor of text or a laser."""
    match wire["kind"]:
        case "arrow":
            return [_xy(wire["from"]), _xy(wire["to"])]
        case "rect":
            x, y, w, h = wire["x"], wire["y"], wire["w"], wire["h"]
            return [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
        case "ellipse":
            (cx, cy), (rx, ry) = wire["center"], wire["radii"]
            return [(cx, cy), (cx + rx, cy), (cx, cy + ry)]
        case "pen":
            return [_xy(p) for p in wire["points"]]
        case "text" | "laser":
            return [_xy(wire["at"])]
        case kind:
            raise ValueError(f"not an annotation kind: {kind!r}")


def with_points(wire: Mapping[str, Any], points: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """A copy of the mark (wire form) placed by ``points``, one for each of ``points_of(wire)``
    and in its order. Points are clamped into the frame and rounded as client coordinates are.
    A rect becomes the box around its four points and an ellipse takes its radii from the
    distances between its centre and the other two, so a mark carried through a rotation or a
    zoom stays an axis-aligned shape of its kind: the approximation clients that do not know
    ``quad`` draw. Sticky marks add the turned shape itself with ``with_quad``."""
    expected = len(points_of(wire))
    if len(points) != expected:
        raise ValueError(f"a {wire['kind']} here is placed by {expected} points, not {len(points)}")
    out = dict(wire)
    pts = [(_clamp(x), _clamp(y)) for x, y in points]
    match wire["kind"]:
        case "arrow":
            out["from"], out["to"] = list(pts[0]), list(pts[1])
        case "rect":
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            out["x"], out["y"] = min(xs), min(ys)
            out["w"] = round(max(xs) - min(xs), COORD_DECIMALS)
            out["h"] = round(max(ys) - min(ys), COORD_DECIMALS)
        case "ellipse":
            (cx, cy), (ex, ey), (fx, fy) = pts
            out["center"] = [cx, cy]
            out["radii"] = [
                max(_MIN_RADIUS, round(math.hypot(ex - cx, ey - cy), COORD_DECIMALS)),
                max(_MIN_RADIUS, round(math.hypot(fx - cx, fy - cy), COORD_DECIMALS)),
            ]
        case "pen":
            out["points"] = [list(p) for p in pts]
        case _:  # text or laser: points_of has refused anything else
            out["at"] = list(pts[0])
    return out


def box_of(wire: Mapping[str, Any]) -> list[tuple[float, float]] | None:
    """The corners of a rect's or an ellipse's box as drawn, clockwise from the top-left (what
    ``quad`` maps); None for the other kinds, which their own points place exactly."""
    match wire["kind"]:
        case "rect":
            return points_of(wire)
        case "ellipse":
            (cx, cy), (rx, ry) = wire["center"], wire["radii"]
            return [(cx - rx, cy - ry), (cx + rx, cy - ry), (cx + rx, cy + ry), (cx - rx, cy + ry)]
        case _:
            return None


def with_quad(wire: Mapping[str, Any], quad: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """A copy of a rect or an ellipse (wire form) with its box's corners now at ``quad`` (see
    ``box_of``); corners are kept within ``QUAD_REACH`` of the frame and rounded."""
    if len(quad) != 4:
        raise ValueError(f"a quad has four corners, not {len(quad)}")

    def reach(v: float) -> float:
        return round(min(1.0 + QUAD_REACH, max(-QUAD_REACH, v)), COORD_DECIMALS)

    return {**wire, "quad": [[reach(x), reach(y)] for x, y in quad]}


def _xy(p: Sequence[float]) -> tuple[float, float]:
    return (p[0], p[1])


def _clamp(v: float) -> float:
    return round(min(1.0, max(0.0, v)), COORD_DECIMALS)


# --- Input geometry shared with the browser


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

"""The annotation model: what a client may send, what the server keeps, how marks move."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from pydantic import ValidationError

from tests.unit.annotation_helpers import made, shape
from videoassist.annotations import (
    ANNOTATION_ADAPTER,
    ID_MAX_LENGTH,
    ID_PATTERN,
    LASER_FADE,
    MAX_ANNOTATION_BYTES,
    MAX_PEN_POINTS,
    PALETTE,
    QUAD_REACH,
    AnnotationError,
    Arrow,
    Laser,
    Pen,
    Rect,
    box_of,
    extend_pen,
    parse_client,
    parse_pen_points,
    points_of,
    simplify,
    to_wire,
    visibility,
    with_points,
    with_quad,
)


class TestWhatAClientMaySend:
    @pytest.mark.parametrize(
        "data",
        [
            {"id": "a", "kind": "arrow", "from": [0, 0], "to": [1, 1]},
            {"id": "e", "kind": "ellipse", "center": [0.5, 0.5], "radii": [0.2, 0.1]},
            {"id": "r", "kind": "rect", "x": 0, "y": 0, "w": 1, "h": 1},
            {"id": "p", "kind": "pen", "points": [[0.1, 0.1], [0.2, 0.3]]},
            {"id": "t", "kind": "text", "at": [0.1, 0.1], "text": "Tap here", "size": 40},
            {"id": "l", "kind": "laser", "at": [0.5, 0.5]},
        ],
    )
    def test_every_kind_parses_from_a_dict_and_from_json_text(self, data: dict[str, Any]) -> None:
        assert parse_client(data) == parse_client(json.dumps(data))
        assert parse_client(data).kind == data["kind"]

    def test_an_unknown_kind_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="kind"):
            parse_client({"id": "x", "kind": "star", "at": [0.5, 0.5]})

    @pytest.mark.parametrize(
        "fields",
        [
            {"x": -0.01},
            {"x": 1.5, "w": 0},
            {"x": 0.6, "w": 0.5},  # right edge past the frame
            {"h": 0.95},
            {"x": "0.5"},
            {"x": True},
            {"x": float("nan")},
        ],
    )
    def test_coordinates_outside_the_frame_or_not_numbers_are_refused(
        self, fields: dict[str, Any]
    ) -> None:
        with pytest.raises(ValidationError):
            parse_client(shape(**fields))

    def test_arrow_ends_must_lie_in_the_frame_too(self) -> None:
        with pytest.raises(ValidationError):
            parse_client({"id": "a", "kind": "arrow", "from": [0.5, 0.5], "to": [1.02, 0.5]})

    def test_coordinates_are_rounded_to_four_decimals(self) -> None:
        rect = parse_client(shape(x=0.123456789, y=0.5, w=0.1, h=0.2))
        assert rect.x == 0.1235

    def test_a_pen_stroke_holds_at_most_the_cap_of_points(self) -> None:
        points = [[i / 1000, 0.5] for i in range(MAX_PEN_POINTS)]
        assert len(parse_client({"id": "p", "kind": "pen", "points": points}).points) == 256
        with pytest.raises(ValidationError, match="at most 256"):
            parse_client({"id": "p", "kind": "pen", "points": [*points, [0.9, 0.9]]})
        with pytest.raises(ValidationError):
            parse_client({"id": "p", "kind": "pen", "points": []})

    def test_text_is_one_short_line(self) -> None:
        ok = {"id": "t", "kind": "text", "at": [0.1, 0.1], "text": "x" * 200}
        assert parse_client(ok).text == "x" * 200
        for bad in ("x" * 201, "two\nlines", "   ", "\u202eevil", ""):
            with pytest.raises(ValidationError):
                parse_client({**ok, "text": bad})

    def test_author_and_created_at_are_the_servers_to_set(self) -> None:
        for extra in ({"author": "boss"}, {"created_at": 0.0}, {"lost": True}, {"zzz": 1}):
            with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
                parse_client(shape(**extra))

    def test_colors_are_palette_names_or_hex_and_come_out_as_hex(self) -> None:
        assert parse_client(shape(color="Blue")).color == PALETTE["blue"]
        assert parse_client(shape()).color == PALETTE["red"]
        assert parse_client(shape(color="#A0b1C2")).color == "#a0b1c2"
        for bad in ("chartreuse", "#fff", "#12345g", "rgb(1,2,3)", "red; x"):
            with pytest.raises(ValidationError):
                parse_client(shape(color=bad))

    @pytest.mark.parametrize(
        "fields", [{"width": 0.5}, {"width": 49}, {"lifetime": 0}, {"lifetime": 3601}]
    )
    def test_width_and_lifetime_stay_in_their_ranges(self, fields: dict[str, Any]) -> None:
        with pytest.raises(ValidationError):
            parse_client(shape(**fields))

    def test_ids_are_short_and_safe(self) -> None:
        assert parse_client(shape(id="Ab-9_x")).id == "Ab-9_x"
        for bad in ("", "a b", "<script>", "x" * 41):
            with pytest.raises(ValidationError):
                parse_client(shape(id=bad))

    def test_the_published_id_pattern_and_length_are_what_the_model_enforces(self) -> None:
        """The gateway checks ids with these constants before a shape reaches the model."""
        longest = "x" * ID_MAX_LENGTH
        assert re.fullmatch(ID_PATTERN, longest) and parse_client(shape(id=longest))
        assert not re.fullmatch(ID_PATTERN, longest + "x")
        with pytest.raises(ValidationError):
            parse_client(shape(id=longest + "x"))

    def test_a_payload_over_8_kib_is_refused_before_it_is_parsed(self) -> None:
        # 256 points written with full float precision: fine in count, too big on the wire.
        points = [[0.123456789012345 + i * 1e-6, 0.987654321098765] for i in range(MAX_PEN_POINTS)]
        data = {"id": "p", "kind": "pen", "points": points}
        assert len(json.dumps(data)) > MAX_ANNOTATION_BYTES
        with pytest.raises(AnnotationError, match="8192"):
            parse_client(data)
        with pytest.raises(AnnotationError):
            parse_client(json.dumps(data).encode())

    def test_a_full_pen_stroke_with_rounded_coordinates_fits_the_size_cap(self) -> None:
        points = [[0.1234 + i * 0.0001, 0.5678] for i in range(MAX_PEN_POINTS)]
        data = {"id": "p" * 40, "kind": "pen", "points": points, "color": "#123456"}
        assert len(json.dumps(data, separators=(",", ":"))) < MAX_ANNOTATION_BYTES
        parse_client(data)


class TestStampedRecords:
    def test_stamp_adds_the_author_and_media_time_and_keeps_the_shape(self) -> None:
        arrow = made({"id": "a", "kind": "arrow", "from": [0.1, 0.2], "to": [0.3, 0.4]}, 12.5)
        assert isinstance(arrow, Arrow)
        assert (arrow.author, arrow.created_at, arrow.lost) == ("agent-7", 12.5, False)
        assert arrow.from_ == (0.1, 0.2)

    def test_the_wire_form_uses_from_and_round_trips(self) -> None:
        arrow = made({"id": "a", "kind": "arrow", "from": [0.1, 0.2], "to": [0.3, 0.4]})
        wire = to_wire(arrow)
        assert wire["from"] == [0.1, 0.2] and "from_" not in wire
        assert ANNOTATION_ADAPTER.validate_python(wire) == arrow
        assert json.loads(json.dumps(wire)) == wire

    def test_pen_points_arrive_in_batches_up_to_the_cap(self) -> None:
        pen = made({"id": "p", "kind": "pen", "points": [[0.1, 0.1]]})
        assert isinstance(pen, Pen)
        more = parse_pen_points({"id": "p", "points": [[0.2, 0.2], [0.3, 0.3]]})
        assert extend_pen(pen, more).points == [(0.1, 0.1), (0.2, 0.2), (0.3, 0.3)]
        with pytest.raises(AnnotationError, match="do not belong"):
            extend_pen(pen, parse_pen_points({"id": "q", "points": [[0.2, 0.2]]}))
        full = parse_pen_points({"id": "p", "points": [[0.5, 0.5]] * MAX_PEN_POINTS})
        with pytest.raises(AnnotationError, match="at most 256"):
            extend_pen(pen, full)


PERSISTENT_SHAPES: dict[str, dict[str, Any]] = {
    "arrow": {"id": "a", "kind": "arrow", "from": [0.1, 0.2], "to": [0.3, 0.4]},
    "rect": {"id": "r", "kind": "rect", "x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4},
    "ellipse": {"id": "e", "kind": "ellipse", "center": [0.5, 0.5], "radii": [0.2, 0.1]},
    "pen": {"id": "p", "kind": "pen", "points": [[0.1, 0.1], [0.2, 0.3], [0.25, 0.35]]},
    "text": {"id": "t", "kind": "text", "at": [0.4, 0.6], "text": "Tap here"},
}


def stored(data: dict[str, Any]) -> dict[str, Any]:
    return to_wire(made({**data, "sticky": True}))


def near(points: list[tuple[float, float]], tolerance: float = 1e-9) -> list[Any]:
    """``points`` up to float error: a rect's far corners are sums, an ellipse's are too."""
    return [pytest.approx(p, abs=tolerance) for p in points]


class TestMarksAsPoints:
    """Sticky marks move a stored mark through the points that place it, whatever its kind."""

    @pytest.mark.parametrize("kind", PERSISTENT_SHAPES)
    def test_a_mark_placed_by_its_own_points_is_unchanged(self, kind: str) -> None:
        wire = stored(PERSISTENT_SHAPES[kind])
        assert with_points(wire, points_of(wire)) == wire

    @pytest.mark.parametrize("kind", PERSISTENT_SHAPES)
    def test_moving_every_point_moves_the_mark_and_keeps_it_a_valid_record(self, kind: str) -> None:
        wire = stored(PERSISTENT_SHAPES[kind])
        shifted = [(x + 0.05, y - 0.05) for x, y in points_of(wire)]
        moved = with_points(wire, shifted)
        assert points_of(moved) == near(shifted, tolerance=1e-4)
        position = {"from", "to", "x", "y", "center", "points", "at"}
        assert {k: v for k, v in moved.items() if k not in position} == {
            k: v for k, v in wire.items() if k not in position
        }, "a move changed more than where the mark is"
        assert to_wire(ANNOTATION_ADAPTER.validate_python(moved)) == moved

    def test_points_name_each_kinds_placement_in_a_fixed_order(self) -> None:
        assert points_of(stored(PERSISTENT_SHAPES["arrow"])) == [(0.1, 0.2), (0.3, 0.4)]
        assert points_of(stored(PERSISTENT_SHAPES["rect"])) == near(
            [(0.1, 0.2), (0.4, 0.2), (0.4, 0.6), (0.1, 0.6)]
        )
        assert points_of(stored(PERSISTENT_SHAPES["ellipse"])) == near(
            [(0.5, 0.5), (0.7, 0.5), (0.5, 0.6)]
        )
        assert points_of(stored(PERSISTENT_SHAPES["text"])) == [(0.4, 0.6)]
        laser = to_wire(made({"id": "l", "kind": "laser", "at": [0.5, 0.25]}))
        assert points_of(laser) == [(0.5, 0.25)]

    def test_a_turned_rect_becomes_the_box_around_its_corners(self) -> None:
        rect = stored(PERSISTENT_SHAPES["rect"])
        turned = [(0.3, 0.1), (0.5, 0.3), (0.3, 0.5), (0.1, 0.3)]
        moved = with_points(rect, turned)
        assert (moved["x"], moved["y"], moved["w"], moved["h"]) == (0.1, 0.1, 0.4, 0.4)

    def test_an_ellipse_takes_its_radii_from_the_moved_points_and_never_vanishes(self) -> None:
        ellipse = stored(PERSISTENT_SHAPES["ellipse"])
        zoomed = with_points(ellipse, [(0.5, 0.5), (0.9, 0.5), (0.5, 0.7)])
        assert zoomed["center"] == [0.5, 0.5] and zoomed["radii"] == [0.4, 0.2]
        collapsed = with_points(ellipse, [(0.5, 0.5)] * 3)
        assert collapsed["radii"] == [0.001, 0.001]

    def test_points_outside_the_frame_are_clamped_and_rounded(self) -> None:
        arrow = stored(PERSISTENT_SHAPES["arrow"])
        moved = with_points(arrow, [(-0.2, 0.123456), (1.3, 1.0000001)])
        assert (moved["from"], moved["to"]) == ([0.0, 0.1235], [1.0, 1.0])
        ANNOTATION_ADAPTER.validate_python(moved)

    def test_the_wrong_number_of_points_or_an_unknown_kind_is_refused(self) -> None:
        with pytest.raises(ValueError, match="2 points, not 1"):
            with_points(stored(PERSISTENT_SHAPES["arrow"]), [(0.1, 0.1)])
        with pytest.raises(ValueError, match="star"):
            points_of({"id": "s", "kind": "star", "at": [0.5, 0.5]})


class TestTurnedShapes:
    """A tracked rect or ellipse carries ``quad``: its box's corners where the object took them."""

    def test_the_box_of_a_rect_or_an_ellipse_and_of_nothing_else(self) -> None:
        rect = stored(PERSISTENT_SHAPES["rect"])
        assert box_of(rect) == points_of(rect)
        assert box_of(stored(PERSISTENT_SHAPES["ellipse"])) == near(
            [(0.3, 0.4), (0.7, 0.4), (0.7, 0.6), (0.3, 0.6)]
        )
        assert box_of(stored(PERSISTENT_SHAPES["arrow"])) is None

    @pytest.mark.parametrize("kind", ["rect", "ellipse"])
    def test_a_quad_is_a_valid_record_and_an_untracked_shape_has_none(self, kind: str) -> None:
        wire = stored(PERSISTENT_SHAPES[kind])
        assert "quad" not in wire, "an untransformed shape's wire must look as it always did"
        quad = [(0.3, 0.1), (0.5, 0.3), (0.3, 0.5), (-0.1, 1.3)]  # a corner may leave the frame
        moved = with_quad(wire, quad)
        assert moved["quad"] == [[0.3, 0.1], [0.5, 0.3], [0.3, 0.5], [-0.1, 1.3]]
        assert to_wire(ANNOTATION_ADAPTER.validate_python(moved)) == moved

    def test_quad_corners_are_kept_within_reach_of_the_frame_and_rounded(self) -> None:
        far = with_quad(stored(PERSISTENT_SHAPES["rect"]), [(-5.0, 0.123456)] * 3 + [(9.0, 9.0)])
        assert far["quad"][0] == [-QUAD_REACH, 0.1235] and far["quad"][3] == [1 + QUAD_REACH] * 2
        ANNOTATION_ADAPTER.validate_python(far)
        with pytest.raises(ValidationError):
            ANNOTATION_ADAPTER.validate_python({**far, "quad": [[-3.0, 0.0]] * 4})
        with pytest.raises(ValueError, match="four corners"):
            with_quad(far, [(0.1, 0.1)])

    def test_a_client_may_not_send_a_quad(self) -> None:
        with pytest.raises(ValidationError):
            parse_client({**PERSISTENT_SHAPES["rect"], "quad": [[0.1, 0.1]] * 4})
        arrow = {**stored(PERSISTENT_SHAPES["arrow"]), "quad": [[0.1, 0.1]] * 4}
        with pytest.raises(ValidationError):
            ANNOTATION_ADAPTER.validate_python(arrow)


class TestSimplify:
    def test_points_on_a_straight_line_collapse_to_its_ends(self) -> None:
        line = [(i / 10, i / 20) for i in range(11)]
        assert simplify(line, 0.001) == [(0.0, 0.0), (1.0, 0.5)]

    def test_a_corner_further_than_epsilon_is_kept(self) -> None:
        pts = [(0.0, 0.0), (0.5, 0.02), (1.0, 0.0)]
        assert simplify(pts, 0.01) == pts
        assert simplify(pts, 0.03) == [(0.0, 0.0), (1.0, 0.0)]

    def test_a_closed_loop_survives(self) -> None:
        loop = [(0.5 + 0.2 * math.cos(t / 8), 0.5 + 0.2 * math.sin(t / 8)) for t in range(51)]
        loop.append(loop[0])
        kept = simplify(loop, 0.005)
        assert 8 < len(kept) < len(loop)
        assert kept[0] == kept[-1] == loop[0]

    def test_short_inputs_come_back_unchanged(self) -> None:
        assert simplify([], 0.1) == []
        assert simplify([(0.1, 0.2)], 0.1) == [(0.1, 0.2)]
        assert simplify([(0.1, 0.2), (0.3, 0.4)], 0.1) == [(0.1, 0.2), (0.3, 0.4)]


class TestTime:
    def test_an_annotation_shows_from_its_creation_until_its_lifetime_ends(self) -> None:
        rect = made(shape(lifetime=5.0), created_at=10.0)
        assert visibility(rect, 9.9) == 0.0
        assert visibility(rect, 10.0) == 1.0
        assert visibility(rect, 14.99) == 1.0
        assert visibility(rect, 15.0) == 0.0
        assert visibility(rect, None) == 1.0
        assert visibility(made(shape(), created_at=10.0), 1e6) == 1.0

    def test_the_laser_fades_out_over_a_second(self) -> None:
        laser = made({"id": "l", "kind": "laser", "at": [0.5, 0.5]}, created_at=3.0)
        assert isinstance(laser, Laser)
        assert visibility(laser, 3.0) == 1.0
        assert visibility(laser, 3.0 + LASER_FADE / 2) == pytest.approx(0.5)
        assert visibility(laser, 3.0 + LASER_FADE) == 0.0

    def test_a_lost_sticky_mark_is_drawn_at_half_strength(self) -> None:
        rect = made(shape(sticky=True)).model_copy(update={"lost": True})
        assert visibility(rect, 2.0) == 0.5


def test_rect_model_is_frozen() -> None:
    rect = made(shape())
    assert isinstance(rect, Rect)
    with pytest.raises(ValidationError):
        rect.x = 0.2  # type: ignore[misc]

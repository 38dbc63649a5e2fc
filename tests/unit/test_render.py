"""The OpenCV renderer: where and how annotations land on a BGR frame."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.annotation_helpers import made, shape
from videoassist.media.render import draw, stroke_px

RED_BGR = (0x30, 0x3B, 0xFF)  # PALETTE["red"] = #ff3b30


def is_red(pixel: np.ndarray) -> bool:
    """Red up to anti-aliasing: edges that fall on pixel boundaries keep ~97% coverage."""
    return all(abs(int(v) - c) <= 12 for v, c in zip(pixel, RED_BGR, strict=True))


def black(width: int = 640, height: int = 480) -> np.ndarray:
    return np.zeros((height, width, 3), np.uint8)


class TestDraw:
    def test_a_red_rect_has_red_edges_and_an_untouched_inside(self) -> None:
        rect = made(shape(color="red", width=6))
        out = draw(black(), [rect], now=2.0)
        # 6 reference px at a 480 px short side is 4 px, centred on y = 48 and x = 64.
        assert stroke_px(6, 640, 480) == 4.0
        for y, x in [(46, 200), (49, 200), (200, 62), (200, 65), (48, 384), (288, 200)]:
            assert is_red(out[y, x]), (y, x, out[y, x])
        assert out[45, 200].max() <= 10 and out[50, 200].max() <= 10  # anti-aliasing fringe
        assert not out[51:285, 67:381].any(), "the inside of the rect was drawn on"
        assert not out[:45].any(), "ink above the rect"

    def test_the_input_frame_is_not_modified(self) -> None:
        frame = black()
        draw(frame, [made(shape())])
        assert not frame.any()

    def test_marks_keep_their_place_and_relative_size_at_any_resolution(self) -> None:
        arrow = made({"id": "a", "kind": "arrow", "from": [0.2, 0.5], "to": [0.8, 0.5]})
        small = draw(black(640, 480), [arrow])
        large = draw(black(1280, 960), [arrow])
        ink_small = int((small.max(axis=2) > 127).sum())
        ink_large = int((large.max(axis=2) > 127).sum())
        assert ink_large == pytest.approx(4 * ink_small, rel=0.05)
        assert tuple(large[480, 640]) == RED_BGR

    def test_the_arrow_head_is_at_the_tip_and_wider_than_the_shaft(self) -> None:
        arrow = made({"id": "a", "kind": "arrow", "from": [0.1, 0.5], "to": [0.9, 0.5]})
        out = draw(black(), [arrow])
        column = lambda x: int((out[:, x].max(axis=1) > 127).sum())  # noqa: E731
        assert column(300) == 4  # the shaft: 4 px
        # The head is 3 x 4 px long with its base at x = 576 - 12 cos 28 deg = 565.4.
        assert column(566) >= 9
        assert out[240, 574].any() and not out[240, 580].any()  # tip at x = 576

    def test_expired_and_future_annotations_are_not_drawn(self) -> None:
        rect = made(shape(lifetime=1.0), created_at=5.0)
        assert not draw(black(), [rect], now=6.5).any()
        assert not draw(black(), [rect], now=4.0).any()
        assert draw(black(), [rect], now=5.5).any()

    def test_the_laser_dot_fades(self) -> None:
        laser = made({"id": "l", "kind": "laser", "at": [0.5, 0.5], "color": "white"}, 1.0)
        assert tuple(draw(black(), [laser], now=1.0)[240, 320]) == (255, 255, 255)
        half = draw(black(), [laser], now=1.5)[240, 320]
        assert all(abs(int(v) - 128) <= 1 for v in half)
        assert not draw(black(), [laser], now=2.0).any()

    def test_a_lost_sticky_mark_is_grey_and_translucent(self) -> None:
        rect = made(shape(color="red", sticky=True)).model_copy(update={"lost": True})
        pixel = draw(black(), [rect])[48, 200]
        grey = round(0.299 * 255 + 0.587 * 0x3B + 0.114 * 0x30)
        assert pixel[0] == pixel[1] == pixel[2] == round(grey / 2)

    def test_a_pen_dot_and_stroke_and_an_ellipse_ink_where_they_should(self) -> None:
        dot = made({"id": "d", "kind": "pen", "points": [[0.5, 0.5]], "width": 12})
        stroke = made({"id": "s", "kind": "pen", "points": [[0.1, 0.9], [0.3, 0.9]]})
        ellipse = made({"id": "e", "kind": "ellipse", "center": [0.5, 0.5], "radii": [0.25, 0.25]})
        out = draw(black(), [dot, stroke, ellipse])
        assert tuple(out[240, 320]) == RED_BGR  # the dot
        assert tuple(out[432, 128]) == RED_BGR  # the stroke
        assert tuple(out[240, 160]) == RED_BGR and tuple(out[120, 320]) == RED_BGR  # ellipse
        assert not out[200, 250].any()  # between the dot and the ring

    def test_text_inks_below_and_to_the_right_of_its_anchor(self) -> None:
        text = made({"id": "t", "kind": "text", "at": [0.25, 0.25], "text": "Here", "size": 48})
        ys, xs = np.nonzero(draw(black(), [text]).max(axis=2) > 127)
        assert xs.min() >= 160 - 3 and ys.min() >= 120 - 3
        assert ys.max() < 120 + 48 and xs.max() < 160 + 4 * 48

    def test_the_image_must_be_bgr_uint8(self) -> None:
        with pytest.raises(ValueError, match="BGR"):
            draw(np.zeros((10, 10), np.uint8), [])
        with pytest.raises(ValueError, match="BGR"):
            draw(np.zeros((10, 10, 3), np.float32), [])

    def test_annotations_are_painted_in_order(self) -> None:
        under = made(shape(color="red", width=12))
        over = made(shape(id="b", color="blue", width=6))
        assert tuple(draw(black(), [under, over])[48, 200]) == (0xFF, 0x84, 0x0A)
        assert tuple(draw(black(), [over, under])[48, 200]) == RED_BGR

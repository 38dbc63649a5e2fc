"""StickyMarks' reports to the call room: moved, newly lost, found again (issue 17)."""

from __future__ import annotations

import math
from typing import Any

from videoassist.media.sticky import StickyMarks
from videoassist.media.tracking import TrackResult

ARROW = {"kind": "arrow", "id": "a1", "from": [0.1, 0.1], "to": [0.5, 0.5], "sticky": True}
SHIFT = ((1.0, 0.0, 0.1), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


def _result(lost: bool = False, source: Any = "features") -> TrackResult:
    return TrackResult(((0.2, 0.1),), SHIFT, 20, 1.0, lost, "left_frame" if lost else None, source)


async def test_a_mark_lost_then_found_is_reported_lost_once_then_as_a_plain_move_with_found() -> (
    None
):
    reports: list[list[tuple[dict[str, Any], bool, bool]]] = []

    async def on_update(call_id: str, changes: list[tuple[dict[str, Any], bool, bool]]) -> None:
        reports.append(changes)

    marks = StickyMarks("c1", lambda: None, on_update)
    try:
        marks.add(ARROW)
        await marks._report({"a1": _result()})
        await marks._report({"a1": _result(lost=True)})
        await marks._report({"a1": _result(lost=True)})  # still lost: nothing new to say
        await marks._report({"a1": _result(source="found")})
        await marks._report({"a1": _result()})  # in place: no event
    finally:
        await marks.close()
    assert [[(m.get("lost", False), lost, found) for m, lost, found in r] for r in reports] == [
        [(False, False, False)],
        [(True, True, False)],
        [(False, False, True)],
    ]
    found = reports[-1][0][0]
    assert "lost" not in found and found["from"] == [0.2, 0.1]


async def test_a_turned_rect_or_ellipse_is_reported_with_its_quad_even_turning_in_place() -> None:
    reports: list[list[tuple[dict[str, Any], bool, bool]]] = []

    async def on_update(call_id: str, changes: list[tuple[dict[str, Any], bool, bool]]) -> None:
        reports.append(changes)

    def turned(degrees: float, cx: float, cy: float) -> TrackResult:
        c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
        h = ((c, -s, cx - c * cx + s * cy), (s, c, cy - s * cx - c * cy), (0.0, 0.0, 1.0))
        return TrackResult(((cx, cy),), h, 20, 1.0, False, None, "features")

    circle = {"kind": "ellipse", "id": "e1", "center": [0.5, 0.5], "radii": [0.1, 0.1]}
    rect = {"kind": "rect", "id": "r1", "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}
    marks = StickyMarks("c1", lambda: None, on_update)
    try:
        marks.add({**circle, "sticky": True})
        marks.add({**rect, "sticky": True})
        await marks._report({"e1": turned(30.0, 0.5, 0.5), "r1": turned(45.0, 0.2, 0.2)})
    finally:
        await marks.close()
    moved = {m["id"]: m for m, _, _ in reports[0]}
    # The circle turned about its centre: same centre and radii, but its box's corners turned.
    assert moved["e1"]["center"] == [0.5, 0.5] and moved["e1"]["radii"] == [0.1, 0.1]
    assert moved["e1"]["quad"][0] != [0.4, 0.4]
    # The square turned 45 degrees is a diamond: its corners sit on the box around it.
    d = round(0.1 * math.sqrt(2), 4)
    assert moved["r1"]["quad"] == [
        [0.2, round(0.2 - d, 4)],
        [round(0.2 + d, 4), 0.2],
        [0.2, round(0.2 + d, 4)],
        [round(0.2 - d, 4), 0.2],
    ]

"""StickyMarks' reports to the call room: moved, newly lost, found again (issue 17)."""

from __future__ import annotations

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

"""The tutorial timeline: trim and cuts, where moments land, the marks on screen."""

from __future__ import annotations

import pytest

from videoassist.media.timeline import Overlay, Timeline, TimelineError, remap_events


class TestTrimAndCuts:
    def test_a_trim_keeps_one_segment_and_shifts_times_to_zero(self) -> None:
        t = Timeline.of(60.0, 10.0, 40.0)
        assert t.segments == ((10.0, 40.0),)
        assert t.duration == 30.0
        assert t.to_output(10.0) == 0.0
        assert t.to_output(25.5) == 15.5
        assert t.to_output(9.99) is None and t.to_output(40.0) is None

    def test_cuts_are_removed_and_later_times_move_up_by_their_length(self) -> None:
        t = Timeline.of(100.0, 0.0, None, [(20.0, 30.0), (50.0, 55.0)])
        assert t.segments == ((0.0, 20.0), (30.0, 50.0), (55.0, 100.0))
        assert t.duration == 85.0
        assert t.to_output(19.0) == 19.0
        assert t.to_output(25.0) is None
        assert t.to_output(30.0) == 20.0
        assert t.to_output(60.0) == pytest.approx(60.0 - 15.0)

    def test_overlapping_cuts_merge_and_cuts_outside_the_trim_do_nothing(self) -> None:
        t = Timeline.of(100.0, 10.0, 90.0, [(40.0, 50.0), (45.0, 60.0), (0.0, 5.0), (95.0, 99.0)])
        assert t.segments == ((10.0, 40.0), (60.0, 90.0))

    def test_a_cut_over_the_in_point_moves_the_start(self) -> None:
        assert Timeline.of(100.0, 10.0, None, [(5.0, 20.0)]).segments == ((20.0, 100.0),)

    @pytest.mark.parametrize(
        ("trim_in", "trim_out", "cuts"),
        [
            (30.0, 10.0, []),
            (0.0, 50.0, [(0.0, 60.0)]),
            (0.0, None, [(5.0, 5.0)]),
            (-1.0, None, []),
            (0.0, float("nan"), []),
        ],
    )
    def test_edits_that_keep_nothing_or_make_no_sense_are_refused(
        self, trim_in: float, trim_out: float | None, cuts: list[tuple[float, float]]
    ) -> None:
        with pytest.raises(TimelineError):
            Timeline.of(100.0, trim_in, trim_out, cuts)

    def test_output_and_source_times_round_trip_on_kept_times(self) -> None:
        t = Timeline.of(100.0, 5.0, 95.0, [(20.0, 30.0), (50.0, 55.0)])
        for source in (5.0, 12.25, 19.999, 30.0, 49.5, 55.0, 94.9):
            out = t.to_output(source)
            assert out is not None
            assert t.to_source(out) == pytest.approx(source)

    def test_a_source_interval_maps_to_the_output_pieces_that_show_it(self) -> None:
        t = Timeline.of(100.0, 0.0, None, [(20.0, 30.0)])
        assert t.intervals(15.0, 35.0) == [(15.0, 20.0), (20.0, 25.0)]
        assert t.intervals(21.0, 29.0) == []


class TestEvents:
    def test_events_in_a_cut_land_where_the_video_resumes_and_after_the_end_are_dropped(
        self,
    ) -> None:
        t = Timeline.of(100.0, 10.0, 80.0, [(20.0, 30.0)])
        assert t.place(5.0) == 0.0  # before the in point: on screen from the start
        assert t.place(15.0) == 5.0
        assert t.place(25.0) == 10.0  # in the cut: where the video resumes
        assert t.place(30.0) == 10.0
        assert t.place(80.0) is None

    def test_remap_events_keeps_order_and_the_source_time(self) -> None:
        t = Timeline.of(100.0, 10.0, None, [(20.0, 30.0)])
        lines = [
            {"at": 12.0, "kind": "chat", "data": {"text": "a"}},
            {"at": None, "kind": "agent_changed", "data": {}},
            {"at": 25.0, "kind": "annotate", "data": {"id": "x"}},
            {"at": 35.0, "kind": "chat", "data": {"text": "b"}},
        ]
        out = remap_events(lines, t)
        assert [(e["at"], e["source_at"]) for e in out] == [(2.0, 12.0), (10.0, 25.0), (15.0, 35.0)]


def _mark(mark_id: str, at: float, **extra: object) -> dict[str, object]:
    return {
        "at": at,
        "kind": "annotate",
        "data": {
            "target": "live",
            "id": mark_id,
            "kind": "rect",
            "x": 0.1,
            "y": 0.1,
            "w": 0.2,
            "h": 0.2,
            "created_at": at,
            **extra,
        },
    }


class TestOverlay:
    def test_marks_appear_when_drawn_and_leave_when_removed_or_cleared(self) -> None:
        overlay = Overlay(
            [
                _mark("a", 1.0),
                _mark("b", 2.0),
                {"at": 3.0, "kind": "annotation_remove", "data": {"target": "live", "id": "a"}},
                _mark("c", 4.0),
                {"at": 5.0, "kind": "annotations_clear", "data": {"target": "live"}},
            ]
        )
        assert [m["id"] for m in overlay.at(0.5)] == []
        assert [m["id"] for m in overlay.at(1.0)] == ["a"]
        assert [m["id"] for m in overlay.at(2.5)] == ["a", "b"]
        assert [m["id"] for m in overlay.at(4.0)] == ["b", "c"]
        assert overlay.at(6.0) == []

    def test_only_kept_marks_and_only_the_live_target_are_drawn(self) -> None:
        still = _mark("s", 1.0)
        still["data"]["target"] = "still:1"  # type: ignore[index]
        overlay = Overlay([_mark("a", 1.0), _mark("b", 1.0), still], keep={"b", "s"})
        assert [m["id"] for m in overlay.at(2.0)] == ["b"]

    def test_pen_points_and_tracked_moves_update_the_mark(self) -> None:
        pen = {
            "at": 1.0,
            "kind": "annotate",
            "data": {
                "target": "live",
                "id": "p",
                "kind": "pen",
                "points": [[0.1, 0.1]],
                "created_at": 1.0,
            },
        }
        more = {
            "at": 1.5,
            "kind": "annotate_points",
            "data": {"target": "live", "id": "p", "points": [[0.2, 0.2]]},
        }
        moved = {
            "at": 2.0,
            "kind": "annotation_moved",
            "data": {
                "target": "live",
                "id": "p",
                "annotation": {"id": "p", "kind": "pen", "points": [[0.5, 0.5]]},
            },
        }
        overlay = Overlay([pen, more, moved])
        assert overlay.at(1.6)[0]["points"] == [[0.1, 0.1], [0.2, 0.2]]
        assert overlay.at(2.0)[0]["points"] == [[0.5, 0.5]]

    def test_marks_on_screen_when_recording_started_are_drawn_from_the_start(self) -> None:
        start = {
            "at": 0.0,
            "kind": "recording_started",
            "data": {"room": {"annotations": {"live": [_mark("a", 0.0)["data"]]}}},
        }
        assert [m["id"] for m in Overlay([start]).at(0.0)] == ["a"]

    def test_time_must_not_go_back(self) -> None:
        overlay = Overlay([_mark("a", 1.0)])
        overlay.at(2.0)
        with pytest.raises(ValueError):
            overlay.at(1.0)

    def test_text_labels_are_listed_for_search(self) -> None:
        text = _mark("t", 3.0, kind="text", text="reset button")
        assert Overlay([text, _mark("a", 1.0)]).labels() == [(3.0, "reset button")]

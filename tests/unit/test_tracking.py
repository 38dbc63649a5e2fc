"""Sticky-annotation tracking on synthetic clips with known ground truth (tests/support/synthetic).

Errors are measured in pixels of the 640x480 clip between where the tracker puts an anchor and
where the ground-truth transform puts the scene point that was under it in the first frame.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
import time
from collections.abc import Sequence, Set

import cv2
import numpy as np
import pytest
from av import VideoFrame

from tests.support import synthetic
from tests.support.synthetic import Clip, camera_matrix, region_box, render_clip
from videoassist.annotations import box_of, points_of, with_points, with_quad
from videoassist.media.sticky import region_of
from videoassist.media.tracking import (
    RegionTracker,
    TrackerConfig,
    TrackerSet,
    TrackResult,
    to_gray,
)

CENTRES = [(0.38, 0.38), (0.62, 0.4), (0.5, 0.62), (0.41, 0.58)]
"""Anchor points (normalized, first frame): upper left, upper right, bottom middle, lower left."""

MAX_MEDIAN_ERROR = 0.015  # of the frame diagonal, from the issue


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    return synthetic.textured_scene(seed=0)


@pytest.fixture(scope="module")
def clips(scene: np.ndarray) -> dict[str, Clip]:
    return {name: render_clip(name, scene=scene) for name in synthetic.MOTIONS}


def _px(clip: Clip, point: tuple[float, float]) -> tuple[float, float]:
    w, h = clip.size
    return point[0] * w - 0.5, point[1] * h - 0.5


def _track(
    clip: Clip,
    centres: Sequence[tuple[float, float]],
    config: TrackerConfig | None = None,
    frames: Sequence[np.ndarray] | None = None,
) -> list[dict[int, TrackResult]]:
    trackers: TrackerSet[int] = TrackerSet(config)
    for i, c in enumerate(centres):
        trackers.add(i, region_box(c), [c])
    return [trackers.update(f) for f in (frames if frames is not None else clip.frames)]


def _errors(
    clip: Clip,
    centres: Sequence[tuple[float, float]],
    results: list[dict[int, TrackResult]],
    skip: Set[int] = frozenset(),
) -> np.ndarray:
    """Per frame and anchor, the distance to ground truth as a fraction of the diagonal."""
    truth = clip.to_scene(0, [_px(clip, c) for c in centres])
    out = []
    for k, frame_results in enumerate(results):
        if k in skip:
            continue
        expected = clip.project(k, truth)
        for i, r in frame_results.items():
            x, y = _px(clip, r.anchors[0])
            out.append(math.hypot(x - expected[i][0], y - expected[i][1]))
    return np.array(out) / clip.diagonal


def _visible_fraction(clip: Clip, index: int, box: tuple[float, float, float, float]) -> float:
    """Ground truth: the share of a first-frame box that frame ``index`` shows."""
    x, y, w, h = box
    grid = [_px(clip, (x + w * i / 4, y + h * j / 4)) for i in range(5) for j in range(5)]
    p = clip.project(index, clip.to_scene(0, grid))
    fw, fh = clip.size
    inside = (p[:, 0] >= -0.5) & (p[:, 0] <= fw - 0.5) & (p[:, 1] >= -0.5) & (p[:, 1] <= fh - 0.5)
    return float(inside.mean())


class TestAccuracy:
    @pytest.mark.parametrize("motion", list(synthetic.MOTIONS))
    def test_sticky_anchor_stays_on_the_object_within_the_budget(
        self, clips: dict[str, Clip], motion: str
    ) -> None:
        clip = clips[motion]
        results = _track(clip, CENTRES)
        lost = [(k, i, r.reason) for k, res in enumerate(results) for i, r in res.items() if r.lost]
        assert not lost, f"{motion}: lost (frame, region, reason) {lost[:5]}"
        errors = _errors(clip, CENTRES, results)
        median, p95 = float(np.median(errors)), float(np.percentile(errors, 95))
        assert median <= MAX_MEDIAN_ERROR, (
            f"{motion}: median error {median:.3%} of the diagonal (p95 {p95:.3%}), "
            f"budget {MAX_MEDIAN_ERROR:.1%}"
        )

    def test_homography_mode_follows_a_tilting_camera(self, clips: dict[str, Clip]) -> None:
        clip = clips["tilt"]
        results = _track(clip, CENTRES, TrackerConfig(motion="homography"))
        errors = _errors(clip, CENTRES, results)
        assert not any(r.lost for res in results for r in res.values())
        median = float(np.median(errors))
        assert median <= MAX_MEDIAN_ERROR, f"tilt, homography: median error {median:.3%}"

    def test_transform_moves_every_point_of_the_shape_not_just_the_anchor(
        self, clips: dict[str, Clip]
    ) -> None:
        clip = clips["combined"]
        box = region_box((0.5, 0.5))
        corners = [(box[0], box[1]), (box[0] + box[2], box[1] + box[3])]
        tracker = RegionTracker(clip.frames[0], box, [(0.5, 0.5)])
        for frame in clip.frames[1:]:
            result = tracker.update(frame)
        truth = clip.project(
            len(clip.frames) - 1, clip.to_scene(0, [_px(clip, c) for c in corners])
        )
        got = np.array([_px(clip, p) for p in result.apply(corners)])
        worst = float(np.abs(got - truth).max()) / clip.diagonal
        assert worst <= MAX_MEDIAN_ERROR, f"shape corners off by {worst:.3%} of the diagonal"


class TestLost:
    def test_region_leaving_the_frame_is_lost_within_a_few_frames(self, scene: np.ndarray) -> None:
        clip = render_clip(lambda t: camera_matrix(pan=(700 * t, 0)), seconds=3, scene=scene)
        box = region_box((0.3, 0.5))
        results = _track(clip, [(0.3, 0.5)])
        first_lost = next(k for k, res in enumerate(results) if res[0].lost)
        assert results[first_lost][0].reason == "left_frame"
        mostly_gone = next(
            k for k in range(len(clip.frames)) if _visible_fraction(clip, k, box) < 0.35
        )
        half_visible = max(
            k for k in range(len(clip.frames)) if _visible_fraction(clip, k, box) >= 0.5
        )
        assert half_visible < first_lost <= mostly_gone + 2, (
            f"lost at frame {first_lost}; half visible until {half_visible}, "
            f"mostly gone from {mostly_gone}"
        )

    def test_blank_frames_make_the_tracker_lost_within_a_few_frames(
        self, clips: dict[str, Clip]
    ) -> None:
        clip = clips["pan"]
        blank = np.full_like(clip.frames[0], 128)
        frames = [*clip.frames[:10], *([blank] * 6)]
        results = _track(clip, CENTRES[:2], frames=frames)
        assert not any(r.lost for res in results[:10] for r in res.values())
        for i in range(2):
            first_lost = next(k for k, res in enumerate(results) if res[i].lost)
            assert first_lost == 10 + TrackerConfig().lost_after - 1
            assert results[first_lost][i].reason == "features"
            assert results[first_lost][i].confidence == 0.0
            # Until then the mark stays where it was last seen.
            assert results[first_lost][i].anchors == results[9][i].anchors

    def test_a_single_garbled_frame_is_held_over_not_lost(self, clips: dict[str, Clip]) -> None:
        clip = clips["combined"]
        frames = list(clip.frames)
        frames[20] = np.full_like(frames[20], 128)
        frames[35] = np.random.default_rng(3).integers(0, 256, frames[35].shape, np.uint8)
        results = _track(clip, CENTRES, frames=frames)
        assert not any(r.lost for res in results for r in res.values())
        assert all(r.confidence < 0.3 for r in results[20].values())
        for i in range(len(CENTRES)):
            assert results[20][i].anchors == results[19][i].anchors
        errors = _errors(clip, CENTRES, results, skip={20, 35})
        median = float(np.median(errors))
        assert median <= MAX_MEDIAN_ERROR, f"median error {median:.3%} around garbled frames"

    def test_a_different_scene_makes_the_tracker_lost(self, clips: dict[str, Clip]) -> None:
        clip = clips["rotate"]
        other = render_clip("zoom", seconds=0.5, scene=synthetic.textured_scene(seed=7))
        results = _track(clip, CENTRES[:2], frames=[*clip.frames[:10], *other.frames])
        for i in range(2):
            first_lost = next((k for k, res in enumerate(results) if res[i].lost), None)
            assert first_lost is not None and first_lost <= 10 + TrackerConfig().lost_after

    def test_a_plain_region_is_lost_at_once_for_lack_of_texture(self) -> None:
        frame = np.full((480, 640), 90, np.uint8)
        frame[:, 400:] = 200  # one straight edge, far from the region: no corners in it
        tracker = RegionTracker(frame, (0.1, 0.1, 0.2, 0.2), [(0.2, 0.2)])
        assert tracker.lost and tracker.result.reason == "texture"
        assert tracker.result.anchors == ((0.2, 0.2),)

    def test_a_mark_lost_to_blank_frames_is_found_again_in_place_when_the_picture_returns(
        self, clips: dict[str, Clip]
    ) -> None:
        """Lost used to be final; since issue 17 a lost mark keeps its template and is found
        again (reported ``source="found"``) where its object is."""
        clip = clips["pan"]
        tracker = RegionTracker(clip.frames[0], region_box(CENTRES[0]), [CENTRES[0]])
        for frame in clip.frames[1:10]:
            last_good = tracker.update(frame)
        blank = np.zeros_like(clip.frames[0])
        for _ in range(TrackerConfig().lost_after + 1):
            gone = tracker.update(blank)
        assert gone.lost and gone.anchors == last_good.anchors
        after = tracker.update(clip.frames[10])
        assert not after.lost and after.source == "found"
        truth = clip.project(10, clip.to_scene(0, [_px(clip, CENTRES[0])]))[0]
        x, y = _px(clip, after.anchors[0])
        assert math.hypot(x - truth[0], y - truth[1]) / clip.diagonal <= 0.01
        assert not tracker.update(clip.frames[11]).lost

    def test_a_mark_lost_to_another_picture_stays_lost(self, clips: dict[str, Clip]) -> None:
        clip = clips["rotate"]
        other = render_clip("zoom", seconds=1.0, scene=synthetic.textured_scene(seed=7))
        results = _track(clip, CENTRES[:2], frames=[*clip.frames[:10], *other.frames])
        for i in range(2):
            assert all(res[i].lost for res in results[10 + TrackerConfig().lost_after :])


class TestResolutionChanges:
    def test_scaling_the_stream_down_and_up_keeps_normalized_positions(
        self, clips: dict[str, Clip]
    ) -> None:
        clip = clips["combined"]
        frames = [
            f
            if k < 20
            else cv2.resize(f, (320, 240), interpolation=cv2.INTER_AREA)
            if k < 40
            else cv2.resize(f, (1280, 960), interpolation=cv2.INTER_LINEAR)
            for k, f in enumerate(clip.frames)
        ]
        results = _track(clip, CENTRES, frames=frames)
        assert not any(r.lost for res in results for r in res.values())
        errors = _errors(clip, CENTRES, results)
        median = float(np.median(errors))
        assert median <= MAX_MEDIAN_ERROR, f"median error {median:.3%} across size changes"

    def test_changing_the_aspect_ratio_loses_every_tracker(self, clips: dict[str, Clip]) -> None:
        clip = clips["pan"]
        widescreen = cv2.resize(clip.frames[10][60:420], (1280, 720))  # a screen share
        results = _track(clip, CENTRES[:2], frames=[*clip.frames[:10], widescreen])
        assert all(r.lost and r.reason == "resolution" for r in results[-1].values())

    def test_working_frame_is_at_most_max_side(self, clips: dict[str, Clip]) -> None:
        big = cv2.resize(clips["pan"].frames[0], (1920, 1440))
        tracker = RegionTracker(big, region_box((0.5, 0.5)), [(0.5, 0.5)])
        assert tracker.dump()["working_size"] == (640, 480)


class TestTrackerSet:
    def test_same_clip_gives_identical_results(self, clips: dict[str, Clip]) -> None:
        clip = clips["combined"]
        assert _track(clip, CENTRES) == _track(clip, CENTRES)

    def test_added_region_starts_on_the_next_frame_with_identity(
        self, clips: dict[str, Clip]
    ) -> None:
        clip = clips["pan"]
        trackers: TrackerSet[str] = TrackerSet()
        trackers.add("a", region_box(CENTRES[0]), [CENTRES[0]])
        for frame in clip.frames[:5]:
            trackers.update(frame)
        trackers.add("b", region_box(CENTRES[1]), [CENTRES[1], (0.7, 0.45)])
        assert "b" in trackers and len(trackers) == 2
        results = trackers.update(clip.frames[5])
        assert results["b"].anchors == (CENTRES[1], (0.7, 0.45))
        assert results["b"].transform == ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
        assert results["a"].anchors != (CENTRES[0],)
        # Started on frame 5: its error is measured against where the point was then.
        truth = clip.to_scene(5, [_px(clip, CENTRES[1])])
        for k in range(6, 20):
            result = trackers.update(clip.frames[k])["b"]
            x, y = _px(clip, result.anchors[0])
            expected = clip.project(k, truth)[0]
            assert math.hypot(x - expected[0], y - expected[1]) / clip.diagonal <= 0.01

    def test_removed_region_is_no_longer_reported(self, clips: dict[str, Clip]) -> None:
        clip = clips["pan"]
        trackers: TrackerSet[str] = TrackerSet()
        trackers.add("a", region_box(CENTRES[0]), [CENTRES[0]])
        trackers.add("b", region_box(CENTRES[1]), [CENTRES[1]])
        trackers.update(clip.frames[0])
        trackers.remove("a")
        trackers.remove("never-added")
        assert set(trackers.update(clip.frames[1])) == {"b"}
        assert list(trackers) == ["b"]

    def test_marks_come_and_go_from_another_thread_while_a_worker_tracks(
        self, clips: dict[str, Clip]
    ) -> None:
        """The event loop adds and removes marks while the executor runs ``update``."""
        clip = clips["combined"]
        trackers: TrackerSet[int] = TrackerSet()
        stop = threading.Event()
        errors: list[BaseException] = []
        seen: list[set[int]] = []

        def worker() -> None:
            try:
                k = 0
                while not stop.is_set():
                    seen.append(set(trackers.update(clip.frames[k % len(clip.frames)])))
                    k += 1
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)

        thread = threading.Thread(target=worker)
        thread.start()
        try:
            for key in range(40):
                trackers.add(key, region_box(CENTRES[key % 4]), [CENTRES[key % 4]])
                if key >= 3:
                    trackers.remove(key - 3)
                time.sleep(0.003)
            # However the threads were scheduled, the worker has tracked more than once before
            # it stops (a condition, not a longer sleep).
            deadline = time.monotonic() + 30
            while len(seen) < 2 and not errors and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            stop.set()
            thread.join(timeout=30)
        assert not errors, errors
        assert len(seen) > 1 and all(len(keys) <= 4 for keys in seen), max(seen, key=len)
        trackers.update(clip.frames[0])
        assert sorted(trackers) == [37, 38, 39]

    def test_rejects_a_colour_frame(self) -> None:
        with pytest.raises(ValueError, match="grayscale"):
            TrackerSet[int]().update(np.zeros((48, 64, 3), np.uint8))


class TestToGray:
    def test_yuv_frame_becomes_its_luma_plane(self) -> None:
        rgb = np.zeros((480, 640, 3), np.uint8)
        rgb[:, 320:] = (255, 255, 255)
        frame = VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        gray = to_gray(frame)
        assert gray.shape == (480, 640) and gray.dtype == np.uint8
        assert gray[:, :300].max() < 30 and gray[:, 340:].min() > 225

    def test_large_frame_is_scaled_down_on_the_way(self) -> None:
        frame = VideoFrame.from_ndarray(np.zeros((720, 1280, 3), np.uint8), format="rgb24")
        assert to_gray(frame, max_side=640).shape == (360, 640)
        assert to_gray(frame).shape == (720, 1280)


def test_importing_the_tracker_loads_no_event_loop_or_media_stack() -> None:
    """It runs in a worker thread on frames handed to it; it must not drag asyncio or aiortc in."""
    probe = (
        "import json, sys; import videoassist.media.tracking; "
        "print(json.dumps(sorted({n.partition('.')[0] for n in sys.modules} & "
        "{'asyncio', 'aiohttp', 'aiortc', 'av', 'socketio'})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


class TestPhoneCamera:
    """Issue 17: what a hand-held phone does to marks that used to be lost."""

    def test_exposure_steps_on_a_phone_camera_do_not_lose_marks(self) -> None:
        """Three auto-exposure ramps (+55%, -60%, +35% gain with level shifts) on a hand-held,
        VP8-coded clip: the tracker before issue 17 lost most marks at the first one."""
        clip = synthetic.phone_clip("steady", seconds=4.0)
        centres = [(0.38, 0.45), (0.62, 0.55), (0.5, 0.7)]
        results = _track(clip, centres)
        lost = [(k, i) for k, res in enumerate(results) for i, r in res.items() if r.lost]
        assert not lost, f"lost (frame, mark): {lost[:5]}"
        median = float(np.median(_errors(clip, centres, results)))
        assert median <= 0.003, f"median error {median:.3%} across exposure steps"

    def test_a_mark_on_a_plain_wall_follows_the_camera(self) -> None:
        clip = render_clip("rotate", scene=synthetic.room_scene())
        centre = (0.78, 0.2)  # on synthetic.WALL in the first frame
        results = _track(clip, [centre])
        assert not any(res[0].lost for res in results)
        errors = _errors(clip, [centre], results)
        assert float(np.percentile(errors, 95)) <= 0.015, f"p95 {np.percentile(errors, 95):.3%}"

    def test_a_mark_whose_object_leaves_and_returns_is_found_again(self, scene: np.ndarray) -> None:
        def away(t: float) -> np.ndarray:
            u = min(max((t - 0.2) / 0.25, 0.0), 1.0) - min(max((t - 0.55) / 0.25, 0.0), 1.0)
            return camera_matrix(pan=(700 * (0.5 - 0.5 * math.cos(math.pi * u)), 0))

        clip = render_clip(away, seconds=5, scene=scene)
        box = region_box(CENTRES[0])
        results = _track(clip, [CENTRES[0]])
        seen = [_visible_fraction(clip, k, box) for k in range(len(clip.frames))]
        gone = [k for k, v in enumerate(seen) if v == 0.0]
        assert gone and all(results[k][0].lost for k in gone)
        back = next(k for k in range(gone[-1], len(seen)) if seen[k] >= 0.6)
        found = next((k for k in range(back, len(seen)) if not results[k][0].lost), len(seen))
        assert found <= back + round(clip.fps), f"back in view at {back}, found at {found}"
        assert results[found][0].source == "found"
        errors = _errors_from(clip, CENTRES[0], results, range(found, len(seen)))
        assert float(np.median(errors)) <= 0.003, f"median {np.median(errors):.3%} once found"

    def test_a_mark_is_found_anywhere_in_the_frame_once_the_cameras_motion_is_lost(
        self, scene: np.ndarray
    ) -> None:
        """Blank frames break the chain of the camera's motion (the scene starts over), and the
        picture comes back turned and shifted far beyond the window searched around the mark's
        last position: only a search of the whole frame finds it again."""
        still = render_clip(lambda t: camera_matrix(), seconds=0.7, scene=scene)
        moved_camera = camera_matrix(pan=(-170, 110), angle_deg=8)
        moved = render_clip(lambda t: moved_camera, seconds=1.5, scene=scene, seed=3)
        blank = np.full_like(still.frames[0], 128)
        frames = [*still.frames, *[blank] * (TrackerConfig().scene_max_misses + 5), *moved.frames]
        returns = len(frames) - len(moved.frames)

        def first_found(config: TrackerConfig | None) -> tuple[int | None, list[TrackResult]]:
            results = [r[0] for r in _track(still, [CENTRES[0]], config, frames)]
            found = next((k for k in range(returns, len(frames)) if not results[k].lost), None)
            return found, results

        assert first_found(TrackerConfig(reacquire_anywhere=False))[0] is None
        found, results = first_found(None)
        assert found is not None and found <= returns + round(still.fps)
        assert results[found].source == "found"
        truth = moved.project(0, still.to_scene(0, [_px(still, CENTRES[0])]))[0]
        for r in results[found:]:
            assert not r.lost
            x, y = _px(still, r.anchors[0])
            assert math.hypot(x - truth[0], y - truth[1]) / still.diagonal <= 0.005

    def test_a_whole_frame_search_does_not_place_a_mark_on_another_picture(
        self, scene: np.ndarray
    ) -> None:
        still = render_clip(lambda t: camera_matrix(), seconds=0.7, scene=scene)
        other = render_clip("pan", seconds=2.0, scene=synthetic.textured_scene(seed=11))
        blank = np.full_like(still.frames[0], 128)
        frames = [*still.frames, *[blank] * (TrackerConfig().scene_max_misses + 5), *other.frames]
        results = _track(still, CENTRES, frames=frames)
        after = results[len(frames) - len(other.frames) :]
        assert all(r[i].lost for r in after for i in range(len(CENTRES)))

    def test_a_plain_mark_carried_far_by_the_cameras_motion_alone_stays_grey(
        self, scene: np.ndarray
    ) -> None:
        """A mark with no template (a wide plain patch) can only be put back where the camera's
        motion carried it, and that drifts with the way travelled: after a pan away and back it
        stays grey (a mark beside its object is worse than a grey one); allowed any distance it
        is shown again, so the check can fail."""
        plain = scene.copy()
        sh, sw = plain.shape
        plain[sh // 2 - 150 : sh // 2 + 150, sw // 2 - 200 : sw // 2 + 200] = 140
        centre = (0.5, 0.5)

        def away(t: float) -> np.ndarray:
            u = min(max((t - 0.2) / 0.25, 0.0), 1.0) - min(max((t - 0.55) / 0.25, 0.0), 1.0)
            return camera_matrix(pan=(900 * (0.5 - 0.5 * math.cos(math.pi * u)), 0))

        clip = render_clip(away, seconds=5, scene=plain)
        box = region_box(centre)
        seen = [_visible_fraction(clip, k, box) for k in range(len(clip.frames))]
        gone = [k for k, v in enumerate(seen) if v == 0.0]
        assert gone
        back = next(k for k in range(gone[-1], len(seen)) if seen[k] >= 0.6)
        results = _track(clip, [centre])
        assert not results[gone[0] - 8][0].lost, "not tracked before it left"
        assert all(r[0].lost for r in results[back:])
        anyway = _track(clip, [centre], TrackerConfig(reckon_only_within=1e9))
        assert any(not r[0].lost for r in anyway[back:])

    def test_a_plain_mark_comes_back_with_the_textured_marks_around_it(
        self, scene: np.ndarray
    ) -> None:
        """The same pan away and back, with two textured marks beside the plain one: once they
        are found again by their templates, they place it (their references relate to its
        reference as they did before the pan); without that it stays grey, so the check can
        fail."""
        plain = scene.copy()
        sh, sw = plain.shape
        plain[sh // 2 - 150 : sh // 2 + 150, sw // 2 - 200 : sw // 2 + 200] = 140
        centres = [(0.5, 0.5), (0.12, 0.5), (0.88, 0.5)]  # the two beside it off the patch

        def away(t: float) -> np.ndarray:
            u = min(max((t - 0.2) / 0.25, 0.0), 1.0) - min(max((t - 0.55) / 0.25, 0.0), 1.0)
            return camera_matrix(pan=(900 * (0.5 - 0.5 * math.cos(math.pi * u)), 0))

        clip = render_clip(away, seconds=5, scene=plain)
        box = region_box(centres[0])
        seen = [_visible_fraction(clip, k, box) for k in range(len(clip.frames))]
        gone = [k for k, v in enumerate(seen) if v == 0.0]
        assert gone
        back = next(k for k in range(gone[-1], len(seen)) if seen[k] >= 0.6)
        alone = _track(clip, centres, TrackerConfig(reacquire_by_peers=False))
        assert all(r[0].lost for r in alone[back:]), "placed without its neighbours"
        results = _track(clip, centres)
        found = next((k for k in range(back, len(seen)) if not results[k][0].lost), None)
        assert found is not None and found <= back + round(clip.fps), (back, found)
        errors = _errors_from(clip, centres[0], results, range(found, len(seen)))
        assert float(np.max(errors)) <= 0.015, f"up to {np.max(errors):.3%} off once back"

    def test_looking_for_a_lost_mark_leaves_its_templates_corners_as_they_were(
        self, scene: np.ndarray
    ) -> None:
        """LK writes its answer into the points it starts from when both are one array; the
        template's own corners once were, and each search moved them (on the coffee photo a
        template came out of its first search with corners outside itself)."""

        def away(t: float) -> np.ndarray:
            u = min(max((t - 0.2) / 0.25, 0.0), 1.0) - min(max((t - 0.55) / 0.25, 0.0), 1.0)
            return camera_matrix(pan=(700 * (0.5 - 0.5 * math.cos(math.pi * u)), 0))

        clip = render_clip(away, seconds=5, scene=scene)
        trackers: TrackerSet[int] = TrackerSet()
        trackers.add(0, region_box(CENTRES[0]), [CENTRES[0]])
        trackers.update(clip.frames[0])
        track = trackers._tracks[0]
        assert track.template is not None
        corners = track.template_pts.copy()
        sources = [trackers.update(frame)[0].source for frame in clip.frames[1:]]
        assert "found" in sources
        assert track.template is not None
        np.testing.assert_array_equal(track.template_pts, corners)

    def test_a_pose_that_drifted_is_put_back_onto_the_template(self, scene: np.ndarray) -> None:
        """A mark found again during a pan keeps the pose it was found with (new corners take
        it over); for a while after, every ``anchor_every`` frames the template puts it back.
        Pushed 6 px off, it returns within a couple of turns; with anchoring off it stays
        off."""
        clip = render_clip(lambda t: camera_matrix(pan=(40 * t, 10 * t)), seconds=2, scene=scene)
        truth = clip.to_scene(0, [_px(clip, CENTRES[0])])

        def error_at_end(config: TrackerConfig) -> float:
            trackers: TrackerSet[int] = TrackerSet(config)
            trackers.add(0, region_box(CENTRES[0]), [CENTRES[0]])
            for k, frame in enumerate(clip.frames):
                result = trackers.update(frame)[0]
                if k == 5:
                    track = trackers._tracks[0]
                    track.h = np.array([[1, 0, 6], [0, 1, 0], [0, 0, 1]], np.float64) @ track.h
                    track.h_inv = np.linalg.inv(track.h)
                    track.ref = _map_points(track.h_inv, track.pts)
                    track.since_found = 0  # as if just found again, during a pan
            assert not result.lost
            x, y = _px(clip, result.anchors[0])
            expected = clip.project(len(clip.frames) - 1, truth)[0]
            return math.hypot(x - expected[0], y - expected[1])

        assert error_at_end(TrackerConfig(anchor_every=0)) > 4.0
        assert error_at_end(TrackerConfig()) < 1.5

    def test_a_mark_found_on_a_lookalike_is_taken_back_to_where_the_other_marks_put_it(
        self, scene: np.ndarray
    ) -> None:
        """A template can find a twin of its object (along a cup's rim, the rim a little further
        on matches it as well). Put on such a twin as if just found there again, a mark is held
        against the marks still confirmed, which move with the same camera: they put it
        elsewhere, so it is looked for again where they put it. Without them it stays on the
        twin (its template agrees there), so the check can fail."""

        def camera(t: float) -> np.ndarray:
            return camera_matrix(pan=(20 * t, 5 * t))

        shift = -150.0  # frame px from the object to its twin, beside it on the left
        first = render_clip(camera, seconds=0.2, scene=scene)
        x, y = _px(first, CENTRES[0])
        (sx0, sy0), (sx1, sy1) = first.to_scene(0, [(x - 75, y - 60), (x + 75, y + 60)])
        dx = float(first.to_scene(0, [(x + shift, y)])[0, 0]) - (sx0 + sx1) / 2
        twin = scene.copy()
        top, bottom, left, right = round(sy0), round(sy1), round(sx0), round(sx1)
        twin[top:bottom, left + round(dx) : right + round(dx)] = scene[top:bottom, left:right]
        clip = render_clip(camera, seconds=3, scene=twin)
        truth = clip.to_scene(0, [_px(clip, CENTRES[0])])

        def error_at_end(config: TrackerConfig) -> float:
            trackers: TrackerSet[int] = TrackerSet(config)
            for i, c in enumerate(CENTRES):
                trackers.add(i, region_box(c), [c])
            for k, frame in enumerate(clip.frames):
                result = trackers.update(frame)[0]
                if k == 15:
                    track = trackers._tracks[0]
                    onto = np.array([[1, 0, shift], [0, 1, 0], [0, 0, 1]], np.float64)
                    track.h, track.h_prev = onto @ track.h, onto @ track.h_prev
                    track.h_inv = np.linalg.inv(track.h)
                    track.h_prev_inv = np.linalg.inv(track.h_prev)
                    track.ref = _map_points(track.h_inv, track.pts)
                    track.confirmed, track.since_found = False, 0  # as if just found there
            assert not result.lost
            x, y = _px(clip, result.anchors[0])
            expected = clip.project(len(clip.frames) - 1, truth)[0]
            return math.hypot(x - expected[0], y - expected[1])

        alone = error_at_end(TrackerConfig(reacquire_by_peers=False))
        assert alone > 100.0, f"{alone:.1f} px from its object without the other marks"
        checked = error_at_end(TrackerConfig())
        assert checked < 2.0, f"{checked:.1f} px from its object"


def _map_points(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    moved = cv2.perspectiveTransform(pts.reshape(-1, 1, 2).astype(np.float64), h)
    return moved.reshape(-1, 2).astype(np.float32)


def _errors_from(
    clip: Clip, centre: tuple[float, float], results: list[dict[int, TrackResult]], frames: range
) -> np.ndarray:
    truth = clip.to_scene(0, [_px(clip, centre)])
    out = []
    for k in frames:
        expected = clip.project(k, truth)[0]
        x, y = _px(clip, results[k][0].anchors[0])
        out.append(math.hypot(x - expected[0], y - expected[1]))
    return np.array(out) / clip.diagonal


class TestShapes:
    """Issue 17: a box carried through a roll is drawn turned (its ``quad``), not as the box
    around the turned one."""

    def test_a_rotated_box_keeps_its_corners_on_the_object(self, clips: dict[str, Clip]) -> None:
        clip = clips["rotate"]  # rolls to +-20 degrees and back
        mark = {"kind": "rect", "id": "r1", "x": 0.35, "y": 0.3, "w": 0.25, "h": 0.2}
        points = points_of(mark)
        trackers: TrackerSet[str] = TrackerSet()
        trackers.add("r1", region_of(points), points[:1])
        box = box_of(mark)
        assert box is not None
        truth = clip.to_scene(0, [_px(clip, p) for p in box])
        quad_errors, bbox_errors = [], []
        for k, frame in enumerate(clip.frames):
            result = trackers.update(frame)["r1"]
            assert not result.lost, f"lost at frame {k}"
            moved = with_quad(with_points(mark, result.apply(points)), result.apply(box))
            expected = clip.project(k, truth)
            drawn = [_px(clip, (x, y)) for x, y in moved["quad"]]
            x, y, w, h = moved["x"], moved["y"], moved["w"], moved["h"]
            legacy = [_px(clip, p) for p in [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]]
            for i, e in enumerate(expected):
                quad_errors.append(math.hypot(drawn[i][0] - e[0], drawn[i][1] - e[1]))
                bbox_errors.append(math.hypot(legacy[i][0] - e[0], legacy[i][1] - e[1]))
        quad_p95 = float(np.percentile(quad_errors, 95)) / clip.diagonal
        bbox_p95 = float(np.percentile(bbox_errors, 95)) / clip.diagonal
        assert quad_p95 <= 0.005, f"turned corners p95 {quad_p95:.3%} of the diagonal"
        # The check can fail: the axis-aligned box misses the turned corners by far more.
        print(f"turned box corners p95 {quad_p95:.3%}, bounding box {bbox_p95:.3%}")
        assert bbox_p95 >= 4 * quad_p95, f"bounding box p95 {bbox_p95:.3%}, quad {quad_p95:.3%}"


class TestOcclusion:
    """Issue 17: a hand over the object greys the mark where it is, and the mark comes back."""

    @pytest.mark.parametrize("motion", ["pan", "combined"])
    def test_a_mark_covered_by_a_hand_greys_out_in_place_and_comes_back(self, motion: str) -> None:
        centre = CENTRES[0]
        clip, covered = synthetic.hand_over(
            render_clip(motion, seconds=4.0), region_box(centre), covered=(1.2, 2.4)
        )
        results = _track(clip, [centre])
        errors = _errors(clip, [centre], results)
        under = [k for k, share in enumerate(covered) if share >= 0.5]
        assert len(under) >= 15
        # Not drawn at a wrong place: every frame either greyed or on the object.
        wrong = [k for k, r in enumerate(results) if not r[0].lost and errors[k] > 0.015]
        assert not wrong, f"drawn off the object at frames {wrong[:5]}"
        greyed = [k for k in under if results[k][0].lost]
        assert len(greyed) >= 0.8 * len(under), f"greyed {len(greyed)} of {len(under)} covered"
        assert {results[k][0].reason for k in greyed} == {"occluded"}
        # Uncovered: found again within a second, then tracked.
        clear = next(k for k in range(under[-1], len(covered)) if covered[k] == 0.0)
        found = next((k for k in range(clear, len(results)) if not results[k][0].lost), None)
        assert found is not None and found <= clear + round(clip.fps), (clear, found)
        assert not any(r[0].lost for r in results[found:])
        assert not any(r[0].lost for r in results[: under[0] - 2]), "lost before the hand came"

    @pytest.mark.parametrize("motion", ["pan", "rotate"])
    def test_a_mark_on_a_plain_patch_greys_out_under_a_hand_and_comes_back(
        self, motion: str
    ) -> None:
        """A mark on a plain wall is seeded from its surround and has no template of its own
        patch; the hand brings corners the patch never had, so it greys out instead of following
        the corners of its surround (or the hand) off the object."""
        centre = (0.78, 0.2)  # on synthetic.WALL in the first frame
        scene = synthetic.room_scene()
        clip, covered = synthetic.hand_over(
            render_clip(motion, seconds=4.0, scene=scene), region_box(centre), covered=(1.2, 2.4)
        )
        results = _track(clip, [centre])
        errors = _errors(clip, [centre], results)
        under = [k for k, share in enumerate(covered) if share >= 0.5]
        assert len(under) >= 15
        wrong = [k for k, r in enumerate(results) if not r[0].lost and errors[k] > 0.015]
        assert not wrong, f"drawn off the object at frames {wrong[:5]}"
        greyed = [k for k in under if results[k][0].lost]
        assert len(greyed) >= 0.8 * len(under), f"greyed {len(greyed)} of {len(under)} covered"
        assert {results[k][0].reason for k in greyed} == {"occluded"}
        clear = next(k for k in range(under[-1], len(covered)) if covered[k] == 0.0)
        found = next((k for k in range(clear, len(results)) if not results[k][0].lost), None)
        assert found is not None and found <= clear + round(clip.fps), (clear, found)
        assert not any(r[0].lost for r in results[: under[0] - 2]), "lost before the hand came"

"""Sticky-annotation tracking: cost per tracked frame at 640x480, against baselines (same run).

What is timed: the CPU time of the calling thread (``time.thread_time_ns``, which a busy shared
machine disturbs less than the wall clock; the wall clock is printed too) around one call per
frame, with OpenCV limited to one thread (``--threads``) so the figures are per core:

* **ours, N regions**: ``TrackerSet.update(gray)`` with N sticky regions (1 and 5), on a 640x480
  grayscale frame of a synthetic clip (tests/support/synthetic: panned, zoomed and rotated at
  15 fps, the reduced rate the server decodes at). Everything a tracked frame costs: LK forward
  and backward, RANSAC, re-seeding when it happens, bookkeeping.
* **LK floor**: one bare ``calcOpticalFlowPyrLK`` call moving 30 corners from the previous frame
  to this one (winSize 15, 3 levels): the least a flow-based tracker can do per frame, without
  the backward check, the estimate or any of our code.
* **detect**: ``goodFeaturesToTrack`` on the whole frame (200 corners), the cost MEDIA-NOTES
  quotes; what a detect-every-frame approach would pay before any matching.
* **template**: a naive tracker per region: ``matchTemplate`` (normalized correlation) of the
  region as drawn over a window of +-48 px around its last position. Translation only, so it
  drifts off under zoom and rotation; it is here for its cost.
* **to_gray**: ``to_gray`` on a decoded 640x480 yuv420p PyAV frame, and on a 1280x720 one scaled
  to 640 on the way (the step before ``update`` in the media layer).

All variants step through the same frames, interleaved frame by frame, so load changes on a
shared machine hit all of them alike; each pass over the clip starts fresh trackers. Accuracy
(median and p95 anchor error as % of the frame diagonal per motion type, for the similarity and
homography models and the template baseline) is computed on the same clips, untimed.

**Phone-like clips** (issue 17; ``--phone-seconds``, 0 skips them): room scenes (``--scenes``:
the generated poster, and natural photographs from scikit-image's wheel, each with a plain wall
painted in) filmed by ``synthetic.phone_clip`` (hand shake, motion blur, rolling shutter,
auto-exposure steps, noise, VP8 at 800 kbit/s), held still, or panned away so that every mark
leaves the view and back, in normal and dim light (dim: the poster only). Per tracker (ours,
the frozen copy of main's tracker ``bench/tracking_v2.py``, the frozen pre-issue-17 copy
``bench/tracking_v1.py``, a static mark): the share of in-view
frames reported lost, the error while not lost, the marks back within 1 s of their object's
return, the cost per update.

Run: ``.venv/bin/python -m bench.tracking`` from the repository root (``--help``).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from av import VideoFrame

from bench import tracking_v1, tracking_v2
from bench.desksim import machine_line, percentile, table
from tests.support import synthetic
from tests.support.synthetic import Clip, region_box, render_clip
from videoassist.media.tracking import TrackerConfig, TrackerSet, to_gray

CENTRES = [(0.38, 0.38), (0.62, 0.4), (0.5, 0.62), (0.41, 0.58), (0.6, 0.6)]
GOAL_MS = 3.0


class Template:
    """The naive baseline: correlate the region as first seen around its last position."""

    SEARCH = 48

    def __init__(self, gray: np.ndarray, centres: Sequence[tuple[float, float]]) -> None:
        h, w = gray.shape
        self.boxes = []
        self.templates = []
        for c in centres:
            x, y, bw, bh = region_box(c)
            x0, y0 = round(x * w), round(y * h)
            x1, y1 = round((x + bw) * w), round((y + bh) * h)
            self.templates.append(gray[y0:y1, x0:x1].copy())
            self.boxes.append((x0, y0))

    def update(self, gray: np.ndarray) -> list[tuple[float, float]]:
        h, w = gray.shape
        out = []
        for i, tpl in enumerate(self.templates):
            th, tw = tpl.shape
            x0, y0 = self.boxes[i]
            sx0, sy0 = max(0, x0 - self.SEARCH), max(0, y0 - self.SEARCH)
            sx1, sy1 = min(w, x0 + tw + self.SEARCH), min(h, y0 + th + self.SEARCH)
            if sx1 - sx0 >= tw and sy1 - sy0 >= th:
                score = cv2.matchTemplate(gray[sy0:sy1, sx0:sx1], tpl, cv2.TM_CCOEFF_NORMED)
                _, _, _, (bx, by) = cv2.minMaxLoc(score)
                self.boxes[i] = (sx0 + bx, sy0 + by)
            x0, y0 = self.boxes[i]
            out.append(((x0 + tw / 2) / w, (y0 + th / 2) / h))
        return out


Step = Callable[[int], object]


def variants(
    clip: Clip, yuv: VideoFrame, yuv_hd: VideoFrame, config: TrackerConfig
) -> dict[str, Callable[[], Step]]:
    """Name -> factory of a fresh per-pass stepper (called with the frame index)."""
    frames = clip.frames
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)

    def ours(n: int) -> Callable[[], Step]:
        def fresh() -> Step:
            trackers: TrackerSet[int] = TrackerSet(config)
            for i, c in enumerate(CENTRES[:n]):
                trackers.add(i, region_box(c), [c])
            trackers.update(frames[0])  # seeds: not a tracked frame, not timed
            return lambda k: trackers.update(frames[k])

        return fresh

    def before(n: int) -> Callable[[], Step]:
        def fresh() -> Step:
            trackers: tracking_v1.TrackerSet[int] = tracking_v1.TrackerSet()
            for i, c in enumerate(CENTRES[:n]):
                trackers.add(i, region_box(c), [c])
            trackers.update(frames[0])
            return lambda k: trackers.update(frames[k])

        return fresh

    def lk_floor() -> Step:
        pts = cv2.goodFeaturesToTrack(frames[0], 30, 0.01, 6).astype(np.float32)
        return lambda k: cv2.calcOpticalFlowPyrLK(
            frames[k - 1], frames[k], pts, None, winSize=(15, 15), maxLevel=3, criteria=crit
        )

    def detect() -> Step:
        return lambda k: cv2.goodFeaturesToTrack(frames[k], 200, 0.01, 6)

    def template(n: int) -> Callable[[], Step]:
        def fresh() -> Step:
            tracker = Template(frames[0], CENTRES[:n])
            return lambda k: tracker.update(frames[k])

        return fresh

    return {
        "ours, 1 region": ours(1),
        "ours, 5 regions": ours(5),
        "before issue 17, 5 regions": before(5),
        "LK floor (1 call, 30 corners)": lambda: lk_floor(),
        "detect (GFTT, whole frame)": lambda: detect(),
        "template, 1 region": template(1),
        "template, 5 regions": template(5),
        "to_gray 640x480 yuv420p": lambda: lambda k: to_gray(yuv),
        "to_gray 1280x720 -> 640": lambda: lambda k: to_gray(yuv_hd, max_side=640),
    }


def measure(
    clip: Clip, config: TrackerConfig, time_limit: float, min_passes: int
) -> dict[str, tuple[list[float], list[float]]]:
    rgb = np.zeros((480, 640, 3), np.uint8)
    rgb[..., 0] = rgb[..., 1] = rgb[..., 2] = clip.frames[0]
    yuv = VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    yuv_hd = VideoFrame.from_ndarray(cv2.resize(rgb, (1280, 720)), format="rgb24").reformat(
        format="yuv420p"
    )
    factories = variants(clip, yuv, yuv_hd, config)
    cpu: dict[str, list[float]] = {name: [] for name in factories}
    wall: dict[str, list[float]] = {name: [] for name in factories}
    deadline = time.monotonic() + time_limit
    passes = 0
    while passes < min_passes or time.monotonic() < deadline:
        steppers = {name: make() for name, make in factories.items()}
        for k in range(1, len(clip.frames)):
            for name, step in steppers.items():
                w0, c0 = time.perf_counter_ns(), time.thread_time_ns()
                step(k)
                c1, w1 = time.thread_time_ns(), time.perf_counter_ns()
                cpu[name].append((c1 - c0) / 1e6)
                wall[name].append((w1 - w0) / 1e6)
        passes += 1
        if passes >= 50:
            break
    return {name: (sorted(cpu[name]), sorted(wall[name])) for name in factories}


def accuracy(scene: np.ndarray, config: TrackerConfig) -> list[list[object]]:
    rows: list[list[object]] = []
    centres = CENTRES[:4]
    for motion in synthetic.MOTIONS:
        clip = render_clip(motion, scene=scene)
        w, h = clip.size
        truth = clip.to_scene(0, [(x * w - 0.5, y * h - 0.5) for x, y in centres])
        row: list[object] = [motion]
        for model in ("similarity", "homography", "template"):
            errors, lost = [], 0
            if model == "template":
                tpl = Template(clip.frames[0], centres)
                outputs = [[(c, False) for c in centres]] + [
                    [(c, False) for c in tpl.update(f)] for f in clip.frames[1:]
                ]
            else:
                model_config = dataclasses.replace(config, motion=model)
                trackers: TrackerSet[int] = TrackerSet(model_config)
                for i, c in enumerate(centres):
                    trackers.add(i, region_box(c), [c])
                outputs = []
                for f in clip.frames:
                    res = trackers.update(f)
                    outputs.append([(res[i].anchors[0], res[i].lost) for i in range(len(centres))])
            for k, out in enumerate(outputs):
                expected = clip.project(k, truth)
                for i, ((ax, ay), is_lost) in enumerate(out):
                    lost += is_lost
                    e = math.hypot(ax * w - 0.5 - expected[i][0], ay * h - 0.5 - expected[i][1])
                    errors.append(100 * e / clip.diagonal)
            errors.sort()
            row.append(
                f"{statistics.median(errors):.2f} / {percentile(errors, 95):.2f}"
                + (f" ({lost} lost)" if lost else "")
            )
        rows.append(row)
    return rows


# -- phone-like clips: lost, error while tracked, re-acquisition -----------------------------------

PHONE_CENTRES = [(0.38, 0.45), (0.62, 0.55), (0.5, 0.7), (0.3, 0.75), (0.72, 0.22)]
"""The last one is on the plain wall (tests/support/synthetic.WALL)."""
IN_VIEW = 0.6  # share of a mark's region the frame shows for its object to count as in view


def _phone_outputs(
    name: str, clip: Clip, costs: list[float], config: TrackerConfig
) -> list[list[tuple[tuple[float, float], bool]]]:
    """Per frame, per mark: (anchor, lost), for our tracker, the pre-issue-17 one or a static
    mark, driven like production (a ``TrackerSet`` fed every frame the server decodes). The CPU
    time of each update after the first goes to ``costs``."""
    if name == "static":
        return [[(c, False) for c in PHONE_CENTRES] for _ in clip.frames]
    trackers: TrackerSet[int] | tracking_v1.TrackerSet[int] | tracking_v2.TrackerSet[int]
    if name == "ours":
        trackers = TrackerSet(config)
    elif name == "main's tracker":
        trackers = tracking_v2.TrackerSet()
    else:
        trackers = tracking_v1.TrackerSet()
    for i, c in enumerate(PHONE_CENTRES):
        trackers.add(i, region_box(c), [c])
    out = []
    for k, f in enumerate(clip.frames):
        c0 = time.thread_time_ns()
        res = trackers.update(f)
        if k:
            costs.append((time.thread_time_ns() - c0) / 1e6)
        out.append([(res[i].anchors[0], res[i].lost) for i in range(len(PHONE_CENTRES))])
    return out


def _in_view(clip: Clip, k: int, truth_boxes: list[np.ndarray]) -> list[bool]:
    w, h = clip.size
    out = []
    for grid in truth_boxes:
        p = clip.project(k, grid)
        inside = (p[:, 0] >= 0) & (p[:, 0] <= w - 1) & (p[:, 1] >= 0) & (p[:, 1] <= h - 1)
        out.append(float(inside.mean()) >= IN_VIEW)
    return out


def phone_scenes(names: Sequence[str]) -> list[tuple[str, np.ndarray]]:
    """The scenes the phone films: ``poster`` (the generated one, with its wall) and
    photographs scikit-image ships (``synthetic.PHOTOS``); a photo that cannot be read is left
    out with a note (scikit-image missing), never downloaded."""
    out = []
    for name in names:
        if name == "poster":
            out.append((name, synthetic.room_scene()))
            continue
        try:
            out.append((name, synthetic.photo_scene(name)))
        except LookupError as exc:
            print(f"note: scene {name!r} left out: {exc}")
    return out


TRACKERS = ("ours", "main's tracker", "before issue 17", "static")


@dataclass
class _Tally:
    """One tracker's counts on one condition, added up over the clips (seeds) it ran on."""

    in_view: int = 0
    lost: int = 0
    off: int = 0
    returns: int = 0
    back: int = 0
    errors: list[float] = field(default_factory=list)
    costs: list[float] = field(default_factory=list)
    per_seed: list[tuple[float, int, int]] = field(default_factory=list)  # p95, back, returns


def _phone_tally(name: str, clip: Clip, config: TrackerConfig, tally: _Tally) -> None:
    w, h = clip.size
    truth = clip.to_scene(0, [(x * w - 0.5, y * h - 0.5) for x, y in PHONE_CENTRES])
    boxes = []
    for c in PHONE_CENTRES:
        x, y, bw, bh = region_box(c)
        grid = [(x + bw * i / 4, y + bh * j / 4) for i in range(5) for j in range(5)]
        boxes.append(clip.to_scene(0, [(u * w - 0.5, v * h - 0.5) for u, v in grid]))
    views = [_in_view(clip, k, boxes) for k in range(len(clip.frames))]
    outputs = _phone_outputs(name, clip, tally.costs, config)
    errors: list[float] = []
    returns = back = 0
    for i in range(len(PHONE_CENTRES)):
        good = []
        for k, out in enumerate(outputs):
            (ax, ay), is_lost = out[i]
            e = clip.project(k, truth[i : i + 1])[0]
            err = 100 * math.hypot(ax * w - 0.5 - e[0], ay * h - 0.5 - e[1]) / clip.diagonal
            good.append(views[k][i] and not is_lost and err <= 1.5)
            if views[k][i]:
                tally.in_view += 1
                tally.lost += is_lost
                if not is_lost:
                    errors.append(err)
                    tally.off += err > 1.5
        for k in range(1, len(outputs)):
            if views[k][i] and not views[k - 1][i]:
                returns += 1
                back += any(good[k : k + round(clip.fps)])
    tally.errors += errors
    tally.returns += returns
    tally.back += back
    tally.per_seed.append((percentile(sorted(errors), 95) if errors else 0.0, back, returns))


def phone(
    seconds: float,
    config: TrackerConfig,
    scenes: Sequence[tuple[str, np.ndarray]],
    seeds: int = 1,
    trackers: Sequence[str] = TRACKERS,
) -> list[list[object]]:
    """Per condition and tracker, over ``seeds`` clips (the same scene and kind of motion, each
    with its own hand shake, exposure steps and noise): the pooled figures, and the worst clip's
    p95 error and returns (a tracker that is right on one clip can be lucky)."""
    rows: list[list[object]] = []
    conditions: list[tuple[str, str, np.ndarray, dict[str, float]]] = []
    for scene_name, scene in scenes:
        conditions += [
            (f"{scene_name}, steady", "steady", scene, {}),
            (f"{scene_name}, away", "away", scene, {}),
        ]
        if scene_name == "poster":
            conditions.append(
                (f"{scene_name}, away, dim", "away", scene, {"light": 0.4, "noise": 5.0})
            )
    for label, kind, scene, options in conditions:
        tallies = {name: _Tally() for name in trackers}
        for seed in range(seeds):
            clip = synthetic.phone_clip(kind, seconds=seconds, scene=scene, seed=seed, **options)
            for name in trackers:
                _phone_tally(name, clip, config, tallies[name])
        for name, t in tallies.items():
            t.errors.sort()
            t.costs.sort()
            worst_p95 = max(p for p, _, _ in t.per_seed)
            worst_back = min(
                ((b, r) for _, b, r in t.per_seed if r), key=lambda br: br[0] / br[1], default=None
            )
            row: list[object] = [
                label,
                name,
                f"{100 * t.lost / max(t.in_view, 1):.1f}%",
                f"{statistics.median(t.errors):.2f}" if t.errors else "-",
                f"{percentile(t.errors, 95):.2f}" if t.errors else "-",
                f"{t.back}/{t.returns}" if t.returns else "-",
                t.off if name != "static" else "-",
                f"{percentile(t.costs, 50):.2f} / {percentile(t.costs, 95):.2f}"
                if t.costs
                else "-",
            ]
            if seeds > 1:
                row += [
                    f"{worst_p95:.2f}",
                    f"{worst_back[0]}/{worst_back[1]}" if worst_back else "-",
                ]
            rows.append(row)
    return rows


def occlusion(
    seconds: float,
    config: TrackerConfig,
    scenes: Sequence[tuple[str, np.ndarray]],
    trackers: Sequence[str] = TRACKERS,
) -> list[list[object]]:
    """A hand covers the first mark's object for a quarter of a steady phone clip (painted in
    before VP8, so the codec sees it): per tracker, the mark-frames it was covered (over half of
    its region under the hand), how many of those it was greyed (lost), drawn off its object
    (not lost and over 1.5% of the diagonal away) at any time, and how soon it was back after
    the hand left."""
    rows: list[list[object]] = []
    centre = PHONE_CENTRES[0]
    for scene_name, scene in scenes:
        raw = synthetic.phone_clip("steady", seconds=seconds, scene=scene, bitrate=None)
        covered = (0.35 * seconds, 0.6 * seconds)
        hidden, shares = synthetic.hand_over(raw, region_box(centre), covered)
        clip = Clip(
            frames=synthetic._vp8(hidden.frames, raw.fps, 800_000),
            transforms=raw.transforms,
            fps=raw.fps,
        )
        w, h = clip.size
        truth = clip.to_scene(0, [(centre[0] * w - 0.5, centre[1] * h - 0.5)])
        under = [k for k, v in enumerate(shares) if v >= 0.5]
        clear = next(k for k in range(under[-1], len(shares)) if shares[k] == 0.0)
        for name in trackers:
            outputs = _phone_outputs(name, clip, [], config)
            greyed = off = 0
            back: int | None = None
            for k, out in enumerate(outputs):
                (ax, ay), is_lost = out[0]
                e = clip.project(k, truth)[0]
                err = 100 * math.hypot(ax * w - 0.5 - e[0], ay * h - 0.5 - e[1]) / clip.diagonal
                greyed += k in under and is_lost
                off += not is_lost and err > 1.5
                if back is None and k >= clear and not is_lost and err <= 1.5:
                    back = k - clear
            rows.append(
                [
                    f"{scene_name}, hand",
                    name,
                    len(under),
                    f"{greyed} ({100 * greyed / len(under):.0f}%)",
                    off,
                    f"{back / clip.fps:.2f} s" if back is not None else "never",
                ]
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--time-limit", type=float, default=30.0, help="seconds of timed passes")
    parser.add_argument("--min-passes", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0, help="clip length (15 fps)")
    parser.add_argument("--motion", default="combined", choices=list(synthetic.MOTIONS))
    parser.add_argument("--threads", type=int, default=1, help="cv2.setNumThreads")
    parser.add_argument(
        "--phone-seconds", type=float, default=12.0, help="length of each phone-like clip (0: skip)"
    )
    parser.add_argument(
        "--scenes",
        default="poster,motorcycle,coffee,astronaut",
        help="comma-separated phone-clip scenes: poster and/or photos of synthetic.PHOTOS",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="phone clips per condition (seeds 0..N-1), pooled; the worst clip shown as well",
    )
    parser.add_argument(
        "--trackers",
        default=",".join(TRACKERS),
        help="comma-separated trackers for the phone and occlusion tables",
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="TrackerConfig override for our tracker, e.g. --config win_size=11 (repeatable)",
    )
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.config:
        name, _, value = item.partition("=")
        current = getattr(TrackerConfig(), name)
        if isinstance(current, bool):
            overrides[name] = value.lower() in ("1", "true", "yes", "on")
        else:
            overrides[name] = type(current)(value)
    config = TrackerConfig(**overrides)
    trackers = [name for name in args.trackers.split(",") if name]
    unknown = set(trackers) - set(TRACKERS)
    if unknown:
        parser.error(f"unknown trackers {sorted(unknown)}; known: {', '.join(TRACKERS)}")

    cv2.setNumThreads(args.threads)
    print(f"# bench.tracking — {machine_line()}")
    print(
        f"opencv {cv2.__version__}, numpy {np.__version__}, cv2 threads {cv2.getNumThreads()}; "
        f"clip: {args.motion}, {args.seconds:g} s at 15 fps, 640x480"
    )
    print(f"tracker config: {overrides or 'defaults'}")
    scene = synthetic.textured_scene()
    clip = render_clip(args.motion, seconds=args.seconds, scene=scene)
    results = measure(clip, config, args.time_limit, args.min_passes)

    floor = percentile(results["LK floor (1 call, 30 corners)"][0], 50)
    detect = percentile(results["detect (GFTT, whole frame)"][0], 50)
    rows = []
    for name, (cpu, wall) in results.items():
        p50 = percentile(cpu, 50)
        rows.append(
            [
                name,
                len(cpu),
                f"{p50:.3f}",
                f"{percentile(cpu, 95):.3f}",
                f"{cpu[0]:.3f}",
                f"{cpu[-1]:.3f}",
                f"{percentile(wall, 50):.3f}",
                f"{percentile(wall, 95):.3f}",
                f"{p50 / floor:.2f}",
                f"{p50 / detect:.2f}",
            ]
        )
    print()
    print("Cost per frame, ms of thread CPU time (wall clock alongside); ratios are p50 / p50.")
    print()
    print(
        table(
            [
                "variant",
                "n",
                "p50",
                "p95",
                "min",
                "max",
                "wall p50",
                "wall p95",
                "x LK floor",
                "x detect",
            ],
            rows,
        )
    )

    print()
    gray_p50 = percentile(results["to_gray 640x480 yuv420p"][0], 50)
    rate_rows = []
    verdict = True
    for name in ("ours, 1 region", "ours, 5 regions"):
        cpu = results[name][0]
        p50, p95 = percentile(cpu, 50), percentile(cpu, 95)
        ok = p50 <= GOAL_MS
        verdict &= name != "ours, 1 region" or ok
        tmpl = percentile(results[name.replace("ours", "template")][0], 50)
        rate_rows.append(
            [
                name,
                f"{p50:.2f}",
                f"{p95:.2f}",
                "yes" if ok else "NO",
                f"{p50 / tmpl:.2f}",
                f"{1000 / (p50 + gray_p50):.0f}",
                f"{1000 / (p95 + gray_p50):.0f}",
            ]
        )
    print(
        f"Goal: <= {GOAL_MS:g} ms per tracked frame. Update rate on one core = 1000 / "
        "(update + to_gray 640x480), at p50 and at p95 cost."
    )
    print()
    print(
        table(
            [
                "regions",
                "p50 ms",
                "p95 ms",
                "p50 within goal",
                "x template",
                "frames/s at p50",
                "frames/s at p95",
            ],
            rate_rows,
        )
    )

    print()
    print(
        "Accuracy, anchor error as % of the frame diagonal, median / p95 (4 regions, 4 s at "
        "15 fps, 60 frames per clip; the issue's budget is a median of 1.5%):"
    )
    print()
    headers = ["motion", "similarity (default)", "homography", "template baseline"]
    print(table(headers, accuracy(scene, config)))

    if args.phone_seconds:
        scenes = phone_scenes(args.scenes.split(","))
        print()
        print(
            f"Phone-like clips ({args.phone_seconds:g} s at 15 fps; shake, motion blur, rolling "
            "shutter, 3 exposure steps, noise, VP8 800 kbit/s), 5 marks, one on a plain wall. "
            "lost: % of in-view mark-frames reported lost; error: % of the diagonal while not "
            "lost and in view; back in 1 s: returns of an object into view after which the mark "
            "was placed within 1.5% within 15 frames; off: in-view mark-frames drawn (not lost) "
            "over 1.5% of the diagonal from the object. Goals: lost <= 5%, median <= 0.3, "
            "p95 <= 1.5, back >= 80%."
        )
        print()
        print(
            table(
                [
                    "clip",
                    "tracker",
                    "lost",
                    "median err",
                    "p95 err",
                    "back in 1 s",
                    "off",
                    "ms p50 / p95",
                    *(["worst clip p95", "worst clip back"] if args.seeds > 1 else []),
                ],
                phone(args.phone_seconds, config, scenes, args.seeds, trackers),
            )
        )
        print()
        print(
            "Occlusion: a hand (skin-toned, with creases) slides over the first mark's object at "
            "35% of a steady clip and off again at 60%. covered: frames with over half its "
            "region under the hand; greyed: of those, reported lost; off: frames (any) drawn "
            "over 1.5% of the diagonal off its object; back: from the hand's leaving to the "
            "mark placed within 1.5%."
        )
        print()
        print(
            table(
                ["clip", "tracker", "covered", "greyed", "off", "back"],
                occlusion(args.phone_seconds, config, scenes, trackers),
            )
        )
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())

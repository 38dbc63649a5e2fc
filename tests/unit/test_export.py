"""The tutorial export: marks and blur burnt in at the right place and time, trims and cuts
honoured, letterboxing, both formats, cancel. Checked by decoding the output with PyAV."""

from __future__ import annotations

import threading
from pathlib import Path

import av
import numpy as np
import pytest

from tests.support.recordings import decoded, write_resized_webm, write_webm
from videoassist.media.export import Cancelled, ExportError, ExportSpec, export
from videoassist.media.timeline import Blur, Timeline

W, H = 320, 240
SWITCH = 3.0  # the picture turns from dark to bright at this media time


def picture(t: float) -> np.ndarray:
    img = np.full((H, W, 3), 60 if t < SWITCH else 180, np.uint8)
    # a fine checkerboard in the top-left quarter: what a blur must hide
    tile = (np.indices((H // 2, W // 2)).sum(axis=0) // 4 % 2 * 255).astype(np.uint8)
    img[: H // 2, : W // 2] = tile[..., None]
    return img


def red_rect(at: float) -> dict[str, object]:
    return {
        "at": at,
        "kind": "annotate",
        "data": {
            "target": "live",
            "kind": "rect",
            "id": "r1",
            "x": 0.6,
            "y": 0.6,
            "w": 0.3,
            "h": 0.3,
            "color": "#ff0000",
            "width": 6,
            "author": "agent",
            "created_at": at,
        },
    }


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rec") / "customer.webm"
    write_webm(path, picture, start=1.0, seconds=5.0)  # media time 1.0 .. 6.0
    return path


def _redness(img: np.ndarray) -> float:
    """How red the rect's left edge is (x = 0.6 of the width, the middle of its height)."""
    x, y = round(0.6 * img.shape[1]), round(0.75 * img.shape[0])
    b, g, r = (int(v) for v in img[y, x])
    return r - (b + g) / 2


def test_a_mark_appears_at_its_time_and_place_and_a_cut_moves_later_times_up(
    source: Path, tmp_path: Path
) -> None:
    timeline = Timeline.of(6.0, 1.5, 5.5, [(2.0, 2.5)])  # output 0..3.5; 2.0..2.5 removed
    out = tmp_path / "t.mp4"
    result = export(
        ExportSpec(
            video=source,
            output=out,
            format="mp4",
            timeline=timeline,
            audio=(source,),
            events=[red_rect(4.0)],
        )
    )
    assert result.width == W and result.height == H
    frames = decoded(out)
    assert len(frames) == result.frames == round(3.5 * 25)
    mark_out = timeline.to_output(4.0)
    switch_out = timeline.to_output(SWITCH)
    assert mark_out == pytest.approx(2.0) and switch_out == pytest.approx(1.0)
    frame_s = 1 / 25
    for t, img in frames:
        # The switch of brightness is where the timeline says (checked off the checkerboard).
        bright = img[H // 2 + 10, 10].mean() > 120
        if t < switch_out - frame_s:
            assert not bright, t
        if t > switch_out + frame_s:
            assert bright, t
        red = _redness(img) > 80
        if t < mark_out - frame_s:
            assert not red, t
        if t > mark_out + frame_s:
            assert red, t
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"
    assert out.read_bytes()[4:8] == b"ftyp"
    assert out.read_bytes().find(b"moov") < out.read_bytes().find(b"mdat")  # +faststart


def test_marks_not_kept_are_not_drawn(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.mp4"
    spec = ExportSpec(
        video=source,
        output=out,
        format="mp4",
        timeline=Timeline.of(6.0, 4.5),
        events=[red_rect(4.0)],
        keep=frozenset({"other"}),
    )
    export(spec)
    assert all(_redness(img) < 40 for _, img in decoded(out))


def test_the_blur_covers_its_rectangle_while_active_only(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.webm"
    blur = Blur(start=2.0, end=3.0, x=0.0, y=0.0, w=0.5, h=0.5)
    export(
        ExportSpec(
            video=source,
            output=out,
            format="webm",
            timeline=Timeline.of(6.0, 1.0, 4.0),
            audio=(source,),
            blurs=(blur,),
        )
    )
    frames = decoded(out)
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.name in ("vp9", "libvpx-vp9")
        assert container.streams.audio[0].codec_context.name in ("opus", "libopus")
    for t, img in frames:
        detail = float(img[10 : H // 2 - 10, 10 : W // 2 - 10].std())
        if 1.0 + 0.1 < t < 2.0 - 0.1:  # source 2..3: blurred
            assert detail < 20, t
        elif t < 0.9 or t > 2.1:
            assert detail > 60, t


def test_a_change_of_size_midway_is_letterboxed_not_squeezed(tmp_path: Path) -> None:
    src = tmp_path / "customer.webm"
    # One second landscape 320x240 (grey), then one second portrait 240x320 (white).
    write_resized_webm(src, [(320, 240, (128, 128, 128)), (240, 320, (255, 255, 255))])
    out = tmp_path / "o.mp4"
    result = export(
        ExportSpec(video=src, output=out, format="mp4", timeline=Timeline.of(2.0), fps=10)
    )
    assert (result.width, result.height) == (320, 240)  # the canvas: the first kept frame
    frames = decoded(out)
    late = [img for t, img in frames if t >= 1.3]
    assert late
    for img in late:
        # The portrait picture, scaled to 240 high: 180 wide, centred; black bars beside it.
        assert img[120, 160].min() > 200
        assert img[120, 10].max() < 40 and img[120, 310].max() < 40
        assert img[120, 75].min() > 200 and img[120, 245].min() > 200


def test_cancel_stops_the_job_and_leaves_no_file(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.mp4"
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        export(
            ExportSpec(video=source, output=out, format="mp4", timeline=Timeline.of(6.0)),
            cancel=stop,
        )
    assert list(tmp_path.iterdir()) == []


def test_a_missing_source_says_why(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"no customer\.webm"):
        export(
            ExportSpec(
                video=tmp_path / "customer.webm",
                output=tmp_path / "o.mp4",
                format="mp4",
                timeline=Timeline.of(1.0),
            )
        )


def test_progress_is_reported_up_to_the_end(source: Path, tmp_path: Path) -> None:
    seen: list[float] = []
    export(
        ExportSpec(
            video=source, output=tmp_path / "o.mp4", format="mp4", timeline=Timeline.of(6.0, 1.0)
        ),
        progress=seen.append,
    )
    assert seen[-1] == 1.0 and seen == sorted(seen)

"""Synthetic camera clips with known ground truth, generated at test time (no committed media).

A deterministic textured scene (a large grayscale "poster": smoothed noise at several scales,
shapes, checkerboards and text, so there are corners everywhere) is filmed by a virtual camera
that pans, zooms, rotates and tilts. Every frame comes with the 3x3 matrix that maps scene pixel
coordinates to frame pixel coordinates (OpenCV's convention: integer coordinates are pixel
centres), so the true position of any scene point in any frame is known.

Used by tests/unit/test_tracking.py and bench/tracking.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np

FRAME_SIZE = (640, 480)
SCENE_SIZE = (2000, 1600)

Camera = Callable[[float], np.ndarray]
"""Time in 0..1 of the clip -> 3x3 scene-to-frame matrix."""


def textured_scene(seed: int = 0, size: tuple[int, int] = SCENE_SIZE) -> np.ndarray:
    """A grayscale uint8 scene, the same for the same seed."""
    w, h = size
    rng = np.random.default_rng(seed)
    base = np.zeros((h, w), np.float32)
    # Coarse layers are drawn small and scaled up: the same look for a fraction of the cost.
    for sigma, shrink, weight in ((1.5, 1, 0.35), (5.0, 2, 0.4), (24.0, 8, 0.6)):
        small = rng.random((h // shrink, w // shrink), dtype=np.float32)
        layer = cv2.GaussianBlur(small, (0, 0), sigma / shrink)
        layer = cv2.resize(layer, (w, h), interpolation=cv2.INTER_CUBIC)
        layer -= layer.mean()
        base += weight * layer / (layer.std() + 1e-6)
    img = np.clip(128 + 28 * base, 0, 255).astype(np.uint8)

    for _ in range(w * h // 9000):
        kind = rng.integers(0, 4)
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        shade = int(rng.integers(0, 256))
        if kind == 0:
            dx, dy = rng.integers(8, 70, size=2)
            cv2.rectangle(img, (x, y), (x + int(dx), y + int(dy)), shade, -1)
        elif kind == 1:
            cv2.circle(img, (x, y), int(rng.integers(5, 40)), shade, -1, cv2.LINE_AA)
        elif kind == 2:
            x2, y2 = x + int(rng.integers(-90, 90)), y + int(rng.integers(-90, 90))
            cv2.line(img, (x, y), (x2, y2), shade, int(rng.integers(1, 5)), cv2.LINE_AA)
        else:
            text = "".join(chr(int(c)) for c in rng.integers(48, 91, size=int(rng.integers(3, 8))))
            scale = float(rng.uniform(0.6, 1.8))
            cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, shade, 2, cv2.LINE_AA)
    for _ in range(w * h // 120_000):
        x, y = int(rng.integers(0, w - 80)), int(rng.integers(0, h - 80))
        cell = int(rng.integers(6, 16))
        n = int(rng.integers(3, 6))
        for i in range(n):
            for j in range(n):
                if (i + j) % 2 == 0:
                    x0, y0 = x + i * cell, y + j * cell
                    cv2.rectangle(img, (x0, y0), (x0 + cell - 1, y0 + cell - 1), 20, -1)
    # Optics: a real lens never delivers pixel-sharp edges.
    return cv2.GaussianBlur(img, (0, 0), 0.8)


def camera_matrix(
    *,
    pan: tuple[float, float] = (0.0, 0.0),
    zoom: float = 1.0,
    angle_deg: float = 0.0,
    yaw_deg: float = 0.0,
    pitch_deg: float = 0.0,
    scene_size: tuple[int, int] = SCENE_SIZE,
    frame_size: tuple[int, int] = FRAME_SIZE,
    focal: float = 700.0,
) -> np.ndarray:
    """Scene -> frame matrix of a camera looking at the scene centre shifted by ``pan``.

    ``zoom`` > 1 magnifies; ``angle_deg`` rolls the camera; ``yaw_deg``/``pitch_deg`` turn it
    (a perspective change, as when the customer tilts the phone), with ``focal`` in frame pixels.
    With all defaults the scene centre lands on the frame centre at 1:1.
    """
    sw, sh = scene_size
    fw, fh = frame_size
    cx, cy = (sw - 1) / 2 + pan[0], (sh - 1) / 2 + pan[1]
    fx, fy = (fw - 1) / 2, (fh - 1) / 2
    a = math.radians(angle_deg)
    c, s = math.cos(a) * zoom, math.sin(a) * zoom
    similarity = np.array(
        [[c, -s, fx - c * cx + s * cy], [s, c, fy - s * cx - c * cy], [0, 0, 1]], np.float64
    )
    if not yaw_deg and not pitch_deg:
        return similarity
    k = np.array([[focal, 0, fx], [0, focal, fy], [0, 0, 1]], np.float64)
    rotation, _ = cv2.Rodrigues(np.array([math.radians(pitch_deg), math.radians(yaw_deg), 0.0]))
    return k @ rotation @ np.linalg.inv(k) @ similarity


def _wave(t: float, cycles: float = 1.0, phase: float = 0.0) -> float:
    """0 at t=0, smooth, out and back: sin(2*pi*cycles*t + phase) - sin(phase)."""
    return math.sin(2 * math.pi * cycles * t + phase) - math.sin(phase)


MOTIONS: dict[str, Camera] = {
    "pan": lambda t: camera_matrix(pan=(160 * _wave(t), 90 * math.sin(math.pi * t))),
    "zoom": lambda t: camera_matrix(zoom=1.6 ** _wave(t)),
    "rotate": lambda t: camera_matrix(angle_deg=20 * _wave(t)),
    "combined": lambda t: camera_matrix(
        pan=(110 * _wave(t, 0.75), 70 * _wave(t, 0.5)),
        zoom=1.4 ** _wave(t, 1.0, 0.6),
        angle_deg=15 * _wave(t, 0.75, 1.2) + 1.5 * math.sin(2 * math.pi * 7 * t),
    ),
    "tilt": lambda t: camera_matrix(
        yaw_deg=10 * _wave(t), pitch_deg=10 * _wave(t, 0.5), pan=(40 * _wave(t, 0.5), 0)
    ),
}
"""Named camera paths. Each is smooth, starts at the identity view and keeps the middle of the
frame (the 0.3..0.7 box of frame 0) inside the frame throughout."""


@dataclass(frozen=True, slots=True)
class Clip:
    frames: list[np.ndarray]
    """Grayscale uint8 frames, H x W."""
    transforms: list[np.ndarray]
    """Per frame, the 3x3 scene -> frame pixel matrix (ground truth)."""
    fps: float

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.frames[0].shape[:2]
        return w, h

    @property
    def diagonal(self) -> float:
        w, h = self.size
        return math.hypot(w, h)

    def to_scene(self, index: int, frame_points: Sequence[tuple[float, float]]) -> np.ndarray:
        """Scene coordinates of pixel positions in frame ``index``."""
        pts = np.asarray(frame_points, np.float64).reshape(-1, 1, 2)
        return cv2.perspectiveTransform(pts, np.linalg.inv(self.transforms[index])).reshape(-1, 2)

    def project(self, index: int, scene_points: np.ndarray) -> np.ndarray:
        """Pixel positions in frame ``index`` of scene points (N x 2)."""
        pts = np.asarray(scene_points, np.float64).reshape(-1, 1, 2)
        return cv2.perspectiveTransform(pts, self.transforms[index]).reshape(-1, 2)


def render_clip(
    motion: str | Camera,
    *,
    seconds: float = 4.0,
    fps: float = 15.0,
    frame_size: tuple[int, int] = FRAME_SIZE,
    noise: float = 2.0,
    seed: int = 0,
    scene: np.ndarray | None = None,
) -> Clip:
    """Film ``scene`` (default: ``textured_scene(seed)``) along a named or given camera path.

    ``fps`` is the rate the tracker sees (the server decodes at a reduced rate, 10-15 fps), so
    the motion between two frames is what a real camera does in 1/fps seconds. ``noise`` is the
    standard deviation of per-frame sensor noise in gray levels (seeded, so clips are identical
    run to run).
    """
    camera = MOTIONS[motion] if isinstance(motion, str) else motion
    if scene is None:
        scene = textured_scene(seed)
    n = max(2, round(seconds * fps))
    rng = np.random.default_rng(seed + 1)
    fw, fh = frame_size
    # One field of grain, cropped at a random offset per frame: drawing fresh Gaussian noise for
    # every frame would cost more than the rendering.
    grain = rng.normal(0.0, noise, (fh + 64, fw + 64)).round().astype(np.int16)
    frames, transforms = [], []
    for i in range(n):
        h = camera(i / (n - 1))
        frame = cv2.warpPerspective(
            scene, h, frame_size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        if noise:
            ox, oy = rng.integers(0, 64, size=2)
            noisy = frame.astype(np.int16) + grain[oy : oy + fh, ox : ox + fw]
            frame = np.clip(noisy, 0, 255).astype(np.uint8)
        frames.append(frame)
        transforms.append(h)
    return Clip(frames=frames, transforms=transforms, fps=fps)


def region_box(
    centre: tuple[float, float], size: tuple[float, float] = (0.16, 0.16)
) -> tuple[float, float, float, float]:
    """A normalized (x, y, w, h) box centred on a normalized point."""
    return (centre[0] - size[0] / 2, centre[1] - size[1] / 2, size[0], size[1])


# -- a hand-held phone camera ----------------------------------------------------------------------
# Two kinds of scene: the textured poster above with a plain wall painted in (the low-texture
# areas a real room has and the poster lacks), and natural photographs that scikit-image ships
# inside its wheel (``skimage/data``; the test extra pins it). The photographs are read from the
# installed package's files, so nothing is downloaded and scikit-image itself is not imported.

WALL = (1060, 480, 1450, 770)
"""Scene px (x0, y0, x1, y1) of a plain, softly shaded wall."""


def room_scene(seed: int = 0) -> np.ndarray:
    return _paint_wall(textured_scene(seed).copy())


def _paint_wall(scene: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = WALL
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    shade = 150 + 25 * np.sin(xx / 300) + 15 * np.cos(yy / 200)
    scene[y0:y1, x0:x1] = np.clip(shade, 0, 255).astype(np.uint8)
    return cv2.GaussianBlur(scene, (0, 0), 0.8)


PHOTOS = {
    "coffee": "coffee.png",
    "astronaut": "astronaut.png",
    "motorcycle": "motorcycle_left.png",
    "rocket": "rocket.jpg",
    "chelsea": "chelsea.png",
}
"""Photographs bundled in scikit-image's wheel (no download): name -> file in skimage/data."""


def photo_path(name: str) -> str:
    """Where the installed scikit-image keeps photograph ``name`` (see ``PHOTOS``). Raises
    LookupError when scikit-image is not installed (it is in the ``test`` extra)."""
    import importlib.util
    import os

    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise LookupError("scikit-image is not installed: pip install -e '.[test]'")
    for folder in spec.submodule_search_locations:
        path = os.path.join(folder, "data", PHOTOS[name])
        if os.path.exists(path):
            return path
    raise LookupError(f"this scikit-image has no {PHOTOS[name]} in its wheel")


def photo_scene(name: str, size: tuple[int, int] = SCENE_SIZE) -> np.ndarray:
    """A room scene from a natural photograph: the photo (grayscale) scaled to cover ``size`` and
    cropped to its middle, as a phone held close to a print sees it, with the plain wall of
    ``room_scene`` painted in at ``WALL`` so a mark can sit on a flat area here too."""
    img = cv2.imread(photo_path(name), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise LookupError(f"could not decode {PHOTOS[name]}")
    sw, sh = size
    h, w = img.shape
    k = max(sw / w, sh / h)
    big = cv2.resize(img, (math.ceil(w * k), math.ceil(h * k)), interpolation=cv2.INTER_CUBIC)
    y0, x0 = (big.shape[0] - sh) // 2, (big.shape[1] - sw) // 2
    scene = np.ascontiguousarray(big[y0 : y0 + sh, x0 : x0 + sw])
    return _paint_wall(scene)


def _shake(t: float, seed: int) -> tuple[float, float, float]:
    """Hand tremor in scene px and degrees: a few incommensurate sines, 1-6 Hz."""
    rng = np.random.default_rng(seed)
    f = rng.uniform(1.0, 6.0, (3, 3))
    p = rng.uniform(0, 2 * math.pi, (3, 3))
    amp = (4.0, 3.0, 0.4)
    return tuple(  # type: ignore[return-value]
        amp[k] * sum(math.sin(2 * math.pi * f[k, j] * t + p[k, j]) for j in range(3)) / 3
        for k in range(3)
    )


def phone_path(kind: str, seconds: float, seed: int = 0) -> Callable[[float], np.ndarray]:
    """Seconds -> scene-to-frame matrix. ``"steady"``: held still with shake; ``"away"``: pans
    well away (the marks leave the view) around the middle of the clip and comes back."""

    def camera(ts: float) -> np.ndarray:
        t = ts / seconds
        dx, dy, da = _shake(ts, seed)
        pan_x = 0.0
        if kind == "away":
            # Out between 30% and 45% of the clip, away until 55%, back by 70%.
            u = min(max((t - 0.3) / 0.15, 0.0), 1.0) - min(max((t - 0.55) / 0.15, 0.0), 1.0)
            pan_x = 900 * (0.5 - 0.5 * math.cos(math.pi * u))
        return camera_matrix(
            pan=(pan_x + 30 * _wave(t, 0.5) + dx, 20 * _wave(t, 0.7) + dy),
            zoom=1.1 ** _wave(t, 0.5),
            angle_deg=4 * _wave(t, 0.6) + da,
        )

    return camera


def phone_clip(
    kind: str,
    *,
    seconds: float = 10.0,
    fps: float = 15.0,
    seed: int = 0,
    scene: np.ndarray | None = None,
    exposure_steps: bool = True,
    noise: float = 3.0,
    light: float = 1.0,
    bitrate: int | None = 800_000,
) -> Clip:
    """A clip as the server sees a phone's camera: motion blur (three sub-frames over a 1/30 s
    exposure), rolling shutter (rows read over 25 ms, in four bands), auto-exposure steps (gain
    ramps over 0.2 s, with a white-balance-like offset), sensor noise, then VP8 at ``bitrate``.
    ``light`` below 1 is a dim room: the picture darker and flatter (noise stays as it is)
    (PyAV's libvpx, decoded again). Ground truth is the camera at the middle of each frame's
    exposure and read-out."""
    if scene is None:
        scene = room_scene(seed)
    camera = phone_path(kind, seconds, seed)
    fw, fh = FRAME_SIZE
    n = round(seconds * fps)
    rng = np.random.default_rng(seed + 2)
    bands = 4
    exposure, readout = 1 / 30, 0.025

    def gain(ts: float) -> tuple[float, float]:
        if not exposure_steps:
            return 1.0, 0.0
        g, o = 1.0, 0.0
        for at, dg, do in ((0.2, 0.55, 10.0), (0.5, -0.6, -15.0), (0.8, 0.35, 5.0)):
            u = min(max((ts / seconds - at) * seconds / 0.2, 0.0), 1.0)
            g, o = g + dg * u, o + do * u
        return g, o

    frames, transforms = [], []
    for i in range(n):
        ts = i / fps
        acc = np.zeros((fh, fw), np.float32)
        for s in range(3):
            for b in range(bands):
                row_t = ts + exposure * (s / 2 - 0.5) + readout * ((b + 0.5) / bands - 0.5)
                y0, y1 = fh * b // bands, fh * (b + 1) // bands
                shift = np.array([[1, 0, 0], [0, 1, -y0], [0, 0, 1]], np.float64)
                band = cv2.warpPerspective(
                    scene, shift @ camera(row_t), (fw, y1 - y0), flags=cv2.INTER_LINEAR
                )
                acc[y0:y1] += band
        g, o = gain(ts)
        img = acc / 3 * g * light + o + rng.normal(0, noise, acc.shape).astype(np.float32)
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
        transforms.append(camera(ts))
    if bitrate:
        frames = _vp8(frames, fps, bitrate)
    return Clip(frames=frames, transforms=transforms, fps=fps)


def _vp8(frames: list[np.ndarray], fps: float, bitrate: int) -> list[np.ndarray]:
    import av  # only the phone clips need it

    enc = av.CodecContext.create("libvpx", "w")
    h, w = frames[0].shape
    enc.width, enc.height, enc.pix_fmt = w, h, "yuv420p"
    enc.bit_rate = bitrate
    enc.framerate = Fraction(round(fps))
    enc.time_base = Fraction(1, round(fps))
    # "good" and one thread: "realtime" adapts its effort to the wall clock, and a busy machine
    # would then get other clips (and other figures) than an idle one.
    enc.options = {"deadline": "good", "cpu-used": "5", "lag-in-frames": "0", "threads": "1"}
    enc.thread_count = 1
    dec = av.CodecContext.create("libvpx", "r")
    out: list[np.ndarray] = []
    for i, f in enumerate([*frames, None]):
        if f is None:
            packets = enc.encode(None)
        else:
            rgb = cv2.cvtColor(f, cv2.COLOR_GRAY2RGB)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            packets = enc.encode(frame)
        for p in packets:
            for d in dec.decode(p):
                out.append(d.to_ndarray(format="gray"))
    return out[: len(frames)]


# -- a hand over the object ------------------------------------------------------------------------


def hand_over(
    clip: Clip,
    box: tuple[float, float, float, float],
    covered: tuple[float, float],
    slide: float = 0.3,
    seed: int = 5,
) -> tuple[Clip, list[float]]:
    """``clip`` with a hand (a palm and its arm up from the bottom edge, skin-toned with some
    texture of its own: knuckles and creases give it corners) that slides in over the object
    under ``box`` (normalized, first frame), covers it from ``covered[0]`` to ``covered[1]``
    seconds and slides back out, ``slide`` seconds each way. The hand follows the object while
    over it, as a hand resting on it would. Returns the clip and, per frame, the share of the
    box the hand covers (ground truth for "occluded")."""
    fw, fh = clip.size
    x, y, w, h = box
    grid = [
        ((x + w * i / 4) * fw - 0.5, (y + h * j / 4) * fh - 0.5) for i in range(5) for j in range(5)
    ]
    truth = clip.to_scene(0, grid)
    rng = np.random.default_rng(seed)
    skin = cv2.GaussianBlur(rng.normal(0.0, 1.0, (fh, fw)).astype(np.float32), (0, 0), 3.0)
    skin = 165.0 + 18.0 * skin / float(skin.std())
    for k in range(6):  # creases
        yy = int(fh * (0.2 + 0.1 * k))
        cv2.line(skin, (0, yy), (fw - 1, yy + 25), 120.0, 3, cv2.LINE_AA)
    palm_rx, palm_ry = w * fw * 0.85, h * fh * 0.85
    frames, shares = [], []
    for k, frame in enumerate(clip.frames):
        t = k / clip.fps
        u = min(max((t - covered[0] + slide) / slide, 0.0), 1.0) - min(
            max((t - covered[1]) / slide, 0.0), 1.0
        )
        centre = clip.project(k, truth).mean(0)
        cx, cy = centre[0], centre[1] + (1.0 - u) * (fh + palm_ry - centre[1] + 10)
        mask = np.zeros((fh, fw), np.uint8)
        if u > 0:
            cv2.ellipse(
                mask, (round(cx), round(cy)), (round(palm_rx), round(palm_ry)), 0, 0, 360, 255, -1
            )
            cv2.rectangle(
                mask,
                (round(cx - palm_rx * 0.7), round(cy)),
                (round(cx + palm_rx * 0.7), fh),
                255,
                -1,
            )
        mask = cv2.GaussianBlur(mask, (0, 0), 1.5)
        a = mask.astype(np.float32) / 255.0
        frames.append(np.clip(frame * (1 - a) + skin * a, 0, 255).astype(np.uint8))
        p = np.round(clip.project(k, truth)).astype(int)
        inside = (p[:, 0] >= 0) & (p[:, 0] < fw) & (p[:, 1] >= 0) & (p[:, 1] < fh)
        hit = [inside[i] and mask[p[i, 1], p[i, 0]] > 127 for i in range(len(p))]
        shares.append(float(np.mean(hit)))
    return Clip(frames=frames, transforms=clip.transforms, fps=clip.fps), shares

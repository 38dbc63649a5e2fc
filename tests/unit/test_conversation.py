"""Conversation analytics (videoassist/media/conversation.py) on recordings made here: two
parties' speech-like voices on known schedules, in a room with hiss and mains hum, encoded
with PyAV's Opus into WebM files stamped on one media clock as the recorder stamps them."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from videoassist.media.conversation import analyse, analyse_call, voice_of

RATE = 48000
PACKET = 960  # 20 ms


def speech(rng: np.random.Generator, seconds: float, f0: float, level: float) -> np.ndarray:
    """Voiced sound like a talker's: harmonics of a wandering pitch, shaped by syllables (4 to
    6 a second, each with a short dip after it), at ``level`` dBFS peak."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    pitch = f0 * (1 + 0.08 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6)))
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 16))
    envelope = np.zeros(n)
    at = 0
    while at < n:
        syllable = int(rng.uniform(0.12, 0.22) * RATE)
        gap = int(rng.uniform(0.03, 0.07) * RATE)
        shape = np.sin(np.linspace(0, np.pi, min(syllable, n - at))) ** 0.5
        envelope[at : at + len(shape)] = shape * rng.uniform(0.6, 1.0)
        at += syllable + gap
    out = voiced * envelope
    return out / np.abs(out).max() * 10 ** (level / 20)


def room(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """A room: hiss at about -50 dBFS and 50 Hz mains hum at -40 dBFS."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    return rng.normal(0, 10 ** (-50 / 20), n) + 10 ** (-40 / 20) * np.sin(2 * np.pi * 50 * t)


def recording(
    path: Path,
    start: float,
    seconds: float,
    talks: list[tuple[float, float]],
    f0: float,
    seed: int,
    level: float = -12.0,
) -> None:
    """A party's file: ``talks`` (seconds from ``start``) over a room, Opus in WebM, packets
    stamped ``start`` + their time, as the recorder stamps them with the media clock."""
    rng = np.random.default_rng(seed)
    signal = room(rng, seconds)
    for a, b in talks:
        signal[int(a * RATE) : int(a * RATE) + int((b - a) * RATE)] += speech(rng, b - a, f0, level)
    pcm = np.clip(signal * 32767, -32768, 32767).astype(np.int16)
    with av.open(str(path), "w", format="webm") as out:
        stream = out.add_stream("libopus", rate=RATE, layout="stereo")
        stream.bit_rate = 32000
        first = round(start * RATE)
        for k in range(len(pcm) // PACKET):
            chunk = pcm[k * PACKET : (k + 1) * PACKET]
            frame = av.AudioFrame.from_ndarray(
                np.repeat(chunk, 2).reshape(1, -1), format="s16", layout="stereo"
            )
            frame.sample_rate = RATE
            frame.pts = first + k * PACKET
            frame.time_base = Fraction(1, RATE)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def test_talk_overlap_and_the_longest_silence_of_a_call(tmp_path: Path) -> None:
    """Agent talks 0.5-3.0 s and 6.0-8.0 s of the call, the customer 2.6-5.0 s and 9.0-10.0 s
    (their file starts 0.3 s later on the media clock): 4.5 s and 3.4 s of talk, 0.4 s over
    each other, and the longest silence 10-12 s (2 s) against 1 s gaps elsewhere."""
    recording(tmp_path / "agent.webm", 100.0, 12.0, [(0.5, 3.0), (6.0, 8.0)], 120.0, 1)
    recording(tmp_path / "customer.webm", 100.3, 11.7, [(2.3, 4.7), (8.7, 9.7)], 210.0, 2)
    figures = analyse_call(tmp_path)
    assert figures is not None
    assert figures["agent_talk"] == pytest.approx(4.5, abs=0.5)
    assert figures["customer_talk"] == pytest.approx(3.4, abs=0.5)
    assert figures["overlap"] == pytest.approx(0.4, abs=0.3)
    assert figures["longest_silence"] == pytest.approx(2.0, abs=0.35)
    assert figures["talk_ratio"] == pytest.approx(4.5 / 7.9, abs=0.05)
    assert figures["analysed"] == pytest.approx(12.0, abs=0.1)


def test_a_quiet_talker_counts_and_the_rooms_hiss_and_hum_do_not(tmp_path: Path) -> None:
    """The floor is each party's own room: a customer 24 dB quieter than the agent (a phone
    held away) still counts, and neither room's hiss nor its mains hum counts as talk."""
    recording(tmp_path / "agent.webm", 50.0, 8.0, [(1.0, 3.0)], 130.0, 3, level=-6.0)
    recording(tmp_path / "customer.webm", 50.0, 8.0, [(4.0, 6.0)], 190.0, 4, level=-30.0)
    figures = analyse_call(tmp_path)
    assert figures is not None
    assert figures["agent_talk"] == pytest.approx(2.0, abs=0.4)
    assert figures["customer_talk"] == pytest.approx(2.0, abs=0.4)
    assert figures["overlap"] == pytest.approx(0.0, abs=0.1)


def test_nobody_talking_is_all_silence_and_no_ratio(tmp_path: Path) -> None:
    recording(tmp_path / "agent.webm", 10.0, 4.0, [], 120.0, 5)
    figures = analyse(voice_of(tmp_path / "agent.webm"), voice_of(tmp_path / "missing.webm"))
    assert figures is not None
    assert figures["agent_talk"] == pytest.approx(0.0, abs=0.1)
    assert figures["talk_ratio"] is None
    assert figures["longest_silence"] == pytest.approx(4.0, abs=0.1)
    assert analyse(None, None) is None

"""Conversation analytics of a recorded call: who talked how much, over whom, and the longest
silence, from the two parties' recorded voices. Pure and blocking: run it in a thread.

Theory of operation
-------------------
A recording is one WebM file per party (``media/recorder.py``), its Opus packets stamped with
the call's media clock, so the two files line up without any offset. Each file's voice is
decoded with PyAV and cut into 20 ms frames (one Opus packet each, as WebRTC sends them) on a
grid shared by both parties.

Voice activity, per party, is an energy detector made for a phone's microphone in a room:

* energy of each frame in dB of full scale within the voice band (``BAND``: 100 Hz to 4 kHz,
  from the frame's spectrum), so that hum and rumble (mains, traffic, handling noise) below it
  and hiss above it cannot pass for a voice;
* against an adaptive noise floor: the quietest frame within ``FLOOR_WINDOW`` seconds around it
  (speech has gaps between syllables and words, so the minimum over a few seconds is the room,
  not the speaker), so a noisy room and a quiet one are judged alike;
* a frame is voice when it is ``ABOVE_FLOOR`` dB over that floor and above ``ABSOLUTE_GATE``
  (digital silence and comfort noise never count); bursts shorter than ``MIN_BURST`` are dropped
  (a click, a cough of the codec), and voice is held ``HANGOVER`` past its last loud frame, which
  bridges the dips between syllables.

Figures over the frames where anything was recorded (a paused recording has no packets from
either party; those frames count for nothing):

* ``agent_talk`` and ``customer_talk``: seconds of voice;
* ``talk_ratio``: the agent's share of the talking, 0..1 (``None`` when nobody spoke);
* ``overlap``: seconds both spoke at once;
* ``longest_silence``: the longest stretch in seconds where neither spoke.

Calls without a recording have no figures: no audio is kept without the customer's consent,
and analytics never keep what a recording would not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

FRAME = 0.02  # seconds: one Opus packet as WebRTC sends them
BAND = (100.0, 4000.0)  # Hz: where a voice's energy is, and little of a room's
FLOOR_WINDOW = 3.0  # seconds of frames the noise floor is the minimum of
ABOVE_FLOOR = 10.0  # dB over the floor for a frame to be voice
ABSOLUTE_GATE = -55.0  # dBFS: quieter than this is never voice
MIN_BURST = 0.06  # seconds: shorter runs of loud frames are not voice
HANGOVER = 0.2  # seconds voice is held after its last loud frame
METHOD = "energy-vad-1"  # named in the stored figures, so a later detector is told apart


@dataclass(frozen=True, slots=True)
class Voice:
    """One party's voice on the 20 ms grid: ``start`` (media seconds) of frame 0, and per frame
    whether anything was recorded and whether it was voice."""

    start: float
    recorded: np.ndarray  # bool
    voice: np.ndarray  # bool


def voice_of(path: Path) -> Voice | None:
    """The voice in a party's recording (``None``: no file or no audio in it)."""
    if not path.exists():
        return None
    times: list[float] = []
    levels: list[float] = []
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            if frame.time is None or not frame.samples:
                continue
            raw = frame.to_ndarray()
            samples = raw.astype(np.float64)
            if frame.format.is_planar:
                mono = samples.mean(axis=0)
            else:
                mono = samples.reshape(-1, frame.layout.nb_channels).mean(axis=1)
            if np.issubdtype(raw.dtype, np.integer):
                mono = mono / 32768.0
            times.append(float(frame.time))
            levels.append(_band_level(mono, frame.sample_rate))
    if not times:
        return None
    start = times[0]
    index = np.rint((np.array(times) - start) / FRAME).astype(int)
    size = int(index.max()) + 1
    energy = np.full(size, -200.0)
    recorded = np.zeros(size, bool)
    energy[index] = levels
    recorded[index] = True
    return Voice(start, recorded, _detect(energy, recorded))


def _band_level(mono: np.ndarray, rate: int) -> float:
    """dBFS of the part of ``mono`` within ``BAND`` (Hann window, Parseval)."""
    window = np.hanning(len(mono))
    spectrum = np.abs(np.fft.rfft(mono * window)) ** 2
    freqs = np.fft.rfftfreq(len(mono), 1.0 / rate)
    band = (freqs >= BAND[0]) & (freqs <= BAND[1])
    power = 2.0 * float(spectrum[band].sum()) / (len(mono) * float((window * window).sum()))
    return 10.0 * math.log10(max(power, 1e-18))


def _detect(energy: np.ndarray, recorded: np.ndarray) -> np.ndarray:
    half = max(int(FLOOR_WINDOW / FRAME / 2), 1)
    quiet = np.where(recorded, energy, np.inf)
    padded = np.pad(quiet, half, constant_values=np.inf)
    floor = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1).min(axis=1)
    floor = np.where(np.isfinite(floor), floor, ABSOLUTE_GATE)
    loud = recorded & (energy > floor + ABOVE_FLOOR) & (energy > ABSOLUTE_GATE)
    loud = _drop_short(loud, max(round(MIN_BURST / FRAME), 1))
    return _hold(loud, round(HANGOVER / FRAME)) & recorded


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def _drop_short(mask: np.ndarray, shortest: int) -> np.ndarray:
    out = mask.copy()
    for a, b in _runs(mask):
        if b - a < shortest:
            out[a:b] = False
    return out


def _hold(mask: np.ndarray, frames: int) -> np.ndarray:
    out = mask.copy()
    for _, b in _runs(mask):
        out[b : b + frames] = True
    return out


def analyse(agent: Voice | None, customer: Voice | None) -> dict[str, Any] | None:
    """The call's figures from both parties' voices (``None``: no audio from either)."""
    voices = [v for v in (agent, customer) if v is not None]
    if not voices:
        return None
    start = min(v.start for v in voices)
    size = max(round((v.start - start) / FRAME) + len(v.voice) for v in voices)

    def placed(v: Voice | None) -> tuple[np.ndarray, np.ndarray]:
        recorded, voice = np.zeros(size, bool), np.zeros(size, bool)
        if v is not None:
            at = round((v.start - start) / FRAME)
            recorded[at : at + len(v.voice)] = v.recorded
            voice[at : at + len(v.voice)] = v.voice
        return recorded, voice

    agent_recorded, agent_voice = placed(agent)
    customer_recorded, customer_voice = placed(customer)
    recorded = agent_recorded | customer_recorded
    agent_talk = float(agent_voice.sum()) * FRAME
    customer_talk = float(customer_voice.sum()) * FRAME
    talking = agent_talk + customer_talk
    silent = recorded & ~agent_voice & ~customer_voice
    longest = max((b - a for a, b in _runs(silent)), default=0) * FRAME
    return {
        "method": METHOD,
        "analysed": round(float(recorded.sum()) * FRAME, 2),
        "agent_talk": round(agent_talk, 2),
        "customer_talk": round(customer_talk, 2),
        "talk_ratio": round(agent_talk / talking, 3) if talking else None,
        "overlap": round(float((agent_voice & customer_voice).sum()) * FRAME, 2),
        "longest_silence": round(longest, 2),
    }


def analyse_call(folder: Path) -> dict[str, Any] | None:
    """Blocking: the figures of the recording in ``folder`` (``agent.webm``, ``customer.webm``)."""
    return analyse(voice_of(folder / "agent.webm"), voice_of(folder / "customer.webm"))

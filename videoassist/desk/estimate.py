"""Wait estimates: an honest range for each customer, Erlang C for the queue.

For the queue as a whole (admins' and supervisors' views, metrics), the expected wait for a new
arrival (``QueueStats.expected_wait``): Erlang C's average speed of answer from the recent
arrival rate, the recent average handle time and the agents staffed, or the average of recent
waits while there is too little history for the model (``history`` says how much there is).

For a customer in line, a range (``WaitRange``) rather than a number: a single number behaves
like a median, so half the customers wait past it and read it as a broken promise. The model:
a customer at position k, with r agents Ready, needs m = k - r agents to free up; with N agents
staffed and an average handle time AHT, agents free up at about N / AHT per second, so the wait
is roughly Erlang (gamma) distributed with shape m and that rate. Its quantiles come from the
Wilson-Hilferty cube-root transform (``erlang_quantile``), which is O(1) for any m.

The model is then calibrated on the queue's own history, per queue: when a customer who was
given a range is answered, the wait they actually had is turned back into a score on the
model's own scale (``erlang_score``: 0 at the model's median, ±1.28 at its p10/p90 if the model
were right). The range shown is the model's quantiles at the ``LOW_QUANTILE`` and
``HIGH_QUANTILE`` of the recent scores. That corrects a handle time that runs high or low, a
spread wider than the exponential's, the first customer's wait being shortened by calls already
well under way, and the like, without having to model each. With fewer than ``MIN_SCORES``
scores the model's own, wider band is used. The old point estimate (``position_wait``) stays
for the wire's ``estimated_wait`` and as the baseline in ``bench/simulated_day.py``.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass

MIN_HISTORY = 10  # handled sessions and arrivals before Erlang C is trusted
MIN_SCORES = 20  # answered customers' scores before the range is calibrated on them
SCORE_WINDOW = 300  # the most recent scores the calibration uses
LOW_QUANTILE, HIGH_QUANTILE = 0.02, 0.95  # of the scores: what the range's ends stand on
PRIOR_BAND = (-1.75, 1.75)  # the model's p4-p96, while there is no history to go by


@dataclass(frozen=True, slots=True)
class WaitRange:
    """What a waiting customer is told. ``kind``: ``range`` (about ``low`` to ``high`` seconds),
    ``ringing`` (an agent is being rung for them: connecting now), ``free`` (an agent is free
    for them at once) or ``unstaffed`` (nobody who can take the queue is signed in)."""

    kind: str
    low: float | None = None
    high: float | None = None

    def wire(self) -> dict[str, object]:
        return {"kind": self.kind, "low": self.low, "high": self.high}


def erlang_quantile(departures: int, rate: float, score: float) -> float:
    """The time until ``departures`` agents free up at ``rate`` per second, at the quantile
    whose normal score is ``score`` (Wilson-Hilferty: the cube root of a chi-square with 2m
    degrees of freedom is nearly normal, already good to a few percent at m = 1)."""
    nu = 2.0 * departures
    spread = math.sqrt(2.0 / (9.0 * nu))
    root = max(0.0, 1.0 - 2.0 / (9.0 * nu) + score * spread)
    return nu * root**3 / (2.0 * rate)


def erlang_score(departures: int, rate: float, wait: float) -> float:
    """The inverse of ``erlang_quantile``: where ``wait`` falls on the model's normal scale."""
    nu = 2.0 * departures
    spread = math.sqrt(2.0 / (9.0 * nu))
    root: float = (2.0 * rate * max(0.0, wait) / nu) ** (1.0 / 3.0)
    return (root - 1.0 + 2.0 / (9.0 * nu)) / spread


def _quantile(ordered: list[float], q: float) -> float:
    """Linear interpolation between the closest ranks of a sorted list."""
    at = q * (len(ordered) - 1)
    below = math.floor(at)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (at - below)


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that an arrival waits (Erlang C), for ``traffic`` Erlangs on ``agents``."""
    if agents <= 0:
        return 1.0
    if traffic <= 0:
        return 0.0
    if traffic >= agents:
        return 1.0
    # Erlang B by its stable recurrence, then C from B.
    b = 1.0
    for k in range(1, agents + 1):
        b = traffic * b / (k + traffic * b)
    return agents * b / (agents - traffic * (1 - b))


def erlang_c_asa(agents: int, traffic: float, handle: float) -> float | None:
    """Average speed of answer in seconds; None when the queue cannot keep up."""
    if agents <= 0 or traffic >= agents:
        return None
    return erlang_c(agents, traffic) * handle / (agents - traffic)


def erlang_c_service_level(agents: int, traffic: float, handle: float, threshold: float) -> float:
    """Share of arrivals answered within ``threshold`` seconds."""
    if agents <= 0 or traffic >= agents:
        return 0.0
    return 1.0 - erlang_c(agents, traffic) * math.exp(-(agents - traffic) * threshold / handle)


class QueueStats:
    def __init__(self, *, default_handle: float = 180.0, window: int = 50) -> None:
        self.default_handle = default_handle
        self._handles: deque[float] = deque(maxlen=window)
        self._waits: deque[float] = deque(maxlen=window)
        self._arrivals: deque[float] = deque(maxlen=window)
        self._scores: deque[float] = deque(maxlen=SCORE_WINDOW)
        self._sorted_scores: list[float] = []  # the same, kept sorted for the quantiles
        self.band = PRIOR_BAND  # the scores the range's ends are drawn at
        self._handle_sum = 0.0
        self._handle_estimate = default_handle
        self.offered = 0
        self.answered = 0
        self.answered_in_level = 0
        self.abandoned = 0

    def arrived(self, at: float) -> None:
        self._arrivals.append(at)
        self.offered += 1

    def answered_after(self, wait: float, service_level: float) -> None:
        self._waits.append(wait)
        self.answered += 1
        if wait <= service_level:
            self.answered_in_level += 1

    def handled(self, seconds: float) -> None:
        if seconds < 0:
            return
        if len(self._handles) == self._handles.maxlen:
            self._handle_sum -= self._handles[0]
        self._handles.append(seconds)
        self._handle_sum += seconds
        self._estimate_handle()

    def scored(self, departures: int, rate: float, wait: float) -> None:
        """A customer told a range for ``departures`` at ``rate`` was answered after ``wait``
        seconds from then: the calibration learns from it."""
        ordered = self._sorted_scores
        if len(self._scores) == self._scores.maxlen:
            del ordered[bisect_left(ordered, self._scores[0])]
        score = erlang_score(departures, rate, wait)
        self._scores.append(score)
        insort(ordered, score)
        if len(ordered) >= MIN_SCORES:
            self.band = (_quantile(ordered, LOW_QUANTILE), _quantile(ordered, HIGH_QUANTILE))

    def service_rate(self, staffed: int) -> float:
        """Agents freeing up per second with ``staffed`` agents (> 0) on the queue."""
        return staffed / self.handle_estimate

    def wait_range(self, departures: int, staffed: int) -> tuple[float, float]:
        """(low, high) seconds until ``departures`` (≥ 1) agents free up; O(1).
        ``erlang_quantile`` at both ends of the band, written out: an announcement computes
        this for every customer in line."""
        nu = 2.0 * departures
        k = 2.0 / (9.0 * nu)
        spread = math.sqrt(k)
        scale = nu * self._handle_estimate / (2.0 * staffed)
        low_root = 1.0 - k + self.band[0] * spread
        high_root = 1.0 - k + self.band[1] * spread
        low = scale * low_root**3 if low_root > 0.0 else 0.0
        high = scale * high_root**3 if high_root > 0.0 else 0.0  # the band is ordered
        return float(math.floor(low)), float(math.ceil(high))

    @property
    def history(self) -> dict[str, int]:
        """How much the estimates stand on: handle times and arrivals in the window (Erlang C
        needs ``MIN_HISTORY`` of each), and answered customers' scores (the ranges need
        ``MIN_SCORES``)."""
        return {
            "handled": len(self._handles),
            "arrivals": len(self._arrivals),
            "scored": len(self._scores),
        }

    @property
    def handle_estimate(self) -> float:
        """The handle time the ranges and Erlang C use: the recent average, pulled towards the
        default while there are fewer than ``MIN_HISTORY`` handled calls (one short call must
        not make the queue look ten times faster); the plain average from then on."""
        return self._handle_estimate

    def _estimate_handle(self) -> None:
        missing = max(0, MIN_HISTORY - len(self._handles))
        total = self._handle_sum + missing * self.default_handle
        self._handle_estimate = total / (len(self._handles) + missing)

    @property
    def average_handle(self) -> float:
        return self._handle_sum / len(self._handles) if self._handles else self.default_handle

    def arrival_rate(self, now: float) -> float | None:
        """Arrivals per second over the recent window, or None with too little history."""
        if len(self._arrivals) < MIN_HISTORY:
            return None
        span = max(now, self._arrivals[-1]) - self._arrivals[0]
        return (len(self._arrivals) - 1) / span if span > 0 else None

    def expected_wait(self, staffed: int, now: float) -> float | None:
        """Expected wait for a customer joining now; None when nobody is staffed."""
        if staffed <= 0:
            return None
        rate = self.arrival_rate(now)
        if rate is not None and len(self._handles) >= MIN_HISTORY:
            handle = self.handle_estimate  # the plain average here: MIN_HISTORY are in
            asa = erlang_c_asa(staffed, rate * handle, handle)
            if asa is not None:
                return round(asa, 1)
        if self._waits:
            return round(sum(self._waits) / len(self._waits), 1)
        return 0.0

    def position_wait(self, position: int, staffed: int) -> float | None:
        """Estimate for the customer at ``position`` (1 = next); None when nobody is staffed."""
        if staffed <= 0:
            return None
        return round(((position - 1) + 0.5) * self.average_handle / staffed, 1)

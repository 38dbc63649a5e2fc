"""Wait estimates: Erlang C once a queue has history, a moving average before that.

Two numbers matter to a customer. Before they join, the queue's expected wait for a new arrival
(``QueueStats.expected_wait``): Erlang C's average speed of answer from the recent arrival rate,
the recent average handle time and the agents staffed, or the average of recent waits while
there is too little history for the model. Once they are in line, their own estimate from their
position (``position_wait``): the customers ahead drain at N agents / AHT.
"""

from __future__ import annotations

import math
from collections import deque

MIN_HISTORY = 10  # handled sessions and arrivals before Erlang C is trusted


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
        self._handle_sum = 0.0
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
            asa = erlang_c_asa(staffed, rate * self.average_handle, self.average_handle)
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

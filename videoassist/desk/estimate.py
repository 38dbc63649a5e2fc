"""Estimated wait: a moving average of recent handle times spread over the staffed agents.

Erlang C arrives with the routing engine; this is the walking skeleton's honest first guess.
"""

from __future__ import annotations

from collections import deque


class WaitEstimator:
    def __init__(self, *, window: int = 20, default_handle: float = 180.0) -> None:
        self._handles: deque[float] = deque(maxlen=window)
        self._default = default_handle

    def record_handle(self, seconds: float) -> None:
        if seconds >= 0:
            self._handles.append(seconds)

    @property
    def average_handle(self) -> float:
        if not self._handles:
            return self._default
        return sum(self._handles) / len(self._handles)

    def estimate(self, position: int, staffed: int) -> float | None:
        """Seconds until the customer at ``position`` (1 = next) is answered; None: nobody on."""
        if staffed <= 0:
            return None
        # The customer at position p waits for p-1 customers ahead, plus, on average, half a
        # handle time for the first agent to free up when all are busy.
        return round(((position - 1) + 0.5) * self.average_handle / staffed, 1)

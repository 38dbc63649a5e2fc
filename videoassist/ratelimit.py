"""Rate limits: token buckets keyed by who is asking (an IP, a device, a connection, a login).

Each key gets ``burst`` tokens that refill at ``rate`` per second; a request takes one token or
is refused with the seconds until one is back. Memory is bounded: past ``max_keys`` the least
recently used keys are forgotten (they come back full, which errs on the side of the user).

Limits that protect the whole service from anonymous clients (taps, public reads) go through
the :class:`Limiter` port: in one process :class:`LocalLimiter`; with ``REDIS_URL``, buckets
shared by every node (``cluster/ratelimit.py``), so a client cannot multiply its budget by the
number of nodes the load balancer spreads it over.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Protocol


class RateLimiter:
    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()

    def take(self, key: Hashable) -> float:
        """Take a token: 0.0 when allowed, else the seconds to wait before trying again."""
        now = self._clock()
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._store(key, tokens - 1, now)
            return 0.0
        self._store(key, tokens, now)
        return (1 - tokens) / self.rate

    def forget(self, key: Hashable) -> None:
        self._buckets.pop(key, None)

    def _store(self, key: Hashable, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)


class Limiter(Protocol):
    """What the HTTP handlers ask: a token for ``key``, or the seconds until one is back."""

    async def take(self, key: Hashable) -> float: ...


class LocalLimiter:
    """One node's buckets (:class:`RateLimiter`) behind :class:`Limiter`."""

    def __init__(self, rate: float, burst: float) -> None:
        self.buckets = RateLimiter(rate, burst)

    async def take(self, key: Hashable) -> float:
        return self.buckets.take(key)

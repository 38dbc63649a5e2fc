"""Rate limits: token buckets keyed by who is asking (an IP, a device, a connection, a login).

Each key gets ``burst`` tokens that refill at ``rate`` per second; a request takes one token or
is refused with the seconds until one is back. Memory is bounded: past ``max_keys`` the least
recently used keys are forgotten (they come back full, which errs on the side of the user).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable


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


class LoginThrottle:
    """Failed logins lock the account name for a while, and failures from one address slow it.

    After ``max_failures`` failures within ``window`` seconds a username is locked for
    ``lockout`` seconds, whatever the password; a success resets its count. Addresses have their
    own bucket so one client cannot try many usernames quickly either.
    """

    def __init__(
        self,
        *,
        max_failures: int = 5,
        window: float = 900.0,
        lockout: float = 900.0,
        per_address: RateLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self._clock = clock
        self._failures: OrderedDict[str, list[float]] = OrderedDict()
        self._locked: dict[str, float] = {}
        self.per_address = per_address or RateLimiter(rate=10 / 60, burst=10, clock=clock)

    def check(self, username: str, address: str) -> float:
        """0.0 when this attempt may go ahead, else seconds until it may."""
        now = self._clock()
        until = self._locked.get(username)
        if until is not None:
            if until > now:
                return until - now
            del self._locked[username]
        return self.per_address.take(address)

    def failed(self, username: str) -> None:
        now = self._clock()
        recent = [t for t in self._failures.pop(username, []) if t > now - self.window]
        recent.append(now)
        if len(recent) >= self.max_failures:
            self._locked[username] = now + self.lockout
            recent = []
        self._failures[username] = recent
        while len(self._failures) > 100_000:
            self._failures.popitem(last=False)

    def succeeded(self, username: str) -> None:
        self._failures.pop(username, None)

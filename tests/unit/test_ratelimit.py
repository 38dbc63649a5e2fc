"""Token buckets, on a clock the test moves."""

from __future__ import annotations

import pytest

from videoassist.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestRateLimiter:
    def test_a_full_bucket_allows_a_burst_then_refuses_with_the_wait(self) -> None:
        clock = Clock()
        limiter = RateLimiter(rate=1.0, burst=3, clock=clock)
        assert [limiter.take("ip") for _ in range(3)] == [0.0, 0.0, 0.0]
        assert limiter.take("ip") == pytest.approx(1.0)

    def test_tokens_come_back_at_the_rate(self) -> None:
        clock = Clock()
        limiter = RateLimiter(rate=2.0, burst=1, clock=clock)
        assert limiter.take("ip") == 0.0
        assert limiter.take("ip") == pytest.approx(0.5)
        clock.now += 0.5
        assert limiter.take("ip") == 0.0

    def test_keys_are_independent(self) -> None:
        limiter = RateLimiter(rate=1.0, burst=1, clock=Clock())
        assert limiter.take("a") == 0.0
        assert limiter.take("b") == 0.0
        assert limiter.take("a") > 0

    def test_memory_is_bounded_by_forgetting_the_least_recent_key(self) -> None:
        limiter = RateLimiter(rate=1.0, burst=1, max_keys=2, clock=Clock())
        for key in ("a", "b", "c"):
            limiter.take(key)
        assert limiter.take("a") == 0.0  # forgotten, so full again
        assert limiter.take("c") > 0

    def test_nonsense_settings_are_refused(self) -> None:
        with pytest.raises(ValueError):
            RateLimiter(rate=0, burst=1)

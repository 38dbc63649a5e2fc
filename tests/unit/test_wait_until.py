"""``wait_until``, the polling barrier every live-server and browser test leans on."""

from __future__ import annotations

import pytest

from tests.support.harness import wait_until


class TestWaitUntil:
    async def test_a_sync_predicate_is_polled_until_it_holds(self) -> None:
        calls = 0

        def third_time() -> bool:
            nonlocal calls
            calls += 1
            return calls == 3

        await wait_until(third_time, interval=0)
        assert calls == 3

    async def test_an_async_predicate_is_awaited_not_taken_as_true(self) -> None:
        answers = iter([False, False, True])
        calls = 0

        async def probe() -> bool:
            nonlocal calls
            calls += 1
            return next(answers)

        await wait_until(probe, interval=0)
        assert calls == 3  # a coroutine object is truthy: had it not been awaited, one call

    async def test_an_async_predicate_that_never_holds_times_out(self) -> None:
        async def never() -> bool:
            return False

        with pytest.raises(AssertionError, match="waiting for the door"):
            await wait_until(never, timeout=0, what="the door")

    async def test_a_callable_description_is_asked_at_the_timeout(self) -> None:
        seen = 0

        async def count() -> bool:
            nonlocal seen
            seen += 1
            return False

        with pytest.raises(AssertionError, match="frames stuck at 1"):
            await wait_until(count, timeout=0, what=lambda: f"frames stuck at {seen}")

"""The login throttle on a clock the test moves, over a real SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from videoassist.login_throttle import (
    ACCOUNT,
    ACCOUNT_ADDRESS,
    ADDRESS,
    LoginPolicy,
    LoginThrottle,
    ThrottleKey,
)
from videoassist.ratelimit import RateLimiter
from videoassist.store.records import Records

POLICY = LoginPolicy(
    free_account_address=3,
    free_address=6,
    free_account=10,
    backoff=1.0,
    backoff_max=60.0,
    forget_after=3600.0,
    prune_every=600.0,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def records(tmp_path: Path) -> AsyncIterator[Records]:
    records = Records.open(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await records.migrate()
    yield records
    await records.close()


async def throttle_on(
    records: Records, clock: Clock, policy: LoginPolicy = POLICY
) -> LoginThrottle:
    # The flood bucket is generous here: these tests are about the backoff.
    throttle = LoginThrottle(
        policy, per_address=RateLimiter(rate=1000, burst=1000, clock=clock), clock=clock
    )
    await throttle.attach(records)
    return throttle


async def fail(
    throttle: LoginThrottle, clock: Clock, username: str, address: str, times: int = 1
) -> None:
    """Wrong passwords from a patient guesser: the clock moves past any wait first."""
    for _ in range(times):
        wait = throttle.begin(username, address, known_device=False)
        if wait:
            clock.now += wait
            assert throttle.begin(username, address, known_device=False) == 0.0
        await throttle.failed(username, address)
        throttle.end(username, address)


def wait_of(throttle: LoginThrottle, username: str, address: str) -> float:
    """The wait an attempt would get now (an allowed attempt is ended at once)."""
    wait = throttle.begin(username, address, known_device=False)
    throttle.end(username, address)
    return wait


class TestBackoff:
    async def test_one_address_guessing_one_name_waits_twice_as_long_after_each_failure(
        self, records: Records
    ) -> None:
        clock = Clock()
        throttle = await throttle_on(records, clock)
        waits = []
        for _ in range(7):
            assert throttle.begin("alice", "10.0.0.1", known_device=False) == 0.0
            await throttle.failed("alice", "10.0.0.1")
            throttle.end("alice", "10.0.0.1")
            wait = wait_of(throttle, "alice", "10.0.0.1")
            waits.append(wait)
            clock.now += wait
        assert waits == [0.0, 0.0, 1.0, 2.0, 4.0, 8.0, 16.0]

    async def test_the_wait_stops_growing_at_the_most(self, records: Records) -> None:
        clock = Clock()
        throttle = await throttle_on(records, clock)
        for _ in range(20):
            await fail(throttle, clock, "alice", "10.0.0.1")
            clock.now += wait_of(throttle, "alice", "10.0.0.1")
        await fail(throttle, clock, "alice", "10.0.0.1")
        assert throttle.begin("alice", "10.0.0.1", known_device=False) == 60.0

    async def test_an_attempt_refused_while_waiting_is_not_counted(self, records: Records) -> None:
        clock = Clock()
        throttle = await throttle_on(records, clock)
        await fail(throttle, clock, "alice", "10.0.0.1", times=3)
        for _ in range(5):
            assert throttle.begin("alice", "10.0.0.1", known_device=False) == 1.0
        strikes = throttle.strikes(ThrottleKey(ACCOUNT_ADDRESS, "alice", "10.0.0.1"))
        assert strikes is not None and strikes.failures == 3

    async def test_a_quiet_key_is_forgotten_and_pruned_from_the_store(
        self, records: Records
    ) -> None:
        clock = Clock()
        throttle = await throttle_on(records, clock)
        await fail(throttle, clock, "alice", "10.0.0.1", times=3)
        clock.now += 3601
        # A failure long after the last prune prunes.
        await fail(throttle, clock, "bob", "10.0.0.2")
        rows = await records.load_login_throttles()
        stored = {(r["scope"], r["username"], r["address"]) for r in rows}
        assert not any("alice" in key or "10.0.0.1" in key for key in stored)
        assert throttle.begin("alice", "10.0.0.1", known_device=False) == 0.0


class TestNoStrangerLocksAnAccount:
    async def test_failures_from_many_addresses_do_not_stop_the_right_password_from_another(
        self, records: Records
    ) -> None:
        clock = Clock()
        throttle = await throttle_on(records, clock)
        refused = 0
        for n in range(100):
            address = f"203.0.113.{n}"
            if throttle.begin("admin", address, known_device=False):
                refused += 1
                continue
            await throttle.failed("admin", address)
            throttle.end("admin", address)
        # Ten failures, then the account-wide slowdown refused the others (no address failed
        # more than once) and binds every new device ...
        assert refused == 90
        assert throttle.begin("admin", "192.0.2.1", known_device=False) > 0
        # ... but not the admin's own browser, from an address that never failed.
        assert throttle.begin("admin", "192.0.2.1", known_device=True) == 0.0

    async def test_an_address_that_sprays_names_waits_for_every_name(
        self, records: Records
    ) -> None:
        clock = Clock()
        throttle = await throttle_on(records, clock)
        for n in range(6):
            await fail(throttle, clock, f"user{n}", "10.0.0.1")
        assert throttle.begin("someone-else", "10.0.0.1", known_device=True) == 1.0
        assert throttle.begin("someone-else", "10.0.0.2", known_device=False) == 0.0

    async def test_a_success_clears_only_its_own_name_and_address(self, records: Records) -> None:
        clock = Clock()
        throttle = await throttle_on(records, clock)
        await fail(throttle, clock, "alice", "10.0.0.1", times=2)
        await fail(throttle, clock, "alice", "10.0.0.2", times=2)
        await throttle.succeeded("alice", "10.0.0.1")
        assert throttle.strikes(ThrottleKey(ACCOUNT_ADDRESS, "alice", "10.0.0.1")) is None
        assert throttle.strikes(ThrottleKey(ACCOUNT_ADDRESS, "alice", "10.0.0.2")) is not None
        account = throttle.strikes(ThrottleKey(ACCOUNT, "alice", ""))
        assert account is not None and account.failures == 4
        address = throttle.strikes(ThrottleKey(ADDRESS, "", "10.0.0.1"))
        assert address is not None and address.failures == 2

    async def test_parallel_attempts_for_one_name_from_one_address_are_checked_one_at_a_time(
        self, records: Records
    ) -> None:
        throttle = await throttle_on(records, Clock())
        assert throttle.begin("alice", "10.0.0.1", known_device=False) == 0.0
        assert throttle.begin("alice", "10.0.0.1", known_device=False) == 1.0
        assert throttle.begin("alice", "10.0.0.2", known_device=False) == 0.0
        throttle.end("alice", "10.0.0.1")
        assert throttle.begin("alice", "10.0.0.1", known_device=False) == 0.0

    async def test_when_an_account_wide_wait_ends_many_addresses_get_one_guess_not_one_each(
        self, records: Records
    ) -> None:
        clock = Clock()
        throttle = await throttle_on(records, clock)
        for n in range(10):
            await fail(throttle, clock, "admin", f"203.0.113.{n}")
        clock.now += wait_of(throttle, "admin", "198.51.100.1")
        allowed = [
            throttle.begin("admin", f"198.51.100.{n}", known_device=False) for n in range(20)
        ]
        assert allowed == [0.0] + [1.0] * 19
        # The owner's browser is not held up by the attempt being checked.
        assert throttle.begin("admin", "192.0.2.1", known_device=True) == 0.0


class TestPersistenceAndUnlock:
    async def test_a_new_throttle_on_the_same_store_keeps_the_waits(self, records: Records) -> None:
        clock = Clock()
        first = await throttle_on(records, clock)
        await fail(first, clock, "alice", "10.0.0.1", times=5)
        wait = first.begin("alice", "10.0.0.1", known_device=False)
        assert wait == 4.0
        restarted = await throttle_on(records, clock)
        assert restarted.begin("alice", "10.0.0.1", known_device=False) == wait
        await fail(restarted, clock, "alice", "10.0.0.2")
        # The counts went on from where they were, not from zero.
        account = restarted.strikes(ThrottleKey(ACCOUNT, "alice", ""))
        assert account is not None and account.failures == 6

    async def test_unlock_lifts_every_wait_of_the_name_in_memory_and_in_the_store(
        self, records: Records
    ) -> None:
        clock = Clock()
        throttle = await throttle_on(records, clock)
        await fail(throttle, clock, "alice", "10.0.0.1", times=3)
        await fail(throttle, clock, "alice", "10.0.0.2", times=3)
        await fail(throttle, clock, "bob", "10.0.0.3", times=3)
        assert await throttle.unlock("alice") == 2
        assert throttle.begin("alice", "10.0.0.2", known_device=False) == 0.0
        restarted = await throttle_on(records, clock)
        assert restarted.begin("alice", "10.0.0.1", known_device=False) == 0.0
        assert restarted.begin("bob", "10.0.0.3", known_device=False) == 1.0

    async def test_unlocking_a_name_that_is_not_throttled_lifts_nothing(
        self, records: Records
    ) -> None:
        throttle = await throttle_on(records, Clock())
        assert await throttle.unlock("nobody") == 0


class TestPolicy:
    @pytest.mark.parametrize(
        "changes",
        [
            {"free_account_address": 0},
            {"backoff": 0},
            {"backoff": 10.0, "backoff_max": 5.0},
            {"forget_after": 10.0},
        ],
    )
    def test_nonsense_is_refused(self, changes: dict[str, float]) -> None:
        with pytest.raises(ValueError):
            LoginPolicy(**changes)  # type: ignore[arg-type]

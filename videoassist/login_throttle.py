"""The login throttle: wrong passwords slow down whoever sends them, never the account's owner.

Rules (issue 10; docs/threat-model.md has the reasoning):

- Failures are counted under three keys at once: the address (``address``: spraying many names
  from one place), the name from that address (``account_address``: guessing one password from
  one place), and the name from anywhere (``account``: guessing from many places).
- Each key has a number of free failures. From the last free one on, every failure makes that
  key wait before its next attempt: ``backoff``, doubling with each further failure, at most
  ``backoff_max``. An attempt made while a key waits is refused without checking the password,
  and is not counted (it cost nothing, so it proves nothing).
- The ``account`` key binds only devices that never logged in to that account (no valid staff
  device cookie, ``auth.StaffDevices``). A stranger's failures therefore never stop the owner's
  own device, nor anyone else from an address that is not itself waiting: no stranger can lock
  an account alone.
- A success clears its ``account_address`` key only: a valid login proves nothing about the
  address's other attempts, and the account-wide count is what new devices must respect while
  an attack goes on. An admin clears a name's keys (``unlock``).
- Keys with no failure for ``forget_after`` seconds (and not waiting) are forgotten, in memory
  and in the store, when a failure happens at least ``prune_every`` seconds after the last
  prune and at start.
- At most one attempt per name and address is checked at a time, and one per name (or per
  address) once its next failure would start a wait: parallel guesses would otherwise all pass
  the check before the first failure is counted, and a botnet could send one guess from every
  address the moment an account-wide wait ends.

State is written through to the store (``login_throttles`` table) on every change and loaded at
start, so a restart does not hand an attacker fresh keys. Times are wall-clock seconds since the
epoch, because they outlive the process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from videoassist.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

ADDRESS = "address"
ACCOUNT = "account"
ACCOUNT_ADDRESS = "account_address"
SCOPES = (ADDRESS, ACCOUNT, ACCOUNT_ADDRESS)

# 2**40 seconds is far beyond any backoff_max: the exponent stops growing there so that a key
# with millions of failures cannot overflow a float.
_MAX_DOUBLINGS = 40


@dataclass(frozen=True, slots=True)
class ThrottleKey:
    scope: str
    username: str  # "" for ADDRESS
    address: str  # "" for ACCOUNT


@dataclass(slots=True)
class Strikes:
    failures: int
    last_failure: float
    blocked_until: float


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    free_account_address: int = 5
    free_address: int = 30
    free_account: int = 100
    backoff: float = 1.0
    backoff_max: float = 900.0
    forget_after: float = 86_400.0
    prune_every: float = 600.0

    def __post_init__(self) -> None:
        if min(self.free_account_address, self.free_address, self.free_account) < 1:
            raise ValueError("login failure allowances must be at least 1")
        if not 0 < self.backoff <= self.backoff_max:
            raise ValueError("login_backoff must be positive and at most login_backoff_max")
        if self.forget_after < self.backoff_max:
            raise ValueError("login_forget_after must be at least login_backoff_max")

    def free(self, scope: str) -> int:
        return {
            ADDRESS: self.free_address,
            ACCOUNT: self.free_account,
            ACCOUNT_ADDRESS: self.free_account_address,
        }[scope]

    def wait_after(self, failures: int, scope: str) -> float:
        """Seconds a key must wait after its ``failures``-th failure (0: it may go on)."""
        beyond = failures - self.free(scope)
        if beyond < 0:
            return 0.0
        return min(self.backoff_max, self.backoff * 2 ** min(beyond, _MAX_DOUBLINGS))


Row = tuple[ThrottleKey, Strikes]


class ThrottleStore(Protocol):
    """``Records`` (videoassist/store/records.py): rows as plain dicts of the table's columns."""

    async def load_login_throttles(self) -> list[dict[str, Any]]: ...

    async def save_login_throttles(self, rows: list[dict[str, Any]]) -> None: ...

    async def delete_login_throttles(self, keys: list[tuple[str, str, str]]) -> None: ...

    async def delete_login_throttles_of(self, username: str) -> None: ...

    async def prune_login_throttles(self, last_failure_before: float, now: float) -> int: ...


class LoginThrottle:
    def __init__(
        self,
        policy: LoginPolicy | None = None,
        *,
        store: ThrottleStore | None = None,
        per_address: RateLimiter | None = None,
        clock: Callable[[], float] = time.time,
        max_keys: int = 200_000,
    ) -> None:
        self.policy = policy or LoginPolicy()
        self.clock = clock
        self._store = store
        # Flood control, apart from the backoff: attempts of any kind (right or wrong) per
        # address. Kept in memory only; it refills within a minute anyway.
        self.per_address = per_address or RateLimiter(rate=10 / 60, burst=10)
        self._keys: OrderedDict[ThrottleKey, Strikes] = OrderedDict()
        self._max_keys = max_keys
        # Keys with an attempt being checked, and which keys each (name, address) holds.
        self._busy: set[ThrottleKey] = set()
        self._held: dict[tuple[str, str], list[ThrottleKey]] = {}
        self._pruned_at = float("-inf")
        # Writes are serialised so that the newest state is always the one stored last.
        self._write = asyncio.Lock()

    # ---------------------------------------------------------------- start

    async def attach(self, store: ThrottleStore) -> None:
        """Keep state in ``store`` from now on: prune it, then take its keys into memory (the
        most recent last). At start, before the first attempt."""
        self._store = store
        now = self.clock()
        await self._prune(now)
        rows = await self._store.load_login_throttles()
        for row in sorted(rows, key=lambda row: float(row["last_failure"])):
            key = ThrottleKey(row["scope"], row["username"], row["address"])
            self._remember(key, Strikes(row["failures"], row["last_failure"], row["blocked_until"]))
        if rows:
            logger.info("login throttle: %d keys restored", len(self._keys))

    # ---------------------------------------------------------------- attempts

    def begin(self, username: str, address: str, *, known_device: bool) -> float:
        """0.0 when this attempt may check a password (call ``end`` afterwards, whatever
        happens), else the seconds until it may."""
        now = self.clock()
        keys = [ThrottleKey(ADDRESS, "", address), ThrottleKey(ACCOUNT_ADDRESS, username, address)]
        if not known_device:
            keys.append(ThrottleKey(ACCOUNT, username, ""))
        wait = max((self._waiting(key, now) for key in keys), default=0.0)
        if wait:
            return wait
        # One attempt at a time per name and address; and per address, or per name, once the
        # next failure would make that key wait: otherwise many attempts sent together when a
        # wait ends would all be checked before the first failure set the next wait.
        hold = [
            key
            for key in keys
            if key.scope == ACCOUNT_ADDRESS
            or self._failures(key, now) + 1 >= self.policy.free(key.scope)
        ]
        if any(key in self._busy for key in hold):
            return 1.0
        wait = self.per_address.take(address)
        if wait:
            return wait
        self._busy.update(hold)
        self._held[(username, address)] = hold
        return 0.0

    def end(self, username: str, address: str) -> None:
        self._busy.difference_update(self._held.pop((username, address), ()))

    async def failed(self, username: str, address: str) -> None:
        now = self.clock()
        changed = []
        for key in (
            ThrottleKey(ADDRESS, "", address),
            ThrottleKey(ACCOUNT_ADDRESS, username, address),
            ThrottleKey(ACCOUNT, username, ""),
        ):
            strikes = self._live(key, now) or Strikes(0, now, now)
            strikes.failures += 1
            strikes.last_failure = now
            strikes.blocked_until = now + self.policy.wait_after(strikes.failures, key.scope)
            self._remember(key, strikes)
            changed.append(
                {
                    "scope": key.scope,
                    "username": key.username,
                    "address": key.address,
                    "failures": strikes.failures,
                    "last_failure": now,
                    "blocked_until": strikes.blocked_until,
                }
            )
        if self._store is not None:
            async with self._write:
                await self._store.save_login_throttles(changed)
        if now - self._pruned_at >= self.policy.prune_every:
            await self._prune(now)

    async def succeeded(self, username: str, address: str) -> None:
        await self._forget([ThrottleKey(ACCOUNT_ADDRESS, username, address)])

    async def unlock(self, username: str) -> int:
        """Clear every key of ``username`` (account-wide and from every address); the number of
        keys that were waiting."""
        now = self.clock()
        keys = [k for k in self._keys if k.scope != ADDRESS and k.username == username]
        waiting = sum(1 for k in keys if self._keys[k].blocked_until > now)
        for key in keys:
            del self._keys[key]
        if self._store is not None:
            # By name, not by the keys in memory: keys past the memory cap are only stored.
            async with self._write:
                await self._store.delete_login_throttles_of(username)
        return waiting

    # ---------------------------------------------------------------- inspection

    def waiting(self, now: float | None = None) -> list[Row]:
        """The keys that make attempts wait now, for the admin and for tests."""
        at = self.clock() if now is None else now
        return [(k, s) for k, s in self._keys.items() if s.blocked_until > at]

    def strikes(self, key: ThrottleKey) -> Strikes | None:
        return self._live(key, self.clock())

    # ---------------------------------------------------------------- internals

    def _waiting(self, key: ThrottleKey, now: float) -> float:
        strikes = self._keys.get(key)
        return max(0.0, strikes.blocked_until - now) if strikes else 0.0

    def _failures(self, key: ThrottleKey, now: float) -> int:
        strikes = self._live(key, now)
        return strikes.failures if strikes else 0

    def _live(self, key: ThrottleKey, now: float) -> Strikes | None:
        strikes = self._keys.get(key)
        if strikes is not None and self._stale(strikes, now):
            del self._keys[key]
            return None
        return strikes

    def _stale(self, strikes: Strikes, now: float) -> bool:
        return (
            strikes.last_failure < now - self.policy.forget_after and strikes.blocked_until <= now
        )

    def _remember(self, key: ThrottleKey, strikes: Strikes) -> None:
        self._keys[key] = strikes
        self._keys.move_to_end(key)
        # Past the cap the key that failed longest ago goes first; the store keeps it until it
        # is pruned, and a restart brings the newest back.
        while len(self._keys) > self._max_keys:
            self._keys.popitem(last=False)

    async def _forget(self, keys: Iterable[ThrottleKey]) -> None:
        gone = [key for key in keys if self._keys.pop(key, None) is not None]
        if gone and self._store is not None:
            async with self._write:
                await self._store.delete_login_throttles(
                    [(k.scope, k.username, k.address) for k in gone]
                )

    async def _prune(self, now: float) -> None:
        self._pruned_at = now
        for key in [k for k, s in self._keys.items() if self._stale(s, now)]:
            del self._keys[key]
        if self._store is not None:
            async with self._write:
                pruned = await self._store.prune_login_throttles(
                    now - self.policy.forget_after, now
                )
            if pruned:
                logger.info("login throttle: pruned %d forgotten keys", pruned)

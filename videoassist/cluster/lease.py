"""One writer across nodes: a leadership lease in Redis, with a fencing token.

Several nodes may receive events; exactly one (the leader) feeds them to the desk. Leadership
is a Redis key holding ``<node>:<epoch>`` with a time to live; ``epoch`` comes from a counter
incremented at every acquisition, so it only ever grows. The holder renews the key before it
expires (atomically: only if it still holds that very value); a node that misses its renewals
(paused, cut off, crashed) loses the key when it expires and another node acquires it with a
higher epoch.

Leadership alone cannot stop a paused leader that wakes up and carries on: it does not yet
know it was deposed. So every effect a leader carries out carries its epoch (the fencing
token), and the place the effect lands refuses a token older than the newest it has seen:

* live state in Redis: :meth:`Lease.fenced_hset` checks the epoch counter in the same Lua
  script that writes;
* records: ``Records.fenced`` (the ``leader_fence`` row) in the same transaction as the writes.

Locally, :class:`LeaderElector` also stops considering itself leader when the lease it last
renewed would have expired (measured from when the renewal was *sent*, less a margin for clock
drift), so a node cut off from Redis steps down on its own before anyone else can take over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from videoassist.cluster import stopping
from videoassist.store.records import Fenced

logger = logging.getLogger(__name__)

LEASE_TTL = 10.0  # seconds; the issue asks for 10 s or less
DRIFT_MARGIN = 0.1  # the share of the TTL a leader gives up early, for clock drift

# KEYS[1] lease, KEYS[2] epoch counter; ARGV[1] node id, ARGV[2] ttl in ms.
# Returns the new epoch, or 0 when someone holds the lease.
_ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. epoch, 'PX', ARGV[2])
return epoch
"""

# KEYS[1] lease; ARGV[1] '<node>:<epoch>' held, ARGV[2] ttl in ms. 1 renewed, 0 not ours.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# KEYS[1] lease; ARGV[1] '<node>:<epoch>'. Deletes the lease only if it is still ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS[1] epoch counter, KEYS[2] hash; ARGV[1] epoch, then field/value pairs.
# Writes only if no newer leader was elected: 1 written, 0 fenced off.
_FENCED_HSET = """
local newest = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) < newest then
  return 0
end
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
return 1
"""


class Lease:
    """The Redis side of leadership ``name`` for node ``node_id``."""

    def __init__(self, redis: Redis, name: str, node_id: str, ttl: float = LEASE_TTL) -> None:
        if ":" in node_id:
            raise ValueError("a node id cannot contain ':'")
        self.redis = redis
        self.node_id = node_id
        self.ttl = ttl
        self.lease_key = f"videoassist:{name}:lease"
        self.epoch_key = f"videoassist:{name}:epoch"
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._fenced_hset = redis.register_script(_FENCED_HSET)

    @property
    def _ttl_ms(self) -> int:
        return max(1, int(self.ttl * 1000))

    def _token(self, epoch: int) -> str:
        return f"{self.node_id}:{epoch}"

    async def acquire(self) -> int | None:
        """The new epoch if this node now holds the lease; None if another node does."""
        epoch = int(
            await self._acquire(
                keys=[self.lease_key, self.epoch_key], args=[self.node_id, self._ttl_ms]
            )
        )
        return epoch or None

    async def renew(self, epoch: int) -> bool:
        """Extend the lease held at ``epoch``; False when it is no longer this node's."""
        held = await self._renew(keys=[self.lease_key], args=[self._token(epoch), self._ttl_ms])
        return bool(held)

    async def release(self, epoch: int) -> None:
        """Give the lease up now (a drain), so the next leader need not wait for the TTL."""
        await self._release(keys=[self.lease_key], args=[self._token(epoch)])

    async def holder(self) -> tuple[str, int] | None:
        value = await self.redis.get(self.lease_key)
        if value is None:
            return None
        text = value.decode() if isinstance(value, bytes) else str(value)
        node, _, epoch = text.rpartition(":")
        return node, int(epoch)

    async def fenced_hset(self, epoch: int, key: str, mapping: dict[str, Any]) -> None:
        """Write live state as the leader of ``epoch``; :class:`Fenced` if deposed since."""
        args: list[Any] = [epoch]
        for field, value in mapping.items():
            args += [field, value]
        if not await self._fenced_hset(keys=[self.epoch_key, key], args=args):
            raise Fenced(f"epoch {epoch} is older than the newest leader's")


Callback = Callable[[int], Awaitable[None]]


class LeaderElector:
    """Keeps trying to lead; renews while leading; steps down the moment it cannot be sure.

    ``on_elected(epoch)`` runs when this node becomes leader, ``on_deposed(epoch)`` when it
    stops (a renewal refused, or the lease's local deadline passed without a renewal). Both run
    on the elector's task; a slow callback delays the next renewal, so keep them short (start a
    task).
    """

    def __init__(
        self,
        lease: Lease,
        *,
        on_elected: Callback | None = None,
        on_deposed: Callback | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lease = lease
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.clock = clock
        self.interval = lease.ttl / 3
        self.epoch: int | None = None
        self._valid_until = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def is_leader(self) -> bool:
        return self.epoch is not None and self.clock() < self._valid_until

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(
                self._run(), name=f"LeaderElector({self.lease.node_id})"
            )

    async def stop(self, *, release: bool = True) -> None:
        """Stop taking part; with ``release`` give the lease up at once (a drain)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        epoch = self.epoch
        if epoch is not None:
            await self._step_down(epoch)
            if release:
                with contextlib.suppress(RedisError, OSError, TimeoutError):
                    async with asyncio.timeout(self.interval):
                        await self.lease.release(epoch)

    async def _run(self) -> None:
        while not stopping():
            sent = self.clock()
            # No call may outlast the lease: a stalled Redis must not keep a leader past its
            # deadline, nor a follower from trying again.
            budget = self.interval
            if self.epoch is not None:
                budget = min(budget, self._valid_until - sent)
            elected = None
            try:
                async with asyncio.timeout(max(budget, 0.001)):
                    elected = await self._attempt(sent)
            except (RedisError, OSError, TimeoutError) as exc:
                logger.warning("leader lease: %s", exc or type(exc).__name__)
            if elected is not None and self.on_elected is not None:
                await self.on_elected(elected)
            if self.epoch is not None and not self.is_leader:
                await self._step_down(self.epoch)
            await self._sleep_until_next(sent)

    async def _attempt(self, sent: float) -> int | None:
        """One acquisition or renewal; the epoch when this node has just been elected."""
        if self.epoch is None:
            epoch = await self.lease.acquire()
            if epoch is None:
                return None
            self.epoch = epoch
            self._valid_until = sent + self.lease.ttl * (1 - DRIFT_MARGIN)
            logger.info("node %s leads (epoch %d)", self.lease.node_id, epoch)
            return epoch
        if await self.lease.renew(self.epoch):
            self._valid_until = sent + self.lease.ttl * (1 - DRIFT_MARGIN)
        else:
            await self._step_down(self.epoch)
        return None

    async def _sleep_until_next(self, sent: float) -> None:
        delay = self.interval - (self.clock() - sent)
        if self.epoch is not None:  # wake in time to step down, whatever Redis does
            delay = min(delay, self._valid_until - self.clock())
        await asyncio.sleep(max(0.0, delay))

    async def _step_down(self, epoch: int) -> None:
        if self.epoch != epoch:
            return
        self.epoch = None
        self._valid_until = 0.0
        logger.warning("node %s no longer leads (epoch %d)", self.lease.node_id, epoch)
        if self.on_deposed is not None:
            await self.on_deposed(epoch)

"""Who is connected, on which node: keys with a time to live, kept alive by their node.

A node sets ``videoassist:presence:<kind>:<id>`` to its own id when an agent console or a
customer's page connects, and refreshes every key it holds every ``ttl / 3``. When a node dies
its keys lapse within ``ttl``, so its sockets count as gone after a bounded time without anyone
having to notice the death. A disconnect deletes the key only if it still names this node: a
customer who reconnected elsewhere in the meantime stays present.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

PRESENCE_TTL = 15.0
PREFIX = "videoassist:presence"

# KEYS[1] the party's key; ARGV[1] node. Deletes only this node's claim.
_FORGET = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _key(kind: str, party_id: str) -> str:
    return f"{PREFIX}:{kind}:{party_id}"


class Presence:
    def __init__(self, redis: Redis, node: str, ttl: float = PRESENCE_TTL) -> None:
        self.redis = redis
        self.node = node
        self.ttl = ttl
        self._held: set[tuple[str, str]] = set()
        self._forget = redis.register_script(_FORGET)
        self._task: asyncio.Task[None] | None = None

    @property
    def _ttl_ms(self) -> int:
        return max(1, int(self.ttl * 1000))

    async def connected(self, kind: str, party_id: str) -> None:
        self._held.add((kind, party_id))
        await self.redis.set(_key(kind, party_id), self.node, px=self._ttl_ms)

    async def disconnected(self, kind: str, party_id: str) -> None:
        self._held.discard((kind, party_id))
        await self._forget(keys=[_key(kind, party_id)], args=[self.node])

    async def where(self, kind: str, party_id: str) -> str | None:
        value = await self.redis.get(_key(kind, party_id))
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def absent(self, kind: str, party_ids: list[str]) -> list[str]:
        """Those of ``party_ids`` connected on no node."""
        if not party_ids:
            return []
        values = await self.redis.mget([_key(kind, p) for p in party_ids])
        return [p for p, v in zip(party_ids, values, strict=True) if v is None]

    async def refresh(self) -> None:
        """Renew every key this node holds (and take back any that lapsed meanwhile)."""
        if not self._held:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for kind, party_id in self._held:
                pipe.set(_key(kind, party_id), self.node, px=self._ttl_ms)
            await pipe.execute()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"Presence({self.node})")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                async with asyncio.timeout(self.ttl / 3):
                    await self.refresh()
            except (RedisError, OSError, TimeoutError) as exc:
                logger.warning("presence refresh: %s", exc or type(exc).__name__)

"""Who is connected, on which node: keys with a time to live, kept alive by their node.

A node sets ``videoassist:presence:<kind>:<id>`` to its own id and the connection's sid when an
agent console or a customer's page connects, and refreshes every key it holds every ``ttl / 3``.
When a node dies its keys lapse within ``ttl``, so its sockets count as gone after a bounded
time without anyone having to notice the death (the leader's sweep, cluster/followers.py). A
disconnect deletes the key only if it still names that connection: a customer who reconnected
elsewhere in the meantime stays present, and the node whose connection was replaced knows not
to tell the desk they left. With every node serving, a party's second connection on another
node replaces the first there (``connected`` returns the one it replaced).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from videoassist.cluster import stopping

logger = logging.getLogger(__name__)

PRESENCE_TTL = 15.0
PREFIX = "videoassist:presence"

# KEYS[1] the party's key; ARGV[1] the claim. Deletes only that claim.
_FORGET = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


# KEYS the parties' keys; ARGV[1] the time to live (ms), then each key's claim. Renews a claim,
# or takes it back if it lapsed; never takes one another connection holds now.
_RENEW = """
local ttl = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local held = redis.call('GET', key)
  if held == false or held == ARGV[i + 1] then
    redis.call('SET', key, ARGV[i + 1], 'PX', ttl)
  end
end
return #KEYS
"""
RENEW_BATCH = 500


def _key(kind: str, party_id: str) -> str:
    return f"{PREFIX}:{kind}:{party_id}"


def _holder(value: object) -> tuple[str, str] | None:
    """(node, sid) of a stored claim ("node" or "node sid")."""
    if value is None:
        return None
    text = value.decode() if isinstance(value, bytes) else str(value)
    node, _, sid = text.partition(" ")
    return node, sid


class Presence:
    def __init__(self, redis: Redis, node: str, ttl: float = PRESENCE_TTL) -> None:
        self.redis = redis
        self.node = node
        self.ttl = ttl
        self._held: dict[tuple[str, str], str] = {}  # (kind, party) -> its claim here
        self._forget = redis.register_script(_FORGET)
        self._renew = redis.register_script(_RENEW)
        self._task: asyncio.Task[None] | None = None

    @property
    def _ttl_ms(self) -> int:
        return max(1, int(self.ttl * 1000))

    def _claim(self, sid: str) -> str:
        return f"{self.node} {sid}" if sid else self.node

    async def connected(self, kind: str, party_id: str, sid: str = "") -> tuple[str, str] | None:
        """Claim the party for this node's connection ``sid``; the (node, sid) it held before,
        if that was another connection."""
        claim = self._claim(sid)
        self._held[(kind, party_id)] = claim
        before = _holder(
            await self.redis.set(_key(kind, party_id), claim, px=self._ttl_ms, get=True)
        )
        return before if before is not None and before != (self.node, sid) else None

    async def disconnected(self, kind: str, party_id: str, sid: str = "") -> bool:
        """Give the claim up if it is still this connection's; whether it was."""
        claim = self._claim(sid)
        if self._held.get((kind, party_id)) == claim:
            del self._held[(kind, party_id)]
        return bool(await self._forget(keys=[_key(kind, party_id)], args=[claim]))

    async def where(self, kind: str, party_id: str) -> str | None:
        holder = await self.holder(kind, party_id)
        return holder[0] if holder is not None else None

    async def holder(self, kind: str, party_id: str) -> tuple[str, str] | None:
        """(node, sid) of the party's connection, if it has one anywhere."""
        return _holder(await self.redis.get(_key(kind, party_id)))

    async def absent(self, kind: str, party_ids: list[str]) -> list[str]:
        """Those of ``party_ids`` connected on no node."""
        if not party_ids:
            return []
        values = await self.redis.mget([_key(kind, p) for p in party_ids])
        return [p for p, v in zip(party_ids, values, strict=True) if v is None]

    async def refresh(self) -> None:
        """Renew every key this node holds (and take back any that lapsed meanwhile, unless
        another connection has claimed it since)."""
        if not self._held:
            return
        held = list(self._held.items())
        for start in range(0, len(held), RENEW_BATCH):
            batch = held[start : start + RENEW_BATCH]
            await self._renew(
                keys=[_key(kind, party_id) for (kind, party_id), _ in batch],
                args=[self._ttl_ms, *(claim for _, claim in batch)],
            )

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
        while not stopping():
            await asyncio.sleep(self.ttl / 3)
            try:
                async with asyncio.timeout(self.ttl / 3):
                    await self.refresh()
            except (RedisError, OSError, TimeoutError) as exc:
                logger.warning("presence refresh: %s", exc or type(exc).__name__)

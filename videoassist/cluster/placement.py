"""Where a new call's media goes: the least-loaded live node under its limit.

Each node registers its capacity (calls it will take) and keeps a heartbeat with a TTL; a node
whose heartbeat lapses is no longer offered calls. ``place`` picks, in one Lua script, the live
node with the most room, where room = capacity - live calls - placements in flight. A placement
counts as load from the moment it is made until the node confirms the call (``started``: in
flight → live, atomically) or the placement times out unconfirmed; so a burst of taps that
arrives between two heartbeats never overshoots a node. ``ended`` gives the room back.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis

PREFIX = "videoassist:media"
# Seconds without a heartbeat after which a node counts as gone (its calls are moved): a
# call's video is frozen that long when its node dies. Nodes beat every third of it.
HEARTBEAT_TTL = 6.0
PLACEMENT_TIMEOUT = 20.0  # seconds a placement counts as load before the node confirms it

# KEYS[1] the set of node ids; ARGV[1] now (ms), ARGV[2] placement id, ARGV[3] placement
# timeout (ms), ARGV[4] prefix. Returns the chosen node id, or false when every node is full.
_PLACE = """
local best, best_room = nil, 0
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local info = ARGV[4] .. ':node:' .. node
  local flight = info .. ':inflight'
  if redis.call('EXISTS', info) == 0 then
    redis.call('SREM', KEYS[1], node)
    redis.call('DEL', flight)
  else
    redis.call('ZREMRANGEBYSCORE', flight, '-inf', tonumber(ARGV[1]) - tonumber(ARGV[3]))
    local capacity = tonumber(redis.call('HGET', info, 'capacity') or '0')
    local live = tonumber(redis.call('HGET', info, 'live') or '0')
    local draining = redis.call('HGET', info, 'draining') == '1'
    local room = capacity - live - redis.call('ZCARD', flight)
    local better = room > best_room or (room == best_room and best ~= nil and node < best)
    if not draining and better then
      best, best_room = node, room
    end
  end
end
if best == nil then
  return false
end
redis.call('ZADD', ARGV[4] .. ':node:' .. best .. ':inflight', ARGV[1], ARGV[2])
return best
"""

# KEYS[1] node info, KEYS[2] its in-flight set; ARGV[1] placement id.
# 1: the placement became a live call; 0: unknown or timed out (counted live all the same).
_STARTED = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0  -- the node lapsed: never bring its key back without a time to live
end
local was = redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'live', 1)
return was
"""

# KEYS[1] node info; ARGV[1] ttl (ms), ARGV[2] capacity or '', ARGV[3] live calls or ''.
# 0 when the node had lapsed.
_HEARTBEAT = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'capacity', ARGV[2])
end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'live', ARGV[3])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""

_ENDED = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local live = redis.call('HINCRBY', KEYS[1], 'live', -1)
if live < 0 then
  redis.call('HSET', KEYS[1], 'live', 0)
  return 0
end
return live
"""


@dataclass(frozen=True, slots=True)
class NodeLoad:
    node: str
    capacity: int
    live: int
    in_flight: int
    draining: bool

    @property
    def room(self) -> int:
        return self.capacity - self.live - self.in_flight


class Placement:
    def __init__(
        self,
        redis: Redis,
        *,
        heartbeat_ttl: float = HEARTBEAT_TTL,
        placement_timeout: float = PLACEMENT_TIMEOUT,
    ) -> None:
        self.redis = redis
        self.heartbeat_ttl = heartbeat_ttl
        self.placement_timeout = placement_timeout
        self.nodes_key = f"{PREFIX}:nodes"
        self.calls_key = f"{PREFIX}:calls"  # call id -> the node holding its media
        self._place = redis.register_script(_PLACE)
        self._started = redis.register_script(_STARTED)
        self._ended = redis.register_script(_ENDED)
        self._heartbeat = redis.register_script(_HEARTBEAT)

    def _info(self, node: str) -> str:
        return f"{PREFIX}:node:{node}"

    def _flight(self, node: str) -> str:
        return f"{PREFIX}:node:{node}:inflight"

    async def register(self, node: str, capacity: int) -> None:
        """A node (re)starts: no live calls, nothing in flight, taking calls."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._info(node), self._flight(node))
            pipe.hset(self._info(node), mapping={"capacity": capacity, "live": 0, "draining": 0})
            pipe.pexpire(self._info(node), int(self.heartbeat_ttl * 1000))
            pipe.sadd(self.nodes_key, node)
            await pipe.execute()

    async def heartbeat(
        self, node: str, capacity: int | None = None, live: int | None = None
    ) -> bool:
        """Keep the node alive (and change its capacity); ``live``: the calls the node
        carries by its own count, which corrects ``started``/``ended`` (a call opened again
        after a failover, an end that never reached Redis). False if it had already lapsed,
        in which case it must ``register`` again."""
        ttl_ms = int(self.heartbeat_ttl * 1000)
        args = [ttl_ms, "" if capacity is None else capacity, "" if live is None else live]
        return bool(await self._heartbeat(keys=[self._info(node)], args=args))

    async def drain(self, node: str) -> None:
        """Take no new calls on ``node`` (live ones go on)."""
        if await self.redis.exists(self._info(node)):
            await self.redis.hset(self._info(node), "draining", 1)

    async def deregister(self, node: str) -> None:
        """The node stops: at once no longer a node (no call is kept on it, none placed)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._info(node), self._flight(node))
            pipe.srem(self.nodes_key, node)
            await pipe.execute()

    async def place(self) -> tuple[str, str] | None:
        """(node, placement id) for a new call, or None when every live node is full."""
        placement = uuid.uuid4().hex
        now_ms = int(time.time() * 1000)
        chosen = await self._place(
            keys=[self.nodes_key],
            args=[now_ms, placement, int(self.placement_timeout * 1000), PREFIX],
        )
        if not chosen:
            return None
        node = chosen.decode() if isinstance(chosen, bytes) else str(chosen)
        return node, placement

    async def started(self, node: str, placement: str) -> bool:
        """The call placed on ``node`` is live there."""
        return bool(
            await self._started(keys=[self._info(node), self._flight(node)], args=[placement])
        )

    async def ended(self, node: str) -> None:
        await self._ended(keys=[self._info(node)], args=[])

    async def assign(self, call_id: str, node: str) -> str | None:
        """Note that ``call_id``'s media is on ``node``; returns the node it was on before,
        if any (a call opened again after a failover: the old node still holds a session)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hget(self.calls_key, call_id)
            pipe.hset(self.calls_key, call_id, node)
            before, _ = await pipe.execute()
        if before is None:
            return None
        return before.decode() if isinstance(before, bytes) else str(before)

    async def where(self, call_id: str) -> str | None:
        """The node holding ``call_id``'s media, as last assigned."""
        node = await self.redis.hget(self.calls_key, call_id)
        if node is None:
            return None
        return node.decode() if isinstance(node, bytes) else str(node)

    async def unassign(self, call_id: str) -> None:
        await self.redis.hdel(self.calls_key, call_id)

    async def loads(self) -> list[NodeLoad]:
        out = []
        now_ms = int(time.time() * 1000)
        for raw in sorted(await self.redis.smembers(self.nodes_key)):
            node = raw.decode() if isinstance(raw, bytes) else str(raw)
            info = await self.redis.hgetall(self._info(node))
            if not info:
                continue
            flight = await self.redis.zcount(
                self._flight(node), now_ms - int(self.placement_timeout * 1000), "+inf"
            )
            out.append(
                NodeLoad(
                    node=node,
                    capacity=int(info.get(b"capacity", 0)),
                    live=int(info.get(b"live", 0)),
                    in_flight=int(flight),
                    draining=info.get(b"draining") == b"1",
                )
            )
        return out

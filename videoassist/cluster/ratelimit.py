"""Rate limits shared by every node: token buckets in Redis.

Behind a load balancer each request may land on another node; with one bucket per node a
client would get the burst once per node. Here a bucket is a Redis hash (tokens, time of the
last take) updated by one Lua script, so a take is atomic across nodes, and its clock is Redis's
own (``TIME``), so nodes whose clocks disagree still refill alike. The hash expires once it
would be full again: idle clients cost no memory.

If Redis does not answer within ``timeout`` the node falls back to a bucket of its own (and
logs it, once a minute): a Redis outage must not turn every customer away, and a client still
cannot tap without limit.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Hashable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from videoassist.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

PREFIX = "videoassist:limit:"

# KEYS[1] bucket; ARGV[1] refill per millisecond, ARGV[2] burst.
# Returns 0 when a token was taken, else the milliseconds until one is back.
_TAKE = """
local now_s = redis.call('TIME')
local now = tonumber(now_s[1]) * 1000 + math.floor(tonumber(now_s[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(held[1]) or burst
local at = tonumber(held[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate) + 1000)
return wait
"""


def bucket_key(name: str, key: Hashable) -> str:
    """A bounded Redis key for ``key`` (an address, a device cookie): hashed, never raw."""
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:32]
    return f"{PREFIX}{name}:{digest}"


class SharedLimiter:
    def __init__(
        self,
        redis: Redis,
        name: str,
        rate: float,
        burst: float,
        *,
        timeout: float = 0.25,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.redis = redis
        self.name = name
        self.rate = rate
        self.burst = burst
        self.timeout = timeout
        self.fallback = RateLimiter(rate, burst)
        self.fallbacks = 0  # takes answered by this node's own bucket (Redis unreachable)
        self._script = redis.register_script(_TAKE)
        self._warned_at = -60.0

    async def take(self, key: Hashable) -> float:
        try:
            async with asyncio.timeout(self.timeout):
                wait_ms = await self._script(
                    keys=[bucket_key(self.name, key)], args=[self.rate / 1000, self.burst]
                )
        except (RedisError, TimeoutError, OSError) as exc:
            self.fallbacks += 1
            now = time.monotonic()
            if now - self._warned_at >= 60:
                self._warned_at = now
                logger.warning(
                    "shared rate limit %r: Redis did not answer (%s); this node's own limit "
                    "applies until it does",
                    self.name,
                    exc.__class__.__name__,
                )
            return self.fallback.take(key)
        return int(wait_ms) / 1000

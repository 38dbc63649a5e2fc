"""Closing a staff member's sockets on every node: a logout, a disabled account, a forced
sign-out.

Sockets are authenticated when they connect, so ending a staff session must close the
connections it opened; with every node serving they may be on any node. The node that ends the
session closes its own and publishes the staff id on ``videoassist:kicks``; every other node
closes its own (an agent's console as a kick: signed out at once, no grace). Messages are signed
with a key derived from ``SECRET_KEY``, so reaching Redis is not enough to close someone's
console. A node that misses a message (Redis away at that moment) keeps the socket until it
drops; the session itself is gone, so its next connection is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from videoassist.cluster import stopping

logger = logging.getLogger(__name__)

PURPOSE = "videoassist kicks"  # the signing key's label (sealing.derive_key)
CHANNEL = "videoassist:kicks"
MAX_BACKOFF = 2.0


class Kicks:
    def __init__(
        self,
        redis: Redis,
        node: str,
        key: bytes,
        kick_here: Callable[[str], Awaitable[None]],
    ) -> None:
        self.redis = redis
        self.node = node
        self.dropped = 0  # messages that failed the signature check
        self._key = key
        self._kick_here = kick_here
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    def _sign(self, body: bytes) -> str:
        return hmac.new(self._key, body, hashlib.sha256).hexdigest()

    async def kick(self, staff_id: str) -> None:
        """Close ``staff_id``'s sockets here, and ask every other node to close theirs."""
        await self._kick_here(staff_id)
        body = json.dumps({"staff": staff_id, "from": self.node}).encode()
        try:
            await self.redis.publish(
                CHANNEL, json.dumps({"b": body.decode(), "m": self._sign(body)})
            )
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning("kicks: %s not told to the other nodes: %s", staff_id, exc)

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="Kicks")

    async def subscribed(self) -> None:
        await self._subscribed.wait()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _listen(self) -> None:
        backoff = 0.1
        while not stopping():
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(CHANNEL)
                self._subscribed.set()
                backoff = 0.1
                while not stopping():
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        await self._take(message.get("data"))
            except (RedisError, OSError, TimeoutError) as exc:
                logger.warning("kicks: listening failed (%s); again in %.1f s", exc, backoff)
                self._subscribed.clear()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def _take(self, data: object) -> None:
        try:
            raw = json.loads(data if isinstance(data, str | bytes) else b"")
            body = str(raw["b"]).encode()
            if not hmac.compare_digest(str(raw["m"]), self._sign(body)):
                raise ValueError("bad signature")
            message = json.loads(body)
            staff_id, sender = str(message["staff"]), str(message["from"])
        except (ValueError, KeyError, TypeError):
            self.dropped += 1
            logger.error("kicks: a message failed its check: ignored")
            return
        if sender != self.node:
            try:
                await self._kick_here(staff_id)
            except Exception:
                logger.exception("kicks: closing %s's sockets failed", staff_id)

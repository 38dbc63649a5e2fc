"""Delivery across nodes: python-socketio's Redis manager, watched.

With ``REDIS_URL`` set, every emit is handled on this node and published on a Redis channel,
so a socket connected to any node gets what any node sends it. Three ways this goes wrong
quietly, and what this module does about each:

* **The listener stops hearing anything** without an error: a half-open connection (a NAT or
  load balancer forgot it), a subscriber dropped in a way the client library ends its iterator
  on. The manager's listener task either blocks forever or ends with one log line. The watchdog
  publishes a ping on the channel every ``ping_interval`` and expects to hear its own ping back;
  silent for ``stale_after``, or the task gone, it drops the connection and starts a new
  listener (counted in ``restarts``).
* **Publishing waits on Redis**: the manager's publish retries with the connection's socket
  timeout, and every emit awaits it, so a stalled Redis would stall whoever notifies (the desk).
  Here publishing is handed to a bounded queue and a task of its own; callers never wait. When
  the queue is full the oldest message is dropped and counted (``dropped``): this node's own
  sockets already have it.
* **Reconnect storms from a read timeout on an idle subscription**: the options below set a
  socket timeout for commands but the subscription's blocking read has none (redis-py reads
  pub/sub with no timeout), and the manager's back-off is reset after each good subscribe.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import socketio

logger = logging.getLogger(__name__)

PING_METHOD = "videoassist_ping"
CHANNEL = "videoassist"  # every node's emits, on one Redis pub/sub channel
PUBLISH_QUEUE = 10_000


def _is_ping(message: Any) -> bool:
    if not isinstance(message, bytes | str) or PING_METHOD not in str(message[:200]):
        return False
    try:
        return bool(json.loads(message).get("method") == PING_METHOD)
    except (ValueError, AttributeError):
        return False


class WatchedRedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    def __init__(
        self,
        url: str,
        *,
        channel: str = CHANNEL,
        ping_interval: float = 2.0,
        stale_after: float = 6.0,
        socket_timeout: float = 5.0,
    ) -> None:
        super().__init__(
            url,
            channel=channel,
            redis_options={
                "socket_timeout": socket_timeout,
                "socket_connect_timeout": socket_timeout,
                "socket_keepalive": True,
            },
        )
        self.ping_interval = ping_interval
        self.stale_after = stale_after
        self.last_heard = time.monotonic()
        self.restarts = 0
        self.dropped = 0
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(PUBLISH_QUEUE)
        self._tasks: list[asyncio.Task[None]] = []
        self._publisher_task: asyncio.Task[None] | None = None
        self._publishing = False
        self._pings = 0

    # ------------------------------------------------------------------ life

    def initialize(self) -> None:
        super().initialize()
        self._start_publisher()
        self._tasks.append(
            asyncio.create_task(self._watchdog(), name="WatchedRedisManager.watchdog")
        )

    def _start_publisher(self) -> None:
        # A node may emit before any socket connected to it (the server initializes its
        # manager at the first connection): the publisher starts with the first message.
        if self._publisher_task is None or self._publisher_task.done():
            self._publisher_task = asyncio.create_task(
                self._publisher(), name="WatchedRedisManager.publisher"
            )

    async def close(self) -> None:
        """Stop listening, publishing and watching. Tasks that do not end within a second
        (a call into a stalled Redis that ignores cancellation) are left to finish alone."""
        thread = getattr(self, "thread", None)
        tasks = [
            t for t in (*self._tasks, self._publisher_task, thread) if isinstance(t, asyncio.Task)
        ]
        self._tasks = []
        self._publisher_task = None
        for task in tasks:
            task.cancel()
        # Closing the connections wakes a read that ignores cancellation (redis-py's pub/sub).
        await self._drop_connection()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=2.0)
            if pending:
                logger.warning("socket.io Redis manager: %d tasks still ending", len(pending))

    @property
    def pending(self) -> int:
        """Messages queued for Redis and not yet handed to it."""
        return self._queue.qsize() + (1 if self._publishing else 0)

    # ------------------------------------------------------------------ publishing

    async def _publish(self, data: dict[str, Any]) -> None:
        """Queue for the publisher task; never waits on Redis."""
        self._start_publisher()
        if self._queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning("Redis publish queue full: %d messages dropped", self.dropped)
        self._queue.put_nowait(data)

    async def _publisher(self) -> None:
        send = super()._publish
        while True:
            data = await self._queue.get()
            self._publishing = True
            try:
                await send(data)
            except Exception:  # the manager logs its own failures; keep publishing
                logger.exception("Redis publish failed")
            finally:
                self._publishing = False

    # ------------------------------------------------------------------ listening

    async def _listen(self) -> AsyncIterator[Any]:
        async for message in super()._listen():
            self.last_heard = time.monotonic()
            if _is_ping(message):
                continue
            yield message

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            self._pings += 1
            await self._publish({"method": PING_METHOD, "host_id": self.host_id, "n": self._pings})
            thread = getattr(self, "thread", None)
            gone = isinstance(thread, asyncio.Task) and thread.done()
            silent = time.monotonic() - self.last_heard
            if gone or silent > self.stale_after:
                logger.warning(
                    "socket.io Redis listener %s: starting a new one",
                    "ended" if gone else f"silent for {silent:.1f} s",
                )
                await self._restart_listener()

    async def _restart_listener(self) -> None:
        thread = getattr(self, "thread", None)
        if isinstance(thread, asyncio.Task):
            thread.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(thread, timeout=1.0)
        await self._drop_connection()
        self.restarts += 1
        self.last_heard = time.monotonic()
        self.thread = self.server.start_background_task(self._thread)

    async def _drop_connection(self) -> None:
        """Forget the Redis connections without waiting on them (they may hang)."""
        pubsub: Any = getattr(self, "pubsub", None)
        redis: Any = getattr(self, "redis", None)
        self.connected = False
        self.pubsub = None
        self.redis = None
        for closing in (pubsub, redis):
            if closing is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(closing.aclose(), timeout=1.0)

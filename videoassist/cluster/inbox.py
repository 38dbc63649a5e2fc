"""Events for the desk from every node, in one order: a Redis Stream that the leader reads.

Any node appends what its sockets and timers produce (``append``); only the leader reads, as
the one consumer of the group ``leader``. An entry is acknowledged only after its effects are
persisted, so entries a leader read but did not finish stay pending: the next leader claims
them first (``claim_pending``, in stream order) before reading new ones.

Acknowledgement alone cannot tell a new leader whether a pending entry's effects were written
(the old leader may have persisted them and been paused before ``XACK``). So the leader writes
the id of the last entry it applied in the same fenced transaction as the entry's effects
(``Records.fenced``); a new leader replays into the desk everything after the snapshot it
restored, but carries out effects only for entries after that id. ``since`` reads the stream
after a snapshot's id; ``trim_before`` drops what a snapshot covers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

GROUP = "leader"
Entry = tuple[str, dict[str, Any]]


def _decode(entries: list[Any]) -> list[Entry]:
    out: list[Entry] = []
    for raw_id, fields in entries:
        if fields is None:  # deleted by a trim while pending
            continue
        entry_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
        data = fields.get(b"event", fields.get("event"))
        out.append((entry_id, json.loads(data)))
    return out


class Inbox:
    def __init__(self, redis: Redis, name: str = "desk") -> None:
        self.redis = redis
        self.key = f"videoassist:{name}:inbox"

    async def ensure_group(self) -> None:
        """Create the stream and the leader's group if missing (every node may call it)."""
        try:
            await self.redis.xgroup_create(self.key, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def append(self, event: Mapping[str, Any]) -> str:
        """Add an event (JSON-serialisable); its id orders it among every node's events."""
        entry_id = await self.redis.xadd(self.key, {"event": json.dumps(event, sort_keys=True)})
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def claim_pending(self, consumer: str, batch: int = 500) -> list[Entry]:
        """Take over every entry read but not acknowledged (by any earlier leader), in order."""
        claimed: list[Entry] = []
        cursor = "0-0"
        while True:
            reply = await self.redis.xautoclaim(
                self.key, GROUP, consumer, min_idle_time=0, start_id=cursor, count=batch
            )
            cursor_raw, entries = reply[0], reply[1]
            claimed += _decode(entries)
            cursor = cursor_raw.decode() if isinstance(cursor_raw, bytes) else str(cursor_raw)
            if cursor == "0-0":
                break
        claimed.sort(key=lambda e: tuple(int(p) for p in e[0].split("-")))
        return claimed

    async def take(self, consumer: str, count: int = 100, block_ms: int = 1000) -> list[Entry]:
        """New entries for the leader ``consumer``; waits up to ``block_ms`` for the first."""
        reply: Any = await self.redis.xreadgroup(
            GROUP, consumer, {self.key: ">"}, count=count, block=block_ms
        )
        if not reply:
            return []
        if isinstance(reply, dict):  # RESP3 answers with a map of streams
            return _decode(next(iter(reply.values()))[0])
        return _decode(reply[0][1])

    async def ack(self, *entry_ids: str) -> int:
        if not entry_ids:
            return 0
        return int(await self.redis.xack(self.key, GROUP, *entry_ids))

    async def pending_count(self) -> int:
        summary = await self.redis.xpending(self.key, GROUP)
        return int(summary["pending"])

    async def since(self, after_id: str, count: int = 10_000) -> list[Entry]:
        """Entries after ``after_id`` (exclusive), oldest first: what a snapshot does not hold."""
        entries: Any = await self.redis.xrange(self.key, min=f"({after_id}", count=count)
        return _decode(entries)

    async def trim_before(self, entry_id: str) -> int:
        """Drop entries older than ``entry_id`` (a snapshot covers them)."""
        return int(await self.redis.xtrim(self.key, minid=entry_id, approximate=False))

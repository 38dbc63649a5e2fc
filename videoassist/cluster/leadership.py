"""Hot standby: with ``LEADER_LEASE``, a node serves only while it holds the leader lease.

Until the desk runs behind the inbox on every node (docs/architecture.md, "Several nodes"),
this is how two nodes share one database safely: each starts, and waits for the lease
(``cluster/lease.py``) before it migrates, restores the desk or listens. The one that gets it
serves; the others wait, not listening, so a load balancer's health check sends every client to
the leader. When the leader dies its lease lapses within ``LEADER_LEASE_TTL`` and a standby
takes over as a restart would: waiting customers and callbacks restored in their order from the
records, their pages reconnecting to it through the load balancer with their tickets (the nodes
share ``SECRET_KEY``); calls that were live restored and awaited for ``CALL_RESUME_WINDOW``,
their parties reconnecting and offering media to the new leader.

A leader that loses the lease (Redis refused a renewal, or its own clock says the lease may
have lapsed: a pause, a network cut) exits at once, without draining: another node may already
be writing, and a drain writes. The same check runs before the desk handles any event and
before any HTTP request, so a paused leader that wakes up acts on nothing: its monotonic clock
kept running while it was stopped, so the check fails on the first thing it would do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Callable, Sequence

from redis.asyncio import Redis

from videoassist.cluster.lease import LeaderElector, Lease
from videoassist.desk.events import Save
from videoassist.store.records import Fenced, Records

logger = logging.getLogger(__name__)

DEPOSED_EXIT = 75  # EX_TEMPFAIL: a supervisor restarts the node, which waits as a standby
LEASE_NAME = "desk"


def default_node_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def exit_deposed(
    why: str = "lost the leader lease: exiting without a drain (another node leads)",
) -> None:
    logger.critical(why)
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stderr.flush()
    os._exit(DEPOSED_EXIT)


class Leadership:
    def __init__(
        self,
        redis_url: str,
        node_id: str,
        ttl: float,
        *,
        on_lost: Callable[[], None] = exit_deposed,
    ) -> None:
        self.redis = Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1)
        self.node_id = node_id
        self.elector = LeaderElector(
            Lease(self.redis, LEASE_NAME, node_id, ttl),
            on_elected=self._elected,
            on_deposed=self._deposed,
        )
        self._on_lost = on_lost
        self._leading = asyncio.Event()
        self._closing = False

    async def _elected(self, epoch: int) -> None:
        self._leading.set()

    async def _deposed(self, epoch: int) -> None:
        if not self._closing:
            self._on_lost()

    def lost(self) -> None:
        """Something other than Redis (the database's fence) says a newer leader exists."""
        if not self._closing:
            self._on_lost()

    @property
    def epoch(self) -> int | None:
        return self.elector.epoch

    async def wait(self) -> int:
        """Take part, and return once this node leads (its epoch)."""
        self.elector.start()
        try:  # the first attempt, which takes a free lease at once
            await asyncio.wait_for(asyncio.shield(self._leading.wait()), self.elector.interval)
        except TimeoutError:
            logger.info("node %s: standing by for the leader lease", self.node_id)
            await self._leading.wait()
        epoch = self.elector.epoch
        assert epoch is not None
        return epoch

    async def campaign(self) -> bool:
        """Take part without waiting to lead (every node serving): whether this node leads
        after the first attempt. ``leading()`` waits for the lease later."""
        self.elector.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._leading.wait()), self.elector.interval)
        return self._leading.is_set()

    async def leading(self) -> int:
        """Return once this node leads (its epoch)."""
        await self._leading.wait()
        epoch = self.elector.epoch
        assert epoch is not None
        return epoch

    def check(self) -> None:
        """Before acting: a node that may no longer lead does nothing more."""
        if self._leading.is_set() and not self._closing and not self.elector.is_leader:
            self._on_lost()

    async def close(self) -> None:
        """A drain: give the lease up at once, so a standby need not wait for it to lapse."""
        self._closing = True
        try:
            await self.elector.stop(release=True)
        finally:
            await self.redis.aclose()


class FencedRecords:
    """The service's records port on a leading node: every desk write carries the leader's
    epoch, and the database refuses one from a leader a newer one has replaced
    (``Records.fenced``). A leader that learns so from the database is deposed at once, like
    one that learns it from Redis: another node may be writing."""

    def __init__(
        self, records: Records, epoch: Callable[[], int | None], on_fenced: Callable[[], None]
    ) -> None:
        self._records = records
        self._epoch = epoch
        self._on_fenced = on_fenced

    async def save_all(self, saves: Sequence[Save], *, mark: str | None = None) -> None:
        """``mark``: where the desk journal stands with these records (cluster/journal.py
        ``stored_mark``), stored in the same transaction."""
        epoch = self._epoch()
        if epoch is None:  # never elected, or deposed: nothing may be written
            self._on_fenced()
            raise Fenced(f"{LEASE_NAME}: this node holds no epoch")
        try:
            await self._records.save_all(saves, fence=(LEASE_NAME, epoch), mark=mark)
        except Fenced:
            logger.critical("the database refused epoch %d: a newer leader has written", epoch)
            self._on_fenced()
            raise

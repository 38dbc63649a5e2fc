"""The desk's journal: what the leader's desk handled, in order, so every node keeps a replica.

The desk is deterministic given its events and the ids it draws (``tests/unit/test_desk_purity``),
so a node that feeds the same events, with the same ids, to a copy of the desk has the same
desk: the same queue positions, the same live calls, the same refusals. That is how a node that
does not lead serves sockets and pages (``cluster/followers.py``): it reads its replica, and
sends what would change the desk to the leader.

* **Entries** (a Redis stream, ``videoassist:desk:journal``): one per event the leader's desk
  handled, refused ones included, with the ids it drew while handling it, the leader's epoch, a
  sequence number that counts from the epoch's first snapshot, and the ``origin`` a follower gave
  its request (so the follower knows which entry answers it). The leader appends in a task of its
  own, in the order it handled them; the desk never waits for Redis.
* **Snapshots** (``videoassist:desk:snapshot``): the desk's state, pickled, after entry ``seq``
  of an epoch, with the stream id of the last entry before it. A leader takes one once its
  desk is restored from the records (the epoch's first), then every ``SNAPSHOT_EVERY``
  entries or ``SNAPSHOT_INTERVAL`` seconds, and trims the stream before the previous one: the
  stream stays bounded, and a replica a little behind still finds what it lacks.
* **Signed**: entries and snapshots carry an HMAC-SHA256 under a key derived from
  ``SECRET_KEY``; a replica applies nothing that fails the check, and unpickles nothing that was
  not signed by a node of this deployment.
* **A replica** loads the latest snapshot and applies the entries after it. An entry of a newer
  epoch (a new leader), or a gap in the sequence (it fell behind a trim), makes it load the
  snapshot again. A new leader that went on from its own replica says from which entry
  (``continues``): a replica that had got no further loads it quietly. Otherwise (a desk
  restored from the records) ``on_reset`` tells the node, which disconnects its sockets so
  that every page syncs with the new desk.
* **Taking over** (``Replica.take_over``): each records transaction of the leader stores two
  marks (``stored_mark``): the last entry whose records it holds, and the last whose other
  effects were carried out (the writer runs ahead of the effector). A node that wins the lease
  goes on from its replica's desk if it kept every entry after the second: it carries their
  effects out again, writing records only for those after the first.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import pickle
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from videoassist import __version__ as VERSION
from videoassist.cluster import stopping
from videoassist.desk import Desk
from videoassist.desk.codec import decode, encode
from videoassist.desk.events import Effect, Event, StartMedia
from videoassist.errors import Refusal
from videoassist.service import Again, detached

logger = logging.getLogger(__name__)

PURPOSE = "videoassist desk journal"  # the signing key's label (sealing.derive_key)
JOURNAL = "videoassist:desk:journal"
SNAPSHOT = "videoassist:desk:snapshot"
SNAPSHOT_EVERY = 5_000  # entries between snapshots at most
SNAPSHOT_INTERVAL = 30.0  # seconds between snapshots at most (when anything happened)
READ_BLOCK_MS = 1_000
READ_COUNT = 500
MAX_BACKOFF = 2.0
OUTCOMES_KEPT = 2_000  # outcomes a follower may still ask for (its reply came late)
TAIL_KEPT = 20_000  # entries whose effects a replica keeps, should it take the desk over
# Entries a new leader carries out again at most: a longer tail (the records were down for a
# while) would tell parties of things long past; the records are the truth then.
TAIL_CARRIED = 2_000


class Ids:
    """The desk's ids. On the leader, drawn at random and remembered until the journal takes
    them with the event that drew them; on a replica, the leader's, replayed in order."""

    def __init__(self) -> None:
        self._drawn: list[str] = []
        self._replay: deque[str] = deque()
        self.ran_out = 0  # a replica drew other ids than the leader did: it has diverged

    def draw(self) -> str:
        if self._replay:
            return self._replay.popleft()
        new = uuid.uuid4().hex
        self._drawn.append(new)
        return new

    def take(self) -> list[str]:
        drawn, self._drawn = self._drawn, []
        return drawn

    def replay(self, ids: list[str]) -> None:
        self._drawn = []
        self._replay = deque(ids)

    def finish(self) -> bool:
        """After replaying one event: whether it drew exactly the leader's ids."""
        exact = not self._drawn and not self._replay
        if not exact:
            self.ran_out += 1
        self._drawn = []
        self._replay.clear()
        return exact


# KEYS[1] the snapshot (a hash: epoch, blob); ARGV[1] the epoch, ARGV[2] the sealed snapshot.
# A deposed leader's late snapshot never replaces a newer leader's.
_STORE = """
local held = redis.call('HGET', KEYS[1], 'epoch')
if held and tonumber(held) > tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'blob', ARGV[2])
return 1
"""


def _sign(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()


def _seal_snapshot(key: bytes, header: dict[str, Any], desk: bytes) -> bytes:
    head = json.dumps(header, sort_keys=True).encode()
    payload = len(head).to_bytes(4, "big") + head + desk
    return _sign(key, payload) + payload


def _open_snapshot(key: bytes, sealed: bytes) -> tuple[dict[str, Any], bytes] | None:
    mac, payload = sealed[:32], sealed[32:]
    if len(sealed) < 36 or not hmac.compare_digest(mac, _sign(key, payload)):
        return None
    size = int.from_bytes(payload[:4], "big")
    header: dict[str, Any] = json.loads(payload[4 : 4 + size])
    return header, payload[4 + size :]


async def leader_started(redis: Redis, key: bytes, lease: str = "videoassist:desk:lease") -> bool:
    """Whether the node holding the lease has stored its first snapshot and runs this version
    (a follower may start: the records are migrated, and it can follow that desk)."""
    held, sealed = await redis.get(lease), await redis.hget(SNAPSHOT, "blob")
    if not isinstance(held, bytes) or not isinstance(sealed, bytes):
        return False
    opened = _open_snapshot(key, sealed)
    if opened is None:
        return False
    header = opened[0]
    epoch = held.decode().rpartition(":")[2]
    return header.get("version") == VERSION and str(header.get("epoch")) == epoch


class JournalWriter:
    """The leader's side: ``handled`` right after the desk handles each event (the service's
    inbox task); a task of its own writes to Redis in that order."""

    def __init__(
        self,
        redis: Redis,
        key: bytes,
        epoch: int,
        desk: Desk,
        ids: Ids,
        *,
        snapshot_every: int = SNAPSHOT_EVERY,
        snapshot_interval: float = SNAPSHOT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self.epoch = epoch
        self.desk = desk
        self.ids = ids
        self.seq = 0
        self.written = 0  # entries written to Redis
        self.failed = 0  # writes Redis did not take (a replica behind reloads a snapshot)
        self.snapshots = 0
        self._key = key
        self._every = snapshot_every
        self._interval = snapshot_interval
        self._clock = clock
        self._last_snapshot = (0, clock())
        self._pending: deque[tuple[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._store = redis.register_script(_STORE)
        self._task: asyncio.Task[None] | None = None
        self._trim_before: str | None = None  # the previous snapshot's position in the stream
        self._last_id = "0-0"  # the stream id of the last entry written
        self.continues: tuple[int, int] | None = None  # the (epoch, seq) this desk went on from

    async def start(self, continues: tuple[int, int] | None = None) -> None:
        """Take the epoch's first snapshot and start writing. What the desk handled before
        (a restore from the records) is journaled ahead of it: replicas load the snapshot.
        ``continues``: this desk is a replica's that went on from entry (epoch, seq) of the
        last leader's journal; a replica that had got no further loads it quietly."""
        self.continues = continues
        last = await self.redis.xrevrange(JOURNAL, count=1)
        if last:  # an earlier leader's entries: replicas loading this snapshot skip them
            raw = last[0][0]
            self._last_id = raw.decode() if isinstance(raw, bytes) else str(raw)
        self._snapshot()
        self._task = asyncio.create_task(self._run(), name="JournalWriter")

    def handled(self, event: Event, origin: str | None, refused: bool = False) -> str:
        """The desk has just handled ``event`` (or refused it): journal it with its ids and
        whether it was refused (a replica that decides otherwise has diverged). Returns its
        mark, ``"epoch:seq"``, which the service stores with the event's records."""
        self.seq += 1
        entry = {
            "epoch": self.epoch,
            "seq": self.seq,
            "event": encode(event),
            "ids": self.ids.take(),
            "origin": origin,
            "refused": refused,
        }
        self._put("entry", json.dumps(entry, separators=(",", ":")).encode())
        taken_at_seq, taken_at = self._last_snapshot
        if self.seq - taken_at_seq >= self._every or self._clock() - taken_at >= self._interval:
            self._snapshot()
        return self.last_mark()

    def last_mark(self) -> str:
        return f"{self.epoch}:{self.seq}"

    def stored_mark(self, written: str, done: str | None) -> str:
        return stored_mark(written, done)

    def _put(self, kind: str, item: Any) -> None:
        self._pending.append((kind, item))
        self._wake.set()

    def _snapshot(self) -> None:
        """The desk as it is now, after entry ``seq`` (taken between two events)."""
        self._last_snapshot = (self.seq, self._clock())
        pickled = pickle.dumps(self.desk, protocol=pickle.HIGHEST_PROTOCOL)
        self._put("snapshot", (self.seq, pickled))

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                kind, item = self._pending.popleft()
                if kind == "stop":
                    return
                if kind == "flush":
                    if not item.done():
                        item.set_result(None)
                    continue
                try:
                    if kind == "entry":
                        batch = [item]
                        while (
                            len(batch) < READ_COUNT
                            and self._pending
                            and self._pending[0][0] == "entry"
                        ):
                            batch.append(self._pending.popleft()[1])
                        await self._append(batch)
                    else:
                        await self._store_snapshot(*item)
                except (RedisError, OSError, TimeoutError) as exc:
                    # Replicas find the gap; a snapshot taken now (the desk is between two
                    # events whenever this task runs) spares them the wait for the next one.
                    self.failed += 1
                    logger.warning("journal: Redis did not take a write: %s", exc)
                    await asyncio.sleep(0.2)
                    if kind == "entry":
                        self._snapshot()
                except Exception:
                    self.failed += 1
                    logger.exception("journal: a write failed")

    async def _append(self, batch: list[bytes]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for body in batch:
                pipe.xadd(JOURNAL, {"e": body, "m": _sign(self._key, body)})
            ids = await pipe.execute()
        last = ids[-1]
        self._last_id = last.decode() if isinstance(last, bytes) else str(last)
        self.written += len(batch)

    async def _store_snapshot(self, seq: int, pickled: bytes) -> None:
        header = {
            "epoch": self.epoch,
            "seq": seq,
            "after": self._last_id,
            "version": VERSION,
            "continues": list(self.continues) if self.continues is not None else None,
        }
        sealed = _seal_snapshot(self._key, header, pickled)
        if not await self._store(keys=[SNAPSHOT], args=[self.epoch, sealed]):
            logger.warning(
                "journal: a newer leader's snapshot is there: epoch %d's dropped", self.epoch
            )
            return
        if self._trim_before is not None:
            await self.redis.xtrim(JOURNAL, minid=self._trim_before, approximate=False)
        self._trim_before = self._last_id
        self.snapshots += 1

    async def flush(self, within: float = 5.0) -> None:
        """Wait until what was journaled so far is written (a test, a drain)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._put("flush", done)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await done

    async def close(self) -> None:
        """Write what is journaled (for up to 5 s), then stop."""
        if self._task is None:
            return
        self._put("stop", None)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5.0):
                await asyncio.shield(self._task)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None


def _stream_id(entry_id: str) -> tuple[int, int]:
    millis, _, count = entry_id.partition("-")
    return int(millis), int(count or 0)


def stored_mark(written: str, done: str | None) -> str:
    """What a records transaction keeps (``parse_mark`` reads it): the mark of the last event
    whose records it holds, and of the last whose other effects were carried out."""
    return f"{written}/{done or ''}"


def parse_mark(stored: str | None) -> tuple[int, int, int] | None:
    """(epoch, written, done) of what the service stored with its records,
    ``"<epoch>:<seq>/<epoch>:<seq>"``: the entry of the last event whose records are written,
    and of the last whose effects were carried out (none: 0). None when they are of two
    epochs: a leader still carrying out what the last one left wrote its own records; nobody
    can go on from there but from the records."""
    if not stored:
        return None
    written, _, done = stored.partition("/")
    epoch, _, seq = written.partition(":")
    done_epoch, _, done_seq = done.partition(":")
    try:
        at = int(epoch), int(seq)
        done_at = (int(done_epoch), int(done_seq)) if done else (at[0], 0)
    except ValueError:
        return None
    if done_at[0] != at[0]:
        return None
    return at[0], at[1], min(done_at[1], at[1])


@dataclass(frozen=True, slots=True)
class Takeover:
    """A replica's desk as a new leader goes on from it (``Replica.take_over``)."""

    desk: Desk
    again: list[Again]  # what the last leader may not have carried out, in order
    done: str  # the mark of the last event whose effects it carried out
    fresh: set[str]  # calls started among them that nobody was told of (opened as new)


class Diverged(Exception):
    """A replica decided otherwise than the leader (another refusal, other ids)."""


class Outcome:
    """What handling one entry gave on the replica: the effects, or the refusal."""

    __slots__ = ("effects", "error")

    def __init__(self, effects: list[Effect] | None, error: BaseException | None) -> None:
        self.effects = effects
        self.error = error

    def result(self) -> list[Effect]:
        if self.error is not None:
            raise self.error
        assert self.effects is not None
        return self.effects


class Replica:
    """A follower's copy of the desk, kept up with the journal."""

    def __init__(
        self,
        redis: Redis,
        key: bytes,
        *,
        on_reset: Callable[[int], None] | None = None,
        on_foreign: Callable[[], None] | None = None,
        on_applied: Callable[[Event], None] | None = None,
    ) -> None:
        """``on_reset(epoch)``: a new leader's desk replaced this replica. ``on_foreign()``: a
        leader of another version leads (this node stops serving; a new process waits).
        ``on_applied(event)``: the replica has just applied ``event`` (must not block)."""
        self._on_applied = on_applied
        self.redis = redis
        self.foreign: str | None = None  # the version of a leader this node does not follow
        self._on_foreign = on_foreign
        self.desk: Desk | None = None
        self.epoch = 0
        self.seq = 0
        self.applied = 0
        self.dropped = 0  # entries that failed the signature check or could not be read
        self.resets = 0
        self.reloads = 0  # snapshots loaded again after a damaged entry or a divergence
        self.diverged_entries = 0  # entries this replica decided otherwise than the leader
        self._stopping = False
        self._key = key
        self._ids = Ids()
        self._after = "0-0"
        self._on_reset = on_reset
        self._waiting: dict[str, asyncio.Future[Outcome]] = {}
        self._outcomes: OrderedDict[str, Outcome] = OrderedDict()
        # (seq, effects) of the entries applied since the snapshot, the last TAIL_KEPT: should
        # this node take the desk over, it carries out those the last leader may not have.
        self._tail: deque[tuple[int, list[Effect]]] = deque(maxlen=TAIL_KEPT)
        # Followers' requests whose entries the leader's desk handled, with the refusal of
        # those it refused, the last TAIL_KEPT, whichever snapshots came between: a node
        # taking the lead answers them as they were answered, without handling them again,
        # when their followers ask again (Service.handled_origins).
        self._origins: OrderedDict[str, BaseException | None] = OrderedDict()
        self.continued = 0  # a new leader's desk went on from this replica's: loaded quietly
        self._suspect = False  # it failed on an entry and has not loaded a snapshot since
        self._read_on = asyncio.Event()  # set each time the replica has read on in the stream
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def diverged(self) -> int:
        return self._ids.ran_out

    async def load(self, at_least: tuple[int, int] = (0, 0)) -> bool:
        """The latest snapshot, if there is one this node can trust and it reaches entry
        ``at_least`` (epoch, seq) or is followed by it; True when loaded."""
        sealed = await self.redis.hget(SNAPSHOT, "blob")
        if not isinstance(sealed, bytes):
            return False
        opened = _open_snapshot(self._key, sealed)
        if opened is None:
            self.dropped += 1
            logger.error("journal: a snapshot failed its signature check: ignored")
            return False
        header, pickled = opened
        if header.get("version") != VERSION:
            # Another version's desk may not have this one's shape (a rolling upgrade): this
            # node follows only a leader of its own version.
            if self.foreign != header.get("version"):
                logger.error(
                    "journal: the leader runs version %s, this node %s: not following it",
                    header.get("version"),
                    VERSION,
                )
            self.foreign = str(header.get("version"))
            if self._on_foreign is not None and self.desk is not None:
                self._on_foreign()
            return False
        self.foreign = None
        if self.desk is not None and int(header["epoch"]) < self.epoch:
            return False  # an older leader's, written late: this replica is past it
        if (int(header["epoch"]), int(header["seq"]) + 1) < at_least:
            return False  # older than what this replica needs: the next one is on its way
        desk = pickle.loads(pickled)  # signed by a node of this deployment: see the docstring
        assert isinstance(desk, Desk)
        desk.draw_ids_with(self._ids.draw)
        reset = self.desk is not None and int(header["epoch"]) != self.epoch
        continues = header.get("continues")
        if reset and continues and self.epoch == int(continues[0]) and self.seq <= continues[1]:
            # The new leader's desk went on from its replica, which had got at least as far
            # as this one: what this node's pages read is part of it (nothing to join again).
            # Whoever waits on an entry this replica will not apply now has the leader's
            # answer (FollowerService.submit).
            reset = False
            self.continued += 1
            self._fail_waiting(Refusal("unavailable", "the desk changed leader: try again", 503))
            logger.info("journal: the leader of epoch %s went on from this desk", header["epoch"])
        self.desk = desk
        self.epoch = int(header["epoch"])
        self.seq = int(header["seq"])
        self._after = str(header["after"])
        self._tail.clear()
        self._suspect = False
        self._ready.set()
        if reset:
            self._reset()
        return True

    @property
    def origins(self) -> dict[str, BaseException | None]:
        """The followers' requests whose entries this replica applied since the desk it holds
        was restored from the records, oldest first, each with its refusal (None: handled)."""
        return dict(self._origins)

    @property
    def position(self) -> tuple[int, int]:
        """(epoch, seq) of the last entry this replica applied."""
        return self.epoch, self.seq

    def take_over(self, mark: str | None) -> Takeover | None:
        """This replica's desk for a node that takes the lead, with what the last leader may
        not have done (``mark``: the records' mark, read as the fence is raised): the entries
        after the last one whose effects it carried out, their records only after the last
        one whose records it wrote. None when the replica cannot go on from there (the mark is
        another epoch's, it did not keep every entry after it, or there are too many): the
        new leader restores from the records."""
        at = parse_mark(mark)
        if self.desk is None or self.foreign is not None or self._suspect:
            return None
        if at is None or at[0] != self.epoch:
            return None
        epoch, written, done = at
        first = self._tail[0][0] if self._tail else self.seq + 1  # the first entry it kept
        if done + 1 < first or written > self.seq or self.seq - done > TAIL_CARRIED:
            return None
        again = [
            Again(effects, f"{epoch}:{seq}", seq > written)
            for seq, effects in self._tail
            if seq > done
        ]
        # Calls started by events whose records were never written: nobody was told of them.
        fresh = {
            e.session_id for a in again if a.write for e in a.effects if isinstance(e, StartMedia)
        }
        return Takeover(self.desk, again, f"{epoch}:{done}", fresh)

    async def caught_up(self, within: float = 2.0) -> bool:
        """Wait until this replica has read every entry the stream holds now (a node about
        to take the desk over: the last leader appends nothing more); False after ``within``."""
        last = await self.redis.xrevrange(JOURNAL, count=1)
        if not last:
            return True
        raw = last[0][0]
        end = _stream_id(raw.decode() if isinstance(raw, bytes) else str(raw))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while _stream_id(self._after) < end:
                    self._read_on.clear()
                    await self._read_on.wait()
                return True
        return False

    def _reset(self) -> None:
        self.resets += 1
        self._fail_waiting(Refusal("unavailable", "the desk changed leader: try again", 503))
        self._outcomes.clear()
        self._origins.clear()  # what the last desk handled is not all in this one
        if self._on_reset is not None:
            self._on_reset(self.epoch)

    def _fail_waiting(self, refusal: Refusal) -> None:
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(refusal)
        self._waiting.clear()

    async def ready(self) -> None:
        await self._ready.wait()

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._follow(), name="Replica")

    async def close(self) -> None:
        """Stop following (within a read's block); whoever waits on an entry is refused."""
        self._stopping = True
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(READ_BLOCK_MS / 1000 + 2):
                    await asyncio.shield(self._task)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._fail_waiting(
            Refusal("unavailable", "this server is changing its role: try again", 503)
        )

    def expect(self, origin: str) -> asyncio.Future[Outcome]:
        """A future for the outcome of the entry a request named ``origin`` will produce
        (register before sending it: the entry may be applied before the reply arrives)."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        if self._stopping:  # it applies nothing more (this node leads, or stops)
            future.set_exception(Refusal("unavailable", "this replica has stopped", 503))
            return future
        known = self._outcomes.pop(origin, None)
        if known is not None:
            future.set_result(known)
        else:
            self._waiting[origin] = future
        return future

    def forget(self, origin: str) -> None:
        self._waiting.pop(origin, None)

    async def _follow(self) -> None:
        backoff = 0.1
        while not self._stopping and not stopping():
            try:
                if self.desk is None and not await self.load():
                    await asyncio.sleep(0.2)  # no leader has started yet
                    continue
                reply: Any = await self.redis.xread(
                    {JOURNAL: self._after}, count=READ_COUNT, block=READ_BLOCK_MS
                )
                backoff = 0.1
                if not reply:
                    continue
                entries = next(iter(reply.values()))[0] if isinstance(reply, dict) else reply[0][1]
                for raw_id, fields in entries:
                    entry_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
                    if not await self._take(entry_id, fields):
                        break  # reloaded: read on from the snapshot's position
                self._read_on.set()
            except (RedisError, OSError, TimeoutError) as exc:
                logger.warning("journal: reading failed (%s); again in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
            except Exception:
                # Whatever it was (a damaged entry, a diverged replica): start again from the
                # latest snapshot rather than serve a desk that is no longer the leader's.
                logger.exception("journal: the replica starts again from a snapshot")
                self._suspect = True  # not a desk to take over until it has
                self.reloads += 1
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                with contextlib.suppress(RedisError, OSError, TimeoutError):
                    await self.load()

    async def _take(self, entry_id: str, fields: dict[Any, Any]) -> bool:
        """Apply one entry; False when the replica had to load a snapshot instead."""
        body, mac = fields.get(b"e"), fields.get(b"m")
        if (
            not isinstance(body, bytes)
            or not isinstance(mac, bytes)
            or not hmac.compare_digest(mac, _sign(self._key, body))
        ):
            self.dropped += 1
            logger.error("journal: entry %s failed its signature check: ignored", entry_id)
            self._after = entry_id
            return True
        entry = json.loads(body)
        epoch, seq = int(entry["epoch"]), int(entry["seq"])
        if epoch < self.epoch or (epoch == self.epoch and seq <= self.seq):
            self._after = entry_id  # in the snapshot already, or an old leader's
            return True
        if epoch > self.epoch or seq != self.seq + 1:
            # A new leader, or entries this replica never saw: start again from a snapshot.
            await self._catch_up(epoch, seq)
            return False
        self._apply(entry)
        self._after = entry_id
        return True

    async def _catch_up(self, epoch: int, seq: int) -> None:
        for _ in range(50):
            if await self.load(at_least=(epoch, seq)):
                return
            await asyncio.sleep(0.1)  # the new leader's first snapshot is on its way
        logger.error("journal: no snapshot covers epoch %d entry %d yet", epoch, seq)

    def _apply(self, entry: dict[str, Any]) -> None:
        """Apply one entry. Raises (and the replica reloads a snapshot) when the entry cannot be
        read or when this desk decides otherwise than the leader's did."""
        assert self.desk is not None
        event = decode(entry["event"])  # ValueError: unreadable, as a whole replica is now
        self.seq = int(entry["seq"])
        self.applied += 1
        outcome: Outcome
        self._ids.replay(list(entry.get("ids") or ()))
        try:
            outcome = Outcome(self.desk.handle(event), None)
        except Exception as exc:  # the leader's desk refused it (or failed on it) too
            outcome = Outcome(None, exc)
        exact = self._ids.finish()
        self._tail.append((self.seq, outcome.effects or []))
        origin = entry.get("origin")
        if not exact or bool(entry.get("refused")) != (outcome.error is not None):
            self.diverged_entries += 1
            waiting = self._waiting.pop(origin, None) if isinstance(origin, str) else None
            if waiting is not None and not waiting.done():
                waiting.set_exception(Refusal("unavailable", "try again", 503))
            raise Diverged(f"entry {self.seq} of epoch {self.epoch}: {type(event).__name__}")
        if self._on_applied is not None and outcome.error is None:
            try:
                self._on_applied(event)
            except Exception:
                logger.exception("journal: after applying %s", type(event).__name__)
        if isinstance(origin, str):
            self._origins[origin] = None if outcome.error is None else detached(outcome.error)
            if len(self._origins) > TAIL_KEPT:
                self._origins.popitem(last=False)
            future = self._waiting.pop(origin, None)
            if future is not None:
                if not future.done():
                    future.set_result(outcome)
            else:
                self._outcomes[origin] = outcome
                while len(self._outcomes) > OUTCOMES_KEPT:
                    self._outcomes.popitem(last=False)

"""Customers for admins: look one up, read their history, export their data, erase them.

A customer is known by the signed reference of the embedding app's identity (an anonymous
customer has no reference, so nothing links their calls to them). What is kept about them is
listed in ``videoassist/store/customers.py``; docs/privacy.md says what each step covers.

* **Export** (GDPR access and portability): a ZIP: ``customer.json`` (their row, tickets, call
  legs with the agents' notes, the context the app sent, their CSAT answer, the chat and marks
  of their calls, the recordings' and photos' metadata) and the files (photos, recordings with
  their sidecars). Written by a worker thread into a small bounded pipe that the response reads
  from, so the download starts at once and the browser shows its progress; nothing is staged on
  disk (a customer's recordings may be gigabytes); when the download is cancelled or the
  connection drops, the thread stops at its next write.
* **Erasure**: refused while the customer has a request open (end it first) and, when a
  tutorial was made from one of their recordings, unless the admin says to delete those
  tutorials too. Then, in one transaction, the rows that hold what they said or showed are
  deleted and the personal fields of their tickets and call legs cleared (they stay, anonymous,
  so yesterday's report still adds up); then the files (recordings, photos, tutorials made from
  them) are deleted in a worker thread. The audit log says an admin erased a customer, by a
  keyed hash of the reference (HMAC with the server's secret: a reference is often guessable, an
  account number, so a plain hash of it could be reversed by trying them), never the reference
  itself; the audit row is written in the erasure's transaction.

  Between the transaction and the files a crash must not leave files nobody can erase any more
  (the customer is gone, so a retry finds nothing): before the transaction a journal naming the
  folders is written to ``DATA_DIR/erasures``; the folders are deleted after it, then the
  journal. At start-up ``finish_erasures`` completes every journal whose transaction committed
  and drops the others (the customer is still there, so the erasure can be asked for again).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import io
import json
import logging
import os
import shutil
import threading
import time
import uuid
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from videoassist.desk.events import AuditRow
from videoassist.errors import Problem
from videoassist.files import AREAS, KEY_PATTERN, Area, FileStore, folder_of
from videoassist.store.customers import CustomerRecords
from videoassist.store.records import Records

logger = logging.getLogger(__name__)


JOURNAL_DIR = "erasures"


class ExportCancelled(Exception):
    """The download ended before the ZIP did: its writer stops."""


class _Pipe(io.RawIOBase):
    """The writer thread's end: each write waits for room in the bounded queue the response
    reads, so at most ``PIPE_CHUNKS`` chunks are in memory. Not seekable: ``zipfile`` then
    writes data descriptors, as streaming needs."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | None]):
        super().__init__()
        self._loop = loop
        self._queue = queue
        self.cancelled = threading.Event()
        self.written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.cancelled.is_set():
            raise ExportCancelled
        chunk = bytes(data)
        if chunk:
            asyncio.run_coroutine_threadsafe(self._queue.put(chunk), self._loop).result()
            self.written += len(chunk)
        return len(chunk)


PIPE_CHUNKS = 16
PIPE_CHUNK = 256 * 1024


class Export:
    """A ZIP being written by a worker thread; ``async for`` reads its chunks in order.
    ``aclose`` (after the last chunk, or at any time to cancel) stops the writer and waits for
    it; an error of the writer is raised from the iteration, after the chunks before it."""

    def __init__(self, write: Callable[[_Pipe], None]) -> None:
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(PIPE_CHUNKS)
        self._pipe = _Pipe(asyncio.get_running_loop(), self._queue)
        self._writer = asyncio.ensure_future(asyncio.to_thread(self._run, write))

    def _run(self, write: Callable[[_Pipe], None]) -> None:
        try:
            write(self._pipe)
        finally:
            if not self._pipe.cancelled.is_set():
                asyncio.run_coroutine_threadsafe(self._queue.put(None), self._pipe._loop).result()

    @property
    def written(self) -> int:
        return self._pipe.written

    def __aiter__(self) -> Export:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self._queue.get()
        if chunk is None:
            await self._writer  # raises what the writer raised
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> bool:
        """Stop and wait for the writer; True if it had finished the ZIP."""
        finished = self._writer.done()
        self._pipe.cancelled.set()
        while not self._writer.done():
            while not self._queue.empty():  # a writer waiting for room gets it, then stops
                self._queue.get_nowait()
            await asyncio.wait({self._writer}, timeout=0.05)
        with contextlib.suppress(ExportCancelled):
            self._writer.result()
        return finished


class Customers:
    def __init__(
        self,
        records: Records,
        files: FileStore,
        data_dir: Path,
        secret: str,
        *,
        open_ticket: Callable[[str], bool],
        drop_from_search: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        """``secret``: the server's secret key, which keys ``ref_hash``. ``open_ticket(ticket_id)``:
        the desk still has this ticket open (waiting or in a call). ``drop_from_search(tutorial_id,
        state)``: takes a deleted tutorial out of the search index."""
        self.records = records
        self.store = CustomerRecords(records.engine)
        self._files = files
        self.data_dir = Path(data_dir)  # the erasure journals
        self._key = hashlib.sha256(b"videoassist customer audit\0" + secret.encode()).digest()
        self._open_ticket = open_ticket
        self._drop_from_search = drop_from_search

    def ref_hash(self, ref: str) -> str:
        """What the audit log and the export's file name keep of a customer: the same for the
        same reference on every node sharing ``SECRET_KEY`` (so an admin can answer "was this
        customer erased?"), useless without the key."""
        return hmac.new(self._key, ref.encode(), hashlib.sha256).hexdigest()[:24]

    async def find(self, text: str) -> dict[str, Any]:
        """``{"customers": [...], "more": bool}``: more matched than are listed."""
        rows, more = await self.store.find(text)
        return {"customers": [_customer_out(row) for row in rows], "more": more}

    async def history(self, ref: str) -> dict[str, Any]:
        history = await self.store.history(ref)
        if history is None:
            raise Problem("not_found", "no such customer", 404)
        return history

    async def profile(self, ref: str) -> dict[str, Any]:
        """The customer and every request with its outcome, as the admin page shows them."""
        h = await self.history(ref)
        legs_of: dict[str, list[dict[str, Any]]] = {}
        for leg in h["sessions"]:
            legs_of.setdefault(leg["ticket_id"], []).append(leg)
        context = {row["ticket_id"]: row["context"] for row in h["context"]}
        answers = {row["ticket_id"]: row for row in h["csat"]}
        recorded: dict[str, list[dict[str, Any]]] = {}
        for row in h["recordings"]:
            recorded.setdefault(row["call_id"], []).append(row)
        requests = []
        for ticket in h["tickets"]:
            legs = legs_of.get(ticket["id"], [])
            calls = {leg["call_id"] or leg["id"] for leg in legs}
            answer = answers.get(ticket["id"])
            requests.append(
                {
                    "ticket_id": ticket["id"],
                    "queue": ticket["queue_id"],
                    "topic": ticket["topic"],
                    "description": ticket["description"],
                    "tapped_at": ticket["queued_at"],
                    "ended_at": ticket["ended_at"],
                    "status": ticket["status"],
                    "end_reason": ticket["end_reason"],
                    "context": context.get(ticket["id"], {}),
                    "calls": [
                        {
                            "session_id": leg["id"],
                            "agent": leg["agent_id"],
                            "answered_at": leg["answered_at"],
                            "ended_at": leg["ended_at"],
                            "wait": round(leg["answered_at"] - ticket["queued_at"], 1),
                            "end_reason": leg["end_reason"],
                            "disposition": leg["disposition"],
                        }
                        for leg in legs
                    ],
                    "csat": {"score": answer["score"], "comment": answer["comment"]}
                    if answer
                    else None,
                    "recordings": [
                        {"id": r["id"], "duration": r["duration"], "consent": r["consent"]}
                        for call in sorted(calls)
                        for r in recorded.get(call, [])
                    ],
                }
            )
        return {
            "customer": _customer_out(h["customer"]) if h["customer"] else {"ref": ref},
            "requests": requests,
            "tutorials": [t["id"] for t in h["tutorials"]],
        }

    # ------------------------------------------------------------ export

    async def export(self, ref: str) -> Export:
        """The customer's ZIP as it is written (``Export``: iterate it for the bytes, close it
        to stop). Refusals (``Problem``) come before the first byte."""
        history = await self.history(ref)
        return Export(lambda pipe: self._zip(pipe, ref, history))

    def _zip(self, pipe: _Pipe, ref: str, history: dict[str, Any]) -> None:
        manifest = {
            "exported_at": time.time(),
            "reference": ref,
            **{key: value for key, value in history.items() if key != "calls"},
        }
        buffered = io.BufferedWriter(pipe, buffer_size=PIPE_CHUNK)  # one hop per 256 KiB
        with zipfile.ZipFile(buffered, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("customer.json", json.dumps(manifest, indent=1, default=str))
            for item in history["items"]:
                photo = self._files.folder("calls", item["call_id"]) / f"{item['id']}.jpg"
                if photo.is_file():
                    archive.write(photo, f"photos/{item['call_id']}/{photo.name}")
            for row in history["recordings"]:
                folder = self._files.folder("recordings", folder_of(row))
                for file in sorted(folder.glob("*")) if folder.is_dir() else []:
                    if file.is_file():
                        # Media is compressed already: stored as it is.
                        archive.write(
                            file,
                            f"recordings/{folder_of(row)}/{file.name}",
                            compress_type=zipfile.ZIP_STORED,
                        )
        buffered.flush()

    # ------------------------------------------------------------ erasure

    async def erase(self, ref: str, actor: tuple[str, str], with_tutorials: bool) -> dict[str, Any]:
        history = await self.history(ref)
        still_open = [t["id"] for t in history["tickets"] if self._open_ticket(t["id"])]
        if still_open:
            raise Problem(
                "conflict",
                "the customer has a request open (waiting or in a call): end it first",
                409,
            )
        made = [t["id"] for t in history["tutorials"]]
        if made and not with_tutorials:
            raise Problem(
                "conflict",
                f"tutorials were made from this customer's recordings ({', '.join(made)}): "
                "delete them with the erasure (with_tutorials) or have a trainer replace them",
                409,
            )
        folders: list[tuple[Area, str]] = [("recordings", call) for call in history["calls"]]
        # The parts of a call recorded on after a restart have folders of their own.
        folders += [("recordings", folder_of(row)) for row in history["recordings"]]
        folders += [("calls", call) for call in history["calls"]]
        folders += [("tutorials", tutorial_id) for tutorial_id in made]
        folders = list(dict.fromkeys(folders))
        actor_id, actor_name = actor
        journal = await asyncio.to_thread(
            self._write_journal, [t["id"] for t in history["tickets"]], folders
        )
        try:
            counts = await self.store.erase(
                ref,
                history,
                AuditRow(
                    at=time.time(),
                    actor_id=actor_id,
                    actor_name=actor_name,
                    action="customer_erased",
                    subject_kind="customer",
                    subject_id=self.ref_hash(ref),
                    detail={"requests": len(history["tickets"]), "folders": len(folders)},
                ),
            )
        except BaseException:
            journal.unlink(missing_ok=True)  # nothing was erased: nothing to finish
            raise
        for tutorial_id in made:
            if self._drop_from_search is not None:
                for state in ("draft", "published"):
                    await self._drop_from_search(tutorial_id, state)
        removed = await asyncio.to_thread(self._finish, journal, folders)
        logger.info(
            "Customers: %s erased customer %s (%d requests, %d folders)",
            actor_name,
            self.ref_hash(ref),
            len(history["tickets"]),
            removed,
        )
        return {"erased": True, "rows": counts, "folders": removed}

    def _write_journal(self, tickets: list[str], folders: list[tuple[Area, str]]) -> Path:
        directory = self.data_dir / JOURNAL_DIR
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{uuid.uuid4().hex}.json"
        body = json.dumps({"tickets": tickets, "folders": [f"{a}/{k}" for a, k in folders]})
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        return path

    def _finish(self, journal: Path, folders: list[tuple[Area, str]]) -> int:
        removed = 0
        for area, key in folders:
            target = self._files.folder(area, key)
            if target.is_dir():
                shutil.rmtree(target)
                removed += 1
        journal.unlink(missing_ok=True)
        return removed

    async def finish_erasures(self) -> int:
        """At start-up: delete the folders of every erasure whose transaction committed before
        the process stopped (its tickets no longer name a customer), drop the journals of those
        that did not. Returns the number of erasures finished."""
        directory = self.data_dir / JOURNAL_DIR
        finished = 0
        for journal in sorted(directory.glob("*.json")) if directory.is_dir() else []:
            try:
                entry = json.loads(journal.read_text(encoding="utf-8"))
                tickets = list(entry["tickets"])
                folders = [_area_key(str(f)) for f in entry["folders"]]
            except (OSError, ValueError, KeyError, TypeError):
                logger.error(
                    "Customers: unreadable erasure journal %s (or one naming a folder outside "
                    "the files) left for an operator",
                    journal,
                )
                continue
            if await self.store.still_named(tickets):
                logger.warning("Customers: an erasure did not commit before a stop; nothing erased")
                journal.unlink(missing_ok=True)
                continue
            removed = await asyncio.to_thread(self._finish, journal, folders)
            logger.info("Customers: finished an interrupted erasure (%d folders)", removed)
            finished += 1
        return finished


def _area_key(entry: str) -> tuple[Area, str]:
    """A journal's ``<area>/<key>``; ValueError for anything else (a path outside the files)."""
    area, _, key = entry.partition("/")
    if area not in AREAS or not KEY_PATTERN.match(key):
        raise ValueError(f"not a folder of the files: {entry!r}")
    return area, key  # type: ignore[return-value]  # checked against AREAS


def _customer_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "ref": row["ref"],
        "name": row["name"],
        "email": row["email"],
        "first_contact": row["first_contact"],
        "last_contact": row["last_contact"],
    }

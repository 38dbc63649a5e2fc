"""Recordings: policy, consent, the sidecar event log, the records, repair, retention, links.

Rules (everything about whether and what is recorded lives here):

* A call's queue has a recording policy (``QueueConfig.recording``): ``off`` (the default),
  ``ask`` or ``always``. With ``ask`` the customer is asked when the call starts
  (``recording_consent_requested``) and nothing is recorded until they answer yes
  (``recording_consent``): before that the media session has no recorder, so not one media
  byte can reach a file. A refusal (or no answer by the end of the call) is stored as a
  ``recordings`` row without files; the call goes on unrecorded.
* Both sides are told the state (``recording_state``: ``recording`` / ``paused`` / ``off``)
  whenever it changes; the agent of the call may pause and resume.
* Files live in ``recordings/<call_id>/`` in the file store (videoassist/files.py):
  ``customer.webm`` and ``agent.webm`` (videoassist.media.recorder) and ``events.jsonl``, the
  sidecar: every call-room event on the same media clock as the files, one JSON object per line,
  flushed per line. While paused, chat lines and photos are kept as ``{"redacted": true}`` (a pause
  is for passwords and card numbers); annotations are kept so that a replay after the pause draws
  the right marks.
* A ``recordings`` row is written when recording starts and finalized (end, files, duration,
  size, participants) when the call's media ends. At start-up, rows without an end (the
  process was killed) are repaired: each file is remuxed (no decode) so its duration is right.
* A call that goes on after a crash, a drain or a failover (``CALL_RESUME_WINDOW``) is
  recorded in parts: the part before is repaired or finished as above, and the process that
  carries the call on records part 2 (then 3...) in ``<call_id>-<part>/``, its own row. The
  customer's answer carries over: a call they agreed to record is recorded on without asking
  again, a refusal stands, an unanswered question is asked again.
* Files are served only to trainers, supervisors and admins, through links signed for that
  staff member that expire (``RECORDING_LINK_TTL``); paths are built from stored ids and a
  fixed set of names, never from the request. Recordings are deleted
  ``RECORDING_RETENTION_DAYS`` after they end, off the event loop, each deletion logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from videoassist.call_room import CallEvent, CallRooms
from videoassist.delivery import Delivery, Parties
from videoassist.desk import ServerEvent
from videoassist.errors import ContentError, MediaError, Problem, Refusal
from videoassist.files import FileStore, folder_name, folder_of
from videoassist.integrations import IntegrationsPort, NoIntegrations
from videoassist.store.records import Records

logger = logging.getLogger(__name__)

RECORDING_ROLES = ("trainer", "supervisor", "admin")
FILE_NAMES = ("customer.webm", "agent.webm", "events.jsonl")
CONTENT_TYPES = {".webm": "video/webm", ".jsonl": "application/x-ndjson"}
SIDECAR = "events.jsonl"
PURGE_INTERVAL = 3600.0
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
REDACTED_WHILE_PAUSED = frozenset({"chat", "photo"})
NOT_KEPT = frozenset({"typing"})  # drafts: many, and the final line is kept anyway


class RecorderPort(Protocol):
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    async def close(self) -> list[Any]: ...


class RecordingMedia(Protocol):
    """What recording needs from the media hub."""

    def record(self, session_id: str, folder: Path) -> RecorderPort: ...


@dataclass(slots=True)
class CallRecording:
    call_id: str
    ticket_id: str
    queue_id: str
    policy: str
    agents: list[str]
    consent: str = "not_asked"  # pending / accepted / refused / unanswered
    state: str = "off"  # recording / paused / off
    row_id: str | None = None
    recorder: RecorderPort | None = None
    sidecar: IO[str] | None = None
    started: float = 0.0
    pauses: list[tuple[float, float | None]] = field(default_factory=list)
    part: int = 1

    @property
    def folder(self) -> str:
        return folder_name(self.call_id, self.part)

    @property
    def parties(self) -> Parties:
        return Parties(self.ticket_id, self.agents[-1])

    def participants(self) -> list[str]:
        return [f"customer:{self.ticket_id}", *(f"agent:{a}" for a in self.agents)]

    def wire(self) -> dict[str, Any]:
        return {"session_id": self.call_id, "state": self.state, "consent": self.consent}


class Recordings:
    def __init__(
        self,
        records: Records,
        media: RecordingMedia,
        delivery: Delivery,
        rooms: CallRooms,
        files: FileStore,
        secret: str,
        *,
        policy_of: Callable[[str], tuple[str, str]],
        settled: Callable[[], Awaitable[None]],
        link_ttl: float = 600.0,
        retention_days: float = 30.0,
        integrations: IntegrationsPort | None = None,
    ) -> None:
        """``policy_of(ticket_id)``: (queue id, policy) of the ticket's queue now.
        ``settled()``: returns once the desk event being handled has had all its effects
        (the customer has been told "matched" before they are asked anything)."""
        self._records = records
        self._media = media
        self._delivery = delivery
        self._rooms = rooms
        self._files = files
        self.root = files.area("recordings")  # where they are on this node (tests, logs)
        self._urls = URLSafeTimedSerializer(secret, salt="videoassist.recording")
        self._policy_of = policy_of
        self._settled = settled
        self.link_ttl = link_ttl
        self.retention_days = retention_days
        self._integrations = integrations or NoIntegrations()
        self._calls: dict[str, CallRecording] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._purger: asyncio.Task[None] | None = None
        self.closed = False

    # ------------------------------------------------------------ the call's life (media port)

    def call_started(self, call_id: str, ticket_id: str, agent_id: str) -> None:
        if self.closed or call_id in self._calls:
            return
        queue_id, policy = self._policy_of(ticket_id)
        call = CallRecording(call_id, ticket_id, queue_id, policy, [agent_id])
        self._calls[call_id] = call
        if policy == "ask":
            call.consent = "pending"
        if policy != "off":
            self._spawn(self._start(call), f"start:{call_id}")

    def handed_over(self, call_id: str, agent_id: str) -> None:
        call = self._calls.get(call_id)
        if call is None:
            return
        call.agents.append(agent_id)
        self._sidecar(call, "agent_changed", "desk", {"agent": agent_id})
        if call.policy != "off":
            self._spawn(
                self._delivery.to_agent(agent_id, ServerEvent.RECORDING_STATE, call.wire()),
                f"handover:{call_id}",
            )

    def call_ended(self, call_id: str) -> None:
        call = self._calls.pop(call_id, None)
        if call is not None and call.policy != "off":
            self._spawn(self._finish(call), f"finish:{call_id}")

    # ------------------------------------------------------------ what the parties do

    def state(self, call_id: str) -> dict[str, Any]:
        call = self._calls.get(call_id)
        if call is None:
            return {"session_id": call_id, "state": "off", "consent": "not_asked"}
        return call.wire()

    async def consent(self, call_id: str, ticket_id: str, accept: bool) -> dict[str, Any]:
        call = self._calls.get(call_id)
        if call is None or call.ticket_id != ticket_id:
            raise Refusal("forbidden", "you are not in that call")
        if call.consent != "pending":
            raise Problem("conflict", "there is no question about recording to answer", 409)
        if accept:
            call.consent = "accepted"
            await self._begin(call)
        else:
            call.consent = "refused"
            await self._refused(call)
        return call.wire()

    async def pause(self, call_id: str, agent_id: str) -> dict[str, Any]:
        call = self._owned(call_id, agent_id)
        if call.state != "recording" or call.recorder is None:
            raise Problem("conflict", "the call is not being recorded", 409)
        call.recorder.pause()
        call.state = "paused"
        self._sidecar(call, "recording_paused", f"agent:{agent_id}", {})
        await self._tell(call)
        return call.wire()

    async def resume(self, call_id: str, agent_id: str) -> dict[str, Any]:
        call = self._owned(call_id, agent_id)
        if call.state != "paused" or call.recorder is None:
            raise Problem("conflict", "the recording is not paused", 409)
        call.recorder.resume()
        call.state = "recording"
        self._sidecar(call, "recording_resumed", f"agent:{agent_id}", {})
        await self._tell(call)
        return call.wire()

    def _owned(self, call_id: str, agent_id: str) -> CallRecording:
        call = self._calls.get(call_id)
        if call is None or call.agents[-1] != agent_id:
            raise Refusal("forbidden", "you are not in that call")
        return call

    # ------------------------------------------------------------ the sidecar (a subscriber)

    async def __call__(self, event: CallEvent) -> None:
        call = self._calls.get(event.call_id)
        if call is None or call.sidecar is None or event.kind in NOT_KEPT:
            return
        data: Any = dict(event.data)
        if call.state == "paused" and event.kind in REDACTED_WHILE_PAUSED:
            data = {"redacted": True}
        self._write_line(call, event.at, event.wall, event.kind, event.actor, data)

    def _sidecar(self, call: CallRecording, kind: str, actor: str, data: dict[str, Any]) -> None:
        if call.sidecar is not None:
            at = self._rooms.room(call.call_id).clock() if call.call_id in self._rooms else None
            self._write_line(call, at, time.time(), kind, actor, data)

    def _write_line(
        self, call: CallRecording, at: float | None, wall: float, kind: str, actor: str, data: Any
    ) -> None:
        # One short line into the page cache: cheaper than a hop to a thread, and flushed so a
        # killed process keeps every line written before it.
        assert call.sidecar is not None
        line = {"at": at, "wall": round(wall, 3), "kind": kind, "actor": actor, "data": data}
        call.sidecar.write(json.dumps(line, separators=(",", ":")) + "\n")
        call.sidecar.flush()

    # ------------------------------------------------------------ steps

    async def _start(self, call: CallRecording) -> None:
        """Record, or ask first; a call that was recorded before a restart goes on in a new
        part, with the customer's answer as it was."""
        earlier = [
            row
            for row in await self._records.recordings_of(call.call_id)
            if row["call_id"] == call.call_id
        ]
        if earlier:
            call.part = max(row.get("part") or 1 for row in earlier) + 1
            answer = earlier[-1]["consent"]
            if call.policy == "ask" and answer in ("accepted", "refused"):
                call.consent = answer
        if call.consent == "refused":
            await self._settled()
            await self._tell(call)
        elif call.consent == "pending":
            await self._ask(call)
        else:
            await self._begin(call)

    async def _ask(self, call: CallRecording) -> None:
        await self._settled()
        if self._calls.get(call.call_id) is not call:
            return
        await self._delivery.to_customer(
            call.ticket_id, ServerEvent.RECORDING_CONSENT_REQUESTED, {"session_id": call.call_id}
        )
        await self._delivery.to_agent(call.agents[-1], ServerEvent.RECORDING_STATE, call.wire())

    async def _begin(self, call: CallRecording) -> None:
        await self._settled()
        if self._calls.get(call.call_id) is not call or call.recorder is not None:
            return
        folder = self._files.folder("recordings", call.folder)
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        try:
            call.recorder = self._media.record(call.call_id, folder)
        except MediaError as exc:
            logger.warning("Recordings(%s) cannot record: %s", call.call_id, exc.message)
            return
        call.sidecar = await asyncio.to_thread(
            (folder / SIDECAR).open, "a", encoding="utf-8", buffering=1
        )
        call.started = time.time()
        call.row_id = secrets.token_hex(8)
        call.state = "recording"
        await self._records.add_recording(
            {
                "id": call.row_id,
                "call_id": call.call_id,
                "ticket_id": call.ticket_id,
                "queue_id": call.queue_id,
                "policy": call.policy,
                "consent": call.consent,
                "participants": call.participants(),
                "files": [],
                "started_at": call.started,
                "part": call.part,
            }
        )
        snapshot = self._rooms.room(call.call_id).snapshot() if call.call_id in self._rooms else {}
        self._sidecar(
            call,
            "recording_started",
            "server",
            {"policy": call.policy, "consent": call.consent, "room": snapshot},
        )
        logger.info(
            "Recordings(%s) recording (policy %s, consent %s) row %s",
            call.call_id,
            call.policy,
            call.consent,
            call.row_id,
        )
        await self._tell(call)

    async def _refused(self, call: CallRecording) -> None:
        now = time.time()
        await self._records.add_recording(
            {
                "id": secrets.token_hex(8),
                "call_id": call.call_id,
                "ticket_id": call.ticket_id,
                "queue_id": call.queue_id,
                "policy": call.policy,
                "consent": call.consent,
                "participants": call.participants(),
                "files": [],
                "started_at": now,
                "ended_at": now,
                "part": call.part,
            }
        )
        logger.info("Recordings(%s) not recorded: consent %s", call.call_id, call.consent)
        await self._tell(call)

    async def _tell(self, call: CallRecording) -> None:
        if call.call_id in self._calls:
            await self._delivery.to_call(call.parties, ServerEvent.RECORDING_STATE, call.wire())

    async def _finish(self, call: CallRecording) -> None:
        if call.consent == "pending":
            call.consent = "unanswered"
            await self._refused(call)
            return
        if call.recorder is None or call.row_id is None:
            return
        files = await call.recorder.close()
        if call.sidecar is not None:
            self._sidecar(call, "recording_ended", "server", {})
            await asyncio.to_thread(call.sidecar.close)
        folder = self._files.folder("recordings", call.folder)
        rows = [f.row() for f in files]
        sidecar = folder / SIDECAR
        size = sum(f["size"] for f in rows)
        if sidecar.exists():
            sidecar_size = (await asyncio.to_thread(sidecar.stat)).st_size
            rows.append({"party": None, "name": SIDECAR, "size": sidecar_size})
            size += sidecar_size
        duration = max((f.get("duration", 0.0) for f in rows), default=0.0)
        if call.part > 1 and not duration:
            # Restored, but no one came back before the call ended: no part to keep.
            await self._records.delete_recording(call.row_id)
            await asyncio.to_thread(shutil.rmtree, folder, True)
            logger.info("Recordings(%s) part %d had no media: dropped", call.call_id, call.part)
            return
        await self._records.update_recording(
            call.row_id,
            ended_at=time.time(),
            files=rows,
            duration=duration,
            size=size,
            participants=call.participants(),
        )
        from videoassist.media.conversation import analyse_call

        try:
            # Off the loop: decoding a long call's two voices takes a second or two.
            figures = await asyncio.to_thread(analyse_call, folder)
        except Exception:
            logger.exception("Recordings(%s): conversation analytics failed", call.call_id)
        else:
            if figures is not None:
                await self._records.update_recording(call.row_id, conversation=figures)
        self._integrations.publish(
            "recording.ready",
            {
                "recording_id": call.row_id,
                "call_id": call.call_id,
                "ticket_id": call.ticket_id,
                "queue": call.queue_id,
                "duration": round(duration, 3),
                "size": size,
                "files": [f["name"] for f in rows],
            },
        )
        logger.info(
            "Recordings(%s) finished row %s: %.1f s, %d bytes, %d files",
            call.call_id,
            call.row_id,
            duration,
            size,
            len(rows),
        )

    def _spawn(self, coro: Awaitable[Any], what: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(f"Recordings.{what}")
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("Recordings: %s failed", task.get_name(), exc_info=task.exception())

    # ------------------------------------------------------------ start-up, retention, close

    async def repair_unfinished(
        self, held_elsewhere: Callable[[list[str]], Awaitable[set[str]]] | None = None
    ) -> int:
        """Rows without an end (a killed process): remux their files so durations are right,
        then finalize the rows. Finished recordings are not touched, nor (with several nodes)
        one whose call another live node carries: it is being written (``held_elsewhere``:
        which of these calls are)."""
        from videoassist.media.recorder import repair

        rows = await self._records.unfinished_recordings()
        elsewhere = await held_elsewhere([r["call_id"] for r in rows]) if held_elsewhere else set()
        for row in rows:
            if row["call_id"] in elsewhere:
                logger.info("Recordings: %s is being recorded on another node", row["id"])
                continue
            folder = self._files.folder("recordings", folder_of(row))
            files: list[dict[str, Any]] = []
            for name in FILE_NAMES:
                path = folder / name
                if not path.is_file():
                    continue
                entry: dict[str, Any] = {"party": name.split(".")[0], "name": name}
                if name.endswith(".webm"):
                    try:
                        duration, size = await asyncio.to_thread(repair, path)
                        entry |= {"size": size, "duration": duration}
                    except Exception as exc:
                        logger.warning("Recordings: %s could not be repaired: %s", path, exc)
                        entry |= {"size": path.stat().st_size, "duration": 0.0}
                else:
                    entry |= {"party": None, "size": path.stat().st_size}
                files.append(entry)
            await self._records.update_recording(
                row["id"],
                ended_at=time.time(),
                files=files,
                duration=max((f.get("duration", 0.0) for f in files), default=0.0),
                size=sum(f["size"] for f in files),
                repaired=True,
            )
            logger.info(
                "Recordings: repaired %s (call %s): %s",
                row["id"],
                row["call_id"],
                ", ".join(f"{f['name']} {f.get('duration', 0):.1f}s" for f in files) or "no files",
            )
        return len(rows)

    def start_purging(self) -> None:
        if self._purger is None and self.retention_days > 0:
            self._purger = asyncio.create_task(self._purge_loop(), name="Recordings.purge")

    async def _purge_loop(self) -> None:
        while True:
            try:
                await self.purge()
            except Exception:
                logger.exception("Recordings: purge failed")
            await asyncio.sleep(PURGE_INTERVAL)

    async def purge(self, now: float | None = None) -> int:
        """Delete recordings that ended more than ``retention_days`` ago (files, then row)."""
        if self.retention_days <= 0:
            return 0
        cutoff = (time.time() if now is None else now) - self.retention_days * 86400
        rows = await self._records.recordings_ended_before(cutoff)
        for row in rows:
            folder = self._files.folder("recordings", folder_of(row))
            await asyncio.to_thread(shutil.rmtree, folder, True)
            await self._records.delete_recording(row["id"])
            logger.info(
                "Recordings: deleted %s (call %s, ended %s, %d bytes): retention %g days",
                row["id"],
                row["call_id"],
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(row["ended_at"])),
                row["size"],
                self.retention_days,
            )
        return len(rows)

    async def close(self) -> None:
        """Idempotent: finalize every recording still open (the drain ended their calls; a
        call still here is finalized now), stop the purge, wait for every finalize."""
        self.closed = True
        for call_id in list(self._calls):
            self.call_ended(call_id)
        if self._purger is not None:
            self._purger.cancel()
            await asyncio.gather(self._purger, return_exceptions=True)
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ------------------------------------------------------------ serving

    async def listing(self, session_id: str, staff_id: int) -> list[dict[str, Any]]:
        if not ID_PATTERN.match(session_id):
            return []
        rows = await self._records.recordings_of(session_id)
        return [self._out(row, staff_id) for row in rows]

    async def library(self, staff_id: int, **filters: Any) -> list[dict[str, Any]]:
        """Finished recordings matching ``filters`` (``Records.find_recordings``), newest first,
        with topic, agents (by display name) and dispositions, and links signed for the caller."""
        rows = await self._records.find_recordings(**filters)
        names = {f"u{u['id']}": u["display_name"] for u in await self._records.list_users()}
        out = []
        for row in rows:
            entry = self._out(row, staff_id)
            entry["topic"] = row["topic"]
            entry["sessions"] = [
                {**leg, "agent_name": names.get(leg["agent_id"], leg["agent_id"])}
                for leg in row["sessions"]
            ]
            out.append(entry)
        return out

    def _out(self, row: dict[str, Any], staff_id: int) -> dict[str, Any]:
        return {
            "id": row["id"],
            "call_id": row["call_id"],
            "queue_id": row["queue_id"],
            "policy": row["policy"],
            "consent": row["consent"],
            "participants": row["participants"],
            "started_at": row["started_at"],
            "ended_at": row["ended_at"],
            "duration": row["duration"],
            "size": row["size"],
            "repaired": bool(row["repaired"]),
            "part": row.get("part") or 1,
            "files": [
                {
                    **f,
                    "url": self.url(row["id"], f["name"], staff_id),
                }
                for f in row["files"]
                if f["name"] in FILE_NAMES
            ],
        }

    def url(self, recording_id: str, name: str, staff_id: int) -> str:
        token = self._urls.dumps([recording_id, name, staff_id])
        return f"/api/recordings/{recording_id}/files/{name}?sig={token}"

    async def open(self, recording_id: str, name: str, sig: str, staff_id: int) -> Path:
        """The file a signed link names, for the staff member it was signed for."""
        try:
            signed = self._urls.loads(sig, max_age=max(1, round(self.link_ttl)))
        except (BadSignature, SignatureExpired):
            raise ContentError(
                403, "forbidden", "this link is not valid (or has expired)"
            ) from None
        if signed != [recording_id, name, staff_id] or name not in FILE_NAMES:
            raise ContentError(403, "forbidden", "this link is not valid")
        row = await self._records.recording(recording_id)
        if row is None or name not in {f["name"] for f in row["files"]}:
            raise ContentError(404, "not_found", "no such recording file")
        path = self._files.folder("recordings", folder_of(row)) / name
        if not path.is_file():
            raise ContentError(404, "not_found", "no such recording file")
        return path

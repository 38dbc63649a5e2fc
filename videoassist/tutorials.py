"""Tutorials: the library trainers make from recordings, and how it reaches customers.

Rules (docs/tutorials.md is the reader's version):

* A tutorial is made from one recording. Its **draft** (the edit model, every time on the
  recording's media clock) is kept apart from its **published** version: saving a draft never
  changes what viewers get; publishing stores the draft as the next numbered version (kept for
  good) and makes it the published one; reverting drops the draft. The recording of a published
  tutorial is kept by the retention purge (``Records.recordings_ended_before``).
* Every edit is checked against its recording before it is stored (``Timeline``): the trim
  and cuts must keep something, chapters and the poster must fall in what is kept.
* Renders run one at a time in a worker thread (``videoassist.media.export``), pollable, with
  a cancel; the output goes to ``tutorials/<id>/`` in the file store (videoassist/files.py);
  the recording is only read.
* Videos are served through signed links only. A link names the tutorial, the version, the file
  and its audience: a staff member, a customer's ticket (``TUTORIAL_LINK_TTL``) or a public
  token, which must still be the tutorial's when the link is used (revoking the public link
  revokes the links it handed out).
* An agent pushes a published tutorial to the customer of their own live call
  (``tutorial_pushed``); the customer's player reports back (``tutorial_progress``), relayed
  to the call's current agent if the push is of the customer's own live call. Waiting customers
  list the published tutorials of their topic; a customer who opened one and then leaves the
  line (``cancel``) is counted once in ``tutorial_deflections``. Watching never touches the
  desk: the customer keeps their place.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from videoassist.delivery import Delivery
from videoassist.desk import ServerEvent
from videoassist.desk.events import TicketRow
from videoassist.errors import ContentError, Problem, Refusal
from videoassist.files import FileStore, folder_of
from videoassist.integrations import IntegrationsPort, NoIntegrations
from videoassist.media.timeline import Blur, Overlay, Timeline, TimelineError, remap_events
from videoassist.store.records import Records
from videoassist.store.tutorials import Hit, Moment, SearchDoc, TutorialRecords, TutorialSearch

logger = logging.getLogger(__name__)

MEDIA_NAMES = {"mp4": "video.mp4", "webm": "video.webm"}
POSTER_NAME = "poster.jpg"  # cut from a render at the poster time: its blur and marks burned in
MEDIA_TYPES = {"video.mp4": "video/mp4", "video.webm": "video/webm", POSTER_NAME: "image/jpeg"}
POSTER_QUALITY = 85
SOURCES = {"customer": "customer.webm", "agent": "agent.webm"}
MAX_PUSHES = 10_000
MAX_WATCHERS = 100_000
# Why a ticket closed when its customer left the line while waiting (desk/desk.py).
LEFT_WAITING = frozenset({"cancelled", "customer_left"})
MAX_JOBS = 200  # finished jobs kept for polling


def _not_found() -> Problem:
    return Problem("not_found", "no such tutorial", 404)


@dataclass(slots=True)
class RenderJob:
    id: str
    tutorial_id: str
    version: str  # "3" or "draft"
    format: str
    state: str = "queued"  # queued / running / done / failed / cancelled
    progress: float = 0.0
    started: float | None = None  # monotonic
    error: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    task: asyncio.Future[Any] | None = None

    def eta(self) -> float | None:
        if self.state != "running" or self.started is None or self.progress <= 0.01:
            return None
        elapsed = time.monotonic() - self.started
        return round(elapsed / self.progress * (1.0 - self.progress), 1)

    def wire(self, url: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "tutorial_id": self.tutorial_id,
            "version": int(self.version) if self.version.isdigit() else self.version,
            "format": self.format,
            "state": self.state,
            "progress": round(self.progress, 4),
            "eta": self.eta(),
            "error": self.error,
            "url": url,
        }


@dataclass(frozen=True, slots=True)
class Push:
    id: str
    call_id: str
    ticket_id: str
    agent_id: str
    tutorial_id: str


class CallNotes(Protocol):
    """The call rooms as tutorials use them (``CallRooms.note``)."""

    async def note(self, call_id: str, kind: str, actor: str, data: dict[str, Any]) -> None: ...


class Tutorials:
    def __init__(
        self,
        records: Records,
        store: TutorialRecords,
        search: TutorialSearch,
        delivery: Delivery,
        files: FileStore,
        secret: str,
        *,
        rooms: CallNotes | None = None,
        agent_of: Callable[[str], str | None] = lambda call_id: None,
        session_of: Callable[[str], str | None] = lambda agent_id: None,
        staff_link_ttl: float = 600.0,
        customer_link_ttl: float = 7200.0,
        render_threads: int = 0,
        integrations: IntegrationsPort | None = None,
    ) -> None:
        """``agent_of(call_id)``: the call's current agent (None once it has ended);
        ``session_of(agent_id)``: that agent's session id (what their console names)."""
        self._records = records
        self.store = store
        self.search_port = search
        self._delivery = delivery
        self._files = files
        self.root = files.area("tutorials")  # where they are on this node (tests, logs)
        self._urls = URLSafeTimedSerializer(secret, salt="videoassist.tutorial")
        self._rooms = rooms
        self._agent_of = agent_of
        self._session_of = session_of
        self.staff_link_ttl = staff_link_ttl
        self.customer_link_ttl = customer_link_ttl
        self._render_threads = render_threads
        self._integrations = integrations or NoIntegrations()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tutorial-render")
        self._jobs: OrderedDict[str, RenderJob] = OrderedDict()
        self._pushes: OrderedDict[str, Push] = OrderedDict()
        self._opened: OrderedDict[str, set[str]] = OrderedDict()  # ticket -> tutorials opened
        self._departures: set[asyncio.Task[None]] = set()  # left_line of tickets just closed
        self.closed = False

    # ------------------------------------------------------------ the recording behind

    async def _recording(self, recording_id: str) -> dict[str, Any]:
        row = await self._records.recording(recording_id)
        if row is None or row["ended_at"] is None:
            raise Problem("not_found", "no such finished recording", 404)
        return row

    @staticmethod
    def _source_end(recording: dict[str, Any]) -> float:
        ends = [
            float(f.get("start") or 0.0) + float(f.get("duration") or 0.0)
            for f in recording["files"]
            if f["name"].endswith(".webm")
        ]
        return max([*ends, float(recording["duration"] or 0.0)])

    async def _sidecar(self, recording: dict[str, Any]) -> list[dict[str, Any]]:
        path = self._files.folder("recordings", folder_of(recording)) / "events.jsonl"

        def read() -> list[dict[str, Any]]:
            if not path.is_file():
                return []
            lines = []
            with path.open(encoding="utf-8") as f:
                for raw in f:
                    try:
                        line = json.loads(raw)
                    except ValueError:
                        continue  # a line cut off by a crash
                    if isinstance(line, dict):
                        lines.append(line)
            return lines

        return await asyncio.to_thread(read)

    def _timeline(self, edit: dict[str, Any], recording: dict[str, Any]) -> Timeline:
        trim = edit.get("trim") or {}
        return Timeline.of(
            self._source_end(recording),
            float(trim.get("in") or 0.0),
            trim.get("out"),
            edit.get("cuts") or [],
        )

    def check(self, edit: dict[str, Any], recording: dict[str, Any]) -> Timeline:
        """The edit's timeline, or a 422 naming what is wrong with the edit."""
        try:
            timeline = self._timeline(edit, recording)
        except TimelineError as exc:
            raise Problem("invalid", str(exc), 422) from None
        names = {f["name"] for f in recording["files"]}
        if SOURCES[edit.get("source", "customer")] not in names:
            raise Problem("invalid", f"source: the recording has no {edit['source']} video", 422)
        for i, chapter in enumerate(edit.get("chapters") or []):
            if timeline.place(chapter["at"]) is None:
                raise Problem("invalid", f"chapters.{i}.at: after the end of the tutorial", 422)
        for i, blur in enumerate(edit.get("blurs") or []):
            if blur["end"] <= blur["start"]:
                raise Problem("invalid", f"blurs.{i}: end must come after start", 422)
        poster = edit.get("poster")
        if poster is not None and not timeline.keeps(poster):
            raise Problem("invalid", "poster: not in the part of the recording kept", 422)
        return timeline

    # ------------------------------------------------------------ the trainer's workflow

    async def create(
        self, recording_id: str, title: str, topic: str | None, by: str
    ) -> dict[str, Any]:
        recording = await self._recording(recording_id)
        tutorial_id = secrets.token_hex(8)
        edit: dict[str, Any] = {
            "title": title,
            "description": "",
            "topic": topic,
            "tags": [],
            "source": "customer"
            if "customer.webm" in {f["name"] for f in recording["files"]}
            else "agent",
            "trim": {"in": 0.0, "out": None},
            "cuts": [],
            "chapters": [],
            "keep_annotations": "all",
            "blurs": [],
            "poster": None,
        }
        self.check(edit, recording)
        now = time.time()
        await self.store.add(
            {
                "id": tutorial_id,
                "recording_id": recording_id,
                "created_at": now,
                "created_by": by,
                "draft": edit,
                "draft_at": now,
            }
        )
        await self._index(tutorial_id, "draft", edit, recording)
        logger.info("Tutorials(%s) made from recording %s by %s", tutorial_id, recording_id, by)
        return await self.view(tutorial_id, staff=by, drafts=True)

    async def save_draft(self, tutorial_id: str, edit: dict[str, Any], by: str) -> dict[str, Any]:
        row = await self._row(tutorial_id)
        recording = await self._recording(row["recording_id"])
        self.check(edit, recording)
        await self.store.save_draft(tutorial_id, edit, time.time())
        await self._index(tutorial_id, "draft", edit, recording)
        return await self.view(tutorial_id, staff=by, drafts=True)

    async def revert(self, tutorial_id: str, by: str) -> dict[str, Any]:
        row = await self._row(tutorial_id)
        if row["published_version"] is None:
            raise Problem("conflict", "never published: there is nothing to revert to", 409)
        await self.store.save_draft(tutorial_id, None, time.time())
        await self.search_port.drop(tutorial_id, "draft")
        return await self.view(tutorial_id, staff=by, drafts=True)

    async def publish(self, tutorial_id: str, by: str) -> dict[str, Any]:
        row = await self._row(tutorial_id)
        if row["draft"] is None:
            raise Problem("conflict", "there is no draft to publish", 409)
        recording = await self._recording(row["recording_id"])
        self.check(row["draft"], recording)
        version = await self.store.publish(tutorial_id, by, time.time())
        if version is None:
            raise Problem("conflict", "there is no draft to publish", 409)
        await self.search_port.drop(tutorial_id, "draft")
        await self._index(tutorial_id, "published", row["draft"], recording)
        logger.info("Tutorials(%s) published version %d by %s", tutorial_id, version, by)
        self._integrations.publish(
            "tutorial.published",
            {
                "tutorial_id": tutorial_id,
                "version": version,
                "title": row["draft"].get("title"),
                "topic": row["topic"],
                "published_by": by,
            },
        )
        job = await self.start_render(tutorial_id, version, "mp4")
        return {"tutorial": await self.view(tutorial_id, staff=by, drafts=True), "job": job}

    async def versions(self, tutorial_id: str) -> list[dict[str, Any]]:
        await self._row(tutorial_id)
        return [
            {
                "version": v["version"],
                "published_at": v["published_at"],
                "published_by": v["published_by"],
                "edit": v["edit"],
            }
            for v in await self.store.versions(tutorial_id)
        ]

    async def _row(self, tutorial_id: str) -> dict[str, Any]:
        row = await self.store.get(tutorial_id)
        if row is None:
            raise _not_found()
        return row

    # ------------------------------------------------------------ reading

    async def view(self, tutorial_id: str, *, staff: str, drafts: bool) -> dict[str, Any]:
        """The tutorial for a staff member; ``drafts``: they may see the draft (trainers,
        supervisors, admins); otherwise a tutorial never published does not exist for them."""
        row = await self._row(tutorial_id)
        if not drafts and row["published_version"] is None:
            raise _not_found()
        published = (
            await self.published(row, f"staff:{staff}")
            if row["published_version"] is not None
            else None
        )
        return {
            "id": row["id"],
            "recording_id": row["recording_id"],
            "state": "published" if row["published_version"] is not None else "draft",
            "has_draft": row["draft"] is not None,
            "link": f"/tutorials/{row['id']}",
            "public_url": f"/p/{row['public_token']}" if row["public_token"] else None,
            "created_at": row["created_at"],
            "created_by": row["created_by"],
            "draft": row["draft"] if drafts else None,
            "published": published,
        }

    async def published(self, row: dict[str, Any], audience: str) -> dict[str, Any]:
        """The published version as viewers get it: times on the output, signed video links."""
        version = row["published_version"]
        stored = await self.store.version(row["id"], version)
        if stored is None:
            raise _not_found()
        edit = stored["edit"]
        recording = await self._records.recording(row["recording_id"])
        timeline = self._timeline(edit, recording) if recording is not None else None
        chapters = []
        for chapter in sorted(edit.get("chapters") or [], key=lambda c: c["at"]):
            at = timeline.place(chapter["at"]) if timeline else None
            chapters.append({"title": chapter["title"], "at": round(at or 0.0, 3)})
        poster = edit.get("poster")
        renders = await self.store.renders(row["id"], str(version))
        return {
            "id": row["id"],
            "version": version,
            "title": edit["title"],
            "description": edit.get("description", ""),
            "topic": edit.get("topic"),
            "tags": edit.get("tags", []),
            "duration": round(timeline.duration, 3) if timeline else 0.0,
            "chapters": chapters,
            "poster": round((timeline.place(poster) or 0.0) if timeline and poster else 0.0, 3),
            "media": {
                fmt: self.media_url(row["id"], str(version), MEDIA_NAMES[fmt], audience)
                for fmt in renders
            },
            # The picture shown before playing and in lists (made with the first render).
            "poster_image": (
                self.media_url(row["id"], str(version), POSTER_NAME, audience)
                if (
                    self._files.folder("tutorials", row["id"]) / _poster_file(str(version))
                ).is_file()
                else None
            ),
        }

    async def search(
        self, text: str, topic: str | None, states: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        if text.strip():
            hits = await self.search_port.search(text, topic=topic, states=states)
        else:
            rows = await self.store.listing(published_only=states == ("published",), topic=topic)
            hits = []
            for row in rows:
                if "draft" in states and row["draft"] is not None:
                    hits.append(Hit(row["id"], "draft", row["draft"]["title"], row["topic"], 0.0))
                elif "published" in states and row["published_version"] is not None:
                    stored = await self.store.version(row["id"], row["published_version"])
                    title = stored["edit"]["title"] if stored else ""
                    hits.append(Hit(row["id"], "published", title, row["topic"], 0.0))
        return [
            {
                "id": h.tutorial_id,
                "title": h.title,
                "topic": h.topic,
                "state": h.state,
                "score": h.score,
                "at": None if h.at is None else round(h.at, 3),
                "chapter": h.chapter,
                "snippet": h.snippet,
            }
            for h in hits
        ]

    async def _index(
        self, tutorial_id: str, state: str, edit: dict[str, Any], recording: dict[str, Any]
    ) -> None:
        timeline = self._timeline(edit, recording)
        events = remap_events(await self._sidecar(recording), timeline)
        chapters = sorted(
            (
                (at, c["title"])
                for c in edit.get("chapters") or []
                if (at := timeline.place(c["at"])) is not None
            ),
            key=lambda c: c[0],
        )

        def chapter_at(at: float) -> int | None:
            index = None
            for i, (start, _) in enumerate(chapters):
                if start <= at:
                    index = i
            return index

        moments = [Moment(at, i, "chapter", title) for i, (at, title) in enumerate(chapters)]
        for line in events:
            data = line.get("data")
            if line.get("kind") == "chat" and isinstance(data, dict):
                text = data.get("text")
                if isinstance(text, str) and text:
                    moments.append(Moment(line["at"], chapter_at(line["at"]), "chat", text))
        keep = edit.get("keep_annotations", "all")
        overlay = Overlay(await self._sidecar(recording), None if keep == "all" else set(keep))
        for source_at, label in overlay.labels():
            at = timeline.place(source_at)
            if at is not None:
                moments.append(Moment(at, chapter_at(at), "label", label))
        await self.search_port.index(
            SearchDoc(
                tutorial_id=tutorial_id,
                state=state,
                topic=edit.get("topic"),
                title=edit["title"],
                description=edit.get("description", ""),
                tags=edit.get("tags", []),
                chapters=[title for _, title in chapters],
                moments=moments,
            )
        )

    # ------------------------------------------------------------ links

    def media_url(self, tutorial_id: str, version: str, name: str, audience: str) -> str:
        token = self._urls.dumps([tutorial_id, version, name, audience])
        return f"/api/tutorials/{tutorial_id}/media/{name}?sig={token}"

    async def open_media(self, tutorial_id: str, name: str, sig: str) -> Path:
        """The file a signed link names (see the module doc for audiences)."""
        try:
            signed, signed_at = self._urls.loads(
                sig, max_age=max(1, round(self.customer_link_ttl)), return_timestamp=True
            )
        except (BadSignature, SignatureExpired):
            raise ContentError(
                403, "forbidden", "this link is not valid (or has expired)"
            ) from None
        if not (isinstance(signed, list) and len(signed) == 4):
            raise ContentError(403, "forbidden", "this link is not valid")
        linked_id, version, linked_name, audience = signed
        if linked_id != tutorial_id or linked_name != name or name not in MEDIA_TYPES:
            raise ContentError(403, "forbidden", "this link is not valid")
        kind, _, who = str(audience).partition(":")
        if kind == "staff" and time.time() - signed_at.timestamp() > self.staff_link_ttl:
            raise ContentError(403, "forbidden", "this link has expired")
        row = await self.store.get(tutorial_id)
        if row is None:
            raise ContentError(404, "not_found", "no such tutorial")
        if kind == "public" and row["public_token"] != who:
            raise ContentError(403, "forbidden", "this public link was revoked")
        if name == POSTER_NAME:
            poster = self._files.folder("tutorials", tutorial_id) / _poster_file(version)
            if not poster.is_file():
                raise ContentError(404, "not_found", "this version has no poster yet")
            return poster
        fmt = next(f for f, n in MEDIA_NAMES.items() if n == name)
        render = (await self.store.renders(tutorial_id, version)).get(fmt)
        if render is None:
            raise ContentError(404, "not_found", "this version is not rendered in that format")
        path = self._files.folder("tutorials", tutorial_id) / render["name"]
        if not path.is_file():
            raise ContentError(404, "not_found", "this version is not rendered in that format")
        return path

    async def make_public(self, tutorial_id: str) -> dict[str, Any]:
        row = await self._row(tutorial_id)
        if row["published_version"] is None:
            raise Problem("conflict", "publish the tutorial before making it public", 409)
        token = row["public_token"] or secrets.token_urlsafe(24)
        if token != row["public_token"]:
            await self.store.set_public_token(tutorial_id, token)
            logger.info("Tutorials(%s) made public", tutorial_id)
        return {"public_url": f"/p/{token}", "token": token}

    async def revoke_public(self, tutorial_id: str) -> None:
        row = await self._row(tutorial_id)
        if row["public_token"] is not None:
            await self.store.set_public_token(tutorial_id, None)
            logger.info("Tutorials(%s) public link revoked", tutorial_id)

    async def public_view(self, token: str) -> dict[str, Any]:
        row = await self.store.by_public_token(token) if token else None
        if row is None or row["published_version"] is None:
            raise _not_found()
        return await self.published(row, f"public:{token}")

    async def qr_target(self, tutorial_id: str, target: str) -> str:
        """The path the QR code encodes (the page prefixes its own origin)."""
        row = await self._row(tutorial_id)
        if row["published_version"] is None:
            raise _not_found()
        if target == "public":
            if row["public_token"] is None:
                raise Problem("conflict", "this tutorial has no public link", 409)
            return f"/p/{row['public_token']}"
        return f"/tutorials/{tutorial_id}"

    # ------------------------------------------------------------ renders

    async def start_render(self, tutorial_id: str, version: int | str, fmt: str) -> dict[str, Any]:
        if self.closed:
            raise Problem("unavailable", "the server is shutting down", 503)
        row = await self._row(tutorial_id)
        if version == "published":
            version = row["published_version"]
            if version is None:
                raise Problem("conflict", "this tutorial is not published", 409)
        key = str(version)
        if key == "draft":
            edit = row["draft"]
            if edit is None:
                raise Problem("conflict", "there is no draft to render", 409)
        else:
            stored = await self.store.version(tutorial_id, int(key))
            if stored is None:
                raise Problem("not_found", "no such version", 404)
            edit = stored["edit"]
        for job in self._jobs.values():
            if (job.tutorial_id, job.version, job.format) == (tutorial_id, key, fmt) and (
                job.state in ("queued", "running")
            ):
                return job.wire()
        recording = await self._recording(row["recording_id"])
        timeline = self.check(edit, recording)
        events = await self._sidecar(recording)
        job = RenderJob(secrets.token_hex(8), tutorial_id, key, fmt)
        self._jobs[job.id] = job
        while len(self._jobs) > MAX_JOBS:
            oldest = next(iter(self._jobs.values()))
            if oldest.state in ("queued", "running"):
                break
            self._jobs.popitem(last=False)
        job.task = asyncio.ensure_future(self._run(job, edit, recording, timeline, events))
        return job.wire()

    async def _run(
        self,
        job: RenderJob,
        edit: dict[str, Any],
        recording: dict[str, Any],
        timeline: Timeline,
        events: list[dict[str, Any]],
    ) -> None:
        from videoassist.media.export import Cancelled, ExportError, ExportSpec, export

        folder = self._files.folder("recordings", folder_of(recording))
        out_dir = self._files.folder("tutorials", job.tutorial_id)
        name = f"{job.version}.{job.format}"
        keep = edit.get("keep_annotations", "all")
        spec = ExportSpec(
            video=folder / SOURCES[edit.get("source", "customer")],
            audio=tuple(folder / f for f in SOURCES.values()),
            output=out_dir / name,
            format=job.format,
            timeline=timeline,
            events=events,
            keep=None if keep == "all" else frozenset(keep),
            blurs=tuple(Blur(**b) for b in edit.get("blurs") or []),
            threads=self._render_threads,
        )

        def progress(fraction: float) -> None:
            job.progress = fraction

        poster_at = timeline.place(edit["poster"]) if edit.get("poster") is not None else None

        def work() -> Any:
            if job.cancel.is_set():
                raise Cancelled()
            job.state, job.started = "running", time.monotonic()
            out_dir.mkdir(parents=True, exist_ok=True)
            result = export(spec, progress, job.cancel)
            try:
                # From the render, so the blur and the kept marks are in it as in the video.
                cut_poster(spec.output, poster_at or 0.0, out_dir / _poster_file(job.version))
            except Exception:
                logger.exception("Tutorials(%s) poster of %s failed", job.tutorial_id, job.version)
            return result

        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self._executor, work)
        except Cancelled:
            job.state = "cancelled"
            logger.info("Tutorials(%s) render %s cancelled", job.tutorial_id, job.id)
            return
        except ExportError as exc:
            job.state, job.error = "failed", str(exc)
            logger.warning("Tutorials(%s) render %s failed: %s", job.tutorial_id, job.id, exc)
            return
        except Exception as exc:
            job.state, job.error = "failed", f"the render failed: {exc}"
            logger.exception("Tutorials(%s) render %s failed", job.tutorial_id, job.id)
            return
        await self.store.add_render(
            {
                "tutorial_id": job.tutorial_id,
                "version": job.version,
                "format": job.format,
                "name": name,
                "size": result.size,
                "duration": result.duration,
                "rendered_at": time.time(),
            }
        )
        job.state, job.progress = "done", 1.0
        logger.info(
            "Tutorials(%s) rendered %s %s: %.1f s, %d bytes, %dx%d",
            job.tutorial_id,
            job.version,
            job.format,
            result.duration,
            result.size,
            result.width,
            result.height,
        )

    def job(self, job_id: str, staff: str) -> dict[str, Any]:
        job = self._jobs.get(job_id)
        if job is None:
            raise Problem("not_found", "no such render job", 404)
        url = None
        if job.state == "done":
            url = self.media_url(job.tutorial_id, job.version, MEDIA_NAMES[job.format], staff)
        return job.wire(url)

    def cancel(self, job_id: str, staff: str) -> dict[str, Any]:
        job = self._jobs.get(job_id)
        if job is None:
            raise Problem("not_found", "no such render job", 404)
        if job.state in ("queued", "running"):
            job.cancel.set()
            if job.state == "queued":
                job.state = "cancelled"
        return self.job(job_id, staff)

    async def settled(self) -> None:
        """Every render job started so far has ended, and every departure is counted (for
        tests and the drain)."""
        tasks: list[asyncio.Future[Any]] = [
            j.task for j in self._jobs.values() if j.task is not None
        ]
        tasks += list(self._departures)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        """Idempotent: cancel every job, wait for them, stop the worker."""
        self.closed = True
        for job in self._jobs.values():
            job.cancel.set()
        await self.settled()
        self._executor.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------ customers (gateway port)

    async def _for_customer(self, tutorial_id: str, ticket_id: str) -> dict[str, Any]:
        row = await self.store.get(tutorial_id)
        if row is None or row["published_version"] is None:
            raise Problem("not_found", "no such published tutorial", 404)
        return await self.published(row, f"ticket:{ticket_id}")

    async def push(
        self,
        call_id: str,
        ticket_id: str,
        agent_id: str,
        tutorial_id: str,
        chapter: int | None,
        at: float | None,
    ) -> dict[str, Any]:
        tutorial = await self._for_customer(tutorial_id, ticket_id)
        start = 0.0
        if chapter is not None:
            if chapter >= len(tutorial["chapters"]):
                raise Problem("not_found", "no such chapter", 404)
            start = tutorial["chapters"][chapter]["at"]
        elif at is not None:
            start = min(at, tutorial["duration"])
        push = Push(secrets.token_hex(8), call_id, ticket_id, agent_id, tutorial_id)
        self._pushes[push.id] = push
        while len(self._pushes) > MAX_PUSHES:
            self._pushes.popitem(last=False)
        if self._rooms is not None:  # into the recording's sidecar, if the call is recorded
            await self._rooms.note(
                call_id,
                "tutorial_push",
                f"agent:{agent_id}",
                {
                    "push_id": push.id,
                    "tutorial_id": tutorial_id,
                    "version": tutorial["version"],
                    "start": start,
                },
            )
        await self._delivery.to_customer(
            ticket_id,
            ServerEvent.TUTORIAL_PUSHED,
            {
                "session_id": call_id,
                "push_id": push.id,
                "tutorial": tutorial,
                "start": start,
                "chapter": chapter,
            },
        )
        logger.info(
            "Tutorials(%s) pushed to call %s by %s (push %s)",
            tutorial_id,
            call_id,
            agent_id,
            push.id,
        )
        return {"push_id": push.id}

    async def for_topic(self, ticket_id: str, topic: str) -> dict[str, Any]:
        rows = await self.store.listing(published_only=True, topic=topic)
        return {
            "topic": topic,
            "tutorials": [await self.published(row, f"ticket:{ticket_id}") for row in rows[:10]],
        }

    async def progress(
        self,
        ticket_id: str,
        call_id: str | None,
        tutorial_id: str,
        push_id: str | None,
        state: str,
        position: float,
    ) -> None:
        if push_id is not None:
            push = self._pushes.get(push_id)
            if push is None:
                raise Problem("not_found", "no such push", 404)
            if push.ticket_id != ticket_id or push.call_id != call_id:
                raise Refusal("forbidden", "that push is not of your call")
            if push.tutorial_id != tutorial_id:
                raise Problem("invalid", "tutorial_id: not the tutorial pushed", 422)
            agent_id = self._agent_of(push.call_id) or push.agent_id
            session_id = self._session_of(agent_id)
            await self._delivery.to_agent(
                agent_id,
                ServerEvent.TUTORIAL_PROGRESS,
                {
                    "session_id": session_id,
                    "push_id": push_id,
                    "tutorial_id": tutorial_id,
                    "state": state,
                    "position": round(position, 3),
                },
            )
        else:
            row = await self.store.get(tutorial_id)
            if row is None or row["published_version"] is None:
                raise Problem("not_found", "no such published tutorial", 404)
        if state in ("opened", "position", "finished"):
            opened = self._opened.pop(ticket_id, set())
            opened.add(tutorial_id)
            self._opened[ticket_id] = opened
            while len(self._opened) > MAX_WATCHERS:
                self._opened.popitem(last=False)

    def ticket_saved(self, row: TicketRow) -> None:
        """The service wrote a ticket (its records hook): a customer who left the line while
        waiting, by cancelling or by closing the page and not coming back within the grace, is
        self-served if they had opened a tutorial. One who comes back in time never closes."""
        if row.end_reason not in LEFT_WAITING or not self._opened.get(row.id):
            return
        task = asyncio.get_running_loop().create_task(
            self.left_line(row.id, row.topic, row.queue_id), name=f"Tutorials.left({row.id})"
        )
        self._departures.add(task)
        task.add_done_callback(self._departures.discard)

    async def left_line(self, ticket_id: str, topic: str = "", queue_id: str = "") -> None:
        """The customer left the line while waiting: self-served if they had opened a
        tutorial. Counted once per ticket (the store keeps one row per ticket)."""
        opened = self._opened.pop(ticket_id, None)
        if not opened:
            return
        counted = await self.store.add_deflection(
            {
                "at": time.time(),
                "ticket_id": ticket_id,
                "queue_id": queue_id,
                "topic": topic,
                "tutorials": sorted(opened),
            }
        )
        if counted:
            logger.info(
                "Tutorials: ticket %s left the line after watching %s (self-served)",
                ticket_id,
                ", ".join(sorted(opened)),
            )


def _poster_file(version: str) -> str:
    return f"{version}.{POSTER_NAME}"


def cut_poster(video: Path, at: float, dest: Path) -> None:
    """Blocking: the frame of ``video`` showing at ``at`` seconds (the last one before it, or
    the first), written as a JPEG to ``dest`` atomically."""
    import av
    import cv2

    picture = None
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        if at > 0 and stream.time_base is not None:
            container.seek(int(at / stream.time_base), stream=stream, backward=True)
        for frame in container.decode(stream):
            if picture is not None and frame.time is not None and frame.time > at + 1e-3:
                break
            picture = frame
    if picture is None:
        raise ValueError(f"{video.name}: no frame to make a poster of")
    ok, jpeg = cv2.imencode(
        ".jpg", picture.to_ndarray(format="bgr24"), [cv2.IMWRITE_JPEG_QUALITY, POSTER_QUALITY]
    )
    if not ok:
        raise ValueError("the poster could not be encoded")
    part = dest.with_suffix(".part")
    part.write_bytes(jpeg.tobytes())
    os.replace(part, dest)

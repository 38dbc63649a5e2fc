"""In-call content: the one owner of what the parties of a call share besides audio and video.

Rules (everything that changes a call's room lives here):

* ``CallRooms`` is the only writer of a call's ``CallRoom``: chat and real-time text,
  annotations (create, pen extension, undo, clear, the laser pointer), freeze and unfreeze,
  stills and photos, sticky marks (registration here; the media tracker reports moves back
  here), source changes and requests. Callers (the socket.io gateway, the photo upload handler)
  validate the caller's identity and authorize them against the call first; the room checks
  what it is asked to do against its own state and raises ``RoomError`` before changing
  anything.
* Every change is stamped with the call's media clock (seconds since the call started, the
  clock recordings use), published to the subscribers as a ``CallEvent``, then delivered to the
  parties through the delivery port. Subscribers are awaited before delivery, so whatever a
  subscriber writes (the call's event log) is written before anyone is told; a subscriber that
  fails is logged and the call goes on. The event log in the records is one subscriber; a
  recorder is another.
* A room lives exactly as long as the call's media: opened when the desk starts media
  (before anyone is told "matched"), handed to a new agent on a warm transfer, closed when the
  media stops. A call restored after a restart (``CALL_RESUME_WINDOW``) gets its room back
  from the event log (``restore``): the chat, the stills and photos with their marks, a frozen
  still, the source. Marks on the live video are not brought back: the camera has moved on
  since, and the tracker that kept them on their objects started afresh.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from videoassist import annotations as model
from videoassist.delivery import Delivery, Parties
from videoassist.desk import ServerEvent
from videoassist.errors import RoomError, first_problem

logger = logging.getLogger(__name__)

Side = Literal["customer", "agent"]
Source = Literal["camera", "camera_front", "camera_back", "screen"]
MAX_ANNOTATIONS = 200  # per target (live video, a still, a photo)
MAX_CHAT = 500  # lines per call
MAX_CHAT_CHARS = 1000  # per line, and per real-time draft
LIVE = "live"  # the target naming the live video, as opposed to a still or photo id
TARGET_PATTERN = r"^(live|[0-9a-f]{16})$"  # "live" or a still/photo id (call_content's ids)


# --------------------------------------------------------------------------- ports


class MarkTracker(Protocol):
    """Follows sticky marks on the customer's live video (videoassist.media.sticky)."""

    def add(self, mark: dict[str, Any]) -> None: ...
    def replace(self, mark: dict[str, Any]) -> None: ...
    def remove(self, mark_id: str) -> None: ...
    def clear(self) -> None: ...


MarksMoved = Callable[[str, list[tuple[dict[str, Any], bool, bool]]], Awaitable[None]]
"""(call id, [(mark, newly lost, found again)])."""


class RoomMedia(Protocol):
    """What a room needs from the media hub."""

    async def still(self, session_id: str) -> bytes: ...
    def marks(self, session_id: str, on_moved: MarksMoved) -> MarkTracker: ...
    def clock_origin(self, session_id: str) -> float | None:
        """The monotonic instant the call's media clock counts from (None: no media yet)."""
        ...


class ItemStore(Protocol):
    """Where stills and photos are kept (videoassist.call_content)."""

    async def clean_photo(self, content_type: str, data: bytes) -> bytes: ...
    async def store(self, call_id: str, kind: str, data: bytes, actor: str) -> dict[str, Any]: ...
    def url(self, call_id: str, item_id: str) -> str: ...


# --------------------------------------------------------------------------- state


@dataclass(frozen=True, slots=True)
class CallEvent:
    """One thing that happened in a call, as subscribers receive it."""

    call_id: str
    at: float  # the call's media clock, seconds
    wall: float  # epoch seconds
    kind: str
    actor: str  # "customer:<ticket id>", "agent:<agent id>", "t:<ticket id>" for photos
    data: Mapping[str, Any]


Listener = Callable[[CallEvent], Awaitable[None]]


@dataclass(slots=True)
class ChatLine:
    id: int
    sender: Side
    name: str
    text: str
    at: float  # seconds on the call's media clock

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": self.sender,
            "name": self.name,
            "text": self.text,
            "at": self.at,
        }


@dataclass(slots=True)
class CallRoom:
    call_id: str
    parties: Parties
    started: float = field(default_factory=time.monotonic)
    annotations: dict[str, OrderedDict[str, dict[str, Any]]] = field(default_factory=dict)
    chat: list[ChatLine] = field(default_factory=list)
    frozen: str | None = None  # id of the still both sides are looking at
    items: dict[str, str] = field(default_factory=dict)  # still/photo id -> kind
    sticky: set[str] = field(default_factory=set)  # ids of live marks the tracker follows
    source: Source = "camera_front"  # what the customer's video shows; calls start on camera
    photos: int = 0  # photos stored, plus those being cleaned or stored now (a reservation)
    photo_bytes: int = 0  # bytes of the photos stored, plus those being stored now
    # The customer's microphone and camera as they last said (``media_state``); on at the start.
    customer_media: dict[str, bool] = field(default_factory=lambda: {"audio": True, "video": True})

    def clock(self) -> float:
        """The call's media clock: seconds since the call's media started (the media session's
        origin, shared with the recorder, so sidecar events line up with the video)."""
        return round(time.monotonic() - self.started, 3)

    def marks_of(self, target: str) -> OrderedDict[str, dict[str, Any]]:
        if target != LIVE and target not in self.items:
            raise RoomError("not_found", "no such still or photo in this call")
        return self.annotations.setdefault(target, OrderedDict())

    def snapshot(self) -> dict[str, Any]:
        return {
            "annotations": {t: list(m.values()) for t, m in self.annotations.items()},
            "chat": [line.wire() for line in self.chat],
            "frozen": self.frozen,
            "customer_media": dict(self.customer_media),
        }


@dataclass(frozen=True, slots=True)
class PhotoLimits:
    """What one call may hold of customer photos: each is a file on disk and a decode of up to
    4096 px a side, so a customer who uploads in a loop must run into a wall."""

    per_call: int = 30
    bytes_per_call: int = 64 * 1024 * 1024


def _invalid(what: str, exc: ValueError) -> RoomError:
    return RoomError("invalid", f"{what}: {first_problem(exc)}", status=422)


def _replay(room: CallRoom, kind: str, data: Mapping[str, Any], sizes: Mapping[str, int]) -> None:
    """One kept event (``EventLog.KEPT``) applied to a room being restored."""
    match kind:
        case "chat":
            if len(room.chat) < MAX_CHAT:
                room.chat.append(
                    ChatLine(
                        len(room.chat) + 1, data["from"], data["name"], data["text"], data["at"]
                    )
                )
        case "annotate":
            target = data["target"]
            if target == LIVE or target in room.items:
                wire = {k: v for k, v in data.items() if k != "target"}
                room.annotations.setdefault(target, OrderedDict())[wire["id"]] = wire
        case "annotate_points":
            mark = room.annotations.get(data["target"], {}).get(data["id"])
            if mark is not None:
                mark["points"] = [*mark["points"], *data["points"]]
        case "annotation_remove":
            room.annotations.get(data["target"], {}).pop(data["id"], None)
        case "annotations_clear":
            room.annotations.pop(data["target"], None)
        case "freeze":
            room.items[data["still_id"]] = "still"
            room.frozen = data["still_id"]
        case "unfreeze":
            room.frozen = None
        case "photo":
            room.items[data["photo_id"]] = "photo"
            room.photos += 1
            room.photo_bytes += sizes.get(data["photo_id"], 0)
        case "source":
            room.source = "camera_front" if data["source"] == "camera" else data["source"]


# --------------------------------------------------------------------------- the owner


class CallRooms:
    def __init__(
        self,
        delivery: Delivery,
        media: RoomMedia,
        items: ItemStore,
        photo_limits: PhotoLimits | None = None,
    ) -> None:
        self._delivery = delivery
        self._media = media
        self._items = items
        self.photo_limits = photo_limits or PhotoLimits()
        self._rooms: dict[str, CallRoom] = {}
        self._listeners: list[Listener] = []

    # ------------------------------------------------------------ lifecycle (the service)

    def open(self, call_id: str, ticket_id: str, agent_id: str) -> None:
        """After the media session is opened: the room's clock is the media's."""
        if call_id not in self._rooms:
            origin = self._media.clock_origin(call_id)
            room = CallRoom(call_id, Parties(ticket_id, agent_id))
            if origin is not None:
                room.started = origin
            self._rooms[call_id] = room

    def hand_over(self, call_id: str, agent_id: str) -> None:
        room = self._rooms.get(call_id)
        if room is not None:
            room.parties = Parties(room.parties.ticket_id, agent_id)

    def close(self, call_id: str) -> None:
        self._rooms.pop(call_id, None)

    def restore(
        self, call_id: str, events: Iterable[Mapping[str, Any]], sizes: Mapping[str, int]
    ) -> int:
        """Rebuild a restored call's room from its event log (``call_events`` rows, oldest
        first); ``sizes``: the call's stored items' sizes (photo limits count them). Nothing is
        published or delivered: the parties read the room when they join again (``state``).
        Returns how many events were applied."""
        room = self._rooms.get(call_id)
        if room is None:
            return 0
        applied = 0
        for row in events:
            try:
                _replay(room, row["kind"], row["payload"], sizes)
            except (KeyError, TypeError, ValueError):
                logger.warning("CallRooms(%s) skipped a log entry it cannot replay", call_id)
                continue
            applied += 1
        room.annotations.pop(LIVE, None)
        return applied

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """``listener`` receives every event of every call from now on; call the returned
        function to stop."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def note(self, call_id: str, kind: str, actor: str, data: Mapping[str, Any]) -> None:
        """An event of the call that another owner makes (a tutorial push): to the subscribers
        only (the event log decides what it keeps; the recording's sidecar keeps it), stamped
        with the call's media clock. Nothing for a call that has ended."""
        room = self._rooms.get(call_id)
        if room is not None:
            await self._publish(room, kind, actor, data)

    def room(self, call_id: str) -> CallRoom:
        room = self._rooms.get(call_id)
        if room is None:
            raise RoomError("no_session", "this session has no media (it has ended)")
        return room

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._rooms

    def __iter__(self) -> Iterator[str]:
        """The ids of the calls with a room (open here)."""
        return iter(list(self._rooms))

    def __len__(self) -> int:
        return len(self._rooms)

    def state(self, call_id: str) -> dict[str, Any]:
        """Everything a party needs after (re)joining the call."""
        room = self.room(call_id)
        state = room.snapshot()
        state["items"] = {
            item_id: {"kind": kind, "url": self._items.url(call_id, item_id)}
            for item_id, kind in room.items.items()
        }
        return state

    # ------------------------------------------------------------ chat

    async def say(self, call_id: str, side: Side, party_id: str, name: str, text: str) -> int:
        room = self.room(call_id)
        if len(room.chat) >= MAX_CHAT:
            raise RoomError("too_many", "this chat is full")
        line = ChatLine(len(room.chat) + 1, side, name, text, room.clock())
        room.chat.append(line)
        data = line.wire()
        await self._publish(room, "chat", f"{side}:{party_id}", data, at=line.at)
        await self._delivery.to_call(room.parties, ServerEvent.CHAT, data)
        return line.id

    async def typing(self, call_id: str, side: Side, party_id: str, text: str) -> None:
        """Real-time text: the draft as it is typed goes to the other side, and is not kept."""
        room = self.room(call_id)
        await self._publish(room, "typing", f"{side}:{party_id}", {"text": text})
        if side == "customer":
            await self._delivery.to_agent(room.parties.agent_id, ServerEvent.TYPING, {"text": text})
        else:
            await self._delivery.to_customer(
                room.parties.ticket_id, ServerEvent.TYPING, {"text": text}
            )

    # ------------------------------------------------------------ annotations

    async def annotate(
        self, call_id: str, agent_id: str, author: str, target: str, raw: Mapping[str, Any]
    ) -> str:
        """A mark drawn by the agent: stamped with author and media time, kept with the call
        and shown to everyone in it. A laser pointer is relayed and forgotten."""
        room = self.room(call_id)
        try:
            shape = model.parse_client(raw)
        except ValueError as exc:
            raise _invalid("annotation", exc) from None
        wire = model.to_wire(model.stamp(shape, author=author, created_at=room.clock()))
        actor = f"agent:{agent_id}"
        if shape.kind in model.EPHEMERAL_KINDS:
            data = {"target": target, "annotation": wire}
            await self._publish(room, "laser", actor, data, at=wire["created_at"])
            await self._delivery.to_call(room.parties, ServerEvent.LASER, data)
            return str(wire["id"])
        marks = room.marks_of(target)
        if wire["id"] in marks:
            raise RoomError("duplicate", "an annotation with this id exists")
        if len(marks) >= MAX_ANNOTATIONS:
            raise RoomError("too_many", f"at most {MAX_ANNOTATIONS} annotations; clear some")
        marks[wire["id"]] = wire
        if wire.get("sticky") and target == LIVE:
            room.sticky.add(wire["id"])
            self._tracker(room).add(wire)
        await self._publish(
            room, "annotate", actor, {"target": target, **wire}, at=wire["created_at"]
        )
        await self._delivery.to_call(
            room.parties, ServerEvent.ANNOTATION, {"target": target, "annotation": wire}
        )
        return str(wire["id"])

    async def extend_pen(
        self, call_id: str, agent_id: str, target: str, mark_id: str, points: list[Any]
    ) -> None:
        room = self.room(call_id)
        current = room.annotations.get(target, OrderedDict()).get(mark_id)
        if current is None or current.get("kind") != "pen":
            raise RoomError("not_found", "no pen stroke with that id")
        try:
            more = model.parse_pen_points({"id": mark_id, "points": points})
            pen = model.ANNOTATION_ADAPTER.validate_python(current)
            if not isinstance(pen, model.Pen):
                raise ValueError("not a pen stroke")
            wire = model.to_wire(model.extend_pen(pen, more))
        except ValueError as exc:
            raise _invalid("points", exc) from None
        room.annotations[target][mark_id] = wire
        if mark_id in room.sticky and target == LIVE:
            self._tracker(room).replace(wire)
        data = {"target": target, "id": mark_id, "points": wire["points"][len(current["points"]) :]}
        await self._publish(room, "annotate_points", f"agent:{agent_id}", data)
        await self._delivery.to_call(room.parties, ServerEvent.ANNOTATION_POINTS, data)

    async def remove_annotation(
        self, call_id: str, agent_id: str, target: str, mark_id: str
    ) -> None:
        room = self.room(call_id)
        marks = room.annotations.get(target)
        if not marks or mark_id not in marks:
            raise RoomError("not_found", "no such annotation")
        del marks[mark_id]
        if target == LIVE and mark_id in room.sticky:
            room.sticky.discard(mark_id)
            self._tracker(room).remove(mark_id)
        data = {"target": target, "id": mark_id}
        await self._publish(room, "annotation_remove", f"agent:{agent_id}", data)
        await self._delivery.to_call(room.parties, ServerEvent.ANNOTATION_REMOVED, data)

    async def clear(self, call_id: str, agent_id: str, target: str) -> int:
        return await self._clear(self.room(call_id), f"agent:{agent_id}", target)

    async def _clear(self, room: CallRoom, actor: str, target: str) -> int:
        removed = len(room.annotations.pop(target, {}))
        if target == LIVE and room.sticky:
            room.sticky.clear()
            self._tracker(room).clear()
        await self._publish(room, "annotations_clear", actor, {"target": target})
        await self._delivery.to_call(
            room.parties, ServerEvent.ANNOTATIONS_CLEARED, {"target": target}
        )
        return removed

    async def marks_moved(
        self, call_id: str, changes: list[tuple[dict[str, Any], bool, bool]]
    ) -> None:
        """The tracker's report: sticky marks that moved or were just lost. The room keeps its
        copy current and tells both sides; a lost mark is the agent's to redraw. A mark found
        again after being lost moves like any other, with ``found`` so the agent can be told."""
        room = self._rooms.get(call_id)
        if room is None:
            return
        marks = room.annotations.get(LIVE, OrderedDict())
        for mark, newly_lost, found in changes:
            if mark["id"] not in marks:
                continue  # removed while the tracker was running
            marks[mark["id"]] = mark
            data = {"target": LIVE, "id": mark["id"], "annotation": mark}
            if found:
                data["found"] = True
            await self._publish(room, "annotation_moved", "tracker", data)
            await self._delivery.to_call(room.parties, ServerEvent.ANNOTATION_MOVED, data)
            if newly_lost:
                await self._delivery.to_agent(
                    room.parties.agent_id,
                    ServerEvent.ANNOTATION_LOST,
                    {"target": LIVE, "id": mark["id"]},
                )

    def _tracker(self, room: CallRoom) -> MarkTracker:
        return self._media.marks(room.call_id, self.marks_moved)

    # ------------------------------------------------------------ stills and photos

    async def freeze(self, call_id: str, agent_id: str) -> dict[str, Any]:
        room = self.room(call_id)
        actor = f"agent:{agent_id}"
        data = await self._media.still(call_id)
        item = await self._items.store(call_id, "still", data, actor)
        room = self.room(call_id)  # the call may have ended while the still was encoded
        room.items[item["id"]] = "still"
        room.frozen = item["id"]
        await self._publish(room, "freeze", actor, {"still_id": item["id"]})
        await self._delivery.to_call(
            room.parties, ServerEvent.FROZEN, {"still_id": item["id"], "url": item["url"]}
        )
        return item

    async def unfreeze(self, call_id: str, agent_id: str) -> None:
        room = self.room(call_id)
        if room.frozen is None:
            raise RoomError("not_frozen", "the video is not frozen")
        room.frozen = None
        await self._publish(room, "unfreeze", f"agent:{agent_id}", {})
        await self._delivery.to_call(room.parties, ServerEvent.UNFROZEN, {})

    async def add_photo(
        self, call_id: str, ticket_id: str, content_type: str, data: bytes
    ) -> dict[str, Any]:
        """A photo the customer sends into the call; only the agent is told (the customer has
        it already). A call holds at most ``photo_limits.per_call`` photos (``too_many``, 409)
        and ``photo_limits.bytes_per_call`` bytes of them as stored (``too_large``, 413)."""
        room = self.room(call_id)  # the call must be live before we spend CPU on the photo
        limits = self.photo_limits
        if room.photos >= limits.per_call:
            raise RoomError("too_many", f"this call already has {limits.per_call} photos")
        # Counted before the first await: uploads running side by side cannot all pass the check.
        room.photos += 1
        size = 0
        try:
            clean = await self._items.clean_photo(content_type, data)
            if room.photo_bytes + len(clean) > limits.bytes_per_call:
                raise RoomError(
                    "too_large",
                    f"this call's photos are limited to {limits.bytes_per_call // 2**20} MiB",
                    status=413,
                )
            size = len(clean)
            room.photo_bytes += size
            item = await self._items.store(call_id, "photo", clean, f"t:{ticket_id}")
        except BaseException:
            room.photos -= 1  # refused or failed: nothing was kept, nothing is counted
            room.photo_bytes -= size
            raise
        actor = f"t:{ticket_id}"
        room = self.room(call_id)
        room.items[item["id"]] = "photo"
        await self._publish(room, "photo", actor, {"photo_id": item["id"]})
        await self._delivery.to_agent(
            room.parties.agent_id, ServerEvent.PHOTO, item | {"call_id": call_id}
        )
        return item

    # ------------------------------------------------------------ sources

    async def request_source(self, call_id: str, agent_id: str, source: Source) -> None:
        """Ask the customer to switch camera or share their screen (they accept or not)."""
        room = self.room(call_id)
        await self._publish(room, "source_request", f"agent:{agent_id}", {"source": source})
        await self._delivery.to_customer(
            room.parties.ticket_id, ServerEvent.SOURCE_REQUESTED, {"source": source}
        )

    async def source_changed(self, call_id: str, ticket_id: str, source: Source) -> None:
        """The customer now sends another picture. Marks on the live video pointed at things in
        the old one (a camera's view is not the screen, nor the other camera's), so they go."""
        room = self.room(call_id)
        new = "camera_front" if source == "camera" else source
        if new != room.source and room.annotations.get(LIVE):
            await self._clear(room, f"customer:{ticket_id}", LIVE)
        room.source = new
        await self._publish(room, "source", f"customer:{ticket_id}", {"source": source})
        await self._delivery.to_agent(
            room.parties.agent_id, ServerEvent.SOURCE_CHANGED, {"source": source}
        )

    async def source_declined(self, call_id: str, ticket_id: str, source: Source) -> None:
        """The customer said no to the agent's request (for now): the agent should know, not
        wait for a switch that will not come."""
        room = self.room(call_id)
        await self._publish(room, "source_declined", f"customer:{ticket_id}", {"source": source})
        await self._delivery.to_agent(
            room.parties.agent_id, ServerEvent.SOURCE_DECLINED, {"source": source}
        )

    async def media_state(self, call_id: str, ticket_id: str, audio: bool, video: bool) -> None:
        """The customer muted or unmuted their microphone or camera. The tracks keep flowing
        (silence, black frames), so the agent could not tell a mute from a fault without this."""
        room = self.room(call_id)
        now = {"audio": audio, "video": video}
        if now == room.customer_media:
            return
        room.customer_media = now
        await self._publish(room, "media_state", f"customer:{ticket_id}", now)
        await self._delivery.to_agent(room.parties.agent_id, ServerEvent.CUSTOMER_MEDIA, now)

    # ------------------------------------------------------------ subscribers

    async def _publish(
        self,
        room: CallRoom,
        kind: str,
        actor: str,
        data: Mapping[str, Any],
        at: float | None = None,
    ) -> None:
        event = CallEvent(
            room.call_id, room.clock() if at is None else at, time.time(), kind, actor, data
        )
        for listener in list(self._listeners):
            try:
                await listener(event)
            except Exception:
                logger.exception("CallRooms(%s) subscriber failed on %s", room.call_id, kind)


class EventLog:
    """The subscriber that keeps a call's event log in the records: what was said, drawn and
    shown, on the media clock. Real-time drafts, the laser pointer, source requests and tracker
    moves are not kept (they are transient or many)."""

    KEPT = frozenset(
        {
            "chat",
            "annotate",
            "annotate_points",
            "annotation_remove",
            "annotations_clear",
            "freeze",
            "unfreeze",
            "photo",
            "source",
        }
    )

    def __init__(self, records: EventRecords) -> None:
        self._records = records

    async def __call__(self, event: CallEvent) -> None:
        if event.kind in self.KEPT:
            await self._records.add_call_event(
                event.call_id, event.wall, event.at, event.kind, event.actor, dict(event.data)
            )


class EventRecords(Protocol):
    async def add_call_event(
        self, call_id: str, at: float, media_time: float, kind: str, actor: str, payload: Any
    ) -> None: ...

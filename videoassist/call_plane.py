"""The call plane: what happens inside a live call, asked for by call id.

A live call is more than the desk's session: its peer connections (the media hub), its room
(chat, marks, stills, photos) and its recording. These live together in the process that holds
the call's media, because a still is decoded from the customer's video, a mark is tracked on it
and the recorder taps it. The gateway and the HTTP layer authorize a request against the desk
(who is in which call) and then ask the call plane to act on that call; they never reach into
the hub, the rooms or the recorder themselves.

That seam is what lets a call's media live on another node (issue 15, docs/architecture.md
"Several nodes"): the same verbs, with the same arguments and answers, are carried over Redis to
the call's media node and answered there (``cluster/call_bus.py``). So every verb takes the call
id first, and its arguments and answer are plain JSON values (bytes travel base64-encoded).

``LocalCallPlane`` is the plane of this process: one node, or a media node serving requests. It
is also the service's media port: the desk's ``StartMedia``, ``HandOverMedia`` and ``StopMedia``
open, hand over and close a call's media, room and recording together.
``VERBS`` lists what may be asked of it from elsewhere; ``dispatch`` runs one of them by name.
"""

from __future__ import annotations

import base64
import inspect
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from videoassist.call_room import CallEvent, CallRooms, Side, Source
from videoassist.delivery import Delivery
from videoassist.desk import ServerEvent
from videoassist.desk.events import Party
from videoassist.errors import Refusal

logger = logging.getLogger(__name__)


class Description(Protocol):
    type: str
    sdp: str


class Signaling(Protocol):
    """The media hub as the call plane uses it: a call's media session, SDP in, SDP out."""

    def open(
        self, session_id: str, ticket_id: str, agent_id: str, customer_joins_later: bool
    ) -> object: ...
    async def hand_over(self, session_id: str, agent_id: str) -> None: ...
    async def close_session(self, session_id: str) -> None: ...
    async def answer(self, session_id: str, party: Party, sdp: str) -> Description: ...
    async def add_candidate(
        self, session_id: str, party: Party, candidate: dict[str, Any]
    ) -> None: ...
    async def supervise(
        self, session_id: str, staff_id: str, mode: Any, sdp: str
    ) -> Description: ...
    async def supervisor_candidate(
        self, session_id: str, staff_id: str, candidate: dict[str, Any]
    ) -> None: ...
    async def unsupervise(self, session_id: str, staff_id: str) -> bool: ...
    def heard(self, session_id: str) -> tuple[str | None, str | None]: ...
    def watched(self, session_id: str) -> bool: ...
    def quality(self, session_id: str) -> dict[str, Any] | None: ...
    def quality_summary(self, session_id: str) -> dict[str, Any] | None: ...


class RecordingControl(Protocol):
    """Recording as the call plane uses it (videoassist.recording.Recordings)."""

    def call_started(self, call_id: str, ticket_id: str, agent_id: str) -> None: ...
    def handed_over(self, call_id: str, agent_id: str) -> None: ...
    def call_ended(self, call_id: str) -> None: ...
    def state(self, call_id: str) -> dict[str, Any]: ...
    async def consent(self, call_id: str, ticket_id: str, accept: bool) -> dict[str, Any]: ...
    async def pause(self, call_id: str, agent_id: str) -> dict[str, Any]: ...
    async def resume(self, call_id: str, agent_id: str) -> dict[str, Any]: ...


class CallPlane(Protocol):
    """Every verb a live call answers. The caller has already checked that the person asking
    is in ``call_id`` (the desk is the judge of that, not the plane)."""

    async def answer(self, call_id: str, party: Party, sdp: str) -> dict[str, str]: ...
    async def add_candidate(
        self, call_id: str, party: Party, candidate: dict[str, Any]
    ) -> None: ...
    async def room(self, call_id: str) -> dict[str, Any]: ...
    async def say(self, call_id: str, side: Side, party_id: str, name: str, text: str) -> int: ...
    async def typing(self, call_id: str, side: Side, party_id: str, text: str) -> None: ...
    async def annotate(
        self, call_id: str, agent_id: str, author: str, target: str, annotation: dict[str, Any]
    ) -> str: ...
    async def extend_pen(
        self, call_id: str, agent_id: str, target: str, mark_id: str, points: list[Any]
    ) -> None: ...
    async def remove_annotation(
        self, call_id: str, agent_id: str, target: str, mark_id: str
    ) -> None: ...
    async def clear(self, call_id: str, agent_id: str, target: str) -> int: ...
    async def freeze(self, call_id: str, agent_id: str) -> dict[str, Any]: ...
    async def unfreeze(self, call_id: str, agent_id: str) -> None: ...
    async def request_source(self, call_id: str, agent_id: str, source: Source) -> None: ...
    async def source_changed(self, call_id: str, ticket_id: str, source: Source) -> None: ...
    async def source_declined(self, call_id: str, ticket_id: str, source: Source) -> None: ...
    async def media_state(self, call_id: str, ticket_id: str, audio: bool, video: bool) -> None: ...
    async def add_photo(
        self, call_id: str, ticket_id: str, content_type: str, data_b64: str
    ) -> dict[str, Any]: ...
    async def note(self, call_id: str, kind: str, actor: str, data: dict[str, Any]) -> None: ...
    async def recording_consent(
        self, call_id: str, ticket_id: str, accept: bool
    ) -> dict[str, Any]: ...
    async def recording_pause(self, call_id: str, agent_id: str) -> dict[str, Any]: ...
    async def recording_resume(self, call_id: str, agent_id: str) -> dict[str, Any]: ...
    async def supervise(self, call_id: str, staff_id: str, mode: str, sdp: str) -> dict[str, Any]:
        """A supervisor's peer connection into the call: the SDP answer, whose voice each
        party now hears (``heard``: agent's and customer's mode) and the room as it stands."""
        ...

    async def supervisor_candidate(
        self, call_id: str, staff_id: str, candidate: dict[str, Any]
    ) -> None: ...
    async def unsupervise(self, call_id: str, staff_id: str) -> dict[str, Any]:
        """``left``: whether they were in the call's media; ``heard`` as for ``supervise``."""
        ...


VERBS = frozenset(
    {
        "answer",
        "add_candidate",
        "room",
        "say",
        "typing",
        "annotate",
        "extend_pen",
        "remove_annotation",
        "clear",
        "freeze",
        "unfreeze",
        "request_source",
        "source_changed",
        "source_declined",
        "media_state",
        "add_photo",
        "note",
        "recording_consent",
        "recording_pause",
        "recording_resume",
        "supervise",
        "supervisor_candidate",
        "unsupervise",
    }
)


def encode_bytes(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


async def dispatch(plane: CallPlane, verb: str, args: Mapping[str, Any]) -> Any:
    """Run ``verb`` with ``args`` (keyword arguments, ``call_id`` among them) on ``plane``.
    Only ``VERBS`` may be run; a request naming anything else, or with arguments the verb does
    not take, is refused without touching the call."""
    if verb not in VERBS:
        raise Refusal("unknown_verb", f"the call plane has no verb {verb!r}")
    method = getattr(plane, verb)
    try:
        inspect.signature(method).bind(**args)
    except TypeError as exc:
        raise Refusal("bad_request", f"{verb}: {exc}") from None
    return await method(**args)


class LocalCallPlane:
    """The calls whose media this process holds."""

    def __init__(
        self,
        media: Signaling,
        rooms: CallRooms,
        recordings: RecordingControl | None = None,
        delivery: Delivery | None = None,
    ) -> None:
        self.media = media
        self.rooms = rooms
        self.recordings = recordings
        self._delivery = delivery
        if delivery is not None:
            rooms.subscribe(self._to_watchers)

    async def _to_watchers(self, ev: CallEvent) -> None:
        """A supervisor watching a call sees its room's events, on whichever node their
        wallboard is: the call's node sends them to the call's watchers."""
        if self._delivery is not None and self.media.watched(ev.call_id):
            await self._delivery.to_watchers(
                ev.call_id,
                ServerEvent.CALL_EVENT,
                {"call_id": ev.call_id, "kind": ev.kind, "at": ev.at, "data": dict(ev.data)},
            )

    # ------------------------------------------------------------ the call's life (the desk's)

    def open(
        self, session_id: str, ticket_id: str, agent_id: str, customer_joins_later: bool
    ) -> None:
        """The desk matched a customer and an agent: media first (the room takes the media
        session's clock), then the room, then recording (which may ask for consent)."""
        self.media.open(session_id, ticket_id, agent_id, customer_joins_later)
        self.rooms.open(session_id, ticket_id, agent_id)
        if self.recordings is not None:
            self.recordings.call_started(session_id, ticket_id, agent_id)

    async def hand_over(self, session_id: str, agent_id: str) -> None:
        self.rooms.hand_over(session_id, agent_id)
        await self.media.hand_over(session_id, agent_id)
        if self.recordings is not None:
            self.recordings.handed_over(session_id, agent_id)

    async def keep(self, session_id: str, agent_id: str) -> None:
        """A call still open here that a desk opens again (it restarted, or another node took
        the lead): the call goes on, with the desk's agent. They differ when the desk handed
        the call over and its word never came here (its leader died first)."""
        if session_id not in self.rooms:  # it ended meanwhile
            return
        if self.rooms.room(session_id).parties.agent_id != agent_id:
            logger.info("call %s: handed over to %s as the desk says", session_id, agent_id)
            await self.hand_over(session_id, agent_id)

    async def close_session(self, session_id: str) -> None:
        self.rooms.close(session_id)
        if self.recordings is not None:
            self.recordings.call_ended(session_id)
        await self.media.close_session(session_id)

    def quality_summary(self, call_id: str) -> dict[str, Any] | None:
        """A call's media quality per leg over the whole call (also just after it closed)."""
        return self.media.quality_summary(call_id)

    def status(self, call_id: str) -> dict[str, Any]:
        """What the wallboard shows of a live call beside the desk's picture."""
        recording = self.recordings.state(call_id)["state"] if self.recordings else "off"
        return {"recording": recording, "quality": self.media.quality(call_id)}

    # ------------------------------------------------------------ what the parties do

    def _recording(self) -> RecordingControl:
        if self.recordings is None:
            raise Refusal("not_supported", "this server does not record calls")
        return self.recordings

    async def answer(self, call_id: str, party: Party, sdp: str) -> dict[str, str]:
        answer = await self.media.answer(call_id, party, sdp)
        return {"type": answer.type, "sdp": answer.sdp}

    async def add_candidate(self, call_id: str, party: Party, candidate: dict[str, Any]) -> None:
        await self.media.add_candidate(call_id, party, candidate)

    async def room(self, call_id: str) -> dict[str, Any]:
        state = self.rooms.state(call_id)
        if self.recordings is not None:
            # A page back after a reload or a restart shows the recording as it stands, and a
            # question still open is asked again.
            state["recording"] = self.recordings.state(call_id)
        return state

    async def say(self, call_id: str, side: Side, party_id: str, name: str, text: str) -> int:
        return await self.rooms.say(call_id, side, party_id, name, text)

    async def typing(self, call_id: str, side: Side, party_id: str, text: str) -> None:
        await self.rooms.typing(call_id, side, party_id, text)

    async def annotate(
        self, call_id: str, agent_id: str, author: str, target: str, annotation: dict[str, Any]
    ) -> str:
        return await self.rooms.annotate(call_id, agent_id, author, target, annotation)

    async def extend_pen(
        self, call_id: str, agent_id: str, target: str, mark_id: str, points: list[Any]
    ) -> None:
        await self.rooms.extend_pen(call_id, agent_id, target, mark_id, points)

    async def remove_annotation(
        self, call_id: str, agent_id: str, target: str, mark_id: str
    ) -> None:
        await self.rooms.remove_annotation(call_id, agent_id, target, mark_id)

    async def clear(self, call_id: str, agent_id: str, target: str) -> int:
        return await self.rooms.clear(call_id, agent_id, target)

    async def freeze(self, call_id: str, agent_id: str) -> dict[str, Any]:
        return await self.rooms.freeze(call_id, agent_id)

    async def unfreeze(self, call_id: str, agent_id: str) -> None:
        await self.rooms.unfreeze(call_id, agent_id)

    async def request_source(self, call_id: str, agent_id: str, source: Source) -> None:
        await self.rooms.request_source(call_id, agent_id, source)

    async def source_changed(self, call_id: str, ticket_id: str, source: Source) -> None:
        await self.rooms.source_changed(call_id, ticket_id, source)

    async def source_declined(self, call_id: str, ticket_id: str, source: Source) -> None:
        await self.rooms.source_declined(call_id, ticket_id, source)

    async def media_state(self, call_id: str, ticket_id: str, audio: bool, video: bool) -> None:
        await self.rooms.media_state(call_id, ticket_id, audio, video)

    async def add_photo(
        self, call_id: str, ticket_id: str, content_type: str, data_b64: str
    ) -> dict[str, Any]:
        try:
            data = base64.b64decode(data_b64, validate=True)
        except ValueError:
            raise Refusal("bad_request", "the photo is not base64") from None
        return await self.rooms.add_photo(call_id, ticket_id, content_type, data)

    async def note(self, call_id: str, kind: str, actor: str, data: dict[str, Any]) -> None:
        await self.rooms.note(call_id, kind, actor, data)

    async def recording_consent(self, call_id: str, ticket_id: str, accept: bool) -> dict[str, Any]:
        return await self._recording().consent(call_id, ticket_id, accept)

    async def recording_pause(self, call_id: str, agent_id: str) -> dict[str, Any]:
        return await self._recording().pause(call_id, agent_id)

    async def recording_resume(self, call_id: str, agent_id: str) -> dict[str, Any]:
        return await self._recording().resume(call_id, agent_id)

    async def supervise(self, call_id: str, staff_id: str, mode: str, sdp: str) -> dict[str, Any]:
        answer = await self.media.supervise(call_id, staff_id, mode, sdp)
        room = self.rooms.state(call_id) if call_id in self.rooms else {}
        heard = list(self.media.heard(call_id))
        return {"type": answer.type, "sdp": answer.sdp, "heard": heard, "room": room}

    async def supervisor_candidate(
        self, call_id: str, staff_id: str, candidate: dict[str, Any]
    ) -> None:
        await self.media.supervisor_candidate(call_id, staff_id, candidate)

    async def unsupervise(self, call_id: str, staff_id: str) -> dict[str, Any]:
        left = await self.media.unsupervise(call_id, staff_id)
        return {"left": left, "heard": list(self.media.heard(call_id))}

"""Wire schemas: one pydantic model per incoming socket.io event, validated and size-capped.

A payload that does not fit its model is refused with an ``invalid`` ack naming the field; no
handler sees it. The caps come from the models they protect (the annotation model, the media
hub's SDP limit) so that a limit is written down once.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from videoassist import annotations as model
from videoassist.call_room import MAX_CHAT_CHARS, TARGET_PATTERN
from videoassist.desk.events import DISPOSITIONS
from videoassist.media.limits import MAX_SDP_BYTES

Id = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Empty(Payload):
    pass


class SessionRef(Payload):
    session_id: str = Id


class TicketRef(Payload):
    ticket_id: str = Id


class TransferIn(Payload):
    session_id: str = Id
    queue_id: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$"
    )
    agent_id: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$"
    )


class ChatIn(Payload):
    session_id: str = Id
    text: str = Field(min_length=1, max_length=MAX_CHAT_CHARS)


Target = Field(default="live", max_length=32, pattern=TARGET_PATTERN)
MarkId = Field(pattern=model.ID_PATTERN)


class AnnotateIn(Payload):
    session_id: str = Id
    target: str = Target
    annotation: dict[str, Any]


class PenPointsWire(Payload):
    session_id: str = Id
    target: str = Target
    id: str = MarkId
    points: list[Any] = Field(min_length=1, max_length=model.MAX_PEN_POINTS)


class AnnotationRef(Payload):
    session_id: str = Id
    target: str = Target
    id: str = MarkId


class TypingIn(Payload):
    session_id: str = Id
    text: str = Field(default="", max_length=MAX_CHAT_CHARS)


class SourceIn(Payload):
    session_id: str = Id
    source: Literal["camera", "camera_front", "camera_back", "screen"]


class ItemRef(Payload):
    session_id: str = Id
    target: str = Target


class AwayIn(Payload):
    reason: Literal["away", "break", "meeting", "training", "lunch"] = "away"


class WrapUpIn(Payload):
    session_id: str = Id
    disposition: Literal[DISPOSITIONS]  # type: ignore[valid-type]
    note: str = Field(default="", max_length=2000)


class RtcOfferIn(Payload):
    session_id: str = Id
    type: Literal["offer"]
    sdp: str = Field(min_length=10, max_length=MAX_SDP_BYTES)


class SuperviseIn(Payload):
    """A supervisor's offer to monitor, whisper to the agent of, or barge into a live call."""

    session_id: str = Id
    mode: Literal["monitor", "whisper", "barge"]
    type: Literal["offer"]
    sdp: str = Field(min_length=10, max_length=MAX_SDP_BYTES)


class RtcCandidateIn(Payload):
    session_id: str = Id
    candidate: str = Field(default="", max_length=1024)
    sdpMid: str | None = Field(default=None, max_length=32)  # the browser's field names
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=16)


class RecordingConsentIn(Payload):
    """The customer's answer to ``recording_consent_requested``: a real boolean, nothing else."""

    session_id: str = Id
    accept: bool = Field(strict=True)


# /supervisor: acting on an agent or a waiting customer by id (ids as the wallboard shows them).


class AgentRef(Payload):
    agent_id: str = Id


class SendAwayIn(Payload):
    agent_id: str = Id
    reason: Literal["away", "break", "meeting", "training", "lunch"] = "away"


class MoveIn(Payload):
    ticket_id: str = Id
    queue_id: str = Id


class PriorityIn(Payload):
    ticket_id: str = Id
    priority: int = Field(ge=-100, le=100)

"""Wire schemas: one pydantic model per incoming socket.io event, validated and size-capped.

A payload that does not fit its model is refused with an ``invalid`` ack naming the field; no
handler sees it. The caps come from the models they protect (the annotation model, the media
hub's SDP limit) so that a limit is written down once.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

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


class MediaStateIn(Payload):
    session_id: str = Id
    audio: bool = Field(strict=True)
    video: bool = Field(strict=True)


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


class TutorialPushIn(Payload):
    """The agent pushes a published tutorial to the customer of their call."""

    session_id: str = Id
    tutorial_id: str = Id
    chapter: int | None = Field(default=None, ge=0, le=49)
    at: float | None = Field(default=None, ge=0, le=86400)


class TutorialProgressIn(Payload):
    """What the customer's player did with a tutorial (pushed: ``push_id``; found: none)."""

    tutorial_id: str = Id
    push_id: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$"
    )
    state: Literal["opened", "position", "finished"]
    position: float = Field(default=0.0, ge=0, le=86400)


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


class CsatIn(Payload):
    """A customer's rating of their call (POST /api/tickets/{ticket_id}/csat)."""

    score: int = Field(ge=1, le=5, strict=True)
    comment: str | None = Field(default=None, max_length=500)


class ReportQuery(Payload):
    """The query string of the /api/reports endpoints."""

    start: str = Field(alias="from", pattern=r"^\d{4}-\d{2}-\d{2}$")
    to: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    interval: Literal["15min", "hour", "day"] = "day"
    by: Literal["queue", "agent"] = "queue"
    queue: str | None = Field(default=None, min_length=1, max_length=64)
    format: Literal["json", "csv", "xlsx"] = "json"


# HTTP: the trainer library's filters (query string of GET /api/recordings).


class RecordingFilter(Payload):
    queue: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$"
    )
    topic: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$"
    )
    agent: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$"
    )
    disposition: Literal[DISPOSITIONS] | None = None  # type: ignore[valid-type]
    since: float | None = Field(default=None, ge=0, le=1e11)
    until: float | None = Field(default=None, ge=0, le=1e11)
    limit: int = Field(default=50, ge=1, le=200)


# --------------------------------------------------------------------------- tutorials (HTTP)
# Bodies of the tutorial endpoints (videoassist/http/tutorials.py; docs/openapi.yaml). Times are
# seconds on the source recording's media clock; docs/tutorials.md has the edit model.

Seconds = Field(ge=0, le=86400, allow_inf_nan=False)
Unit = Field(ge=0, le=1, allow_inf_nan=False)
Tag = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[^\x00-\x1f]+$")]
MarkRef = Annotated[str, Field(min_length=1, max_length=64)]


class TutorialCreateIn(Payload):
    recording_id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    title: str = Field(min_length=1, max_length=200)
    topic: str | None = Field(default=None, min_length=1, max_length=64)


class TrimIn(Payload):
    in_: float = Field(default=0.0, alias="in", ge=0, le=86400, allow_inf_nan=False)
    out: float | None = Field(default=None, ge=0, le=86400, allow_inf_nan=False)


class ChapterIn(Payload):
    title: str = Field(min_length=1, max_length=200)
    at: float = Seconds


class BlurIn(Payload):
    start: float = Seconds
    end: float = Seconds
    x: float = Unit
    y: float = Unit
    w: float = Field(gt=0, le=1, allow_inf_nan=False)
    h: float = Field(gt=0, le=1, allow_inf_nan=False)


class TutorialEditIn(Payload):
    """The whole edit model (``PUT /api/tutorials/{id}/draft``)."""

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    topic: str | None = Field(default=None, min_length=1, max_length=64)
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    source: Literal["customer", "agent"] = "customer"
    trim: TrimIn = Field(default_factory=TrimIn)
    cuts: list[tuple[float, float]] = Field(default_factory=list, max_length=50)
    chapters: list[ChapterIn] = Field(default_factory=list, max_length=50)
    keep_annotations: Literal["all"] | Annotated[list[MarkRef], Field(max_length=500)] = "all"
    blurs: list[BlurIn] = Field(default_factory=list, max_length=50)
    poster: float | None = Field(default=None, ge=0, le=86400, allow_inf_nan=False)

    def edit(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class RenderIn(Payload):
    format: Literal["mp4", "webm"]
    version: int | Literal["draft", "published"] = "published"

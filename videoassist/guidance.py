"""What the parties of a call share besides audio and video: annotations, chat, a frozen still.

One ``CallRoom`` per media call, owned by the call's ``MediaSession`` (so it lives exactly as long
as the call, and survives a warm transfer with it). Plain state with small rules; the gateway
authorizes, persists and delivers.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

MAX_ANNOTATIONS = 200  # per target (live video, a still, a photo)
MAX_CHAT = 500


class RoomError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class ChatLine:
    id: int
    sender: str  # "customer" or "agent"
    name: str
    text: str
    at: float  # seconds on the call's media clock


@dataclass(slots=True)
class CallRoom:
    call_id: str
    started: float = field(default_factory=time.monotonic)
    annotations: dict[str, OrderedDict[str, dict[str, Any]]] = field(default_factory=dict)
    chat: list[ChatLine] = field(default_factory=list)
    frozen: str | None = None  # id of the still both sides are looking at
    items: dict[str, str] = field(default_factory=dict)  # still/photo id -> kind

    def clock(self) -> float:
        """The call's media clock: seconds since the call started, what recordings use."""
        return round(time.monotonic() - self.started, 3)

    def add_annotation(self, target: str, annotation: dict[str, Any]) -> None:
        if target != "live" and target not in self.items:
            raise RoomError("not_found", "no such still or photo in this call")
        marks = self.annotations.setdefault(target, OrderedDict())
        if annotation["id"] in marks:
            raise RoomError("duplicate", "an annotation with this id exists")
        if len(marks) >= MAX_ANNOTATIONS:
            raise RoomError("too_many", f"at most {MAX_ANNOTATIONS} annotations; clear some")
        marks[annotation["id"]] = annotation

    def remove_annotation(self, target: str, annotation_id: str) -> None:
        marks = self.annotations.get(target)
        if not marks or annotation_id not in marks:
            raise RoomError("not_found", "no such annotation")
        del marks[annotation_id]

    def clear(self, target: str) -> int:
        return len(self.annotations.pop(target, {}))

    def say(self, sender: str, name: str, text: str) -> ChatLine:
        if len(self.chat) >= MAX_CHAT:
            raise RoomError("too_many", "this chat is full")
        line = ChatLine(len(self.chat) + 1, sender, name, text, self.clock())
        self.chat.append(line)
        return line

    def add_item(self, item_id: str, kind: str) -> None:
        self.items[item_id] = kind

    def snapshot(self) -> dict[str, Any]:
        """Everything a party needs after (re)joining the call."""
        return {
            "annotations": {t: list(m.values()) for t, m in self.annotations.items()},
            "chat": [vars_of(line) for line in self.chat],
            "frozen": self.frozen,
        }


def vars_of(line: ChatLine) -> dict[str, Any]:
    return {"id": line.id, "from": line.sender, "name": line.name, "text": line.text, "at": line.at}

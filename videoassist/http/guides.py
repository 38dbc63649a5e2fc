"""Guides ("scripts"): per topic, a checklist of steps an admin writes and the agent ticks
during a call. The ticks are kept with the session (``session_notes.ticks``), each with the
step's text as it read when ticked, so a later edit of the guide does not rewrite history.

A step's id is derived from its text, so reordering a guide keeps the ticks of a call in
progress; rewording a step makes it a new step.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from videoassist.auth import Staff
from videoassist.http.admin import admin_only
from videoassist.http.keys import RECORDS, SERVICE, TOPIC_LABELS
from videoassist.http.middleware import Reply, json_error, read_json

guides = web.RouteTableDef()

MAX_STEPS = 30
Step = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class GuideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    steps: list[Step] = Field(max_length=MAX_STEPS)


class TickIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    step_id: str = Field(min_length=1, max_length=16)
    done: bool


def step_id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _known_topic(request: web.Request) -> str | web.Response:
    topic = request.match_info["topic"]
    if topic not in request.app[TOPIC_LABELS]:
        return json_error(404, "not_found", f"no topic '{topic[:64]}'")
    return topic


@guides.get("/api/admin/topics/{topic}/guide")
@admin_only
async def get_guide(request: web.Request, member: Staff) -> web.Response:
    topic = _known_topic(request)
    if isinstance(topic, web.Response):
        return topic
    return web.json_response({"topic": topic, "steps": await request.app[RECORDS].guide(topic)})


@guides.put("/api/admin/topics/{topic}/guide")
@admin_only
async def put_guide(request: web.Request, member: Staff) -> web.Response:
    topic = _known_topic(request)
    if isinstance(topic, web.Response):
        return topic
    body = await read_json(request, GuideIn)  # a Reply is answered by admin_only
    steps: list[dict[str, str]] = []
    for text in body.steps:
        if step_id(text) not in {s["id"] for s in steps}:  # the same step twice is one step
            steps.append({"id": step_id(text), "text": text})
    await request.app[RECORDS].put_guide(topic, steps, request.app[SERVICE].now())
    return web.json_response({"topic": topic, "steps": steps})


async def guide_of_session(request: web.Request, topic: str, session_id: str) -> dict[str, Any]:
    """The topic's guide and the steps ticked in this session (by id)."""
    records = request.app[RECORDS]
    steps = await records.guide(topic) if topic else []
    return {"steps": steps, "ticked": [t["id"] for t in await records.session_ticks(session_id)]}


async def tick(request: web.Request, member: Staff, session_id: str, topic: str) -> web.Response:
    """Tick or untick one step of the session's guide (the caller holds the session)."""
    try:
        body = await read_json(request, TickIn)
    except Reply as bad:
        return bad.response
    records = request.app[RECORDS]
    steps = {s["id"]: s["text"] for s in await records.guide(topic)} if topic else {}
    ticks = [t for t in await records.session_ticks(session_id) if t["id"] != body.step_id]
    if body.done:
        if body.step_id not in steps:
            return json_error(404, "not_found", "no such step in this topic's guide")
        now = request.app[SERVICE].now()
        ticks.append({"id": body.step_id, "text": steps[body.step_id], "at": now})
    await records.save_session_ticks(session_id, member.agent_id, ticks, request.app[SERVICE].now())
    return web.json_response({"ticked": [t["id"] for t in ticks]})

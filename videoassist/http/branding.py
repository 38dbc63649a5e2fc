"""The operator's branding on the customer page (and ``/embed``, the same page): a name, a logo
and an accent colour, set by an admin.

* The accent is the background of the page's main buttons, under white text, so a colour
  whose contrast with white is under 4.5:1 (WCAG 2 AA for normal text) is refused, with the
  ratio it has.
* The logo is uploaded as PNG, JPEG or WebP (told by its first bytes, not by what the client
  says), at most 256 KiB and 1024 px a side. The server decodes it and keeps its own PNG
  re-encoding, so what it serves from its own origin is an image it made, whatever was sent.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from videoassist.auth import Staff
from videoassist.http.admin import ADMIN, _commit, admin_only
from videoassist.http.keys import RECORDS
from videoassist.http.middleware import Reply, invalid, json_error, read_json

logger = logging.getLogger(__name__)

branding_routes = web.RouteTableDef()

LOGO_MAX_BYTES = 256 * 1024
LOGO_MAX_SIDE = 1024
MIN_CONTRAST = 4.5
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
# What an image's first bytes say it is; nothing else is taken (SVG can carry script).
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


class BrandingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="", max_length=80)
    accent: str | None = Field(default=None, max_length=7, description="#rrggbb")


class TopicOrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topics: list[str] = Field(max_length=1000)


def _luminance(hex_colour: str) -> float:
    """WCAG 2 relative luminance of ``#rrggbb``."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_with_white(hex_colour: str) -> float:
    return 1.05 / (_luminance(hex_colour) + 0.05)


def image_type(data: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def clean_logo(data: bytes) -> bytes:
    """Decode ``data`` and encode it again as PNG (alpha kept); ValueError when it is not a
    picture we take. CPU work: run it in a thread."""
    import cv2  # the server's image library; imported here, where the work is
    import numpy as np

    picture = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if picture is None:
        raise ValueError("the file could not be read as an image")
    height, width = picture.shape[:2]
    if max(height, width) > LOGO_MAX_SIDE:
        raise ValueError(f"at most {LOGO_MAX_SIDE} px a side (this one is {width}x{height})")
    ok, png = cv2.imencode(".png", picture)
    if not ok:
        raise ValueError("the image could not be encoded")
    return bytes(png)


def branding_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": row["name"],
        "accent": row["accent"],
        # The version in the link makes a new logo show at once despite caches.
        "logo_url": f"/api/branding/logo?v={int(row['updated_at'])}" if row["logo"] else None,
    }


@branding_routes.get("/api/branding")
async def get_branding(request: web.Request) -> web.Response:
    """What the customer page shows of the operator: public, like the page itself."""
    return web.json_response(branding_out(await request.app[RECORDS].branding()))


@branding_routes.get("/api/branding/logo")
async def get_logo(request: web.Request) -> web.Response:
    row = await request.app[RECORDS].branding()
    if not row["logo"]:
        return json_error(404, "not_found", "no logo")
    return web.Response(
        body=row["logo"],
        content_type="image/png",
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


@branding_routes.put("/api/admin/branding")
@admin_only
async def put_branding(request: web.Request, member: Staff) -> web.Response:
    body = await read_json(request, BrandingIn)
    accent = body.accent or None
    if accent is not None:
        if not _HEX.fullmatch(accent):
            raise invalid("accent", "a colour as #rrggbb")
        ratio = contrast_with_white(accent)
        if ratio < MIN_CONTRAST:
            raise invalid(
                "accent",
                f"white text on {accent} has a contrast of {ratio:.2f}:1; "
                f"pick a darker colour (at least {MIN_CONTRAST}:1)",
            )
        accent = accent.lower()
    row = await request.app[RECORDS].put_branding(name=body.name.strip(), accent=accent)
    logger.info("admin: branding set by %s", member.username)
    return web.json_response(branding_out(row))


@branding_routes.put("/api/admin/branding/logo")
@admin_only
async def put_logo(request: web.Request, member: Staff) -> web.Response:
    if request.content_length is not None and request.content_length > LOGO_MAX_BYTES:
        raise _too_large()
    data = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > LOGO_MAX_BYTES:
            raise _too_large()
    if image_type(bytes(data)) is None:
        raise Reply(json_error(415, "unsupported_media_type", "send a PNG, JPEG or WebP image"))
    try:
        logo = await asyncio.to_thread(clean_logo, bytes(data))
    except ValueError as exc:
        raise invalid("logo", str(exc)) from None
    row = await request.app[RECORDS].put_branding(logo=logo)
    logger.info("admin: logo set by %s (%d bytes)", member.username, len(logo))
    return web.json_response(branding_out(row))


@branding_routes.delete("/api/admin/branding/logo")
@admin_only
async def delete_logo(request: web.Request, member: Staff) -> web.Response:
    row = await request.app[RECORDS].put_branding(logo=None)
    logger.info("admin: logo removed by %s", member.username)
    return web.json_response(branding_out(row))


@branding_routes.put("/api/admin/topic-order")
@admin_only
async def put_topic_order(request: web.Request, member: Staff) -> web.Response:
    """The order of the topics on the customer page: every topic, once."""
    body = await read_json(request, TopicOrderIn)
    records = request.app[RECORDS]
    async with request.app[ADMIN].lock:
        rows = await records.load_config()
        known = [row["topic"] for row in rows["topics"]]
        if sorted(body.topics) != sorted(known) or len(set(body.topics)) != len(body.topics):
            raise invalid("topics", "list every topic exactly once")
        by_id = {row["topic"]: row for row in rows["topics"]}
        # The desk keeps the topics in the stored order: it is handed the configuration again.
        await _commit(
            request,
            {**rows, "topics": [by_id[topic] for topic in body.topics]},
            lambda: records.order_topics(body.topics),
            lambda: records.order_topics(known),
        )
    logger.info("admin: topic order set by %s", member.username)
    return web.json_response({"topics": body.topics})


def _too_large() -> Reply:
    return Reply(json_error(413, "too_large", f"a logo is limited to {LOGO_MAX_BYTES // 1024} KiB"))

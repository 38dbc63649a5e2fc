"""Branding and topic order through the running server: what an admin sets, the customer page
reads (GET /api/branding, /api/topics)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import cv2
import numpy as np

from tests.support.harness import Harness
from videoassist.http.branding import LOGO_MAX_BYTES, contrast_with_white


async def _send(
    harness: Harness,
    method: str,
    path: str,
    cookie: str | None,
    json: Any = None,
    data: bytes | None = None,
    content_type: str | None = None,
) -> tuple[int, Any, str]:
    assert harness.http is not None
    headers = {"Cookie": f"va_session={cookie}"} if cookie else {}
    if content_type:
        headers["Content-Type"] = content_type
    async with harness.http.request(method, path, json=json, data=data, headers=headers) as r:
        body: Any = await r.json() if r.content_type == "application/json" else await r.read()
        return r.status, body, r.content_type


def _png(width: int = 40, height: int = 20) -> bytes:
    picture = np.zeros((height, width, 3), np.uint8)
    picture[:, : width // 2] = (0, 128, 255)
    ok, data = cv2.imencode(".png", picture)
    assert ok
    return bytes(data)


def test_contrast_follows_wcag() -> None:
    assert round(contrast_with_white("#000000"), 1) == 21.0
    assert round(contrast_with_white("#ffffff"), 1) == 1.0
    assert round(contrast_with_white("#0b5fff"), 2) == 5.13  # the page's own blue passes


async def test_an_admin_brands_the_page_and_a_pale_accent_is_refused(harness: Harness) -> None:
    root = await harness.add_staff("root", role="admin")
    assert (await _send(harness, "GET", "/api/branding", None))[1] == {
        "name": "",
        "accent": None,
        "logo_url": None,
    }
    status, body, _ = await _send(
        harness, "PUT", "/api/admin/branding", root, {"name": "Acme", "accent": "#FFCC00"}
    )
    assert (status, body["error"]["field"]) == (422, "accent")
    assert "1.5" in body["error"]["message"]  # the ratio it has, to help pick another
    for accent in ("red", "#12345", "#12345g"):
        status, body, _ = await _send(
            harness, "PUT", "/api/admin/branding", root, {"name": "Acme", "accent": accent}
        )
        assert status == 422, accent
    status, body, _ = await _send(
        harness, "PUT", "/api/admin/branding", root, {"name": "Acme", "accent": "#7A1F5C"}
    )
    assert status == 200 and body["accent"] == "#7a1f5c" and body["name"] == "Acme"

    # Logos: a real image, re-encoded by the server; anything else is refused.
    status, body, _ = await _send(
        harness, "PUT", "/api/admin/branding/logo", root, data=b"<svg/>", content_type="image/png"
    )
    assert (status, body["error"]["code"]) == (415, "unsupported_media_type")
    fake = b"\x89PNG\r\n\x1a\n" + b"not really"
    status, body, _ = await _send(
        harness, "PUT", "/api/admin/branding/logo", root, data=fake, content_type="image/png"
    )
    assert (status, body["error"]["field"]) == (422, "logo")
    huge = b"\x89PNG\r\n\x1a\n" + bytes(LOGO_MAX_BYTES)
    status, body, _ = await _send(
        harness, "PUT", "/api/admin/branding/logo", root, data=huge, content_type="image/png"
    )
    assert (status, body["error"]["code"]) == (413, "too_large")
    status, body, _ = await _send(
        harness,
        "PUT",
        "/api/admin/branding/logo",
        root,
        data=_png(2000, 10),
        content_type="image/png",
    )
    assert (status, body["error"]["field"]) == (422, "logo")
    status, body, _ = await _send(
        harness, "PUT", "/api/admin/branding/logo", root, data=_png(), content_type="image/png"
    )
    assert status == 200 and body["logo_url"].startswith("/api/branding/logo")
    status, logo, kind = await _send(harness, "GET", body["logo_url"], None)
    assert (status, kind) == (200, "image/png")
    assert cv2.imdecode(np.frombuffer(logo, np.uint8), cv2.IMREAD_UNCHANGED).shape[:2] == (20, 40)
    public = (await _send(harness, "GET", "/api/branding", None))[1]
    assert public["name"] == "Acme" and public["accent"] == "#7a1f5c"

    # Only an admin changes it.
    agent = await harness.add_staff("alice", role="agent")
    status, *_ = await _send(harness, "PUT", "/api/admin/branding", agent, {"name": "Evil"})
    assert status == 403
    status, *_ = await _send(harness, "DELETE", "/api/admin/branding/logo", root)
    assert status == 200
    assert (await _send(harness, "GET", "/api/branding", None))[1]["logo_url"] is None
    assert (await _send(harness, "GET", "/api/branding/logo", None))[0] == 404


async def test_the_customer_page_lists_topics_in_the_admin_s_order(harness: Harness) -> None:
    root = await harness.add_staff("root", role="admin")
    for topic, label in (("zeta", "Zeta"), ("alpha", "Alpha"), ("mid", "Middle")):
        status, *_ = await _send(
            harness,
            "PUT",
            f"/api/admin/topics/{topic}",
            root,
            {"label": label, "queue_id": "general"},
        )
        assert status in (200, 201)
    listed = [t["topic"] for t in (await _send(harness, "GET", "/api/topics", None))[1]]
    assert listed[-3:] == ["zeta", "alpha", "mid"]  # new topics go last, in creation order

    order = [*listed[:-3], "mid", "zeta", "alpha"]
    status, *_ = await _send(
        harness, "PUT", "/api/admin/topic-order", root, {"topics": order[::-1]}
    )
    assert status == 200
    status, *_ = await _send(harness, "PUT", "/api/admin/topic-order", root, {"topics": order})
    assert status == 200
    assert [t["topic"] for t in (await _send(harness, "GET", "/api/topics", None))[1]] == order
    config = (await _send(harness, "GET", "/api/admin/config", root))[1]
    assert [t["topic"] for t in config["topics"]] == order
    # An edit keeps a topic's place.
    await _send(
        harness, "PUT", "/api/admin/topics/zeta", root, {"label": "Z", "queue_id": "general"}
    )
    assert [t["topic"] for t in (await _send(harness, "GET", "/api/topics", None))[1]] == order

    for wrong in (order[:-1], [*order, "alpha"], [*order[:-1], "nope"]):
        status, body, _ = await _send(
            harness, "PUT", "/api/admin/topic-order", root, {"topics": wrong}
        )
        assert (status, body["error"]["field"]) == (422, "topics"), wrong


async def test_a_closed_topic_says_so_with_its_hours_before_and_after_a_tap(
    harness: Harness,
) -> None:
    root = await harness.add_staff("root", role="admin")
    # Open one minute a week, at a time that is not now.
    now = harness.service.now()
    local = dt.datetime.fromtimestamp(now, dt.UTC)
    other_day = (local.weekday() + 3) % 7
    hours = {"timezone": "Europe/Paris", "windows": [{"day": other_day, "start": 540, "end": 1020}]}
    status, *_ = await _send(
        harness, "PUT", "/api/admin/queues/night", root, {"name": "Night", "hours": hours}
    )
    assert status == 201
    await _send(
        harness, "PUT", "/api/admin/topics/late", root, {"label": "Late", "queue_id": "night"}
    )
    topics = {t["topic"]: t for t in (await _send(harness, "GET", "/api/topics", None))[1]}
    assert topics["late"]["open"] is False and topics["late"]["hours"] == hours
    assert topics["setup"]["open"] is True
    status, body, _ = await _send(harness, "POST", "/api/tickets", None, {"topic": "late"})
    assert (status, body["error"]["code"]) == (503, "closed")
    assert body["error"]["hours"] == hours

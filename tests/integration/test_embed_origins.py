"""Admins list the sites that may embed the help button, and the list takes effect at once:
``/embed`` framed by that site, the API's cross-site check; refusals change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.harness import Harness

SHOP = "https://shop.example"


async def req(
    h: Harness, method: str, path: str, cookie: str | None, body: Any = None, **headers: str
) -> tuple[int, Any, dict[str, str]]:
    assert h.http is not None
    cookies = {"va_session": cookie} if cookie else {}
    async with h.http.request(
        method, path, json=body, cookies=cookies, headers={"Origin": h.url, **headers}
    ) as r:
        data = await r.json() if r.content_type == "application/json" else await r.text()
        return r.status, data, dict(r.headers)


@pytest.mark.settings(allowed_origins=("https://fixed.example",))
async def test_an_admin_allows_a_site_and_takes_it_back(harness: Harness) -> None:
    h = harness
    admin = await h.add_staff("ada", "admin")
    status, _, _ = await req(h, "GET", f"/embed?host={SHOP}", None)
    assert status == 403
    # Before: a write from that site's page is refused as cross-site.
    status, body, _ = await req(h, "POST", "/api/tickets", None, {}, Origin=SHOP)
    assert (status, body["error"]["code"]) == (403, "bad_origin")

    status, body, _ = await req(
        h, "POST", "/api/admin/embed-origins", admin, {"origin": "HTTPS://Shop.Example:443"}
    )
    assert status == 201, body
    assert body["fixed"] == ["https://fixed.example"]
    assert [m["origin"] for m in body["managed"]] == [SHOP]
    assert body["managed"][0]["added_by"] == "ada"

    status, page, headers = await req(h, "GET", f"/embed?host={SHOP}", None)
    assert status == 200 and "<html" in page.lower()
    assert f"frame-ancestors {SHOP}" in headers["Content-Security-Policy"]
    status, _, _ = await req(h, "POST", "/api/tickets", None, {}, Origin=SHOP)
    assert status == 201

    # Taken back: at once, everywhere.
    status, body, _ = await req(h, "DELETE", f"/api/admin/embed-origins?origin={SHOP}", admin)
    assert status == 200 and body["managed"] == []
    assert (await req(h, "GET", f"/embed?host={SHOP}", None))[0] == 403
    assert (await req(h, "POST", "/api/tickets", None, {}, Origin=SHOP))[0] == 403
    actions = [(r["action"], r["subject_id"]) for r in await h.records.audit_rows()]
    assert actions == [("embed_origin_added", SHOP), ("embed_origin_removed", SHOP)]


@pytest.mark.settings(allowed_origins=("https://fixed.example",))
async def test_bad_origins_duplicates_and_the_fixed_list_are_refused(harness: Harness) -> None:
    h = harness
    admin = await h.add_staff("ada", "admin")
    for typed in ("https://*.example", "https://shop.example/help", "ftp://shop.example", ""):
        status, body, _ = await req(h, "POST", "/api/admin/embed-origins", admin, {"origin": typed})
        assert status == 422, (typed, body)
    status, body, _ = await req(
        h, "POST", "/api/admin/embed-origins", admin, {"origin": "https://fixed.example"}
    )
    assert (status, body["error"]["code"]) == (409, "conflict")
    assert (await req(h, "POST", "/api/admin/embed-origins", admin, {"origin": SHOP}))[0] == 201
    assert (await req(h, "POST", "/api/admin/embed-origins", admin, {"origin": SHOP}))[0] == 409
    status, _, _ = await req(
        h, "DELETE", "/api/admin/embed-origins?origin=https://fixed.example", admin
    )
    assert status == 404  # ALLOWED_ORIGINS is changed where the server is configured
    assert len(await h.records.embed_origins()) == 1


async def test_the_list_survives_a_restart(harness: Harness, tmp_path: Any) -> None:
    h = harness
    admin = await h.add_staff("ada", "admin")
    assert (await req(h, "POST", "/api/admin/embed-origins", admin, {"origin": SHOP}))[0] == 201
    again = Harness(h.settings)  # a new server on the same database
    await again.start()
    try:
        status, _, _ = await req(again, "GET", f"/embed?host={SHOP}", None)
        assert status == 200
    finally:
        await again.stop()

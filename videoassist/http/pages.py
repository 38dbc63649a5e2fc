"""Pages and static files. Third-party browser modules come from web/node_modules."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

from videoassist.embedding import Origins
from videoassist.http.middleware import content_security_policy

PAGES = {
    "/": "customer/index.html",
    "/agent": "agent/index.html",
    "/supervisor": "supervisor/index.html",
    "/trainer": "trainer/index.html",
    # A tutorial's stable link (staff) and public link (anyone until revoked): one page.
    "/tutorials/{tutorial_id}": "tutorial/index.html",
    "/p/{token}": "tutorial/index.html",
    "/admin": "admin/index.html",
    "/reports": "reports/index.html",
}
STATIC_DIRS = (
    "shared",
    "customer",
    "agent",
    "supervisor",
    "trainer",
    "tutorial",
    "admin",
    "reports",
    "sdk",
)
VENDOR = {
    "socket.io-client": "node_modules/socket.io-client/dist",
    "uplot": "node_modules/uplot/dist",  # the charts of /reports
}
# Pages only tests open (web/testing/), served under /testing/ with TEST_PAGES alone.
TEST_DIR = "testing"


def add_pages(
    app: web.Application,
    web_dir: Path,
    embed_origins: Origins | tuple[str, ...] = (),
    *,
    test_pages: bool = False,
) -> None:
    for path, file in PAGES.items():
        app.router.add_get(path, _page(web_dir / file))
    # The customer page in other sites' iframes; their help button's script is
    # /static/sdk/help.js.
    app.router.add_get("/embed", _embed(web_dir / PAGES["/"], embed_origins))
    for name in STATIC_DIRS:
        app.router.add_static(f"/static/{name}/", web_dir / name)
    if test_pages:
        app.router.add_static(f"/{TEST_DIR}/", web_dir / TEST_DIR)
    for name, folder in VENDOR.items():
        target = web_dir / folder
        if not target.is_dir():
            raise SystemExit(f"{target} is missing: run `make setup` (npm ci in web/)")
        app.router.add_static(f"/vendor/{name}/", target)


def _embed(file: Path, origins: Origins | tuple[str, ...]) -> Handler:
    """The customer page inside an embedding site's iframe (web/sdk/help.js). Only an allowed
    site may frame it, and the one named in ``host`` is the only frame ancestor this answer
    allows: so the page can trust ``host`` as the origin of the page around it."""
    allowed = origins if isinstance(origins, Origins) else Origins(origins)

    async def handler(request: web.Request) -> web.StreamResponse:
        host = request.query.get("host", "")
        if host not in allowed:
            return web.Response(
                status=403,
                text="This site is not allowed to embed the help page (ALLOWED_ORIGINS, or "
                "the admin page's list of sites).",
            )
        return web.FileResponse(
            file,
            headers={
                "Cache-Control": "no-cache",
                "Content-Security-Policy": content_security_policy(host),
            },
        )

    return handler


def _page(file: Path) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(file, headers={"Cache-Control": "no-cache"})

    return handler

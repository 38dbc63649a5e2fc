"""Pages and static files. Third-party browser modules come from web/node_modules."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

PAGES = {
    "/": "customer/index.html",
    "/agent": "agent/index.html",
    "/supervisor": "supervisor/index.html",
    "/admin": "admin/index.html",
}
STATIC_DIRS = ("shared", "customer", "agent", "supervisor", "admin")
VENDOR = {"socket.io-client": "node_modules/socket.io-client/dist"}


def add_pages(app: web.Application, web_dir: Path) -> None:
    for path, file in PAGES.items():
        app.router.add_get(path, _page(web_dir / file))
    for name in STATIC_DIRS:
        app.router.add_static(f"/static/{name}/", web_dir / name)
    for name, folder in VENDOR.items():
        target = web_dir / folder
        if not target.is_dir():
            raise SystemExit(f"{target} is missing: run `make setup` (npm ci in web/)")
        app.router.add_static(f"/vendor/{name}/", target)


def _page(file: Path) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(file, headers={"Cache-Control": "no-cache"})

    return handler

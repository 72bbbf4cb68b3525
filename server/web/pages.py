"""The pages: plain HTML files from ``client_web/`` and its static modules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

routes = web.RouteTableDef()
PAGES = {
    "/": "index.html",
    "/console": "console.html",
    "/lead": "lead.html",
    "/join": "client.html",
    "/ended": "ended.html",
}
ROOT = web.AppKey("client_web_root", Path)


def _page(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        path = request.app[ROOT] / name
        if not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Content-Type": "text/html; charset=utf-8"})

    handler.__doc__ = f"Serve {name}."
    return handler


for url, filename in PAGES.items():
    routes.get(url)(_page(filename))


def add_static(app: web.Application, root: Path) -> None:
    """Serve ``client_web/`` under ``/static/`` (no directory listings)."""
    app[ROOT] = root
    root.mkdir(exist_ok=True)
    app.router.add_static("/static/", root, show_index=False, follow_symlinks=False)

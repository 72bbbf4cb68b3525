"""Routes for the embed widget on pages Haven does not own: the loader, its frame, CORS, typed text.

The widget runs on a host page of another origin. What that needs, and nothing more:

- ``GET /embed.js``: the classic loader script (also at ``/static/embed/embed.js``);
- CORS read access, for allowed host origins only, to the widget's ES modules
  (``/static/embed/``, ``/static/js/``, ``/embed/socket.io.js``) and to the answers of
  ``POST /api/signal`` and ``POST /api/embed/typed``, which the widget sends as ``text/plain``
  simple requests: no preflight, and ``sendBeacon`` allowed (a preflight is answered anyway);
- ``GET /embed/socket.io.js``: the vendored socket.io client as an ES module, so the widget adds
  no ``io`` global to the host page;
- ``GET /embed/frame?host=ORIGIN``: the hidden frame of iframe mode, frameable by that origin only;
- ``POST /api/embed/typed``: the host's chat text checked for the client's safe word, never relayed.
"""

from __future__ import annotations

from html import escape

from aiohttp import web
from multidict import CIMultiDict

from server.errors import BadRequest
from server.web.common import read_json
from server.web.keys import CONFIG, SAFETY
from server.web.pages import ROOT
from server.web.safety_api import SIGNAL_PATH
from server.web.security import content_security_policy, origin_allowed

routes = web.RouteTableDef()
TYPED_PATH = "/api/embed/typed"
FRAME_PATH = "/embed/frame"
CORS_POSTS = frozenset({SIGNAL_PATH, TYPED_PATH})
CORS_READS = ("/static/embed/", "/static/js/", "/embed/")
JS = "text/javascript; charset=utf-8"


@routes.get("/embed.js")
async def loader(request: web.Request) -> web.StreamResponse:
    """Serve the widget's classic loader script."""
    path = request.app[ROOT] / "embed" / "embed.js"
    return web.FileResponse(path, headers={"Content-Type": JS})


@routes.get("/embed/socket.io.js")
async def socketio_module(request: web.Request) -> web.Response:
    """Serve the vendored socket.io client wrapped as an ES module that sets no global."""
    source = (request.app[ROOT] / "vendor" / "socket.io.min.js").read_text(encoding="utf-8")
    # The UMD wrapper sees a CommonJS `module` and assigns to it instead of to globalThis.io.
    text = (
        "const module = { exports: {} }; const exports = module.exports;\n"
        f"{source}\n;export const io = module.exports; export default module.exports;\n"
    )
    return web.Response(text=text, headers={"Content-Type": JS})


@routes.get(FRAME_PATH)
async def frame(request: web.Request) -> web.Response:
    """Serve iframe mode's hidden frame, frameable only by the allowed host origin it names."""
    config = request.app[CONFIG]
    host = request.query.get("host", "")
    if not host or host == "null" or not origin_allowed(config, host, request.host):
        raise web.HTTPForbidden(
            text="This page may only be framed by an origin in HAVEN_ALLOWED_ORIGINS."
        )
    policy = "; ".join(
        f"frame-ancestors {host}" if part.startswith("frame-ancestors") else part
        for part in content_security_policy(config).split("; ")
    )
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="referrer" content="no-referrer"><title>Haven</title>'
        '<script type="module" src="/static/embed/frame.js"></script>'
        f'</head><body data-host="{escape(host)}"></body></html>'
    )
    return web.Response(
        text=body,
        content_type="text/html",
        headers={"Content-Security-Policy": policy},
    )


@routes.post(TYPED_PATH)
async def typed(request: web.Request) -> web.Response:
    """Check chat text from a host page for the client's safe word; a match is a panic signal."""
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("Send a JSON object with a token, an id and the text.")
    safety = request.app[SAFETY]
    subject = await safety.subject_for_token(body.get("token"))
    # Never relayed, never stored unless it is the safe word (then it is a signal, not text).
    paused = await safety.chat(subject, body.get("text"), body.get("id")) is None
    return web.json_response({"ok": True, "paused": paused})


async def preflight(request: web.Request) -> web.Response:
    """Answer a CORS preflight for the two token-in-body POST endpoints."""
    return web.Response(status=204)


async def add_cors(request: web.Request, response: web.StreamResponse) -> None:
    """Let allowed host origins read the widget's modules and its two endpoints' answers."""
    origin = request.headers.get("Origin")
    path = request.path
    headers: CIMultiDict[str] = response.headers
    if path == FRAME_PATH:
        headers.popall("X-Frame-Options", None)  # its CSP frame-ancestors names the host
    if not origin or not (path in CORS_POSTS or path.startswith(CORS_READS)):
        return
    config = request.app[CONFIG]
    if not origin_allowed(config, origin, request.host):
        return
    headers["Access-Control-Allow-Origin"] = origin
    headers.add("Vary", "Origin")
    if request.method == "OPTIONS":
        headers["Access-Control-Allow-Methods"] = "POST"
        headers["Access-Control-Allow-Headers"] = "Content-Type"
        headers["Access-Control-Max-Age"] = "600"


def setup(app: web.Application) -> None:
    """Add the embed routes and the CORS headers to ``app``."""
    app.router.add_routes(routes)
    for path in CORS_POSTS:
        app.router.add_route("OPTIONS", path, preflight)
    app.on_response_prepare.append(add_cors)

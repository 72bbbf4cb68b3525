"""The embed demo: a small peer-to-peer video platform Haven does not carry, with Haven's widget.

It plays a service's own platform on another origin: a plain WebRTC call between a client's page
and a counsellor's page (media goes browser to browser, never through Haven's relay), an in-memory
WebSocket room for the call's signalling, and a backend that holds a Haven API key and asks
Haven's REST API for a session and the client's participant token. The client's page embeds
``embed.js`` and stops its own tracks and leaves the call in ``onPause``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from server.config import Config, ConfigError

log = logging.getLogger(__name__)

PAGES = Path(__file__).resolve().parent.parent / "client_web" / "embed" / "demo"
ROLES = ("client", "counsellor")
RELAYED = frozenset({"offer", "answer", "candidate", "chat"})
MAX_MESSAGE = 64 * 1024


@dataclass(frozen=True)
class DemoSettings:
    """What the demo platform needs to know about the Haven it uses."""

    haven_url: str
    """Haven's base URL: the widget's script and the REST API."""
    api_key: str = field(repr=False)
    """A Haven API key of the service with ``sessions:write``."""
    facilitator_email: str
    """The Haven staff account that runs the demo's sessions and receives their alerts."""
    pin: str = "482913"
    """The client's resume PIN in the demo."""
    safe_word: str = "bluebird"
    """The client's typed safe word in the demo."""


@dataclass
class Room:
    """One call: its Haven session, the client's token once issued, and who is connected."""

    session_id: str
    token: str = field(default="", repr=False)
    peers: dict[str, web.WebSocketResponse] = field(default_factory=dict)


SETTINGS = web.AppKey("embed_demo_settings", DemoSettings)
ROOMS = web.AppKey("embed_demo_rooms", dict[str, Room])
HTTP = web.AppKey("embed_demo_http", aiohttp.ClientSession)
routes = web.RouteTableDef()


def page_csp(haven_url: str) -> str:
    """Return the demo pages' CSP: what a host page must allow for the widget, and no more."""
    parts = urlsplit(haven_url)
    haven = f"{parts.scheme}://{parts.netloc}"
    haven_ws = ("wss://" if parts.scheme == "https" else "ws://") + parts.netloc
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {haven}",
            f"connect-src 'self' {haven} {haven_ws}",
            f"frame-src {haven}",
            f"img-src 'self' data: {haven}",
            "style-src 'self'",
            "media-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


def render(request: web.Request, name: str, **values: str) -> web.Response:
    """Serve one of the demo's HTML files with its placeholders filled in, escaped."""
    settings = request.app[SETTINGS]
    text = (PAGES / name).read_text(encoding="utf-8")
    for key, value in {"HAVEN": settings.haven_url, **values}.items():
        text = text.replace("{{" + key + "}}", escape(value))
    return web.Response(
        text=text,
        content_type="text/html",
        headers={
            "Content-Security-Policy": page_csp(settings.haven_url),
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
    )


async def haven_api(request: web.Request, method: str, path: str, body: Any) -> Any:
    """Call Haven's REST API with the demo platform's key; a refusal becomes a 502."""
    settings = request.app[SETTINGS]
    async with request.app[HTTP].request(
        method,
        settings.haven_url + "/api/v1" + path,
        json=body,
        headers={"Authorization": f"Bearer {settings.api_key}"},
    ) as response:
        data = await response.json(content_type=None)
        if response.status >= 300:
            log.warning("Haven refused %s %s: %s", method, path, response.status)
            raise web.HTTPBadGateway(text=f"Haven answered {response.status}: {data}")
        return data


def room_of(request: web.Request) -> Room:
    """Return the room named in the path, or 404."""
    room = request.app[ROOMS].get(request.match_info["room"])
    if room is None:
        raise web.HTTPNotFound(text="There is no such call.")
    return room


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    """The demo's start page."""
    return render(request, "index.html")


@routes.post("/rooms")
async def new_room(request: web.Request) -> web.Response:
    """Create a call and its Haven session, then go to the page that links both sides."""
    settings = request.app[SETTINGS]
    session = await haven_api(
        request,
        "POST",
        "/sessions",
        {
            "kind": "one_to_one",
            "title": "Embedded demo call",
            "facilitator_email": settings.facilitator_email,
        },
    )
    name = secrets.token_urlsafe(9)
    request.app[ROOMS][name] = Room(session_id=session["id"])
    raise web.HTTPSeeOther(f"/rooms/{name}")


@routes.get("/rooms/{room}")
async def room_page(request: web.Request) -> web.Response:
    """Links to the two sides of one call."""
    room_of(request)
    return render(request, "room.html", ROOM=request.match_info["room"])


@routes.get("/rooms/{room}/{role:client|counsellor}")
async def call_page(request: web.Request) -> web.Response:
    """One side of the call; the client's side embeds Haven's widget."""
    room = room_of(request)
    role = request.match_info["role"]
    return render(request, f"{role}.html", ROOM=request.match_info["room"], SESSION=room.session_id)


@routes.post("/rooms/{room}/token")
async def token(request: web.Request) -> web.Response:
    """Issue (once) the client's Haven participant token, as a platform's backend would."""
    room = room_of(request)
    settings = request.app[SETTINGS]
    if not room.token:
        joined = await haven_api(
            request,
            "POST",
            f"/sessions/{room.session_id}/participants",
            {
                "display_name": "Client",
                "consent": True,  # the demo's start page shows what Haven does, and asks
                "safety_plan": "Do not call back. Text 'appointment moved' in 30 minutes.",
                "safe_word": settings.safe_word,
                "pin": settings.pin,
            },
        )
        room.token = joined["token"]
    return web.json_response({"token": room.token})


@routes.get("/rooms/{room}/ws")
async def signalling(request: web.Request) -> web.WebSocketResponse:
    """Relay the call's offer, answer, candidates and chat between the two sides of a room."""
    room = room_of(request)
    role = request.query.get("role", "")
    if role not in ROLES:
        raise web.HTTPBadRequest(text="role is client or counsellor.")
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=MAX_MESSAGE)
    await ws.prepare(request)
    old = room.peers.get(role)
    room.peers[role] = ws
    if old is not None:
        await old.close()
    others = [w for r, w in room.peers.items() if r != role]
    await ws.send_json({"type": "welcome", "others": len(others)})
    try:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            try:
                data = json.loads(msg.data)
            except ValueError:
                continue
            if not isinstance(data, dict) or data.get("type") not in RELAYED:
                continue
            for r, peer in list(room.peers.items()):
                if r != role and not peer.closed:
                    await peer.send_json(data)
    finally:
        if room.peers.get(role) is ws:
            del room.peers[role]
            for peer in list(room.peers.values()):
                if not peer.closed:
                    await peer.send_json({"type": "left"})
    return ws


def create_demo_app(settings: DemoSettings) -> web.Application:
    """Build the demo platform's application for ``settings``."""
    app = web.Application(client_max_size=MAX_MESSAGE)
    app[SETTINGS] = settings
    app[ROOMS] = {}
    app.router.add_routes(routes)
    app.router.add_static("/static/", PAGES, show_index=False, follow_symlinks=False)

    async def http_ctx(app: web.Application) -> AsyncIterator[None]:
        app[HTTP] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        yield
        await app[HTTP].close()

    async def close_calls(app: web.Application) -> None:
        for room in app[ROOMS].values():
            for ws in list(room.peers.values()):
                await ws.close()

    app.cleanup_ctx.append(http_ctx)
    app.on_shutdown.append(close_calls)
    return app


async def demo_settings_for(haven: web.Application, haven_url: str) -> DemoSettings:
    """Give the demo platform a fresh API key of Haven's demo service and its facilitator."""
    from server.accounts import DEMO_EMAIL, DEMO_SERVICE
    from server.api_v1.keys import ApiKeys
    from server.web.keys import STORE

    store = haven[STORE]
    service = await store.service_by_slug(DEMO_SERVICE)
    if service is None:
        raise RuntimeError("--demo-embed needs Haven's demo service: leave HAVEN_DEMO on.")
    _, secret = await ApiKeys(store).create(
        service.id, "embed demo", ["sessions:write"], "system:demo-embed"
    )
    return DemoSettings(haven_url=haven_url, api_key=secret, facilitator_email=DEMO_EMAIL)


def demo_origins(config: Config) -> Config:
    """Return ``config`` with the demo platform's origin (Haven's port + 1) allowed too."""
    if not config.port:
        raise ConfigError("--demo-embed needs a fixed HAVEN_PORT (the demo listens on port + 1).")
    host = urlsplit(config.base_url).hostname or "127.0.0.1"
    port = config.port + 1
    extra = [f"http://{host}:{port}"]
    if host in ("127.0.0.1", "localhost"):
        extra = [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]
    origins = tuple(dict.fromkeys((*config.origins, *extra)))
    return dataclasses.replace(config, allowed_origins=origins)


async def start_demo(haven: web.Application, config: Config, haven_url: str) -> web.AppRunner:
    """Start the demo platform next to a running Haven, on Haven's port + 1."""
    settings = await demo_settings_for(haven, haven_url)
    runner = web.AppRunner(create_demo_app(settings), access_log=None, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port + 1)
    await site.start()
    return runner

"""REST routes for a client's journey: open an invite, join the waiting room."""

from __future__ import annotations

from aiohttp import web

from server.messages import fields
from server.web.common import read_json
from server.web.keys import CONFIG, SESSIONS, STORE
from server.web.service_api import triggers

routes = web.RouteTableDef()


@routes.post("/api/invite/open")
async def open_invite(request: web.Request) -> web.Response:
    """Check an invite (and its PIN) and return what the client must read before joining."""
    body = fields(await read_json(request), required={"token": str}, optional={"pin": str})
    invite, session = await request.app[SESSIONS].open_invite(body["token"], body.get("pin"))
    service = await request.app[STORE].service(session.service_id)
    settings = service.settings if service else {}
    return web.json_response(
        {
            "session_kind": session.kind,
            "ground_rules": settings.get("ground_rules", ""),
            "confidentiality": settings.get("confidentiality", ""),
            "decoy": settings.get("decoy", {"kind": "builtin", "url": ""}),
            "triggers": triggers(settings),
            "chat_stored": bool(settings.get("chat_stored", False)),
            "spoken_safe_word": invite.spoken_opt_in,
            "retention_days": request.app[CONFIG].retention_days,
        }
    )


@routes.post("/api/invite/join")
async def join(request: web.Request) -> web.Response:
    """Spend the invite: record consent and enter the waiting room; returns the client's token."""
    body = fields(
        await read_json(request),
        required={"token": str, "display_name": str, "consent": bool},
        optional={"pin": (str, type(None)), "camera_off": bool},
    )
    joined = await request.app[SESSIONS].redeem(
        body["token"],
        body.get("pin"),
        body["display_name"],
        body.get("camera_off", False),
        body["consent"],
    )
    return web.json_response(
        {
            "participant_id": joined.participant.id,
            "session_id": joined.participant.session_id,
            "token": joined.token,
        },
        status=201,
    )

"""REST routes for safety: the signal fallback for pages whose socket is down, and alert actions."""

from __future__ import annotations

from aiohttp import web

from server.errors import BadRequest
from server.messages import fields
from server.web.common import read_json, staff
from server.web.keys import SAFETY

routes = web.RouteTableDef()
SIGNAL_PATH = "/api/signal"


@routes.post(SIGNAL_PATH)
async def signal(request: web.Request) -> web.Response:
    """Record a signal sent by fetch (keepalive) or sendBeacon; the token is in the body."""
    body = await read_json(request)
    if not isinstance(body, dict) or "signal" not in body:
        raise BadRequest("Send a JSON object with a token and a signal.")
    safety = request.app[SAFETY]
    subject = await safety.subject_for_token(body.get("token"))
    beacon = request.query.get("via") == "beacon"
    receipt = await safety.receive(subject, body["signal"], "beacon" if beacon else "http")
    return web.json_response(receipt.ack())


@routes.get("/api/alerts")
async def open_alerts(request: web.Request) -> web.Response:
    """List the open alerts this console should see."""
    user, _ = await staff(request)
    safety = request.app[SAFETY]
    alerts = [await safety.alert_message(a) for a in await safety.visible_alerts(user)]
    return web.json_response({"alerts": alerts})


@routes.post("/api/alerts/{alert_id}/{action}")
async def alert_action(request: web.Request) -> web.Response:
    """Acknowledge or resolve an alert, or add a note to it."""
    user, _ = await staff(request)
    safety = request.app[SAFETY]
    alert_id, action = request.match_info["alert_id"], request.match_info["action"]
    if action == "acknowledge":
        await safety.acknowledge(alert_id, user)
    elif action == "resolve":
        await safety.resolve(alert_id, user)
    elif action == "notes":
        body = fields(await read_json(request), required={"text": str})
        await safety.add_note(alert_id, user, body["text"])
    else:
        raise BadRequest("The action is acknowledge, resolve or notes.")
    return web.json_response({"ok": True})

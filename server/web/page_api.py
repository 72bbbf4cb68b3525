"""Routes the pages need: who is in the call (for a client), staff chat, the session record."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.errors import BadRequest, Unauthorized
from server.messages import fields
from server.sessions import clean_text
from server.store import NewEvent
from server.web.common import read_json, staff
from server.web.keys import HUB, SAFETY, SESSIONS, STORE

routes = web.RouteTableDef()
MAX_RECORD = 8000


@routes.post("/api/client/peers")
async def client_peers(request: web.Request) -> web.Response:
    """List the others in the call for an admitted client: names and "away", never why."""
    body = fields(await read_json(request), required={"token": str})
    subject = await request.app[SAFETY].subject_for_token(body["token"])
    me = subject.participant
    if me is None or me.status != "admitted":
        raise Unauthorized("The call opens once you are let in.")
    store = request.app[STORE]
    peers: list[dict[str, Any]] = [
        {
            "id": p.id,
            "display_name": p.display_name,
            "away": p.paused_reason is not None,
            "role": "client",
        }
        for p in await store.participants(me.session_id)
        if p.status == "admitted" and p.id != me.id
    ]
    # Facilitators' media reaches the client under their account id (the relay's msid); the page
    # shows them as "Facilitator" once their video or sound arrives, never their account details.
    session = await store.session(me.session_id)
    for number, user_id in enumerate(session.facilitator_ids if session else ()):
        name = "Facilitator" if number == 0 else "Co-facilitator"
        peers.append({"id": user_id, "display_name": name, "away": False, "role": "facilitator"})
    return web.json_response({"peers": peers})


@routes.post("/api/sessions/{session_id}/chat")
async def staff_chat(request: web.Request) -> web.Response:
    """Send a facilitator's chat message to the session's clients and consoles (never stored)."""
    user, _ = await staff(request)
    session = await request.app[SESSIONS].run(request.match_info["session_id"], user)
    body = fields(await read_json(request), required={"text": str})
    text = clean_text(body["text"], field="The message", max_len=2000, allow_empty=False)
    message: dict[str, Any] = {"from": f"user:{user.id}", "name": "Facilitator", "text": text}
    hub = request.app[HUB]
    await hub.to_session_clients(session.id, "chat", message)
    await hub.to_session_staff(session.id, "chat", message)
    return web.json_response({"ok": True})


@routes.post("/api/sessions/{session_id}/record")
async def session_record(request: web.Request) -> web.Response:
    """Store the session record written after the session (date, time, headlines) in the log."""
    user, _ = await staff(request)
    session = await request.app[SESSIONS].get(request.match_info["session_id"], user)
    body = fields(await read_json(request), required={"headlines": str})
    headlines = clean_text(body["headlines"], field="The record", max_len=MAX_RECORD)
    if not headlines:
        raise BadRequest("Write at least a line of headlines for the record.")
    event = NewEvent(
        "session.record_written",
        session.service_id,
        session.id,
        f"user:{user.id}",
        {
            "headlines": headlines,
            "started_at": session.created_at,
            "ended_at": session.ended_at,
        },
    )
    await request.app[STORE].append(event)
    return web.json_response({"ok": True}, status=201)

"""REST routes for the facilitator console: sessions, invites, the event timeline."""

from __future__ import annotations

import json

import segno
from aiohttp import web

from server.errors import BadRequest
from server.messages import fields
from server.models import Invite, Session
from server.web.common import public_base, read_json, staff
from server.web.keys import SAFETY, SESSIONS, SPOKEN, STORE

routes = web.RouteTableDef()


def session_json(session: Session) -> dict[str, object]:
    """Serialise a session for the console."""
    return {
        "id": session.id,
        "kind": session.kind,
        "title": session.title,
        "facilitator_id": session.facilitator_id,
        "co_facilitator_id": session.co_facilitator_id,
        "locked": session.locked,
        "created_at": session.created_at,
        "ended_at": session.ended_at,
    }


def invite_json(invite: Invite) -> dict[str, object]:
    """Serialise an invite for its session's staff (the token is never stored, so never shown)."""
    return {
        "id": invite.id,
        "label": invite.label,
        "expires_at": invite.expires_at,
        "has_pin": invite.pin_hash is not None,
        "has_duress_pin": invite.duress_pin_hash is not None,
        "used": invite.used_at is not None,
        "revoked": invite.revoked_at is not None,
        "locked_until": invite.locked_until,
        "safety_plan": invite.safety_plan,
        "safe_word": invite.safe_word,
        "spoken_phrase": invite.spoken_phrase,
        "spoken_opt_in": invite.spoken_opt_in,
    }


@routes.get("/api/sessions")
async def list_sessions(request: web.Request) -> web.Response:
    """List the sessions the account facilitates (all of the service's for leads and admins)."""
    user, _ = await staff(request)
    sessions = await request.app[STORE].sessions(user.service_id)
    visible = [
        s for s in sessions if user.id in s.facilitator_ids or user.role in ("lead", "admin")
    ]
    return web.json_response({"sessions": [session_json(s) for s in visible]})


@routes.post("/api/sessions")
async def create_session(request: web.Request) -> web.Response:
    """Create a session."""
    user, _ = await staff(request)
    body = fields(
        await read_json(request),
        required={"kind": str},
        optional={"title": str, "co_facilitator_email": str},
    )
    session = await request.app[SESSIONS].create(
        user, body["kind"], body.get("title", ""), body.get("co_facilitator_email", "")
    )
    return web.json_response(session_json(session), status=201)


@routes.get("/api/sessions/{session_id}")
async def get_session(request: web.Request) -> web.Response:
    """Return a session with its invites (and their safety arrangements) and participants."""
    user, _ = await staff(request)
    session = await request.app[SESSIONS].get(request.match_info["session_id"], user)
    store = request.app[STORE]
    participants = [
        {
            "id": p.id,
            "invite_id": p.invite_id,
            "display_name": p.display_name,
            "camera_off": p.camera_off,
            "status": p.status,
            "paused_reason": p.paused_reason,
        }
        for p in await store.participants(session.id)
    ]
    return web.json_response(
        {
            **session_json(session),
            "invites": [invite_json(i) for i in await store.invites(session.id)],
            "participants": participants,
        }
    )


@routes.post("/api/sessions/{session_id}/invites")
async def create_invite(request: web.Request) -> web.Response:
    """Create an invite link (shown once, with a QR code) for one client."""
    user, _ = await staff(request)
    session = await request.app[SESSIONS].run(request.match_info["session_id"], user)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("The message must be a JSON object.")
    link = await request.app[SESSIONS].invite(session, user, body, public_base(request))
    qr = segno.make(link.url, error="m").svg_data_uri(scale=4, border=2)
    return web.json_response(
        {**invite_json(link.invite), "url": link.url, "qr_svg": qr}, status=201
    )


@routes.patch("/api/sessions/{session_id}/invites/{invite_id}")
async def update_invite(request: web.Request) -> web.Response:
    """Change a client's safety plan, safe words or PINs."""
    user, _ = await staff(request)
    sessions = request.app[SESSIONS]
    session = await sessions.run(request.match_info["session_id"], user)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("The message must be a JSON object.")
    invite = await sessions.update_invite(session, user, request.match_info["invite_id"], body)
    participant = await request.app[STORE].participant_by_invite(invite.id)
    if participant is not None:
        spoken = request.app[SPOKEN]
        spoken.stop(participant.id)  # turning it off stops decoding at once; a change restarts
        if participant.status == "admitted":
            await spoken.listen(participant, invite)
    return web.json_response(invite_json(invite))


@routes.get("/api/sessions/{session_id}/events")
async def session_events(request: web.Request) -> web.Response:
    """Return the session's timeline from the event log."""
    user, _ = await staff(request)
    session = await request.app[SESSIONS].get(request.match_info["session_id"], user)
    events = await request.app[STORE].events(session_id=session.id)
    return web.json_response({"events": [e.to_json() for e in events]})


@routes.get("/api/sessions/{session_id}/export")
async def export_session(request: web.Request) -> web.Response:
    """Download the session's events as JSON lines, for incident review."""
    user, _ = await staff(request)
    session = await request.app[SESSIONS].get(request.match_info["session_id"], user)
    events = await request.app[STORE].events(session_id=session.id)
    text = "".join(json.dumps(e.to_json(), sort_keys=True) + "\n" for e in events)
    return web.Response(
        text=text,
        content_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{session.id}.jsonl"'},
    )


@routes.post("/api/sessions/{session_id}/lock")
async def lock_session(request: web.Request) -> web.Response:
    """Lock the session so nobody new can join, or unlock it."""
    user, _ = await staff(request)
    session = await request.app[SESSIONS].run(request.match_info["session_id"], user)
    body = fields(await read_json(request), required={"locked": bool})
    await request.app[SESSIONS].set_locked(session, user, body["locked"])
    return web.json_response({"ok": True, "locked": body["locked"]})


@routes.post("/api/sessions/{session_id}/end")
async def end_session(request: web.Request) -> web.Response:
    """End the session for everyone."""
    user, _ = await staff(request)
    session = await request.app[SESSIONS].get(request.match_info["session_id"], user)
    ended = await request.app[SESSIONS].end(session, user)
    return web.json_response({"ok": True, "ended": ended})


@routes.post("/api/sessions/{session_id}/participants/{participant_id}/{action}")
async def participant_action(request: web.Request) -> web.Response:
    """Admit, deny, remove or pause one client (only the client can ever resume)."""
    user, _ = await staff(request)
    sessions = request.app[SESSIONS]
    session = await sessions.run(request.match_info["session_id"], user)
    action, participant_id = request.match_info["action"], request.match_info["participant_id"]
    if action == "admit":
        await sessions.admit(session, user, participant_id)
    elif action == "deny":
        await sessions.deny(session, user, participant_id)
    elif action == "remove":
        await sessions.remove(session, user, participant_id)
    elif action == "pause":
        receipt = await request.app[SAFETY].facilitator_pause(session, user, participant_id)
        return web.json_response(receipt.ack())
    else:
        raise BadRequest("The action is admit, deny, remove or pause.")
    return web.json_response({"ok": True})

"""The ``/api/v1`` operations: sessions, invites, participant tokens, events, alerts, webhooks."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from server.api_v1.problems import Unprocessable
from server.api_v1.schemas import (
    CREATE_INVITE,
    CREATE_PARTICIPANT,
    CREATE_SESSION,
    SET_WEBHOOK,
    ref,
)
from server.api_v1.spec import Api, Call, Param
from server.api_v1.stream import alert_stream
from server.errors import BadRequest, Conflict, NotFound
from server.models import Alert, Session, User
from server.store import NewEvent
from server.store.base import OutboxItem
from server.web.common import public_base
from server.web.console_api import session_json
from server.web.keys import SAFETY, SESSIONS, STORE
from server.webhooks import ROTATION_GRACE_S, WebhookRefused, check_url, new_secret

api = Api()
COMMON_ERRORS = (400, 401, 403, 404, 413)
LIMIT = Param(
    "limit",
    {"type": "integer", "minimum": 1, "maximum": 1000},
    "How many items at most (default 100).",
)
AFTER = Param(
    "after",
    {"type": "integer", "minimum": 0, "maximum": 2**53},
    "Only events with a sequence number greater than this.",
)


def alert_json(alert: Alert) -> dict[str, Any]:
    """Serialise an alert for a service's systems: its state, never names or safety plans."""
    s = alert.state
    return {
        "id": alert.id,
        "session_id": alert.session_id,
        "participant_id": s.participant,
        "kind": s.kind,
        "source": alert.source,
        "progress": s.progress,
        "escalations": list(s.escalations),
        "raised_at": s.raised_at,
        "acknowledged_by": list(s.acknowledged_by),
        "acknowledged_at": s.acknowledged_at,
        "resolved_by": s.resolved_by,
        "resolved_at": s.resolved_at,
    }


def delivery_json(item: OutboxItem) -> dict[str, Any]:
    """Serialise an outbox item for the service admin."""
    state = "delivered" if item.delivered_at else "given_up" if item.given_up_at else "pending"
    return {
        "id": item.id,
        "type": item.event_type,
        "state": state,
        "attempts": item.attempts,
        "created_at": item.created_at,
        "next_attempt_at": item.next_attempt_at,
        "delivered_at": item.delivered_at,
        "given_up_at": item.given_up_at,
        "last_error": item.last_error,
    }


def principal(call: Call) -> User:
    """Return the service-wide principal an API key acts as (for the domain's access checks)."""
    return User(call.key.id, call.service_id, "", "admin", "")


async def _session(call: Call) -> Session:
    session = await call.request.app[STORE].session(call.path("session_id"))
    if session is None or session.service_id != call.service_id:
        raise NotFound("There is no such session.")
    return session


async def _facilitator(call: Call, session: Session) -> User:
    user = await call.request.app[STORE].user(session.facilitator_id)
    if user is None:
        raise Conflict("This session's facilitator account no longer exists.")
    return user


async def _live(call: Call) -> tuple[Session, User]:
    session = await _session(call)
    if session.ended_at is not None:
        raise Conflict("This session has ended.")
    return session, await _facilitator(call, session)


# -- sessions -----------------------------------------------------------------------------------


@api.operation(
    "GET", "/sessions", scope="sessions:read", tag="sessions", response=ref("SessionList"),
    query=[LIMIT],
)
async def list_sessions(call: Call) -> web.StreamResponse:
    """List the service's sessions, newest first."""
    sessions = await call.request.app[STORE].sessions(call.service_id)
    limit = call.query.get("limit", 100)
    return web.json_response({"sessions": [session_json(s) for s in sessions[:limit]]})


@api.operation(
    "POST", "/sessions", scope="sessions:write", tag="sessions", ok=201,
    response=ref("Session"), body=CREATE_SESSION, errors=(409,),
)
async def create_session(call: Call) -> web.StreamResponse:
    """Create a 1:1 or group session run by one of the service's staff accounts."""
    store = call.request.app[STORE]
    facilitator = await store.user_by_email(call.body["facilitator_email"])
    if facilitator is None or facilitator.service_id != call.service_id:
        raise BadRequest("The facilitator must be a staff account of this service.")
    session = await call.request.app[SESSIONS].create(
        facilitator,
        call.body["kind"],
        call.body.get("title", ""),
        call.body.get("co_facilitator_email", ""),
        actor=call.actor,
    )
    return web.json_response(session_json(session), status=201)


@api.operation(
    "GET", "/sessions/{session_id}", scope="sessions:read", tag="sessions",
    response=ref("SessionDetail"),
)
async def get_session(call: Call) -> web.StreamResponse:
    """Return a session and its participants' states (no names)."""
    session = await _session(call)
    participants = [
        {"id": p.id, "status": p.status, "paused": p.paused_reason is not None}
        for p in await call.request.app[STORE].participants(session.id)
    ]
    return web.json_response({**session_json(session), "participants": participants})


@api.operation(
    "POST", "/sessions/{session_id}/end", scope="sessions:write", tag="sessions",
    response=ref("EndResult"),
)
async def end_session(call: Call) -> web.StreamResponse:
    """End a session for everyone; ending twice is harmless."""
    session = await _session(call)
    ended = await call.request.app[SESSIONS].end(
        session, await _facilitator(call, session), actor=call.actor
    )
    session = await _session(call)
    return web.json_response({"ended": ended, "session": session_json(session)})


@api.operation(
    "POST", "/sessions/{session_id}/invites", scope="sessions:write", tag="sessions", ok=201,
    response=ref("Invite"), body=CREATE_INVITE, errors=(409,),
)
async def create_invite(call: Call) -> web.StreamResponse:
    """Create a single-use invite link to Haven's own client page (shown once)."""
    session, facilitator = await _live(call)
    link = await call.request.app[SESSIONS].invite(
        session, facilitator, call.body, public_base(call.request), actor=call.actor
    )
    invite = link.invite
    return web.json_response(
        {
            "id": invite.id,
            "label": invite.label,
            "expires_at": invite.expires_at,
            "has_pin": invite.pin_hash is not None,
            "has_duress_pin": invite.duress_pin_hash is not None,
            "used": invite.used_at is not None,
            "revoked": invite.revoked_at is not None,
            "url": link.url,
        },
        status=201,
    )


@api.operation(
    "POST", "/sessions/{session_id}/participants", scope="sessions:write", tag="sessions",
    ok=201, response=ref("ParticipantToken"), body=CREATE_PARTICIPANT, errors=(409, 410),
)
async def create_participant(call: Call) -> web.StreamResponse:
    """Add an already-consented client to a session and return the embed widget's token."""
    session, facilitator = await _live(call)
    sessions = call.request.app[SESSIONS]
    arrangements = {k: v for k, v in call.body.items() if k not in CREATE_PARTICIPANT_ONLY}
    link = await sessions.invite(session, facilitator, arrangements, actor=call.actor)
    token = link.url.split("#", 1)[1]
    joined = await sessions.redeem(
        token,
        call.body.get("pin") or None,
        call.body["display_name"],
        call.body.get("camera_off", False),
        call.body["consent"],
    )
    status = "waiting"
    if call.body.get("admit", True):
        try:
            await sessions.admit(session, facilitator, joined.participant.id, actor=call.actor)
            status = "admitted"
        except Conflict:
            pass  # a 1:1 session already has its client: this one waits to be admitted
    return web.json_response(
        {
            "participant_id": joined.participant.id,
            "session_id": session.id,
            "token": joined.token,
            "status": status,
        },
        status=201,
    )


CREATE_PARTICIPANT_ONLY = frozenset({"display_name", "consent", "camera_off", "admit"})


@api.operation(
    "GET", "/sessions/{session_id}/events", scope="events:read", tag="events",
    response=ref("EventList"), query=[AFTER, LIMIT],
)
async def session_events(call: Call) -> web.StreamResponse:
    """Read a session's events from the tamper-evident log, in order, a page at a time."""
    session = await _session(call)
    after = call.query.get("after", 0)
    events = await call.request.app[STORE].events(
        session_id=session.id, after_seq=after, limit=call.query.get("limit", 100)
    )
    return web.json_response(
        {
            "events": [e.to_json() for e in events],
            "next_after": events[-1].seq if events else after,
        }
    )


# -- alerts -------------------------------------------------------------------------------------


@api.operation(
    "GET", "/alerts", scope="alerts:read", tag="alerts", response=ref("AlertList"),
    query=[Param("session_id", {"type": "string", "maxLength": 64}, "Only this session's.")],
)
async def list_alerts(call: Call) -> web.StreamResponse:
    """List the service's open alerts, oldest first."""
    alerts = await call.request.app[STORE].open_alerts(
        service_id=call.service_id, session_id=call.query.get("session_id")
    )
    return web.json_response({"alerts": [alert_json(a) for a in alerts]})


api.operation(
    "GET", "/alerts/stream", scope="alerts:read", tag="alerts", query=[AFTER], errors=(426,),
    extra_responses={
        "101": {
            "description": "Switching to a WebSocket: one JSON object per message, first a "
            "stream.opened line, then each alert event with its sequence number `seq`."
        }
    },
)(alert_stream)


async def _alert(call: Call) -> Alert:
    alert = await call.request.app[STORE].alert(call.path("alert_id"))
    if alert is None or alert.service_id != call.service_id:
        raise NotFound("There is no such alert.")
    return alert


@api.operation(
    "GET", "/alerts/{alert_id}", scope="alerts:read", tag="alerts", response=ref("Alert"),
)
async def get_alert(call: Call) -> web.StreamResponse:
    """Return one alert, open or resolved."""
    return web.json_response(alert_json(await _alert(call)))


@api.operation(
    "POST", "/alerts/{alert_id}/acknowledge", scope="alerts:write", tag="alerts",
    response=ref("Alert"),
)
async def acknowledge_alert(call: Call) -> web.StreamResponse:
    """Acknowledge an alert for the service (recorded as this key): it stops escalating."""
    alert = await _alert(call)
    updated = await call.request.app[SAFETY].acknowledge(
        alert.id, principal(call), actor=call.actor
    )
    return web.json_response(alert_json(updated))


@api.operation(
    "POST", "/alerts/{alert_id}/resolve", scope="alerts:write", tag="alerts",
    response=ref("Alert"),
)
async def resolve_alert(call: Call) -> web.StreamResponse:
    """Resolve an alert (recorded as this key)."""
    alert = await _alert(call)
    updated = await call.request.app[SAFETY].resolve(alert.id, principal(call), actor=call.actor)
    return web.json_response(alert_json(updated))


# -- the webhook endpoint -----------------------------------------------------------------------


async def _settings(call: Call) -> dict[str, Any]:
    service = await call.request.app[STORE].service(call.service_id)
    if service is None:
        raise NotFound("This API key's service no longer exists.")
    return dict(service.settings)


def endpoint_json(settings: dict[str, Any], now: float) -> dict[str, Any]:
    """Serialise the webhook endpoint settings, never the secret itself."""
    until = settings.get("webhook_previous_secret_until")
    return {
        "url": settings.get("webhook_url") or "",
        "allow_private": bool(settings.get("allow_private_webhooks")),
        "has_secret": bool(settings.get("webhook_secret")),
        "previous_secret_valid_until": until if isinstance(until, float) and until > now else None,
    }


@api.operation(
    "GET", "/webhook", scope="webhooks:read", tag="webhooks", response=ref("WebhookEndpoint"),
)
async def get_webhook(call: Call) -> web.StreamResponse:
    """Return the service's webhook endpoint."""
    return web.json_response(endpoint_json(await _settings(call), time.time()))


@api.operation(
    "PUT", "/webhook", scope="webhooks:write", tag="webhooks", response=ref("WebhookEndpoint"),
    body=SET_WEBHOOK, errors=(422,),
)
async def set_webhook(call: Call) -> web.StreamResponse:
    """Set the webhook endpoint; a signing secret is created (and shown) the first time."""
    settings = await _settings(call)
    allow_private = call.body.get("allow_private", False)
    try:
        await check_url(call.body["url"], allow_private=allow_private)
    except WebhookRefused as exc:
        raise Unprocessable(str(exc)) from None
    settings["webhook_url"] = call.body["url"]
    settings["allow_private_webhooks"] = allow_private
    secret = None
    if not settings.get("webhook_secret"):
        secret = settings["webhook_secret"] = new_secret()
    endpoint_set = NewEvent(
        "webhook.endpoint_set",
        call.service_id,
        actor=call.actor,
        payload={"allow_private": allow_private},  # never the URL
    )
    await call.request.app[STORE].update_service_settings(
        call.service_id, settings, [endpoint_set]
    )
    body = endpoint_json(settings, time.time())
    if secret:
        body["secret"] = secret
    return web.json_response(body)


@api.operation(
    "DELETE", "/webhook", scope="webhooks:write", tag="webhooks",
    response=ref("WebhookEndpoint"),
)
async def delete_webhook(call: Call) -> web.StreamResponse:
    """Remove the webhook endpoint; queued webhooks are then given up, not sent."""
    settings = await _settings(call)
    settings["webhook_url"] = ""
    settings["allow_private_webhooks"] = False
    removed = NewEvent("webhook.endpoint_removed", call.service_id, actor=call.actor)
    await call.request.app[STORE].update_service_settings(call.service_id, settings, [removed])
    return web.json_response(endpoint_json(settings, time.time()))


@api.operation(
    "POST", "/webhook/secret", scope="webhooks:write", tag="webhooks",
    response=ref("WebhookSecret"),
)
async def rotate_webhook_secret(call: Call) -> web.StreamResponse:
    """Rotate the signing secret; the old one also signs for 24 hours (shown once)."""
    settings = await _settings(call)
    now = time.time()
    until = None
    if settings.get("webhook_secret"):
        until = now + ROTATION_GRACE_S
        settings["webhook_previous_secret"] = settings["webhook_secret"]
        settings["webhook_previous_secret_until"] = until
    settings["webhook_secret"] = secret = new_secret()
    rotated = NewEvent("webhook.secret_rotated", call.service_id, actor=call.actor)
    await call.request.app[STORE].update_service_settings(call.service_id, settings, [rotated])
    return web.json_response({"secret": secret, "previous_secret_valid_until": until})


@api.operation(
    "GET", "/webhook/deliveries", scope="webhooks:read", tag="webhooks",
    response=ref("DeliveryList"),
)
async def list_deliveries(call: Call) -> web.StreamResponse:
    """List the service's webhook deliveries (the newest 200) with their state."""
    items = await call.request.app[STORE].webhook_attempts(call.service_id)
    return web.json_response({"deliveries": [delivery_json(i) for i in items]})


@api.operation(
    "GET", "/webhook/deliveries/{delivery_id}/attempts", scope="webhooks:read", tag="webhooks",
    response=ref("AttemptList"),
)
async def list_attempts(call: Call) -> web.StreamResponse:
    """List every attempt at one delivery: when, the receiver's status, and any error."""
    attempts = await call.request.app[STORE].webhook_attempt_log(
        call.service_id, call.path("delivery_id")
    )
    return web.json_response(
        {
            "attempts": [
                {
                    "attempt": a.attempt,
                    "at": a.at,
                    "status": a.status,
                    "error": a.error,
                    "duration_ms": a.duration_ms,
                }
                for a in attempts
            ]
        }
    )

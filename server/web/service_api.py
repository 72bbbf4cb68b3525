"""A service admin's settings: the texts clients read, the decoy, and the triggers."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.errors import BadRequest, Forbidden
from server.sessions import clean_text
from server.store import NewEvent
from server.web.common import read_json, staff
from server.web.keys import STORE
from signals import ChordRule

routes = web.RouteTableDef()
TEXTS = ("escalation_protocol", "ground_rules", "confidentiality")
EDITABLE = (*TEXTS, "decoy", "alternative_chord", "touch_gesture", "chat_stored")


def triggers(settings: dict[str, Any]) -> dict[str, Any]:
    """Return the trigger settings a client page applies (Shift x3 is always on)."""
    return {
        "alternative_chord": settings.get("alternative_chord"),
        "touch_gesture": bool(settings.get("touch_gesture", True)),
    }


def _chord(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"key", "presses", "window_s"}:
        raise BadRequest("alternative_chord is null or {key, presses, window_s}.")
    try:
        rule = ChordRule(**value)
    except (TypeError, ValueError) as exc:
        raise BadRequest(str(exc)) from None
    return {"key": rule.key, "presses": rule.presses, "window_s": rule.window_s}


def _decoy(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or value.get("kind") not in ("builtin", "url"):
        raise BadRequest('decoy is {"kind": "builtin"} or {"kind": "url", "url": "https://..."}.')
    url = value.get("url", "")
    if value["kind"] == "url" and not (isinstance(url, str) and url.startswith("https://")):
        raise BadRequest("A decoy address must start with https://.")
    return {"kind": value["kind"], "url": url if value["kind"] == "url" else ""}


@routes.get("/api/service/settings")
async def get_settings(request: web.Request) -> web.Response:
    """Return the service's editable settings (any staff member may read them)."""
    user, _ = await staff(request)
    service = await request.app[STORE].service(user.service_id)
    settings = service.settings if service else {}
    return web.json_response({name: settings.get(name) for name in EDITABLE})


@routes.put("/api/service/settings")
async def put_settings(request: web.Request) -> web.Response:
    """Change some of the service's settings (admins only); unknown fields are refused."""
    user, _ = await staff(request)
    if user.role != "admin":
        raise Forbidden("Only a service admin can change the service's settings.")
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("The message must be a JSON object.")
    unknown = set(body) - set(EDITABLE)
    if unknown:
        raise BadRequest(f"Unknown field: {sorted(unknown)[0]}.")
    store = request.app[STORE]
    service = await store.service(user.service_id)
    settings = dict(service.settings) if service else {}
    for name in TEXTS:
        if name in body:
            settings[name] = clean_text(body[name], field=f"The {name}", max_len=4000)
    if "decoy" in body:
        settings["decoy"] = _decoy(body["decoy"])
    if "alternative_chord" in body:
        settings["alternative_chord"] = _chord(body["alternative_chord"])
    for name in ("touch_gesture", "chat_stored"):
        if name in body:
            if not isinstance(body[name], bool):
                raise BadRequest(f"{name} must be true or false.")
            settings[name] = body[name]
    changed = NewEvent(
        "service.settings_changed",
        user.service_id,
        actor=f"user:{user.id}",
        payload={"fields": sorted(body)},  # which settings, never their text
    )
    await store.update_service_settings(user.service_id, settings, [changed])
    return web.json_response({name: settings.get(name) for name in EDITABLE})

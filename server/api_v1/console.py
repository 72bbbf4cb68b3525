"""Console routes for a service admin (cookie and CSRF): API keys and webhook deliveries."""

from __future__ import annotations

from aiohttp import web

from server.api_v1.keys import API_KEYS, key_json
from server.api_v1.routes import delivery_json
from server.errors import Forbidden
from server.messages import fields
from server.models import User
from server.web.common import read_json, staff
from server.web.keys import STORE

routes = web.RouteTableDef()


async def _admin(request: web.Request) -> User:
    user, _ = await staff(request)
    if user.role != "admin":
        raise Forbidden("Only a service admin can manage API keys and webhooks.")
    return user


@routes.get("/api/service/apikeys")
async def list_keys(request: web.Request) -> web.Response:
    """List the service's API keys (never their secrets)."""
    user = await _admin(request)
    keys = await request.app[API_KEYS].list(user.service_id)
    return web.json_response({"keys": [key_json(k) for k in keys]})


@routes.post("/api/service/apikeys")
async def create_key(request: web.Request) -> web.Response:
    """Create an API key; its secret is in this response and never again."""
    user = await _admin(request)
    body = fields(
        await read_json(request), required={"scopes": (list, str)}, optional={"name": str}
    )
    key, secret = await request.app[API_KEYS].create(
        user.service_id, body.get("name", ""), body["scopes"], f"user:{user.id}"
    )
    return web.json_response({**key_json(key), "key": secret}, status=201)


@routes.delete("/api/service/apikeys/{key_id}")
async def revoke_key(request: web.Request) -> web.Response:
    """Revoke an API key at once."""
    user = await _admin(request)
    await request.app[API_KEYS].revoke(
        user.service_id, request.match_info["key_id"], f"user:{user.id}"
    )
    return web.json_response({"ok": True})


@routes.get("/api/service/webhook/deliveries")
async def list_deliveries(request: web.Request) -> web.Response:
    """List the service's webhook deliveries and their state, for its admin."""
    user = await _admin(request)
    items = await request.app[STORE].webhook_attempts(user.service_id)
    return web.json_response({"deliveries": [delivery_json(i) for i in items]})

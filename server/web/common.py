"""Helpers shared by the route modules: bodies, errors, and the signed-in account."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from server.errors import HavenError, TooManyRequests, Unauthorized
from server.messages import parse_json
from server.models import Login, User
from server.web.keys import ACCOUNTS, CONFIG
from server.web.security import SAFE_METHODS, Handler, csrf_matches

log = logging.getLogger(__name__)


def cookie_name(request: web.Request) -> str:
    """Return the session cookie's name (``__Host-`` prefixed under HTTPS)."""
    return "__Host-haven_session" if request.app[CONFIG].secure_cookies else "haven_session"


def public_base(request: web.Request) -> str:
    """Return the address links should use: the configured public URL, else this request's."""
    config = request.app[CONFIG]
    return (
        config.public_url.rstrip("/") if config.public_url else f"{request.scheme}://{request.host}"
    )


async def read_json(request: web.Request) -> Any:
    """Read and decode a JSON request body within the configured size limit."""
    limit = request.app[CONFIG].max_message_bytes
    if request.content_length is not None and request.content_length > limit:
        return parse_json(b" " * (limit + 1), limit=limit)
    return parse_json(await request.read(), limit=limit)


async def staff(request: web.Request) -> tuple[User, Login]:
    """Return the signed-in account; unsafe methods must carry the CSRF token header."""
    token = request.cookies.get(cookie_name(request))
    user, login = await request.app[ACCOUNTS].current(token)
    if request.method not in SAFE_METHODS and not csrf_matches(
        login.csrf_token, request.headers.get("X-CSRF-Token")
    ):
        raise Unauthorized("This request is missing its CSRF token; reload the page.")
    return user, login


def error_response(exc: HavenError) -> web.Response:
    """Turn a HavenError into a JSON error response."""
    headers = {}
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(int(exc.retry_after) + 1)
    return web.json_response(
        {"error": exc.message, "code": exc.code}, status=exc.status, headers=headers
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer refused requests with a clear JSON error and never leak a traceback."""
    try:
        return await handler(request)
    except HavenError as exc:
        return error_response(exc)
    except web.HTTPRequestEntityTooLarge:
        return web.json_response(
            {"error": "The request is too large.", "code": "too_large"}, status=413
        )
    except web.HTTPException:
        raise
    except Exception:
        log.exception("Unexpected error handling %s %s", request.method, request.path)
        return web.json_response(
            {"error": "Something went wrong on the server. Please try again.", "code": "internal"},
            status=500,
        )


Route = Callable[[web.Request], Awaitable[web.StreamResponse]]

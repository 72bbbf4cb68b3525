"""RFC 9457 problem details: the one shape every ``/api/v1`` refusal takes."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aiohttp import web

from server.errors import HavenError, TooManyRequests, Unauthorized

PROBLEM_TYPE = "application/problem+json"


class Unprocessable(HavenError):
    """The request is well formed but asks for something Haven will not do (422)."""

    status = 422
    code = "unprocessable"


class InsufficientScope(HavenError):
    """The API key is valid but lacks the scope this operation needs (403)."""

    status = 403
    code = "insufficient_scope"

    def __init__(self, scope: str) -> None:
        super().__init__(f"This API key needs the {scope} scope for this operation.")
        self.scope = scope


class UpgradeRequired(HavenError):
    """A WebSocket endpoint was called as plain HTTP (426)."""

    status = 426
    code = "upgrade_required"


def problem(
    status: int,
    detail: str,
    code: str,
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> web.Response:
    """Return a problem document: the standard members, Haven's ``code``, and any extras."""
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        **(extra or {}),
    }
    return web.json_response(body, status=status, headers=headers, content_type=PROBLEM_TYPE)


def from_error(exc: HavenError) -> web.Response:
    """Turn a HavenError into a problem document with the headers its status calls for."""
    headers: dict[str, str] = {}
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(int(exc.retry_after) + 1)
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="haven"'
    if isinstance(exc, InsufficientScope):
        headers["WWW-Authenticate"] = (
            f'Bearer realm="haven", error="insufficient_scope", scope="{exc.scope}"'
        )
    if isinstance(exc, UpgradeRequired):
        headers["Upgrade"] = "websocket"
    return problem(exc.status, exc.message, exc.code, headers=headers)

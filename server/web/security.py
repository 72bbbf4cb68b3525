"""Security headers, origin checks and CSRF protection for every response and request."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

from server.config import Config

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def content_security_policy(config: Config) -> str:
    """Return the strict CSP sent with every page: no inline script, no eval, no third parties."""
    ancestors = " ".join(config.frame_ancestors) if config.frame_ancestors else "'none'"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob:",
            " ".join(["connect-src 'self'", *_relay_sources(config)]),
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {ancestors}",
        ]
    )


def _relay_sources(config: Config) -> list[str]:
    """Return the relay origins, each also as the WebSocket scheme the page connects with."""
    sources = []
    for origin in config.relay_origins:
        ws = "wss://" + origin[len("https://") :] if origin.startswith("https://") else None
        ws = ws or "ws://" + origin[len("http://") :]
        sources += [origin, ws]
    return sources


def origin_allowed(config: Config, origin: str | None, host: str | None) -> bool:
    """Tell whether a browser origin may talk to us: a configured origin, or loopback itself."""
    if not origin:
        return True  # not a browser cross-site request (curl, a socket.io client, a beacon)
    if origin in config.origins:
        return True
    parts = urlsplit(origin)
    return bool(host) and parts.hostname in LOOPBACK and parts.netloc == host


def security_middleware(config: Config, origin_free: frozenset[str] = frozenset()) -> Middleware:
    """Build the middleware that sets headers on every response and refuses foreign origins.

    Paths in ``origin_free`` authenticate with a capability token in the body, never a cookie,
    so a cross-origin request carries no ambient authority: a safety signal is never refused.
    """
    csp = content_security_policy(config)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (
            request.method not in SAFE_METHODS
            and request.path not in origin_free
            and not origin_allowed(config, request.headers.get("Origin"), request.host)
        ):
            response: web.StreamResponse = web.json_response(
                {"error": "Requests from this origin are not allowed.", "code": "forbidden"},
                status=403,
            )
        else:
            response = await handler(request)
        headers = response.headers
        headers.setdefault("Content-Security-Policy", csp)
        headers["Referrer-Policy"] = "no-referrer"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Permissions-Policy"] = "camera=(self), microphone=(self), geolocation=()"
        if not config.frame_ancestors:
            headers["X-Frame-Options"] = "DENY"
        headers.setdefault("Cache-Control", "no-store")
        return response

    return middleware


def csrf_matches(expected: str, presented: str | None) -> bool:
    """Compare a CSRF token in constant time."""
    return bool(presented) and hmac.compare_digest(expected, presented or "")

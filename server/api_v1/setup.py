"""Wire the API into an application: keys, routes, the OpenAPI document, the alert stream."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from server.api_v1 import console
from server.api_v1.keys import API_KEYS, SCOPES, ApiKeys
from server.api_v1.routes import COMMON_ERRORS, api
from server.api_v1.schemas import COMPONENTS
from server.api_v1.spec import PROBLEM_RESPONSE
from server.api_v1.stream import FEED, LogFeed
from server.store.base import Store

OPENAPI_PATH = "/api/openapi.json"
OPENAPI_DOC = web.AppKey("openapi_doc", dict)


def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI 3.1 document, built from the operations' own declarations."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Haven API",
            "version": "1.0.0",
            "description": (
                "Sessions, participant tokens for the embed widget, the event log, alerts and "
                "webhooks of one Haven service. Authenticate with a service API key: "
                "`Authorization: Bearer hvn_...`. Errors are RFC 9457 problem documents."
            ),
        },
        "security": [{"apiKey": []}],
        "paths": api.paths(COMMON_ERRORS),
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": f"A service API key. Scopes: {', '.join(SCOPES)}.",
                }
            },
            "schemas": COMPONENTS,
            "responses": {"Problem": PROBLEM_RESPONSE},
        },
    }


async def serve_openapi(request: web.Request) -> web.Response:
    """Serve the OpenAPI document."""
    return web.json_response(request.app[OPENAPI_DOC])


def setup(
    app: web.Application, store: Store, feed: LogFeed, clock: Callable[[], float] = time.time
) -> None:
    """Add the API's state, routes and shutdown hook to ``app``."""
    app[API_KEYS] = ApiKeys(store, clock)
    app[FEED] = feed
    app[OPENAPI_DOC] = openapi_document()
    app.router.add_get(OPENAPI_PATH, serve_openapi)
    app.router.add_routes(console.routes)
    app.router.add_routes(api.routes())

    async def close_streams(app: web.Application) -> None:
        await feed.close_all()

    app.on_shutdown.append(close_streams)

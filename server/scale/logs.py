"""Structured logs: one JSON object per line, with a correlation id and no personal data.

The correlation id is the request's (``X-Request-Id`` if the caller sent a sane one, else a new
random id). A socket.io connection keeps the id of the HTTP request that opened it, because its
handlers run in tasks that copy the context of that request. The JSON line holds only the time,
level, logger, message and id; what goes into a message is the caller's responsibility, and the
house rule (names, tokens, SDP and ICE at DEBUG at most) keeps personal data out of INFO.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="-")
SANE_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def correlation_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give the request a correlation id for its logs and echo it in ``X-Request-Id``."""
    given = request.headers.get("X-Request-Id", "")
    rid = given if SANE_ID.fullmatch(given) else secrets.token_hex(8)
    token = correlation_id.set(rid)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["X-Request-Id"] = rid
        raise
    finally:
        correlation_id.reset(token)
    if not response.prepared:  # a WebSocket upgrade has already sent its headers
        response.headers["X-Request-Id"] = rid
    return response


class CorrelationFilter(logging.Filter):
    """Stamp every record with the current correlation id."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add ``correlation_id`` to the record; never drop it."""
        record.correlation_id = correlation_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, message, correlation id."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a single line of JSON."""
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "correlation_id": getattr(record, "correlation_id", correlation_id.get()),
        }
        if record.exc_info and record.exc_info[0] is not None:
            # The exception's type and where it happened, never its message or source lines:
            # either may quote what a person typed.
            entry["exc_type"] = record.exc_info[0].__name__
            entry["stack"] = [
                f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} in {frame.name}"
                for frame in traceback.extract_tb(record.exc_info[2])[-5:]
            ]
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, fmt: str) -> None:
    """Configure the root logger once, at the entry point: human text or JSON lines."""
    handler = logging.StreamHandler()
    handler.addFilter(CorrelationFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s]: %(message)s"
            )
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())

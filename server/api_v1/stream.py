"""The alert stream: a plain WebSocket of a service's alert events, resumable by sequence number.

Each connection keeps its own cursor into the event log and reads the log itself, in order, so a
reconnect with ``after=<last seq seen>`` continues with no gap and no duplicate. Between reads it
sleeps until the application says the log may have grown, or a second passes (another node may
have written).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiohttp import WSMsgType, web

from server.api_v1.problems import UpgradeRequired
from server.api_v1.spec import Call
from server.store.chain import EventRecord
from server.web.keys import STORE

log = logging.getLogger(__name__)

ALERT_EVENTS = frozenset(
    {"alert.raised", "alert.delivered", "alert.acknowledged", "alert.escalated", "alert.resolved"}
)
BATCH = 500
POLL_S = 1.0


class LogFeed:
    """Tell alert-stream connections that the event log may have grown; one per application."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()
        self.sockets: set[web.WebSocketResponse] = set()

    def wake(self) -> None:
        """Wake every reader (something was just committed)."""
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def waiter(self) -> asyncio.Event:
        """Return the event the next ``wake`` sets; take it before reading, so none is missed."""
        return self._changed

    async def close_all(self) -> None:
        """Close every open stream, so shutdown never waits on them."""
        for ws in list(self.sockets):
            await ws.close(message=b"Haven is shutting down.")


FEED = web.AppKey("alert_feed", LogFeed)


def stream_line(record: EventRecord) -> dict[str, Any]:
    """Return what the stream sends for one event."""
    return {
        "seq": record.seq,
        "type": record.type,
        "at": record.ts,
        "session_id": record.session_id,
        "alert_id": record.payload.get("alert", ""),
        "actor": record.actor,
        "data": record.payload,
    }


async def alert_stream(call: Call) -> web.StreamResponse:
    """Stream the service's alert events as JSON over a WebSocket, from ``after`` onwards."""
    request = call.request
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4096)
    if not ws.can_prepare(request).ok:
        raise UpgradeRequired("The alert stream is a WebSocket: send an Upgrade request.")
    store = request.app[STORE]
    feed = request.app[FEED]
    cursor = call.query.get("after")
    if cursor is None:
        cursor = await store.head_seq()
    service = await store.service(call.service_id)
    await ws.prepare(request)
    feed.sockets.add(ws)
    reader = asyncio.create_task(_drain(ws))
    try:
        await ws.send_json(
            {"type": "stream.opened", "service": service.slug if service else "", "after": cursor}
        )
        while not reader.done():
            waiter = feed.waiter()
            batch = await store.events(after_seq=cursor, limit=BATCH)
            for record in batch:
                cursor = record.seq
                if record.service_id == call.service_id and record.type in ALERT_EVENTS:
                    await ws.send_str(json.dumps(stream_line(record), sort_keys=True))
            if len(batch) == BATCH:
                continue
            waiting = asyncio.ensure_future(waiter.wait())
            try:
                await asyncio.wait(
                    [reader, waiting], timeout=POLL_S, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                waiting.cancel()
    except ConnectionResetError:
        log.debug("An alert stream's client went away")
    finally:
        feed.sockets.discard(ws)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await ws.close()
    return ws


async def _drain(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) what the client sends, so pings, pongs and closes are handled."""
    async for msg in ws:
        if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
            break

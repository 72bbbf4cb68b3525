"""A bare python-socketio server that forwards one message from a client to its partner.

Run as ``python -m bench.floor_server PORT``: the floor the alerts benchmark compares against.
"""

from __future__ import annotations

import sys
from typing import Any

import socketio
from aiohttp import web


def build() -> web.Application:
    """Build the floor server: clients join a pair room and forward ``ping`` as ``pong``."""
    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins=None)
    app = web.Application()
    sio.attach(app)

    async def join(sid: str, data: Any) -> dict[str, bool]:
        await sio.enter_room(sid, f"pair:{data['pair']}")
        return {"ok": True}

    async def ping(sid: str, data: Any) -> dict[str, bool]:
        await sio.emit("pong", data, room=f"pair:{data['pair']}", skip_sid=sid)
        return {"ok": True}

    sio.on("join", join)
    sio.on("ping", ping)
    return app


if __name__ == "__main__":
    web.run_app(build(), host="127.0.0.1", port=int(sys.argv[1]), print=lambda *_: None)

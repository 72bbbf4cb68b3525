"""socket.io signalling: the client and console namespaces, and the hub that pushes to them.

Per-connection state lives in the socket session (never on the namespace object). Every handler
answers through its acknowledgement: ``{"ok": true, ...}`` or ``{"ok": false, "error": ...}``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Any, TypeVar

import socketio

from server.accounts import Accounts
from server.config import Config
from server.errors import HavenError, Unauthorized
from server.sessions import Sessions
from server.store import Store
from server.web.security import origin_allowed

log = logging.getLogger(__name__)

CLIENT_NS = "/client"
CONSOLE_NS = "/console"
Ack = dict[str, Any]
H = TypeVar("H", bound=Callable[..., Awaitable[Ack]])


def acknowledged(handler: H) -> H:
    """Turn refusals and unexpected errors into an error acknowledgement, never a lost one."""

    @functools.wraps(handler)
    async def wrapper(*args: Any) -> Ack:
        try:
            return await handler(*args)
        except HavenError as exc:
            return {"ok": False, "error": exc.message, "code": exc.code}
        except Exception:
            log.exception("Unexpected error in socket.io handler %s", handler.__name__)
            return {
                "ok": False,
                "error": "Something went wrong on the server. Please try again.",
                "code": "internal",
            }

    return wrapper  # type: ignore[return-value]


def create_sio(config: Config) -> socketio.AsyncServer:
    """Create the socket.io server: configured origins only, JSON only, 64 KB messages."""

    def allow(origin: str | None, environ: dict[str, Any]) -> bool:
        return origin_allowed(config, origin, environ.get("HTTP_HOST"))

    return socketio.AsyncServer(
        async_mode="aiohttp",
        cors_allowed_origins=allow,
        max_http_buffer_size=config.max_message_bytes,
        logger=False,
        engineio_logger=False,
    )


class SocketHub:
    """Deliver live messages through socket.io rooms."""

    def __init__(self, sio: socketio.AsyncServer) -> None:
        self._sio = sio

    async def to_participant(self, participant_id: str, event: str, data: dict[str, Any]) -> None:
        """Send to every connection of one client."""
        await self._sio.emit(event, data, room=f"p:{participant_id}", namespace=CLIENT_NS)

    async def to_session_staff(self, session_id: str, event: str, data: dict[str, Any]) -> None:
        """Send to the consoles watching a session."""
        await self._sio.emit(event, data, room=f"staff:{session_id}", namespace=CONSOLE_NS)

    async def to_session_clients(self, session_id: str, event: str, data: dict[str, Any]) -> None:
        """Send to every admitted client of a session."""
        await self._sio.emit(event, data, room=f"clients:{session_id}", namespace=CLIENT_NS)

    async def to_service_leads(self, service_id: str, event: str, data: dict[str, Any]) -> None:
        """Send to the consoles of a service's leads on duty."""
        await self._sio.emit(event, data, room=f"leads:{service_id}", namespace=CONSOLE_NS)


class ClientNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    """A client's page: authenticated by its capability token in the connect ``auth``."""

    def __init__(self, sessions: Sessions, store: Store) -> None:
        super().__init__(CLIENT_NS)
        self._sessions = sessions
        self._store = store

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        """Accept a client whose token is valid and who has not been removed."""
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            participant = await self._sessions.participant_for(token)
        except Unauthorized:
            return False
        if participant.status in ("removed", "denied", "left"):
            return False
        await self.save_session(
            sid, {"participant_id": participant.id, "session_id": participant.session_id}
        )
        await self.enter_room(sid, f"p:{participant.id}")
        if participant.status == "admitted":
            await self.enter_room(sid, f"clients:{participant.session_id}")
        return True

    @acknowledged
    async def on_state(self, sid: str, data: Any = None) -> Ack:
        """Return the client's own state: waiting or admitted, paused or not."""
        me = await self.get_session(sid)
        participant = await self._store.participant(me["participant_id"])
        if participant is None:
            raise Unauthorized("This link is not valid any more.")
        if participant.status == "admitted":
            await self.enter_room(sid, f"clients:{participant.session_id}")
        return {
            "ok": True,
            "participant_id": participant.id,
            "status": participant.status,
            "paused": participant.paused_reason is not None,
        }


class ConsoleNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    """A staff console: authenticated by the session cookie sent with the connection."""

    def __init__(self, accounts: Accounts, sessions: Sessions, store: Store) -> None:
        super().__init__(CONSOLE_NS)
        self._accounts = accounts
        self._sessions = sessions
        self._store = store

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        """Accept a console with a valid sign-in cookie."""
        cookie: SimpleCookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        morsel = cookie.get("__Host-haven_session") or cookie.get("haven_session")
        try:
            user, _ = await self._accounts.current(morsel.value if morsel else None)
        except Unauthorized:
            return False
        await self.save_session(sid, {"user_id": user.id, "service_id": user.service_id})
        await self.enter_room(sid, f"u:{user.id}")
        if user.role == "lead" and user.on_duty:
            await self.enter_room(sid, f"leads:{user.service_id}")
        return True

    @acknowledged
    async def on_watch(self, sid: str, data: Any = None) -> Ack:
        """Follow one session's live updates (waiting room, alerts, timeline)."""
        session_id = data.get("session_id") if isinstance(data, dict) else None
        if not isinstance(session_id, str):
            raise HavenError("The field session_id is missing.")
        me = await self.get_session(sid)
        user = await self._store.user(me["user_id"])
        if user is None:
            raise Unauthorized("Please sign in.")
        session = await self._sessions.get(session_id, user)
        await self.enter_room(sid, f"staff:{session.id}")
        return {"ok": True, "session_id": session.id}

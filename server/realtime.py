"""socket.io signalling: the client and console namespaces, and the hub that pushes to them.

Per-connection state lives in the socket session (never on the namespace object). Every handler
answers through its acknowledgement: ``{"ok": true, ...}`` or ``{"ok": false, "error": ...}``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from http.cookies import SimpleCookie
from typing import Any, TypeVar

import socketio

from server.accounts import Accounts
from server.config import Config
from server.errors import BadRequest, Conflict, HavenError, Unauthorized
from server.models import User
from server.placement import Placement
from server.safety import Safety
from server.sessions import Sessions
from server.store import NewEvent, Store
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


def close_connections_on_shutdown(sio: socketio.AsyncServer) -> Callable[..., Awaitable[None]]:
    """Return an ``on_shutdown`` hook that closes every live connection, never waiting on one.

    engineio's own disconnect-all waits for each connection's send queue to drain, and a page
    that is going away (or already gone) may never drain it: shutdown would hang there.
    """

    async def close_all(app: object) -> None:
        eio = sio.eio
        for connection in list(eio.sockets.values()):
            await connection.close(wait=False, reason=eio.reason.SERVER_DISCONNECT)
        eio.sockets.clear()
        await sio.shutdown()

    return close_all


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

    async def to_alert_audience(
        self,
        session_id: str,
        facilitator_ids: Sequence[str],
        service_id: str,
        event: str,
        data: dict[str, Any],
    ) -> None:
        """Send once (one emit over several rooms) to the facilitators' and the leads' consoles."""
        rooms = [f"staff:{session_id}", f"leads:{service_id}"]
        rooms += [f"u:{user_id}" for user_id in facilitator_ids]
        await self._sio.emit(event, data, room=rooms, namespace=CONSOLE_NS)


class ClientNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    """A client's page: authenticated by its capability token in the connect ``auth``."""

    def __init__(
        self, sessions: Sessions, safety: Safety, placement: Placement, store: Store
    ) -> None:
        super().__init__(CLIENT_NS)
        self._sessions = sessions
        self._safety = safety
        self._placement = placement
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
            sid,
            {
                "participant_id": participant.id,
                "session_id": participant.session_id,
                "token": token,
            },
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

    @acknowledged
    async def on_media(self, sid: str, data: Any = None) -> Ack:
        """Tell an admitted client's page which relay carries its media, with a ticket for it."""
        me = await self.get_session(sid)
        participant = await self._store.participant(me["participant_id"])
        if participant is None:
            raise Unauthorized("This link is not valid any more.")
        if participant.status != "admitted":
            raise Conflict("The call opens once you are let in.")
        media = await self._placement.media_for(participant.session_id, participant.id, "client")
        return {"ok": True, "media": media}

    @acknowledged
    async def on_signal(self, sid: str, data: Any = None) -> Ack:
        """Take a safety signal; acknowledged only once it is durable."""
        me = await self.get_session(sid)
        subject = await self._safety.subject_for_token(me["token"])
        receipt = await self._safety.receive(subject, data, "socket")
        return receipt.ack()

    @acknowledged
    async def on_chat(self, sid: str, data: Any = None) -> Ack:
        """Relay a chat message, unless it holds the typed safe word: then it is a signal."""
        if not isinstance(data, dict):
            raise BadRequest("A chat message is a JSON object with text and id.")
        me = await self.get_session(sid)
        subject = await self._safety.subject_for_token(me["token"])
        text = await self._safety.chat(subject, data.get("text"), data.get("id"))
        if text is None:
            return {"ok": True}  # the same answer as a relayed message: nothing gives it away
        participant = subject.participant
        if participant is None or participant.status != "admitted":
            raise BadRequest("Chat opens once you are in the call.")
        message = {"from": participant.id, "name": participant.display_name, "text": text}
        await self.emit("chat", message, room=f"clients:{participant.session_id}", skip_sid=sid)
        await self.server.emit(
            "chat", message, room=f"staff:{participant.session_id}", namespace=CONSOLE_NS
        )
        return {"ok": True}


class ConsoleNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    """A staff console: authenticated by the session cookie sent with the connection."""

    def __init__(
        self,
        accounts: Accounts,
        sessions: Sessions,
        safety: Safety,
        placement: Placement,
        store: Store,
    ) -> None:
        super().__init__(CONSOLE_NS)
        self._accounts = accounts
        self._sessions = sessions
        self._safety = safety
        self._placement = placement
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
    async def on_sync(self, sid: str, data: Any = None) -> Ack:
        """Return every open alert this console should see, replayed from the store.

        A console sends this after every (re)connection; emitting during the connect handler
        is not reliable, so the replay travels in the acknowledgement.
        """
        user = await self._user(sid)
        alerts = [
            await self._safety.alert_message(a) for a in await self._safety.visible_alerts(user)
        ]
        return {"ok": True, "alerts": alerts}

    async def _user(self, sid: str) -> User:
        me = await self.get_session(sid)
        user = await self._store.user(me["user_id"])
        if user is None:
            raise Unauthorized("Please sign in.")
        return user

    @acknowledged
    async def on_media(self, sid: str, data: Any = None) -> Ack:
        """Tell the console which relay carries a session's media, with a ticket for it."""
        session_id = data.get("session_id") if isinstance(data, dict) else None
        if not isinstance(session_id, str):
            raise BadRequest("The field session_id is missing.")
        user = await self._user(sid)
        session = await self._sessions.run(session_id, user)
        media = await self._placement.media_for(session.id, user.id, "staff")
        return {"ok": True, "session_id": session.id, "media": media}

    @acknowledged
    async def on_alert_delivered(self, sid: str, data: Any = None) -> Ack:
        """The console confirms an alert reached it."""
        alert_id = data.get("alert_id") if isinstance(data, dict) else None
        await self._safety.delivered(alert_id, await self._user(sid))
        return {"ok": True}

    @acknowledged
    async def on_on_duty(self, sid: str, data: Any = None) -> Ack:
        """A safeguarding lead goes on or off duty."""
        on = data.get("on") if isinstance(data, dict) else None
        if not isinstance(on, bool):
            raise BadRequest("The field on must be true or false.")
        user = await self._user(sid)
        if user.role != "lead":
            raise BadRequest("Only a safeguarding lead goes on duty.")
        event = NewEvent(
            "user.on_duty", user.service_id, actor=f"user:{user.id}", payload={"on": on}
        )
        await self._store.set_on_duty(user.id, on, [event])
        room = f"leads:{user.service_id}"
        if on:
            await self.enter_room(sid, room)
        else:
            await self.leave_room(sid, room)
        return {"ok": True, "on_duty": on}

    @acknowledged
    async def on_watch(self, sid: str, data: Any = None) -> Ack:
        """Follow one session's live updates (waiting room, alerts, timeline)."""
        session_id = data.get("session_id") if isinstance(data, dict) else None
        if not isinstance(session_id, str):
            raise BadRequest("The field session_id is missing.")
        session = await self._sessions.get(session_id, await self._user(sid))
        await self.enter_room(sid, f"staff:{session.id}")
        return {"ok": True, "session_id": session.id}

"""The ``/media`` socket.io namespace: a page's offers, ICE and statistics at its session's relay.

A page reaches this namespace on the relay its signalling node named (``server.placement``),
authenticated by the signed ticket it was given there. The ticket says who the member is; what
they may do is read again from the shared store on every offer (admitted, not ended, still a
facilitator), and a client paused in the store is paused at this relay before its first offer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import socketio

from server.config import Config
from server.errors import BadRequest, NotFound, Unauthorized
from server.hub import Hub
from server.media import Media, relay_settings
from server.realtime import Ack, acknowledged
from server.relay import Relay
from server.spoken import SpokenSafeWords
from server.store import Store
from server.tickets import MediaTicket, verify_ticket

log = logging.getLogger(__name__)

MEDIA_NS = "/media"
CheckTicket = Callable[[object], MediaTicket]


def ticket_checker(
    secret: str, relay_id: str, clock: Callable[[], float] = time.time
) -> CheckTicket:
    """Return a function that verifies a page's ticket for this relay."""
    return lambda token: verify_ticket(secret, token, relay_id, clock())


def member_room(member_id: str) -> str:
    """The room of one member's media connections (where ``renegotiate`` goes)."""
    return f"m:{member_id}"


class MediaNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    """One relay's media signalling: offer, ice, stats (staff) and practice_phrase (clients)."""

    def __init__(self, media: Media, store: Store, check: CheckTicket) -> None:
        super().__init__(MEDIA_NS)
        self._media = media
        self._store = store
        self._check = check

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        """Accept a page whose ticket is genuine, fresh and names this relay."""
        try:
            ticket = self._check(auth.get("ticket") if isinstance(auth, dict) else None)
        except Unauthorized:
            return False
        await self.save_session(
            sid,
            {"member_id": ticket.member_id, "role": ticket.role, "session_id": ticket.session_id},
        )
        await self.enter_room(sid, member_room(ticket.member_id))
        return True

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        """The page's media connection closed: its peer connection goes with it."""
        me = await self.get_session(sid)
        if me:
            await self._media.release(me["member_id"], sid)

    @acknowledged
    async def on_ice(self, sid: str, data: Any = None) -> Ack:
        """Return the ICE servers (with a short-lived TURN credential) for this member."""
        me = await self.get_session(sid)
        return {"ok": True, "ice_servers": self._media.ice_servers(me["member_id"])}

    @acknowledged
    async def on_offer(self, sid: str, data: Any = None) -> Ack:
        """Answer the member's WebRTC offer; only an admitted client or a facilitator gets in."""
        me = await self.get_session(sid)
        sdp = data.get("sdp") if isinstance(data, dict) else None
        if me["role"] == "client":
            participant = await self._store.participant(me["member_id"])
            session = await self._store.session(me["session_id"])
            invite = await self._store.invite(participant.invite_id) if participant else None
            if participant is None or session is None or invite is None:
                raise Unauthorized("This link is not valid any more.")
            if participant.session_id != session.id:
                raise Unauthorized("This link is not valid any more.")
            async with self._media.offering(participant.id, sid):
                answer = await self._media.client_offer(participant, invite, session, sdp)
        else:
            user = await self._store.user(me["member_id"])
            session = await self._store.session(me["session_id"])
            if user is None or session is None or user.id not in session.facilitator_ids:
                raise NotFound("There is no such session.")
            async with self._media.offering(user.id, sid):
                answer = await self._media.staff_offer(session, user, sdp)
        return {"ok": True, "sdp": answer}

    @acknowledged
    async def on_stats(self, sid: str, data: Any = None) -> Ack:
        """Return the session's per-member media statistics (staff only)."""
        me = await self.get_session(sid)
        if me["role"] != "staff":
            raise BadRequest("Only a console asks for media statistics.")
        return {"ok": True, "stats": self._media.stats(me["session_id"])}

    @acknowledged
    async def on_practice_phrase(self, sid: str, data: Any = None) -> Ack:
        """Practise the spoken phrase: while on, a detection alerts nobody and says it heard."""
        on = data.get("on") if isinstance(data, dict) else None
        if not isinstance(on, bool):
            raise BadRequest("The field on must be true or false.")
        me = await self.get_session(sid)
        if me["role"] != "client":
            raise BadRequest("Only a client practises their phrase.")
        return {"ok": True, "listening": self._media.practice(me["member_id"], on)}


class NoAudioTap:
    """The audio tap of a process without a relay (role ``signal``): nothing is ever heard."""

    def set_audio_listener(
        self, participant_id: str, listener: Callable[[bytes, int], None] | None
    ) -> None:
        """Do nothing: this process carries no media."""


def mount_media(
    config: Config,
    sio: socketio.AsyncServer,
    store: Store,
    hub: Hub,
    check: CheckTicket,
    clock: Callable[[], float] = time.time,
) -> tuple[Relay, SpokenSafeWords, Media]:
    """Build this process's relay, its spoken-phrase listener and the ``/media`` namespace."""

    async def renegotiate(session_id: str, member_id: str) -> None:
        await sio.emit("renegotiate", {}, room=member_room(member_id), namespace=MEDIA_NS)

    relay = Relay(relay_settings(config), on_renegotiate=renegotiate)
    spoken = SpokenSafeWords(store, hub, relay, config.speech_bank.expanduser(), clock)
    media = Media(config, relay, spoken)
    sio.register_namespace(MediaNamespace(media, store, check))
    return relay, spoken, media

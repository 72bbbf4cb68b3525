"""Media signalling: who may send an offer, ICE servers for each member, relay lifecycle.

The relay (``server/relay``) owns every peer connection; this module decides who reaches it.
A client may offer only once admitted; staff may offer for sessions they run. A client paused
in the store is paused in the relay before its first offer, so a reconnect never reopens media.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from server.config import Config
from server.errors import Conflict, HavenError, Unavailable
from server.models import Invite, Participant, Session, User
from server.relay import Relay, RelayError, RelaySettings, turn_credentials
from server.spoken import SpokenSafeWords

log = logging.getLogger(__name__)
RELEASE_TIMEOUT_S = 10.0
Notify = Callable[[str, str, str, dict[str, Any]], Awaitable[None]]


def relay_settings(config: Config) -> RelaySettings:
    """Return the relay's settings for this configuration."""
    return RelaySettings(
        ice_servers=tuple(s for s in config.ice_servers if "username" in s or _no_turn(s)),
        max_peers=config.max_peers,
        allow_private_candidates=config.allow_private_ice,
        max_sdp_bytes=config.max_message_bytes,
    )


def _no_turn(server: dict[str, Any]) -> bool:
    urls = server.get("urls", [])
    urls = [urls] if isinstance(urls, str) else urls
    return not any(str(u).startswith("turn") for u in urls)


class Media:
    """The gate between signalling and the relay."""

    def __init__(self, config: Config, relay: Relay, spoken: SpokenSafeWords) -> None:
        self._config = config
        self.relay = relay
        self._spoken = spoken
        self._owners: dict[str, str] = {}  # member id -> the media connection that offered
        self._locks: dict[str, asyncio.Lock] = {}  # one offer or release per member at a time

    @contextlib.asynccontextmanager
    async def offering(self, member_id: str, connection: str) -> AsyncIterator[None]:
        """Hold the member's offer turn; ``connection`` becomes theirs, a stale one's peer goes."""
        async with self._locks.setdefault(member_id, asyncio.Lock()):
            previous = self._owners.get(member_id)
            self._owners[member_id] = connection
            if previous is not None and previous != connection:
                await self.drop(member_id)  # the page started over: its old peer is dead weight
            yield

    async def release(self, member_id: str, connection: str) -> None:
        """The member's media connection closed: drop their peer, unless a newer one owns it.

        Waits for an offer in progress (closing a peer mid-negotiation is not safe in aiortc),
        and gives up after ``RELEASE_TIMEOUT_S`` so a shutdown never hangs on one peer.
        """
        lock = self._locks.setdefault(member_id, asyncio.Lock())
        try:
            async with asyncio.timeout(RELEASE_TIMEOUT_S), lock:
                if self._owners.get(member_id) == connection:
                    del self._owners[member_id]
                    await self.drop(member_id)
        except TimeoutError:
            log.warning("A peer connection did not close in time")
        if not lock.locked():
            self._locks.pop(member_id, None)

    def ice_servers(self, member_id: str) -> list[dict[str, Any]]:
        """Return STUN/TURN servers for a browser, with a TURN credential valid for an hour."""
        servers = []
        for server in self._config.ice_servers:
            if _no_turn(server) or "username" in server:
                servers.append(server)
            elif self._config.turn_secret:
                urls = server["urls"]
                servers.append(
                    turn_credentials(
                        self._config.turn_secret,
                        member_id,
                        [urls] if isinstance(urls, str) else list(urls),
                    )
                )
        return servers

    async def client_offer(
        self, participant: Participant, invite: Invite, session: Session, sdp: object
    ) -> str:
        """Answer an admitted client's offer; start spotting their phrase if they opted in."""
        if participant.status != "admitted":
            raise Conflict("The call opens once you are let in.")
        if participant.paused_reason is not None:
            self.relay.pause(participant.id)  # the store's pause survives reconnects
        answer = await self._offer(session, participant.id, sdp)
        await self._spoken.listen(participant, invite)
        return answer

    async def staff_offer(self, session: Session, user: User, sdp: object) -> str:
        """Answer a facilitator's offer for a session they run."""
        return await self._offer(session, user.id, sdp)

    async def _offer(self, session: Session, member_id: str, sdp: object) -> str:
        if session.ended_at is not None:
            raise Conflict("This session has ended.")
        if not isinstance(sdp, str):
            raise HavenError("The field sdp must be text.")
        try:
            return await self.relay.offer(session.id, member_id, sdp)
        except RelayError as exc:
            raise Conflict(str(exc)) from None
        except Exception:
            log.exception("The relay failed on an offer")
            raise Unavailable("The call could not be connected; please try again.") from None

    async def drop(self, member_id: str) -> None:
        """Disconnect one member's media (removed, denied, left)."""
        self._spoken.stop(member_id)
        await self.relay.remove(member_id)

    async def end(self, session_id: str) -> None:
        """Disconnect everyone's media in a session."""
        self._spoken.stop_session(session_id)
        await self.relay.end_session(session_id)

    def practice(self, participant_id: str, on: bool) -> bool:
        """Switch a client's spoken-phrase practice mode; False if their audio is not spotted."""
        return self._spoken.practice(participant_id, on)

    def stats(self, session_id: str) -> dict[str, dict[str, float]]:
        """Return per-member media statistics for the console."""
        return self.relay.stats(session_id)

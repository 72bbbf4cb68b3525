"""Where a page sends its media: the session's relay, and a signed ticket to get in.

On one node (role ``all``) every session's media is on the node's own relay and the page
connects to its own origin. On a signalling node (role ``signal``) the session is placed on the
least-loaded live relay of the registry (``server.scale.relays``) and the page connects there.
Either way the page gets ``{url, relay, ticket}``: ``url`` empty means "this origin".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from server.errors import Unavailable
from server.tickets import TICKET_TTL_S, MediaTicket, MemberRole, sign_ticket

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RelayAddress:
    """One relay as a page should reach it (``url`` empty: the page's own origin)."""

    relay_id: str
    url: str


Locate = Callable[[str], Awaitable[RelayAddress | None]]


def local_relay(relay_id: str) -> Locate:
    """Place every session on this process's own relay, reached at the page's own origin."""

    async def locate(session_id: str) -> RelayAddress:
        return RelayAddress(relay_id, "")

    return locate


def registry_relay(registry: Any) -> Locate:
    """Place each session on the least-loaded live relay of a ``RelayRegistry``."""

    async def locate(session_id: str) -> RelayAddress | None:
        info = await registry.place(session_id)
        return None if info is None else RelayAddress(info.id, info.url)

    return locate


class Placement:
    """Tell a member's page which relay carries their session's media, with a ticket for it."""

    def __init__(
        self,
        secret: str,
        locate: Locate,
        clock: Callable[[], float] = time.time,
        ttl: float = TICKET_TTL_S,
    ) -> None:
        self._secret = secret
        self._locate = locate
        self._clock = clock
        self._ttl = ttl

    async def media_for(self, session_id: str, member_id: str, role: MemberRole) -> dict[str, str]:
        """Return ``{url, relay, ticket}`` for the member's media connection."""
        try:
            where = await self._locate(session_id)
        except Exception as exc:  # Redis unreachable: the page asks again shortly
            log.warning("Relay placement failed (%s)", type(exc).__name__)
            where = None
        if where is None:
            raise Unavailable(
                "Sound and video are not available right now; chat still works. "
                "The page tries again by itself."
            )
        ticket = MediaTicket(member_id, role, session_id, where.relay_id, self._clock() + self._ttl)
        return {
            "url": where.url,
            "relay": where.relay_id,
            "ticket": sign_ticket(self._secret, ticket),
        }

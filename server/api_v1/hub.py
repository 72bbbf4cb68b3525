"""A hub that also wakes local readers of the store after every live update.

The domain pushes a live update only after its commit, so every push is a good moment for the
webhook sender and the alert streams to look at the store again: they learn of new rows at once
instead of at their next poll, without the domain knowing they exist.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from server.hub import Hub


class WakingHub:
    """Forward every message to the real hub, then call each wake-up."""

    def __init__(self, inner: Hub, wakes: Sequence[Callable[[], None]]) -> None:
        self._inner = inner
        self._wakes = tuple(wakes)

    def _wake(self) -> None:
        for wake in self._wakes:
            wake()

    async def to_participant(self, participant_id: str, event: str, data: dict[str, Any]) -> None:
        """Send to every connection of one client."""
        await self._inner.to_participant(participant_id, event, data)
        self._wake()

    async def to_session_staff(self, session_id: str, event: str, data: dict[str, Any]) -> None:
        """Send to the consoles of a session's facilitators."""
        await self._inner.to_session_staff(session_id, event, data)
        self._wake()

    async def to_session_clients(self, session_id: str, event: str, data: dict[str, Any]) -> None:
        """Send to every admitted client of a session."""
        await self._inner.to_session_clients(session_id, event, data)
        self._wake()

    async def to_service_leads(self, service_id: str, event: str, data: dict[str, Any]) -> None:
        """Send to every safeguarding lead console of a service."""
        await self._inner.to_service_leads(service_id, event, data)
        self._wake()

    async def to_alert_audience(
        self,
        session_id: str,
        facilitator_ids: Sequence[str],
        service_id: str,
        event: str,
        data: dict[str, Any],
    ) -> None:
        """Send once to the facilitators' and the leads' consoles."""
        await self._inner.to_alert_audience(session_id, facilitator_ids, service_id, event, data)
        self._wake()

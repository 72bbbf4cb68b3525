"""Where the domain sends live updates; the socket.io layer implements it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class Hub(Protocol):
    """Deliver live messages to connected pages, by audience."""

    async def to_participant(self, participant_id: str, event: str, data: dict[str, Any]) -> None:
        """Send to every connection of one client."""

    async def to_session_staff(self, session_id: str, event: str, data: dict[str, Any]) -> None:
        """Send to the consoles of a session's facilitators."""

    async def to_session_clients(self, session_id: str, event: str, data: dict[str, Any]) -> None:
        """Send to every admitted client of a session."""

    async def to_service_leads(self, service_id: str, event: str, data: dict[str, Any]) -> None:
        """Send to every safeguarding lead console of a service."""

    async def to_alert_audience(
        self,
        session_id: str,
        facilitator_ids: Sequence[str],
        service_id: str,
        event: str,
        data: dict[str, Any],
    ) -> None:
        """Send once to every console of the session's facilitators and of the leads on duty."""


class NullHub:
    """A hub that delivers nothing, for command-line tools."""

    async def to_participant(self, participant_id: str, event: str, data: dict[str, Any]) -> None:
        """Deliver nothing."""

    async def to_session_staff(self, session_id: str, event: str, data: dict[str, Any]) -> None:
        """Deliver nothing."""

    async def to_session_clients(self, session_id: str, event: str, data: dict[str, Any]) -> None:
        """Deliver nothing."""

    async def to_service_leads(self, service_id: str, event: str, data: dict[str, Any]) -> None:
        """Deliver nothing."""

    async def to_alert_audience(
        self,
        session_id: str,
        facilitator_ids: Sequence[str],
        service_id: str,
        event: str,
        data: dict[str, Any],
    ) -> None:
        """Deliver nothing."""

"""The closed set of event types written to the log, and the shape of a new event."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

EventType = Literal[
    "service.created",
    "service.settings_changed",
    "api_key.created",
    "api_key.revoked",
    "webhook.endpoint_set",
    "webhook.endpoint_removed",
    "webhook.secret_rotated",
    "user.created",
    "user.password_changed",
    "user.signed_in",
    "user.on_duty",
    "session.created",
    "session.locked",
    "session.unlocked",
    "session.ended",
    "session.record_written",
    "invite.created",
    "invite.updated",
    "invite.pin_failed",
    "invite.locked",
    "invite.revoked",
    "participant.joined",
    "participant.admitted",
    "participant.denied",
    "participant.removed",
    "participant.left",
    "consent.given",
    "signal.received",
    "participant.paused",
    "gate.closed",
    "gate.opened",
    "participant.resumed",
    "alert.raised",
    "alert.delivered",
    "alert.acknowledged",
    "alert.escalated",
    "alert.resolved",
    "note.added",
    "webhook.delivered",
    "webhook.failed",
    "practice.completed",
]
EVENT_TYPES: frozenset[str] = frozenset(get_args(EventType))


@dataclass(frozen=True)
class NewEvent:
    """An event about to be appended: the store adds sequence, time and hashes."""

    type: EventType
    service_id: str
    session_id: str = ""
    actor: str = "system"
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ValueError(f"{self.type!r} is not a known event type.")

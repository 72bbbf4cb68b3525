"""The one place an alert's core state is turned into JSON and back, for storage."""

from __future__ import annotations

from typing import Any

from signals import AlertState


def alert_state_to_json(state: AlertState) -> dict[str, Any]:
    """Serialise an alert's state."""
    return {
        "alert_id": state.alert_id,
        "participant": state.participant,
        "kind": state.kind,
        "raised_at": state.raised_at,
        "escalate_after": state.escalate_after,
        "progress": state.progress,
        "delivered_to": sorted(state.delivered_to),
        "acknowledged_by": list(state.acknowledged_by),
        "acknowledged_at": state.acknowledged_at,
        "resolved_by": state.resolved_by,
        "resolved_at": state.resolved_at,
        "escalations": list(state.escalations),
    }


def alert_state_from_json(data: dict[str, Any]) -> AlertState:
    """Rebuild an alert's state (it validates itself)."""
    return AlertState(
        alert_id=data["alert_id"],
        participant=data["participant"],
        kind=data["kind"],
        raised_at=data["raised_at"],
        escalate_after=data["escalate_after"],
        progress=data["progress"],
        delivered_to=frozenset(data["delivered_to"]),
        acknowledged_by=tuple(data["acknowledged_by"]),
        acknowledged_at=data["acknowledged_at"],
        resolved_by=data["resolved_by"],
        resolved_at=data["resolved_at"],
        escalations=tuple(data["escalations"]),
    )

"""The per-alert state machine: raised, delivered, acknowledged, resolved, and escalation."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Final, Literal, TypeAlias

from signals._checks import require_choice, require_text, require_time

AlertKind = Literal["panic", "duress"]
AlertProgress = Literal["raised", "delivered", "acknowledged", "resolved"]
EscalationReason = Literal["unacknowledged", "duress"]

ALERT_KINDS: Final[tuple[AlertKind, ...]] = ("panic", "duress")
ALERT_PROGRESS: Final[tuple[AlertProgress, ...]] = (
    "raised",
    "delivered",
    "acknowledged",
    "resolved",
)
ESCALATION_REASONS: Final[tuple[EscalationReason, ...]] = ("unacknowledged", "duress")
DEFAULT_ESCALATE_AFTER_S: Final = 15.0


def alert_id_for(participant: str, signal_id: str) -> str:
    """Return the alert id for the signal that raised it; the same inputs give the same id."""
    digest = hashlib.sha256(f"{participant}\n{signal_id}".encode()).hexdigest()
    return f"alert_{digest[:32]}"


@dataclass(frozen=True, slots=True)
class Delivered:
    """A console confirmed that it received the alert."""

    to: str

    def __post_init__(self) -> None:
        """Require the recipient's identifier."""
        require_text(self.to, "recipient of a delivered alert")


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """A person acknowledged the alert."""

    by: str

    def __post_init__(self) -> None:
        """Require the identifier of the person who acknowledged."""
        require_text(self.by, "person acknowledging an alert")


@dataclass(frozen=True, slots=True)
class Resolved:
    """A person closed the alert; a resolved alert ignores every later input."""

    by: str

    def __post_init__(self) -> None:
        """Require the identifier of the person who resolved."""
        require_text(self.by, "person resolving an alert")


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passes; the server sends one at next_deadline so that escalation fires on time."""


@dataclass(frozen=True, slots=True)
class DuressResumed:
    """The participant resumed with the duress PIN: escalate silently and keep the alert open."""


AlertInput: TypeAlias = Delivered | Acknowledged | Resolved | Tick | DuressResumed


@dataclass(frozen=True, slots=True)
class Escalate:
    """Escalate the alert to every safeguarding lead on duty and to the service's webhook."""

    alert_id: str
    reason: EscalationReason

    def __post_init__(self) -> None:
        """Require an alert id and a known reason."""
        require_text(self.alert_id, "alert id")
        require_choice(self.reason, ESCALATION_REASONS, "escalation reason")


AlertEffect: TypeAlias = Escalate


@dataclass(frozen=True, slots=True)
class AlertState:
    """Everything the core knows about one alert; build it from a RaiseAlert effect."""

    alert_id: str
    participant: str
    kind: AlertKind
    raised_at: float
    escalate_after: float = DEFAULT_ESCALATE_AFTER_S
    """Seconds a person has to acknowledge before the alert escalates as unacknowledged."""
    progress: AlertProgress = "raised"
    delivered_to: frozenset[str] = frozenset()
    acknowledged_by: tuple[str, ...] = ()
    """Everyone who acknowledged, first first."""
    acknowledged_at: float | None = None
    resolved_by: str | None = None
    resolved_at: float | None = None
    escalations: tuple[EscalationReason, ...] = ()
    """In the order they fired: "unacknowledged" at most once, "duress" once per duress resume."""

    def __post_init__(self) -> None:
        """Reject a state that the machine could never reach."""
        require_text(self.alert_id, "alert id")
        require_text(self.participant, "participant")
        require_choice(self.kind, ALERT_KINDS, "alert kind")
        require_choice(self.progress, ALERT_PROGRESS, "alert progress")
        require_time(self.raised_at, "time the alert was raised")
        require_time(self.escalate_after, "escalation delay")
        if self.escalate_after <= 0:
            raise ValueError("The escalation delay must be a positive number of seconds.")
        for reason in self.escalations:
            require_choice(reason, ESCALATION_REASONS, "escalation reason")
        if self.escalations.count("unacknowledged") > 1:
            raise ValueError("An alert escalates as unacknowledged at most once.")
        self._check_progress()

    def _check_progress(self) -> None:
        """Check that the recorded people and times agree with the progress."""
        acknowledged = self.progress in ("acknowledged", "resolved")
        if acknowledged != bool(self.acknowledged_by):
            raise ValueError("An alert is acknowledged exactly when someone has acknowledged it.")
        if acknowledged != (self.acknowledged_at is not None):
            raise ValueError("An acknowledged alert must record when it was first acknowledged.")
        if self.progress == "raised" and self.delivered_to:
            raise ValueError("An alert delivered to a console cannot still be only raised.")
        if self.progress == "delivered" and not self.delivered_to:
            raise ValueError("A delivered alert must record at least one recipient.")
        resolved = self.progress == "resolved"
        if resolved != (self.resolved_by is not None) or resolved != (self.resolved_at is not None):
            raise ValueError("A resolved alert must record who resolved it and when.")

    @property
    def is_open(self) -> bool:
        """Return whether the alert still needs a person's attention."""
        return self.progress != "resolved"

    @property
    def escalated(self) -> bool:
        """Return whether the alert has escalated for any reason."""
        return bool(self.escalations)


def next_deadline(state: AlertState) -> float | None:
    """Return when the server must send a Tick for escalation to fire on time, or None."""
    if state.progress in ("acknowledged", "resolved") or "unacknowledged" in state.escalations:
        return None
    return state.raised_at + state.escalate_after


def step_alert(
    state: AlertState, event: AlertInput, now: float
) -> tuple[AlertState, tuple[AlertEffect, ...]]:
    """Apply one input at time now and return the new state and the escalations to carry out."""
    require_time(now, "current time")
    if state.progress == "resolved":
        return state, ()
    # Time passes with every input, not only with Tick, so a late tick cannot hide a missed
    # deadline; an acknowledgement arriving at or after the deadline comes after the escalation.
    state, effects = _pass_time(state, now)
    state, more = _apply(state, event, now)
    return state, effects + more


def _pass_time(state: AlertState, now: float) -> tuple[AlertState, tuple[AlertEffect, ...]]:
    """Escalate as unacknowledged, once, if the deadline has been reached."""
    deadline = next_deadline(state)
    if deadline is None or now < deadline:
        return state, ()
    return _escalate(state, "unacknowledged")


def _escalate(
    state: AlertState, reason: EscalationReason
) -> tuple[AlertState, tuple[AlertEffect, ...]]:
    """Record an escalation and return the effect that carries it out."""
    escalated = replace(state, escalations=(*state.escalations, reason))
    return escalated, (Escalate(alert_id=state.alert_id, reason=reason),)


def _apply(
    state: AlertState, event: AlertInput, now: float
) -> tuple[AlertState, tuple[AlertEffect, ...]]:
    """Apply the input itself, once time has passed."""
    match event:
        case Delivered(to=to):
            progress: AlertProgress = "delivered" if state.progress == "raised" else state.progress
            return replace(state, progress=progress, delivered_to=state.delivered_to | {to}), ()
        case Acknowledged(by=by):
            return _acknowledge(state, by, now), ()
        case Resolved(by=by):
            acknowledged = _acknowledge(state, by, now) if not state.acknowledged_by else state
            return replace(acknowledged, progress="resolved", resolved_by=by, resolved_at=now), ()
        case DuressResumed():
            return _escalate(state, "duress")
        case Tick():
            return state, ()


def _acknowledge(state: AlertState, by: str, now: float) -> AlertState:
    """Record that a person acknowledged the alert."""
    if by in state.acknowledged_by:
        return state
    return replace(
        state,
        progress="acknowledged",
        acknowledged_by=(*state.acknowledged_by, by),
        acknowledged_at=state.acknowledged_at if state.acknowledged_at is not None else now,
    )

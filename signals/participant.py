"""The per-participant state machine: active, or paused for panic, a moment, or a facilitator."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, Literal, TypeAlias

from signals._checks import require_choice, require_text, require_time
from signals.alert import ALERT_KINDS, AlertKind, alert_id_for
from signals.kinds import Signal, SignalKind

PauseReason = Literal["panic", "step_away", "facilitator"]
PAUSE_REASONS: Final[tuple[PauseReason, ...]] = ("panic", "step_away", "facilitator")

SEEN_IDS_LIMIT: Final = 256
"""How many recent signal ids a participant remembers to ignore duplicates; the store keeps all."""

_SEVERITY: Final[dict[PauseReason, int]] = {"facilitator": 0, "step_away": 1, "panic": 2}
_REASON_FOR_KIND: Final[dict[SignalKind, PauseReason]] = {
    "panic": "panic",
    "step_away": "step_away",
    "facilitator_pause": "facilitator",
}


@dataclass(frozen=True, slots=True)
class CloseGate:
    """Stop the relay forwarding every track to and from the participant (idempotent)."""

    participant: str

    def __post_init__(self) -> None:
        """Require the participant."""
        require_text(self.participant, "participant")


@dataclass(frozen=True, slots=True)
class OpenGate:
    """Let the relay forward the participant's tracks again (idempotent)."""

    participant: str

    def __post_init__(self) -> None:
        """Require the participant."""
        require_text(self.participant, "participant")


@dataclass(frozen=True, slots=True)
class NotifyStepAway:
    """Tell the facilitators quietly that the participant is taking a moment away; no alert."""

    participant: str

    def __post_init__(self) -> None:
        """Require the participant."""
        require_text(self.participant, "participant")


@dataclass(frozen=True, slots=True)
class RaiseAlert:
    """Create an alert in the state "raised" and send it to every facilitator and lead on duty."""

    alert_id: str
    participant: str
    kind: AlertKind
    signal_id: str

    def __post_init__(self) -> None:
        """Require the ids and a known alert kind."""
        require_text(self.alert_id, "alert id")
        require_text(self.participant, "participant")
        require_choice(self.kind, ALERT_KINDS, "alert kind")
        require_text(self.signal_id, "signal id")


@dataclass(frozen=True, slots=True)
class EscalateAlert:
    """Feed DuressResumed to the alert: it escalates, stays open, and the client sees nothing."""

    alert_id: str
    participant: str
    silent: bool = True
    """Always True: a duress escalation never changes anything on the participant's side."""

    def __post_init__(self) -> None:
        """Require the ids and a silent escalation."""
        require_text(self.alert_id, "alert id")
        require_text(self.participant, "participant")
        if self.silent is not True:
            raise ValueError("A duress escalation must be silent on the participant's side.")


Effect: TypeAlias = CloseGate | OpenGate | NotifyStepAway | RaiseAlert | EscalateAlert


@dataclass(frozen=True, slots=True)
class ParticipantState:
    """Whether a participant is paused, why, since when, and which alert their pause raised."""

    participant: str
    paused: PauseReason | None = None
    """None while active."""
    paused_at: float | None = None
    alert_id: str | None = None
    """The alert raised by the current panic pause, until resume or note_alert_resolved."""
    seen: tuple[str, ...] = ()
    """The last SEEN_IDS_LIMIT signal ids processed, oldest first."""

    def __post_init__(self) -> None:
        """Reject a state that the machine could never reach."""
        require_text(self.participant, "participant")
        if self.paused is not None:
            require_choice(self.paused, PAUSE_REASONS, "pause reason")
        if (self.paused is None) != (self.paused_at is None):
            raise ValueError(
                "A paused participant must record when the pause began, and only then."
            )
        if self.paused_at is not None:
            require_time(self.paused_at, "time the pause began")
        if self.alert_id is not None and self.paused != "panic":
            raise ValueError("Only a participant paused for panic can have an open alert linked.")
        if len(self.seen) > SEEN_IDS_LIMIT:
            raise ValueError(f"A participant remembers at most {SEEN_IDS_LIMIT} signal ids.")

    @property
    def active(self) -> bool:
        """Return whether the participant is in the session, not paused."""
        return self.paused is None


def step_participant(
    state: ParticipantState, signal: Signal, now: float
) -> tuple[ParticipantState, tuple[Effect, ...]]:
    """Apply one signal at time now and return the new state and the effects to carry out."""
    require_time(now, "current time")
    if signal.id in state.seen:
        return state, ()
    remembered = replace(state, seen=(*state.seen, signal.id)[-SEEN_IDS_LIMIT:])
    if signal.kind == "resume":
        return _resume(remembered)
    if signal.kind == "duress_resume":
        return _duress_resume(remembered, signal)
    return _pause(remembered, signal, now)


def note_alert_resolved(state: ParticipantState, alert_id: str) -> ParticipantState:
    """Forget the linked alert once it is resolved, so a later duress resume raises a new one."""
    if state.alert_id != alert_id:
        return state
    return replace(state, alert_id=None)


def _pause(
    state: ParticipantState, signal: Signal, now: float
) -> tuple[ParticipantState, tuple[Effect, ...]]:
    """Pause, or raise the pause's severity; a pause never lowers it (panic stays panic)."""
    who = state.participant
    wanted = _REASON_FOR_KIND[signal.kind]
    current = state.paused
    reason = wanted if current is None or _SEVERITY[wanted] > _SEVERITY[current] else current
    # Every pause signal re-asserts the closed gate: closing is idempotent and a repeated
    # press means "make sure", so the server never has to decide whether the gate is shut.
    effects: list[Effect] = [CloseGate(who)]
    alert_id = state.alert_id
    if reason == "panic" and alert_id is None:
        alert_id = alert_id_for(who, signal.id)
        effects.append(
            RaiseAlert(alert_id=alert_id, participant=who, kind="panic", signal_id=signal.id)
        )
    if reason == "step_away" and current != "step_away":
        effects.append(NotifyStepAway(who))
    paused_at = state.paused_at if state.paused_at is not None else now
    new = replace(state, paused=reason, paused_at=paused_at, alert_id=alert_id)
    return new, tuple(effects)


def _resume(state: ParticipantState) -> tuple[ParticipantState, tuple[Effect, ...]]:
    """Un-pause; a resume while active does nothing."""
    if state.paused is None:
        return state, ()
    return _active(state), (OpenGate(state.participant),)


def _duress_resume(
    state: ParticipantState, signal: Signal
) -> tuple[ParticipantState, tuple[Effect, ...]]:
    """Do exactly what a resume does, then escalate the open alert or raise an escalated one."""
    who = state.participant
    # OpenGate comes first so the participant's side is, in content and timing, a plain resume.
    effects: list[Effect] = [] if state.paused is None else [OpenGate(who)]
    alert_id = state.alert_id
    if alert_id is None:
        alert_id = alert_id_for(who, signal.id)
        effects.append(
            RaiseAlert(alert_id=alert_id, participant=who, kind="duress", signal_id=signal.id)
        )
    effects.append(EscalateAlert(alert_id=alert_id, participant=who))
    return _active(state), tuple(effects)


def _active(state: ParticipantState) -> ParticipantState:
    """Return state made active, with the alert link dropped (the alert itself stays open)."""
    return replace(state, paused=None, paused_at=None, alert_id=None)

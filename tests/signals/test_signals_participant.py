"""Unit tests for the per-participant pause state machine."""

from __future__ import annotations

import itertools

import pytest

from signals import (
    SEEN_IDS_LIMIT,
    CloseGate,
    EscalateAlert,
    NotifyStepAway,
    OpenGate,
    ParticipantState,
    RaiseAlert,
    Signal,
    SignalKind,
    SignalSource,
    alert_id_for,
    note_alert_resolved,
    step_participant,
)

WHO = "participant-1"
_ids = itertools.count()


def signal(kind: SignalKind, source: SignalSource | None = None) -> Signal:
    """Build a signal with a fresh id, from the facilitator for a facilitator pause."""
    if source is None:
        source = "facilitator" if kind == "facilitator_pause" else "control"
    return Signal(id=f"sig-{next(_ids):08d}", kind=kind, source=source, at=0.0)


def active() -> ParticipantState:
    """Return a fresh, active participant."""
    return ParticipantState(participant=WHO)


def test_panic_pauses_closes_the_gate_and_raises_an_alert() -> None:
    """A panic pauses the participant, closes the gate first, then raises a panic alert."""
    panic = signal("panic")
    state, effects = step_participant(active(), panic, now=10.0)
    alert_id = alert_id_for(WHO, panic.id)
    assert effects == (
        CloseGate(WHO),
        RaiseAlert(alert_id=alert_id, participant=WHO, kind="panic", signal_id=panic.id),
    )
    assert (state.paused, state.paused_at, state.alert_id) == ("panic", 10.0, alert_id)


def test_the_alert_id_is_derived_from_the_signal_id() -> None:
    """The same signal for the same participant always yields the same alert id."""
    assert alert_id_for(WHO, "sig-00000001") == alert_id_for(WHO, "sig-00000001")
    assert alert_id_for(WHO, "sig-00000001") != alert_id_for(WHO, "sig-00000002")
    assert alert_id_for(WHO, "sig-00000001") != alert_id_for("someone-else", "sig-00000001")


def test_step_away_pauses_quietly_without_an_alert() -> None:
    """A step-away closes the gate and notifies the facilitators quietly, with no alert."""
    state, effects = step_participant(active(), signal("step_away"), now=1.0)
    assert effects == (CloseGate(WHO), NotifyStepAway(WHO))
    assert (state.paused, state.alert_id) == ("step_away", None)


def test_a_facilitator_pause_closes_the_gate_without_an_alert() -> None:
    """A facilitator pause closes the gate and raises nothing."""
    state, effects = step_participant(active(), signal("facilitator_pause"), now=1.0)
    assert effects == (CloseGate(WHO),)
    assert state.paused == "facilitator"


def test_panic_while_stepped_away_upgrades_and_raises_an_alert() -> None:
    """A panic during a step-away upgrades the pause to panic and raises an alert."""
    state, _ = step_participant(active(), signal("step_away"), now=1.0)
    panic = signal("panic")
    state, effects = step_participant(state, panic, now=2.0)
    assert state.paused == "panic"
    assert state.paused_at == 1.0
    assert effects == (
        CloseGate(WHO),
        RaiseAlert(
            alert_id=alert_id_for(WHO, panic.id), participant=WHO, kind="panic", signal_id=panic.id
        ),
    )


def test_a_lesser_pause_never_lowers_a_panic() -> None:
    """A step-away or facilitator pause during a panic keeps the panic and raises nothing more."""
    state, _ = step_participant(active(), signal("panic"), now=1.0)
    for kind in ("step_away", "facilitator_pause"):
        after, effects = step_participant(state, signal(kind), now=2.0)
        assert (after.paused, after.alert_id) == ("panic", state.alert_id)
        assert effects == (CloseGate(WHO),)


def test_a_second_panic_keeps_the_open_alert() -> None:
    """A new panic while paused for panic re-asserts the closed gate and raises no second alert."""
    state, _ = step_participant(active(), signal("panic"), now=1.0)
    after, effects = step_participant(state, signal("panic"), now=2.0)
    assert effects == (CloseGate(WHO),)
    assert after.alert_id == state.alert_id


def test_step_away_during_a_facilitator_pause_tells_the_facilitators() -> None:
    """A participant who steps away while paused by a facilitator is shown as stepped away."""
    state, _ = step_participant(active(), signal("facilitator_pause"), now=1.0)
    state, effects = step_participant(state, signal("step_away"), now=2.0)
    assert state.paused == "step_away"
    assert effects == (CloseGate(WHO), NotifyStepAway(WHO))


@pytest.mark.parametrize("kind", ["panic", "step_away", "facilitator_pause"])
def test_resume_un_pauses_and_opens_the_gate(kind: SignalKind) -> None:
    """A resume ends any pause, including a facilitator's, and opens the gate."""
    state, _ = step_participant(active(), signal(kind), now=1.0)
    state, effects = step_participant(state, signal("resume"), now=2.0)
    assert effects == (OpenGate(WHO),)
    assert (state.paused, state.paused_at, state.alert_id) == (None, None, None)


def test_resume_while_active_does_nothing() -> None:
    """A resume while active has no effects and leaves the participant active."""
    state, effects = step_participant(active(), signal("resume"), now=1.0)
    assert effects == ()
    assert state.active


def test_duress_resume_opens_the_gate_like_a_resume_and_escalates_the_open_alert() -> None:
    """A duress resume opens the gate exactly as a resume does, then escalates the panic's alert."""
    paused, _ = step_participant(active(), signal("panic"), now=1.0)
    _, plain = step_participant(paused, signal("resume"), now=2.0)
    state, effects = step_participant(paused, signal("duress_resume"), now=2.0)
    assert paused.alert_id is not None
    assert effects[: len(plain)] == plain
    assert effects[len(plain) :] == (EscalateAlert(alert_id=paused.alert_id, participant=WHO),)
    assert state.active


def test_duress_resume_without_an_open_alert_raises_an_escalated_one() -> None:
    """A duress resume after a step-away raises a duress alert and escalates it at once."""
    paused, _ = step_participant(active(), signal("step_away"), now=1.0)
    duress = signal("duress_resume")
    _, effects = step_participant(paused, duress, now=2.0)
    alert_id = alert_id_for(WHO, duress.id)
    assert effects == (
        OpenGate(WHO),
        RaiseAlert(alert_id=alert_id, participant=WHO, kind="duress", signal_id=duress.id),
        EscalateAlert(alert_id=alert_id, participant=WHO),
    )


def test_duress_resume_while_active_still_escalates() -> None:
    """A duress resume arriving while active opens nothing but still raises an escalated alert."""
    duress = signal("duress_resume")
    _, effects = step_participant(active(), duress, now=1.0)
    assert [type(effect) for effect in effects] == [RaiseAlert, EscalateAlert]


def test_after_the_alert_is_resolved_a_duress_resume_raises_a_new_alert() -> None:
    """Once the server reports the panic's alert resolved, a duress resume raises a fresh alert."""
    paused, _ = step_participant(active(), signal("panic"), now=1.0)
    assert paused.alert_id is not None
    forgot = note_alert_resolved(paused, paused.alert_id)
    assert forgot.alert_id is None and forgot.paused == "panic"
    assert note_alert_resolved(paused, "alert_other") == paused
    _, effects = step_participant(forgot, signal("duress_resume"), now=2.0)
    assert [type(effect) for effect in effects] == [OpenGate, RaiseAlert, EscalateAlert]


def test_a_duplicate_signal_changes_nothing() -> None:
    """A signal id already processed returns the same state and no effects."""
    panic = signal("panic")
    state, _ = step_participant(active(), panic, now=1.0)
    resumed, _ = step_participant(state, signal("resume"), now=2.0)
    again, effects = step_participant(resumed, panic, now=3.0)
    assert again is resumed
    assert effects == ()


def test_seen_ids_are_bounded() -> None:
    """A participant remembers only the last SEEN_IDS_LIMIT signal ids, oldest dropped first."""
    state = active()
    sent = [signal("resume") for _ in range(SEEN_IDS_LIMIT + 5)]
    for each in sent:
        state, _ = step_participant(state, each, now=1.0)
    assert state.seen == tuple(each.id for each in sent[-SEEN_IDS_LIMIT:])


def test_impossible_states_are_rejected() -> None:
    """A state that the machine could never reach cannot be built."""
    with pytest.raises(ValueError, match="pause began"):
        ParticipantState(participant=WHO, paused="panic")
    with pytest.raises(ValueError, match="open alert"):
        ParticipantState(participant=WHO, paused="step_away", paused_at=1.0, alert_id="alert_x")
    with pytest.raises(ValueError, match="participant"):
        ParticipantState(participant="")


def test_a_time_that_is_not_finite_is_rejected() -> None:
    """The current time must be a finite number of seconds."""
    with pytest.raises(ValueError, match="current time"):
        step_participant(active(), signal("panic"), now=float("nan"))

"""Unit tests for the per-alert state machine."""

from __future__ import annotations

import pytest

from signals import (
    DEFAULT_ESCALATE_AFTER_S,
    Acknowledged,
    AlertState,
    Delivered,
    DuressResumed,
    Escalate,
    Resolved,
    Tick,
    next_deadline,
    step_alert,
)

ALERT = "alert_1"


def raised(at: float = 100.0, escalate_after: float = DEFAULT_ESCALATE_AFTER_S) -> AlertState:
    """Return a panic alert raised at the given time."""
    return AlertState(
        alert_id=ALERT, participant="p1", kind="panic", raised_at=at, escalate_after=escalate_after
    )


def test_the_default_escalation_delay_is_fifteen_seconds() -> None:
    """An alert escalates 15 s after it is raised unless configured otherwise."""
    assert raised().escalate_after == 15.0
    assert next_deadline(raised(at=100.0)) == 115.0


def test_delivery_records_every_recipient() -> None:
    """Each console that confirms receipt is recorded, and the alert becomes delivered."""
    state, effects = step_alert(raised(), Delivered(to="console-a"), now=101.0)
    state, _ = step_alert(state, Delivered(to="console-b"), now=101.5)
    assert effects == ()
    assert state.progress == "delivered"
    assert state.delivered_to == {"console-a", "console-b"}


def test_acknowledgement_stops_the_escalation_clock() -> None:
    """Once a person acknowledges, there is no deadline and ticks never escalate."""
    state, _ = step_alert(raised(), Delivered(to="console-a"), now=101.0)
    state, _ = step_alert(state, Acknowledged(by="facilitator-1"), now=105.0)
    assert (state.progress, state.acknowledged_by, state.acknowledged_at) == (
        "acknowledged",
        ("facilitator-1",),
        105.0,
    )
    assert next_deadline(state) is None
    state, effects = step_alert(state, Tick(), now=1000.0)
    assert effects == ()
    assert not state.escalated


def test_unacknowledged_alerts_escalate_exactly_once() -> None:
    """A tick at the deadline escalates as unacknowledged, and later ticks do not again."""
    state, effects = step_alert(raised(), Tick(), now=114.9)
    assert effects == ()
    state, effects = step_alert(state, Tick(), now=115.0)
    assert effects == (Escalate(alert_id=ALERT, reason="unacknowledged"),)
    assert next_deadline(state) is None
    state, effects = step_alert(state, Tick(), now=200.0)
    assert effects == ()
    assert state.escalations == ("unacknowledged",)


def test_any_late_input_escalates_before_it_applies() -> None:
    """Time passes with every input, so a late acknowledgement still follows the escalation."""
    state, effects = step_alert(raised(), Acknowledged(by="facilitator-1"), now=130.0)
    assert effects == (Escalate(alert_id=ALERT, reason="unacknowledged"),)
    assert state.progress == "acknowledged"


def test_the_escalation_delay_is_configurable() -> None:
    """The escalation delay lives in the state and moves the deadline."""
    state = raised(at=0.0, escalate_after=3.0)
    assert next_deadline(state) == 3.0
    _, effects = step_alert(state, Tick(), now=3.0)
    assert effects == (Escalate(alert_id=ALERT, reason="unacknowledged"),)


def test_an_escalated_alert_can_still_be_acknowledged_and_resolved() -> None:
    """Escalation is tracked apart from progress: the alert still moves on to resolved."""
    state, _ = step_alert(raised(), Tick(), now=120.0)
    state, _ = step_alert(state, Acknowledged(by="lead-1"), now=121.0)
    state, _ = step_alert(state, Resolved(by="lead-1"), now=122.0)
    assert (state.progress, state.escalated, state.resolved_by, state.resolved_at) == (
        "resolved",
        True,
        "lead-1",
        122.0,
    )


def test_duress_escalates_even_after_acknowledgement_and_keeps_the_alert_open() -> None:
    """A duress resume escalates an acknowledged alert, silently, and the alert stays open."""
    state, _ = step_alert(raised(), Acknowledged(by="facilitator-1"), now=101.0)
    state, effects = step_alert(state, DuressResumed(), now=102.0)
    assert effects == (Escalate(alert_id=ALERT, reason="duress"),)
    assert state.is_open
    assert state.progress == "acknowledged"


def test_every_duress_resume_escalates_but_unacknowledged_only_once() -> None:
    """Each duress resume escalates again; the unacknowledged escalation fires only once."""
    state, _ = step_alert(raised(), DuressResumed(), now=101.0)
    state, effects = step_alert(state, DuressResumed(), now=102.0)
    assert effects == (Escalate(alert_id=ALERT, reason="duress"),)
    state, effects = step_alert(state, Tick(), now=115.0)
    assert effects == (Escalate(alert_id=ALERT, reason="unacknowledged"),)
    state, effects = step_alert(state, Tick(), now=130.0)
    assert effects == ()
    assert state.escalations == ("duress", "duress", "unacknowledged")


def test_resolving_without_acknowledging_counts_as_acknowledging() -> None:
    """A person who resolves an alert directly is recorded as having acknowledged it."""
    state, _ = step_alert(raised(), Resolved(by="lead-1"), now=101.0)
    assert (state.acknowledged_by, state.acknowledged_at) == (("lead-1",), 101.0)


def test_a_resolved_alert_ignores_everything() -> None:
    """After resolution, no input changes the alert or produces an effect."""
    state, _ = step_alert(raised(), Resolved(by="lead-1"), now=101.0)
    for event in (
        Tick(),
        DuressResumed(),
        Delivered(to="c"),
        Acknowledged(by="x"),
        Resolved(by="y"),
    ):
        after, effects = step_alert(state, event, now=500.0)
        assert after is state
        assert effects == ()
    assert next_deadline(state) is None


def test_several_people_can_acknowledge() -> None:
    """Every person who acknowledges is recorded once, and the first time is kept."""
    state, _ = step_alert(raised(), Acknowledged(by="a"), now=101.0)
    state, _ = step_alert(state, Acknowledged(by="b"), now=102.0)
    state, _ = step_alert(state, Acknowledged(by="a"), now=103.0)
    assert (state.acknowledged_by, state.acknowledged_at) == (("a", "b"), 101.0)


def test_impossible_alert_states_are_rejected() -> None:
    """A state the machine could never reach cannot be built."""
    with pytest.raises(ValueError, match="positive"):
        raised(escalate_after=0.0)
    with pytest.raises(ValueError, match="acknowledged"):
        AlertState(
            alert_id=ALERT, participant="p", kind="panic", raised_at=0.0, progress="acknowledged"
        )
    with pytest.raises(ValueError, match="at most once"):
        AlertState(
            alert_id=ALERT,
            participant="p",
            kind="panic",
            raised_at=0.0,
            escalations=("unacknowledged", "unacknowledged"),
        )
    with pytest.raises(ValueError, match="recipient"):
        Delivered(to="")

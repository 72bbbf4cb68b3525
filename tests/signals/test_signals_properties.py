"""Property tests (hypothesis) for the participant and alert state machines run together."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from signals import (
    PAUSE_KINDS,
    SIGNAL_KINDS,
    Acknowledged,
    AlertInput,
    AlertState,
    CloseGate,
    Delivered,
    DuressResumed,
    Effect,
    Escalate,
    EscalateAlert,
    OpenGate,
    ParticipantState,
    RaiseAlert,
    Resolved,
    Signal,
    SignalKind,
    SignalSource,
    Tick,
    next_deadline,
    note_alert_resolved,
    step_alert,
    step_participant,
)

WHO = "participant-1"

# A step is a signal kind, or an input for one of the alerts raised so far (picked by number).
Step = SignalKind | tuple[int, AlertInput]

alert_inputs: st.SearchStrategy[AlertInput] = st.one_of(
    st.builds(Delivered, to=st.sampled_from(["console-a", "console-b"])),
    st.builds(Acknowledged, by=st.sampled_from(["facilitator-1", "lead-1"])),
    st.builds(Resolved, by=st.sampled_from(["facilitator-1", "lead-1"])),
    st.just(Tick()),
    st.just(DuressResumed()),
)
step_choices: st.SearchStrategy[Step] = st.one_of(
    st.sampled_from(SIGNAL_KINDS), st.tuples(st.integers(0, 5), alert_inputs)
)
scripts = st.lists(st.tuples(step_choices, st.floats(0.0, 30.0)), max_size=40)


def make_signal(kind: SignalKind, number: int) -> Signal:
    """Build a signal of this kind whose id is unique to its number."""
    source: SignalSource = "facilitator" if kind == "facilitator_pause" else "keys"
    return Signal(id=f"sig-{number:08d}", kind=kind, source=source, at=0.0)


@dataclass
class Server:
    """A minimal stand-in for the server: it carries out effects as docs/signals.md says."""

    participant: ParticipantState = field(default_factory=lambda: ParticipantState(WHO))
    alerts: dict[str, AlertState] = field(default_factory=dict)
    gate_open: bool = True
    escalations: list[Escalate] = field(default_factory=list)
    now: float = 0.0
    sent: int = 0

    def signal(self, kind: SignalKind) -> tuple[Effect, ...]:
        """Send a new signal of this kind, step the participant and carry out its effects."""
        self.sent += 1
        return self.deliver(make_signal(kind, self.sent))

    def deliver(self, signal: Signal) -> tuple[Effect, ...]:
        """Step the participant with this signal and carry out its effects, in order."""
        self.participant, effects = step_participant(self.participant, signal, self.now)
        for effect in effects:
            match effect:
                case CloseGate():
                    self.gate_open = False
                case OpenGate():
                    self.gate_open = True
                case RaiseAlert(alert_id=alert_id, participant=who, kind=kind):
                    self.alerts[alert_id] = AlertState(alert_id, who, kind, raised_at=self.now)
                case EscalateAlert(alert_id=alert_id):
                    self.alert(alert_id, DuressResumed())
        return effects

    def alert(self, alert_id: str, event: AlertInput) -> None:
        """Step one alert, record its escalations, and report a resolution to the participant."""
        state, effects = step_alert(self.alerts[alert_id], event, self.now)
        self.alerts[alert_id] = state
        self.escalations.extend(effects)
        if not state.is_open:
            self.participant = note_alert_resolved(self.participant, alert_id)

    def play(self, step: Step, delay: float) -> None:
        """Let time pass, then send the signal or the alert input."""
        self.now += delay
        if isinstance(step, tuple):
            number, event = step
            if self.alerts:
                ids = list(self.alerts)
                self.alert(ids[number % len(ids)], event)
        else:
            self.signal(step)

    def run(self, script: list[tuple[Step, float]]) -> None:
        """Play a whole script."""
        for step, delay in script:
            self.play(step, delay)


@settings(max_examples=300)
@given(scripts)
def test_only_a_resume_or_duress_resume_makes_a_participant_active(
    script: list[tuple[Step, float]],
) -> None:
    """Every change from paused to active is caused by a resume or a duress resume."""
    server = Server()
    for step, delay in script:
        was_paused = not server.participant.active
        server.play(step, delay)
        if was_paused and server.participant.active:
            assert step in ("resume", "duress_resume")
        assert server.gate_open == server.participant.active


@settings(max_examples=300)
@given(scripts, st.sampled_from(PAUSE_KINDS), st.lists(st.sampled_from(PAUSE_KINDS), max_size=10))
def test_once_paused_nothing_but_a_resume_un_pauses(
    script: list[tuple[Step, float]], pause: SignalKind, more: list[SignalKind]
) -> None:
    """After a pause, no other pause and no alert input (tick, ack, resolution) un-pauses."""
    server = Server()
    server.run(script)
    server.signal(pause)
    for kind in more:
        server.signal(kind)
        for alert_id in list(server.alerts):
            for event in (Tick(), Acknowledged(by="x"), Resolved(by="x")):
                server.alert(alert_id, event)
        assert not server.participant.active
        assert not server.gate_open


@settings(max_examples=300)
@given(scripts)
def test_an_alert_is_never_dropped(script: list[tuple[Step, float]]) -> None:
    """Every alert stays in the state with its identity and history; only resolution closes it."""
    server = Server()
    for step, delay in script:
        before = dict(server.alerts)
        server.play(step, delay)
        for alert_id, old in before.items():
            new = server.alerts[alert_id]
            assert (new.alert_id, new.kind, new.raised_at) == (
                old.alert_id,
                old.kind,
                old.raised_at,
            )
            assert new.escalations[: len(old.escalations)] == old.escalations
            assert old.is_open or new == old


@settings(max_examples=300)
@given(scripts, st.floats(0.0, 30.0))
def test_a_duress_resume_always_escalates(script: list[tuple[Step, float]], delay: float) -> None:
    """Whatever came before, a duress resume escalates an open alert for duress."""
    server = Server()
    server.run(script)
    server.now += delay
    before = len(server.escalations)
    effects = server.signal("duress_resume")
    escalated = [effect for effect in effects if isinstance(effect, EscalateAlert)]
    assert len(escalated) == 1
    alert_id = escalated[0].alert_id
    assert Escalate(alert_id, "duress") in server.escalations[before:]
    assert server.alerts[alert_id].is_open


@settings(max_examples=300)
@given(scripts, st.sampled_from(SIGNAL_KINDS), st.lists(st.tuples(step_choices, st.floats(0, 30))))
def test_duplicates_of_a_signal_change_nothing(
    script: list[tuple[Step, float]], kind: SignalKind, between: list[tuple[Step, float]]
) -> None:
    """The same signal sent again, even after other signals, leaves the state as it is, silently."""
    server = Server()
    server.run(script)
    original = make_signal(kind, 1_000_000)
    server.deliver(original)
    server.run(between)
    state = server.participant
    assert server.deliver(original) == ()
    assert server.participant == state


@settings(max_examples=300)
@given(st.lists(alert_inputs, max_size=30), st.floats(1.0, 60.0))
def test_an_unacknowledged_alert_escalates_exactly_once(
    events: list[AlertInput], escalate_after: float
) -> None:
    """Ticks at the deadline escalate as unacknowledged once, unless acknowledged in time."""
    state = AlertState("alert_1", WHO, "panic", raised_at=0.0, escalate_after=escalate_after)
    now = 0.0
    reasons: list[str] = []
    for event in [*events, Tick(), Tick()]:
        deadline = next_deadline(state)
        if isinstance(event, Tick) and deadline is not None:
            now = max(now, deadline)
        state, effects = step_alert(state, event, now)
        reasons.extend(effect.reason for effect in effects)
    acked_in_time = state.acknowledged_at is not None and state.acknowledged_at < escalate_after
    assert reasons.count("unacknowledged") == (0 if acked_in_time else 1)

"""Safety signals end to end: parse, close the gate, commit, then alert, escalate and resume.

The order matters. A pause closes the relay's gate the moment it is read (closing is idempotent
and safe), then the signal and all its consequences are committed in one transaction, and only
then is anyone told: the client's acknowledgement, the facilitators' alert, the webhook outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from server.auth.passwords import Passwords
from server.auth.tokens import token_hash
from server.config import Config
from server.errors import BadRequest, NotFound, Unauthorized, Unavailable
from server.hub import Hub
from server.models import Alert, Invite, Participant, Service, Session, User
from server.sessions import PIN, clean_text
from server.store import NewEvent, SignalWrite, StaleRead, Store, WebhookBody
from signals import (
    Acknowledged,
    AlertInput,
    AlertState,
    CloseGate,
    Delivered,
    DuressResumed,
    Escalate,
    EscalateAlert,
    NotifyStepAway,
    OpenGate,
    ParticipantState,
    RaiseAlert,
    Resolved,
    Signal,
    SignalKind,
    SignalSource,
    Tick,
    matches_safe_word,
    next_deadline,
    note_alert_resolved,
    step_alert,
    step_participant,
)
from signals.kinds import SIGNAL_SOURCES

log = logging.getLogger(__name__)

Channel = Literal["socket", "http", "beacon", "chat", "spoken", "console", "embed"]
CLIENT_KINDS: frozenset[str] = frozenset({"panic", "step_away", "resume"})
STALE_RETRIES = 5  # decisions taken again when the pause state changed under a signal


class Gate(Protocol):
    """The relay's pause gate: closing and opening are synchronous and idempotent."""

    def pause(self, participant_id: str) -> None:
        """Stop all media to and from the participant now."""

    def resume(self, participant_id: str) -> None:
        """Let the participant's media flow again, from a fresh keyframe."""


class NoGate:
    """A gate for processes without a relay (command-line tools)."""

    def pause(self, participant_id: str) -> None:
        """Do nothing."""

    def resume(self, participant_id: str) -> None:
        """Do nothing."""


@dataclass(frozen=True)
class Subject:
    """Who sent a signal, as far as their token tells, and in which authorisation state."""

    id: str
    service: Service
    session: Session
    invite: Invite
    participant: Participant | None
    auth_state: str

    @property
    def service_id(self) -> str:
        """The id of the service the subject belongs to."""
        return self.service.id


@dataclass(frozen=True)
class Receipt:
    """What the sender is told once the signal is durable."""

    signal_id: str
    duplicate: bool

    def ack(self) -> dict[str, Any]:
        """Return the acknowledgement sent back to the page."""
        return {"ok": True, "id": self.signal_id, "duplicate": self.duplicate}


@dataclass(frozen=True)
class ParsedSignal:
    """A client's signal as read from untrusted input, with any problems noted, not refused."""

    signal: Signal
    pin: str | None
    problems: tuple[str, ...]


def parse_client_signal(raw: object, now: float) -> ParsedSignal:
    """Read a signal from a page; refuse it only if its intent (the kind) cannot be read."""
    if not isinstance(raw, dict):
        raise BadRequest("A signal must be a JSON object with at least a kind.")
    kind = raw.get("kind")
    if kind not in CLIENT_KINDS:
        raise BadRequest("A signal's kind is panic, step_away or resume.")
    problems = []
    signal_id = raw.get("id")
    if (
        not isinstance(signal_id, str)
        or not 8 <= len(signal_id) <= 64
        or not all(c.isascii() and (c.isalnum() or c in "-_") for c in signal_id)
    ):
        problems.append("missing_or_invalid_id")
        signal_id = f"srv_{secrets.token_urlsafe(12)}"
    source = raw.get("source")
    if source not in SIGNAL_SOURCES or source == "facilitator":
        problems.append("unknown_source")
        source = "control"
    unknown = set(raw) - {"id", "kind", "source", "pin", "at"}
    if unknown:
        problems.append("unknown_fields")
    pin = raw.get("pin")
    if pin is not None and not isinstance(pin, str):
        problems.append("invalid_pin")
        pin = None
    signal = Signal(id=signal_id, kind=_kind(kind), source=_source(source), at=now)
    return ParsedSignal(signal, pin, tuple(problems))


class Safety:
    """Receive safety signals, keep alerts moving, and escalate the ones nobody answers."""

    def __init__(
        self,
        store: Store,
        hub: Hub,
        passwords: Passwords,
        config: Config,
        gate: Gate,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._hub = hub
        self._passwords = passwords
        self._config = config
        self.gate = gate
        self._clock = clock
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._subject_locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}
        self.on_alert_delivered: Callable[[Alert, float], None] | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Re-apply closed gates and re-arm escalation timers for every open alert in the store."""
        for alert in await self._store.open_alerts():
            self._arm(alert)

    async def stop(self) -> None:
        """Cancel the timers; open alerts stay in the store for the next start."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- who is signalling ----------------------------------------------------------------------

    async def subject_for_token(self, token: object) -> Subject:
        """Find who a participant or invite token belongs to, whatever their state."""
        if not isinstance(token, str) or not 16 <= len(token) <= 128:
            raise Unauthorized("This link is not valid any more.")
        holder = await self._store.token_holder(token_hash(token))
        if holder is None:
            raise Unauthorized("This link is not valid any more.")
        participant, invite, session = holder.participant, holder.invite, holder.session
        if session.ended_at is not None:
            state = "session_ended"
        elif participant is not None:
            state = participant.status
        elif invite.revoked_at is not None or invite.used_at is not None:
            state = "invite_spent"
        elif invite.expires_at < self._clock():
            state = "invite_expired"
        else:
            state = "not_joined"
        subject_id = participant.id if participant else invite.id
        return Subject(subject_id, holder.service, session, invite, participant, state)

    async def subject_for_participant(self, participant_id: str) -> Subject:
        """Find the subject for a known participant id."""
        holder = await self._store.participant_holder(participant_id)
        if holder is None or holder.participant is None:
            raise NotFound("There is no such client in this session.")
        session = holder.session
        state = "session_ended" if session.ended_at is not None else holder.participant.status
        return Subject(
            participant_id, holder.service, session, holder.invite, holder.participant, state
        )

    # -- signals --------------------------------------------------------------------------------

    async def receive(self, subject: Subject, raw: object, channel: Channel) -> Receipt:
        """Take a client's signal from any channel; the same id through several gives one record."""
        now = self._clock()
        parsed = parse_client_signal(raw, now)
        signal = parsed.signal
        if signal.kind in ("panic", "step_away"):
            self.gate.pause(subject.id)  # before anything else: media stops now
        elif signal.kind == "resume":
            signal = await self._check_resume(subject, signal, parsed.pin)
        return await self._apply(subject, signal, channel, parsed.problems, now)

    async def spoken(self, participant_id: str, score: float) -> Receipt:
        """Take a detection of a client's spoken safe phrase (kind panic, source spoken)."""
        subject = await self.subject_for_participant(participant_id)
        self.gate.pause(subject.id)
        now = self._clock()
        signal = Signal(f"spk_{secrets.token_urlsafe(12)}", "panic", "spoken", now)
        return await self._apply(subject, signal, "spoken", (), now, {"score": score})

    async def facilitator_pause(self, session: Session, user: User, participant_id: str) -> Receipt:
        """Pause a client from the console; only the client can ever resume."""
        subject = await self.subject_for_participant(participant_id)
        if subject.session.id != session.id:
            raise NotFound("There is no such client in this session.")
        self.gate.pause(subject.id)
        now = self._clock()
        signal = Signal(f"fac_{secrets.token_urlsafe(12)}", "facilitator_pause", "facilitator", now)
        return await self._apply(subject, signal, "console", (), now, actor=f"user:{user.id}")

    async def chat(self, subject: Subject, text: object, message_id: object) -> str | None:
        """Return the text to relay, or None: it held the safe word and is now a panic signal."""
        body = clean_text(text, field="The message", max_len=2000, allow_empty=False)
        if not subject.invite.safe_word or not matches_safe_word(body, subject.invite.safe_word):
            return body
        raw = {"id": message_id, "kind": "panic", "source": "typed"}
        await self.receive(subject, raw, "chat")
        return None

    async def _check_resume(self, subject: Subject, signal: Signal, pin: str | None) -> Signal:
        """Turn a resume into a duress resume if the duress PIN was given; refuse a wrong PIN."""
        invite = subject.invite
        given = pin if pin and PIN.match(pin) else ""
        # Check both PINs every time, so a duress resume takes as long as a normal one.
        duress = bool(given) and self._passwords.verify(invite.duress_pin_hash, given)
        normal = bool(given) and self._passwords.verify(invite.pin_hash, given)
        if duress:
            return replace(signal, kind="duress_resume")
        if invite.pin_hash is None or normal:
            return signal
        await self._store.append(
            NewEvent(
                "invite.pin_failed",
                subject.service_id,
                subject.session.id,
                f"participant:{subject.id}",
                {"during": "resume"},
            )
        )
        raise Unauthorized("That PIN is not right.")

    async def _apply(
        self,
        subject: Subject,
        signal: Signal,
        channel: Channel,
        problems: tuple[str, ...],
        now: float,
        extra: dict[str, Any] | None = None,
        actor: str | None = None,
    ) -> Receipt:
        # The commit itself finds a duplicate (the signal id is unique per subject) and a pause
        # state that changed after it was read (another signal, on this node or another): then
        # the signal is decided again on the state as it is now.
        async with self._one_at_a_time(subject.id):
            participant = subject.participant
            for _ in range(STALE_RETRIES):
                try:
                    return await self._decide_and_commit(
                        subject, participant, signal, channel, problems, now, extra or {}, actor
                    )
                except StaleRead:
                    participant = await self._store.participant(subject.id)
        raise Unavailable("The signal could not be recorded just now. Please try again.")

    @contextlib.asynccontextmanager
    async def _one_at_a_time(self, subject_id: str) -> AsyncIterator[None]:
        """Serialise the signals of one subject; other clients' signals do not wait for them."""
        lock, users = self._subject_locks.setdefault(subject_id, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                del self._subject_locks[subject_id]

    async def _decide_and_commit(
        self,
        subject: Subject,
        read: Participant | None,
        signal: Signal,
        channel: Channel,
        problems: tuple[str, ...],
        now: float,
        extra: dict[str, Any],
        actor: str | None,
    ) -> Receipt:
        participant = read
        state = _participant_state(subject.id, participant)
        new_state, effects = step_participant(state, signal, now)
        who = actor or f"participant:{subject.id}"
        ctx = (subject.service_id, subject.session.id, who)
        events = [
            _event(
                "signal.received",
                ctx,
                {
                    "signal": signal.id,
                    "kind": signal.kind,
                    "source": signal.source,
                    "channel": channel,
                    "auth_state": subject.auth_state,
                    "problems": list(problems),
                    **extra,
                },
            )
        ]
        alerts: list[Alert] = []
        webhooks: list[WebhookBody] = []
        escalations: list[tuple[Alert, Escalate]] = []
        for effect in effects:
            if isinstance(effect, CloseGate):
                events.append(
                    _event(
                        "participant.paused",
                        ctx,
                        {"participant": subject.id, "reason": new_state.paused},
                    )
                )
                events.append(_event("gate.closed", ctx, {"participant": subject.id}))
            elif isinstance(effect, OpenGate):
                events.append(
                    _event(
                        "participant.resumed",
                        ctx,
                        {"participant": subject.id, "duress": signal.kind == "duress_resume"},
                    )
                )
                events.append(_event("gate.opened", ctx, {"participant": subject.id}))
            elif isinstance(effect, RaiseAlert):
                raised = Alert(
                    subject.service_id,
                    subject.session.id,
                    signal.id,
                    signal.source,
                    AlertState(
                        effect.alert_id, subject.id, effect.kind, now, self._config.escalate_after_s
                    ),
                )
                alerts.append(raised)
                events.append(
                    _event(
                        "alert.raised",
                        ctx,
                        {"alert": raised.id, "kind": effect.kind, "source": signal.source},
                    )
                )
            elif isinstance(effect, EscalateAlert):
                found = next((a for a in alerts if a.id == effect.alert_id), None)
                found = found or await self._store.alert(effect.alert_id)
                if found is None:
                    continue
                stepped, more = step_alert(found.state, DuressResumed(), now)
                escalated = replace(found, state=stepped)
                alerts = [a for a in alerts if a.id != escalated.id] + [escalated]
                for escalate in more:
                    escalations.append((escalated, escalate))
                    events.append(
                        _event(
                            "alert.escalated",
                            ctx,
                            {"alert": escalated.id, "reason": escalate.reason},
                        )
                    )
                    webhooks.append(
                        self._webhook(escalated, "alert.escalated", escalate.reason, now)
                    )
        if any(isinstance(e, CloseGate) for e in effects):
            webhooks.append(self._webhook_paused(subject, signal, now))
        if any(isinstance(e, OpenGate) for e in effects):
            webhooks.append(self._webhook_resumed(subject, signal, now))
        webhooks.insert(0, self._webhook_signal(subject, signal, channel, now))
        if participant is not None:
            participant = replace(
                participant,
                paused_reason=new_state.paused,
                paused_at=new_state.paused_at,
                alert_id=new_state.alert_id,
            )
        write = SignalWrite(
            subject_id=subject.id,
            signal_id=signal.id,
            kind=signal.kind,
            source=signal.source,
            channel=channel,
            received_at=now,
            participant=participant,
            participant_read=read,
            alerts=alerts,
            webhooks=webhooks,
            events=events,
        )
        if not await self._store.record_signal(write):
            return Receipt(signal.id, duplicate=True)
        if self._config.test_fault == "kill_after_commit":
            os.kill(os.getpid(), 9)  # the test suite's crash between commit and acknowledgement
        log.info("Signal %s recorded (%s via %s)", signal.kind, signal.source, channel)
        await self._carry_out(subject, participant, effects, alerts, escalations, new_state)
        return Receipt(signal.id, duplicate=False)

    async def _carry_out(
        self,
        subject: Subject,
        participant: Participant | None,
        effects: tuple[object, ...],
        alerts: list[Alert],
        escalations: list[tuple[Alert, Escalate]],
        state: ParticipantState,
    ) -> None:
        session_id = subject.session.id
        for effect in effects:
            if isinstance(effect, OpenGate):
                self.gate.resume(subject.id)
        for alert in alerts:  # the alert first: it is what a person must see soonest
            await self._publish(alert, subject, participant)
            self._arm(alert)
        paused = state.paused is not None
        status = {"participant_id": subject.id, "paused": paused, "reason": state.paused}
        await self._hub.to_session_staff(session_id, "participant_state", status)
        # Other clients learn only that someone stepped away, never why.
        await self._hub.to_session_clients(
            session_id, "peer_state", {"participant_id": subject.id, "away": paused}
        )
        await self._hub.to_participant(subject.id, "paused", {"paused": paused})
        if any(isinstance(e, NotifyStepAway) for e in effects):
            log.debug("Participant stepped away")
        for alert, escalate in escalations:
            await self._announce_escalation(alert, escalate)

    async def _announce_escalation(self, alert: Alert, escalate: Escalate) -> None:
        """Tell every lead on duty (with the full alert) and the session's staff."""
        note = {"alert_id": alert.id, "reason": escalate.reason}
        await self._to_audience(alert, "alert", await self.alert_message(alert))
        await self._to_audience(alert, "alert_escalated", note)

    async def _to_audience(
        self, alert: Alert, event: str, data: dict[str, Any], session: Session | None = None
    ) -> None:
        """Send to the session's facilitators (watching it or not) and the leads on duty, once."""
        session = session or await self._store.session(alert.session_id)
        facilitators = session.facilitator_ids if session else ()
        await self._hub.to_alert_audience(
            alert.session_id, facilitators, alert.service_id, event, data
        )

    # -- alerts ---------------------------------------------------------------------------------

    async def alert_message(self, alert: Alert) -> dict[str, Any]:
        """Return what a console shows for an alert: who, how, the safety plan and the protocol."""
        participant = await self._store.participant(alert.state.participant)
        invite = (
            await self._store.invite(participant.invite_id)
            if participant
            else await self._store.invite(alert.state.participant)
        )
        service = await self._store.service(alert.service_id)
        session = await self._store.session(alert.session_id)
        return _alert_view(alert, session, participant, invite, service)

    async def _publish(
        self, alert: Alert, subject: Subject, participant: Participant | None
    ) -> None:
        """Send a new alert, built from what the signal path already holds (no read)."""
        message = _alert_view(alert, subject.session, participant, subject.invite, subject.service)
        await self._to_audience(alert, "alert", message, subject.session)

    async def visible_alerts(self, user: User) -> list[Alert]:
        """Return the open alerts a console should show: its sessions', or all for a lead."""
        alerts = await self._store.open_alerts(service_id=user.service_id)
        if user.role in ("lead", "admin"):
            return alerts
        mine = []
        for alert in alerts:
            session = await self._store.session(alert.session_id)
            if session and user.id in session.facilitator_ids:
                mine.append(alert)
        return mine

    async def alert_for(self, alert_id: object, user: User) -> Alert:
        """Return an alert the account may act on."""
        if not isinstance(alert_id, str):
            raise BadRequest("The field alert_id must be text.")
        alert = await self._store.alert(alert_id)
        if alert is None or alert.service_id != user.service_id:
            raise NotFound("There is no such alert.")
        if user.role not in ("lead", "admin"):
            session = await self._store.session(alert.session_id)
            if session is None or user.id not in session.facilitator_ids:
                raise NotFound("There is no such alert.")
        return alert

    async def delivered(self, alert_id: object, user: User) -> None:
        """A console confirms it received the alert."""
        alert = await self.alert_for(alert_id, user)
        await self._step(alert, Delivered(f"user:{user.id}"), "alert.delivered", user)
        if self.on_alert_delivered is not None:
            self.on_alert_delivered(alert, self._clock())

    async def acknowledge(
        self, alert_id: object, user: User, *, actor: str | None = None
    ) -> Alert:
        """A person acknowledges the alert: it will not escalate for want of an answer."""
        alert = await self.alert_for(alert_id, user)
        who = actor or f"user:{user.id}"
        return await self._step(
            alert, Acknowledged(who), "alert.acknowledged", user, actor=actor
        )

    async def resolve(self, alert_id: object, user: User, *, actor: str | None = None) -> Alert:
        """Close the alert."""
        alert = await self.alert_for(alert_id, user)
        who = actor or f"user:{user.id}"
        resolved = await self._step(alert, Resolved(who), "alert.resolved", user, actor=actor)
        participant = await self._store.participant(alert.state.participant)
        if participant is not None and participant.alert_id == alert.id:
            state = note_alert_resolved(_participant_state(participant.id, participant), alert.id)
            await self._store.save_participant_pause(replace(participant, alert_id=state.alert_id))
        return resolved

    async def add_note(self, alert_id: object, user: User, text: object) -> None:
        """Add a facilitator's note to the alert's record."""
        alert = await self.alert_for(alert_id, user)
        note = clean_text(text, field="The note", max_len=4000, allow_empty=False)
        await self._store.append(
            NewEvent(
                "note.added",
                alert.service_id,
                alert.session_id,
                f"user:{user.id}",
                {"alert": alert.id, "note": note},
            )
        )
        await self._to_audience(alert, "alert_note", {"alert_id": alert.id})

    async def _step(
        self,
        alert: Alert,
        event: AlertInput,
        event_type: Any,
        user: User | None,
        *,
        actor: str | None = None,
    ) -> Alert:
        now = self._clock()
        state, effects = step_alert(alert.state, event, now)
        if state == alert.state and not effects:
            return alert
        updated = replace(alert, state=state)
        actor = actor or (f"user:{user.id}" if user else "system")
        ctx = (alert.service_id, alert.session_id, actor)
        events = []
        if event_type:
            events.append(_event(event_type, ctx, {"alert": alert.id}))
        webhooks = []
        for escalate in effects:
            events.append(
                _event("alert.escalated", ctx, {"alert": alert.id, "reason": escalate.reason})
            )
            webhooks.append(self._webhook(updated, "alert.escalated", escalate.reason, now))
        if isinstance(event, Acknowledged):
            webhooks.append(self._webhook(updated, "alert.acknowledged", None, now))
        await self._store.save_alert(updated, events, webhooks)
        await self._to_audience(updated, "alert_update", await self.alert_message(updated))
        for escalate in effects:
            await self._announce_escalation(updated, escalate)
        self._arm(updated)
        return updated

    def _arm(self, alert: Alert) -> None:
        """Schedule the escalation tick for an alert (replacing any earlier timer)."""
        old = self._timers.pop(alert.id, None)
        if old is not None:
            old.cancel()
        deadline = next_deadline(alert.state)
        if deadline is None or not alert.state.is_open:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, deadline - self._clock())
        self._timers[alert.id] = loop.call_later(delay, self._spawn_tick, alert.id)

    def _spawn_tick(self, alert_id: str) -> None:
        self._timers.pop(alert_id, None)
        task = asyncio.create_task(self.tick(alert_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def tick(self, alert_id: str) -> None:
        """Let time pass for one alert: escalate it if nobody acknowledged it in time."""
        try:
            alert = await self._store.alert(alert_id)
            if alert is not None and alert.state.is_open:
                await self._step(alert, Tick(), None, None)
        except Exception:
            log.exception("Escalation check failed; retrying in a second")
            loop = asyncio.get_running_loop()
            self._timers[alert_id] = loop.call_later(1.0, self._spawn_tick, alert_id)

    # -- webhooks -------------------------------------------------------------------------------

    def _webhook(
        self, alert: Alert, event_type: str, reason: str | None, now: float
    ) -> WebhookBody:
        data = {
            "alert_id": alert.id,
            "session_id": alert.session_id,
            "kind": alert.state.kind,
            "source": alert.source,
            "raised_at": alert.state.raised_at,
        }
        if reason:
            data["reason"] = reason
        suffix = f"{reason}_{len(alert.state.escalations)}" if reason else "ack"
        return WebhookBody(
            f"msg_{alert.id}_{event_type}_{suffix}", alert.service_id, event_type, data, now
        )

    def _webhook_signal(
        self, subject: Subject, signal: Signal, channel: str, now: float
    ) -> WebhookBody:
        # A duress resume is reported as a plain resume here; only alert.escalated tells.
        kind = "resume" if signal.kind == "duress_resume" else signal.kind
        return WebhookBody(
            f"msg_{subject.id}_{signal.id}_signal",
            subject.service_id,
            "signal.received",
            {
                "session_id": subject.session.id,
                "participant_id": subject.id,
                "signal_id": signal.id,
                "kind": kind,
                "source": signal.source,
                "channel": channel,
                "auth_state": subject.auth_state,
            },
            now,
        )

    def _webhook_resumed(self, subject: Subject, signal: Signal, now: float) -> WebhookBody:
        return WebhookBody(
            f"msg_{subject.id}_{signal.id}_resumed",
            subject.service_id,
            "session.resumed",
            {"session_id": subject.session.id, "participant_id": subject.id},
            now,
        )

    def _webhook_paused(self, subject: Subject, signal: Signal, now: float) -> WebhookBody:
        return WebhookBody(
            f"msg_{subject.id}_{signal.id}_paused",
            subject.service_id,
            "session.paused",
            {
                "session_id": subject.session.id,
                "participant_id": subject.id,
                "source": signal.source,
            },
            now,
        )


def _alert_view(
    alert: Alert,
    session: Session | None,
    participant: Participant | None,
    invite: Invite | None,
    service: Service | None,
) -> dict[str, Any]:
    """What a console shows for an alert, from the rows it names."""
    s = alert.state
    return {
        "alert_id": alert.id,
        "session_id": alert.session_id,
        "session_title": session.title if session else "",
        "participant_id": s.participant,
        "display_name": participant.display_name if participant else "(before joining)",
        "kind": s.kind,
        "source": alert.source,
        "raised_at": s.raised_at,
        "progress": s.progress,
        "escalated": s.escalated,
        "acknowledged_by": list(s.acknowledged_by),
        "safety_plan": invite.safety_plan if invite else "",
        "escalation_protocol": service.settings.get("escalation_protocol", "") if service else "",
    }


def _participant_state(subject_id: str, participant: Participant | None) -> ParticipantState:
    if participant is None or participant.paused_reason is None:
        return ParticipantState(subject_id)
    return ParticipantState(
        subject_id,
        participant.paused_reason,
        participant.paused_at or 0.0,
        participant.alert_id if participant.paused_reason == "panic" else None,
    )


def _event(event_type: Any, ctx: tuple[str, str, str], payload: dict[str, Any]) -> NewEvent:
    service_id, session_id, actor = ctx
    return NewEvent(event_type, service_id, session_id, actor, payload)


def _kind(value: object) -> SignalKind:
    for kind in ("panic", "step_away", "resume"):
        if kind == value:
            return kind
    raise BadRequest("A signal's kind is panic, step_away or resume.")


def _source(value: object) -> SignalSource:
    for source in SIGNAL_SOURCES:
        if source == value:
            return source
    return "control"

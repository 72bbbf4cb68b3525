"""The one store interface every caller uses; SQLite now, PostgreSQL later, same callers.

Every method that changes state takes the events that explain the change and commits both in one
transaction, so an event is durable before anything that depends on it is acknowledged.
"""

from __future__ import annotations

import json
import os
import secrets
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.models import (
    Alert,
    Checkpoint,
    Invite,
    Login,
    Participant,
    PhraseCalibration,
    Service,
    Session,
    User,
)
from server.store.chain import EventRecord
from server.store.events import NewEvent


class StoreError(Exception):
    """The store could not do what was asked; the message is safe to show."""


class StaleRead(Exception):
    """The state a write was decided on changed after it was read: nothing was written."""


class AuditKey:
    """The checkpoint key and the last checkpoint, kept in files outside the database."""

    def __init__(self, key_file: Path, head_file: Path) -> None:
        self.key_file = key_file
        self.head_file = head_file
        self.secret = self._load_or_create()

    def _load_or_create(self) -> bytes:
        if self.key_file.exists():
            return bytes.fromhex(self.key_file.read_text().strip())
        self.key_file.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_bytes(32)
        fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secret.hex())
        return secret

    def record_head(self, checkpoint: Checkpoint) -> None:
        """Write the newest checkpoint atomically, so truncation behind it is detectable."""
        tmp = self.head_file.with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump(
                {"seq": checkpoint.seq, "head_hash": checkpoint.head_hash, "mac": checkpoint.mac}, f
            )
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.head_file)

    def last_head(self) -> Checkpoint | None:
        """Return the newest checkpoint written to the head file, if any."""
        if not self.head_file.exists():
            return None
        data = json.loads(self.head_file.read_text())
        return Checkpoint(int(data["seq"]), str(data["head_hash"]), str(data["mac"]), 0.0)


@dataclass(frozen=True)
class WebhookBody:
    """A webhook to deliver from the durable outbox (Standard Webhooks ``webhook-id`` = ``id``)."""

    id: str
    service_id: str
    event_type: str
    data: dict[str, Any]
    at: float


@dataclass(frozen=True)
class OutboxItem:
    """One webhook in the outbox with its delivery state."""

    id: str
    service_id: str
    event_type: str
    data: dict[str, Any]
    attempts: int
    next_attempt_at: float
    created_at: float
    delivered_at: float | None
    given_up_at: float | None
    last_error: str


@dataclass(frozen=True)
class WebhookAttempt:
    """One try at delivering an outbox item, kept so the service admin can see every attempt."""

    outbox_id: str
    attempt: int
    at: float
    status: int | None
    """The receiver's HTTP status, or None if no response came back."""
    error: str
    duration_ms: float


@dataclass(frozen=True)
class ApiKey:
    """A service's API key as stored: an id, a display prefix and scopes, never the key itself."""

    id: str
    service_id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: float
    created_by: str
    revoked_at: float | None = None


@dataclass(frozen=True)
class SignalWrite:
    """A safety signal and all its consequences, committed together or not at all."""

    subject_id: str
    signal_id: str
    kind: str
    source: str
    channel: str
    received_at: float
    participant: Participant | None
    """The participant with its new pause state, or None for a signal sent before joining."""
    participant_read: Participant | None
    """The participant as read when the signal was decided (None: not joined yet): if its pause
    state is no longer the one stored, the commit raises ``StaleRead`` and writes nothing."""
    alerts: Sequence[Alert] = ()
    webhooks: Sequence[WebhookBody] = ()
    events: Sequence[NewEvent] = field(default_factory=tuple)


@dataclass(frozen=True)
class Holder:
    """Whom a token names: the participant (once joined), their invite, session and service."""

    participant: Participant | None
    invite: Invite
    session: Session
    service: Service


def pause_read(read: Participant | None) -> tuple[str | None, float | None, str | None]:
    """The pause state a signal was decided on (reason, since, alert id): the commit's check."""
    if read is None:
        return (None, None, None)
    return (read.paused_reason, read.paused_at, read.alert_id)


class Store(ABC):
    """Durable state and the append-only event log, behind one interface."""

    @abstractmethod
    async def open(self, *, read_only: bool = False) -> None:
        """Open the database, create the schema if needed and load the log's head."""

    @abstractmethod
    async def close(self) -> None:
        """Write a final checkpoint and close the database; closing twice is harmless."""

    @abstractmethod
    async def append(self, *events: NewEvent) -> list[EventRecord]:
        """Append events durably, in order, in one transaction."""

    @abstractmethod
    async def events(
        self, *, session_id: str | None = None, after_seq: int = 0, limit: int = 10000
    ) -> list[EventRecord]:
        """Return the log's events in order, optionally for one session."""

    @abstractmethod
    async def head_seq(self) -> int:
        """Return the sequence number of the newest event, 0 while the log is empty."""

    @abstractmethod
    async def checkpoints(self) -> list[Checkpoint]:
        """Return every checkpoint, oldest first."""

    @abstractmethod
    async def create_service(self, service: Service, events: Sequence[NewEvent]) -> None:
        """Create a service."""

    @abstractmethod
    async def service(self, service_id: str) -> Service | None:
        """Return the service with this id."""

    @abstractmethod
    async def service_by_slug(self, slug: str) -> Service | None:
        """Return the service with this slug."""

    @abstractmethod
    async def update_service_settings(
        self, service_id: str, settings: dict[str, Any], events: Sequence[NewEvent] = ()
    ) -> None:
        """Replace a service's settings, with the events that record the change."""

    @abstractmethod
    async def create_user(self, user: User, events: Sequence[NewEvent]) -> None:
        """Create a staff account; raises StoreError if the email is taken."""

    @abstractmethod
    async def user(self, user_id: str) -> User | None:
        """Return the account with this id."""

    @abstractmethod
    async def user_by_email(self, email: str) -> User | None:
        """Return the account with this email."""

    @abstractmethod
    async def set_password(
        self, user_id: str, password_hash: str, events: Sequence[NewEvent]
    ) -> None:
        """Replace an account's password hash and sign it out everywhere."""

    @abstractmethod
    async def set_on_duty(self, user_id: str, on_duty: bool, events: Sequence[NewEvent]) -> None:
        """Mark a safeguarding lead on or off duty."""

    @abstractmethod
    async def login_failures_since(self, user_id: str, since: float) -> list[float]:
        """Return the times of an account's failed sign-ins since ``since``, oldest first."""

    @abstractmethod
    async def add_login_failure(self, user_id: str, at: float) -> None:
        """Record a failed sign-in and forget those older than a day."""

    @abstractmethod
    async def clear_login_failures(self, user_id: str) -> None:
        """Forget an account's failed sign-ins after a successful one."""

    @abstractmethod
    async def create_login(self, login: Login, events: Sequence[NewEvent]) -> None:
        """Store a new signed-in console."""

    @abstractmethod
    async def login(self, token_hash: str) -> Login | None:
        """Return the signed-in console with this cookie hash."""

    @abstractmethod
    async def touch_login(self, token_hash: str, now: float) -> None:
        """Record activity on a signed-in console."""

    @abstractmethod
    async def delete_login(self, token_hash: str) -> None:
        """Sign a console out."""

    @abstractmethod
    async def create_signin_link(self, token_hash: str, user_id: str, expires_at: float) -> None:
        """Store a one-time sign-in link."""

    @abstractmethod
    async def use_signin_link(self, token_hash: str, now: float) -> str | None:
        """Spend a one-time sign-in link and return its account id, or None if it is not valid."""

    @abstractmethod
    async def create_session(self, session: Session, events: Sequence[NewEvent]) -> None:
        """Create a session."""

    @abstractmethod
    async def session(self, session_id: str) -> Session | None:
        """Return the session with this id."""

    @abstractmethod
    async def sessions(self, service_id: str) -> list[Session]:
        """Return a service's sessions, newest first."""

    @abstractmethod
    async def set_session_locked(
        self, session_id: str, locked: bool, events: Sequence[NewEvent]
    ) -> None:
        """Lock or unlock a session."""

    @abstractmethod
    async def end_session(
        self,
        session_id: str,
        now: float,
        events: Sequence[NewEvent],
        webhooks: Sequence[WebhookBody] = (),
    ) -> bool:
        """End a session once (queueing its webhooks); return False if it had already ended."""

    @abstractmethod
    async def create_invite(
        self, invite: Invite, token_hash: str, events: Sequence[NewEvent]
    ) -> None:
        """Create an invite."""

    @abstractmethod
    async def invite(self, invite_id: str) -> Invite | None:
        """Return the invite with this id."""

    @abstractmethod
    async def invite_by_token(self, token_hash: str) -> Invite | None:
        """Return the invite whose token hashes to ``token_hash``."""

    @abstractmethod
    async def invites(self, session_id: str) -> list[Invite]:
        """Return a session's invites, oldest first."""

    @abstractmethod
    async def update_invite(self, invite: Invite, events: Sequence[NewEvent]) -> None:
        """Save an invite's safety arrangements, PINs and PIN-failure state."""

    @abstractmethod
    async def redeem_invite(
        self, participant: Participant, token_hash: str, now: float, events: Sequence[NewEvent]
    ) -> bool:
        """Spend an invite on a new waiting participant; return False if it was already spent."""

    @abstractmethod
    async def participant(self, participant_id: str) -> Participant | None:
        """Return the participant with this id."""

    @abstractmethod
    async def participant_by_token(self, token_hash: str) -> Participant | None:
        """Return the participant whose capability token hashes to ``token_hash``."""

    async def token_holder(self, token_hash: str) -> Holder | None:
        """Return the participant (if joined), invite, session and service a token names."""
        participant = await self.participant_by_token(token_hash)
        if participant is not None:
            return await self._holder(participant, await self.invite(participant.invite_id))
        return await self._holder(None, await self.invite_by_token(token_hash))

    async def participant_holder(self, participant_id: str) -> Holder | None:
        """Return a participant with their invite, session and service."""
        participant = await self.participant(participant_id)
        if participant is None:
            return None
        return await self._holder(participant, await self.invite(participant.invite_id))

    async def _holder(
        self, participant: Participant | None, invite: Invite | None
    ) -> Holder | None:
        session = await self.session(invite.session_id) if invite else None
        service = await self.service(session.service_id) if session else None
        if invite is None or session is None or service is None:
            return None
        return Holder(participant, invite, session, service)

    @abstractmethod
    async def participant_by_invite(self, invite_id: str) -> Participant | None:
        """Return the participant who redeemed this invite, if any."""

    @abstractmethod
    async def participants(self, session_id: str) -> list[Participant]:
        """Return a session's participants in arrival order."""

    @abstractmethod
    async def set_participant_status(
        self,
        participant_id: str,
        status: str,
        events: Sequence[NewEvent],
        *,
        only_from: Sequence[str] = ("waiting", "admitted"),
    ) -> bool:
        """Move a participant to ``status`` if it is currently one of ``only_from``."""

    @abstractmethod
    async def revoke_invite(self, invite_id: str, now: float, events: Sequence[NewEvent]) -> None:
        """Revoke an invite so it can never be used again."""

    @abstractmethod
    async def record_signal(self, write: SignalWrite) -> bool:
        """Commit a signal and all its consequences at once; False if its id was already seen."""

    @abstractmethod
    async def save_participant_pause(self, participant: Participant) -> None:
        """Save a participant's pause state (reason, start, linked alert)."""

    @abstractmethod
    async def save_phrase_calibration(self, calibration: PhraseCalibration) -> None:
        """Store (or replace) a spoken phrase's calibrated threshold."""

    @abstractmethod
    async def phrase_calibration(self, phrase_key: str) -> PhraseCalibration | None:
        """Return the calibration stored for a phrase key, if any."""

    @abstractmethod
    async def save_alert(
        self, alert: Alert, events: Sequence[NewEvent], webhooks: Sequence[WebhookBody] = ()
    ) -> None:
        """Save an alert's new state with the events that explain it."""

    @abstractmethod
    async def alert(self, alert_id: str) -> Alert | None:
        """Return the alert with this id."""

    @abstractmethod
    async def open_alerts(
        self, *, service_id: str | None = None, session_id: str | None = None
    ) -> list[Alert]:
        """Return every alert not yet resolved, oldest first, for a service or a session."""

    @abstractmethod
    async def alerts(self, session_id: str) -> list[Alert]:
        """Return every alert of a session, oldest first."""

    @abstractmethod
    async def due_webhooks(self, now: float, limit: int = 50) -> list[OutboxItem]:
        """Return webhook deliveries due now, oldest first."""

    @abstractmethod
    async def webhook_attempted(
        self,
        item: OutboxItem,
        *,
        delivered_at: float | None,
        retry_at: float | None,
        error: str,
        status: int | None = None,
        duration_ms: float = 0.0,
        events: Sequence[NewEvent] = (),
    ) -> None:
        """Record one delivery attempt (and its events): delivered, to retry, or given up."""

    @abstractmethod
    async def webhook_attempts(self, service_id: str) -> list[OutboxItem]:
        """Return a service's webhook deliveries, newest first, for its admin."""

    @abstractmethod
    async def claim_webhook(self, item_id: str, now: float, lease_until: float) -> bool:
        """Take a due outbox item for one sender until ``lease_until``; False if another has it."""

    @abstractmethod
    async def webhook_attempt_log(self, service_id: str, outbox_id: str) -> list[WebhookAttempt]:
        """Return every delivery attempt of one of a service's outbox items, oldest first."""

    @abstractmethod
    async def create_api_key(
        self, key: ApiKey, key_hash: str, events: Sequence[NewEvent] = ()
    ) -> None:
        """Store a new API key by the SHA-256 of its secret."""

    @abstractmethod
    async def api_key_by_hash(self, key_hash: str) -> ApiKey | None:
        """Return the API key (revoked or not) whose secret hashes to ``key_hash``."""

    @abstractmethod
    async def api_keys(self, service_id: str) -> list[ApiKey]:
        """Return a service's API keys, revoked ones included, oldest first."""

    @abstractmethod
    async def revoke_api_key(
        self, service_id: str, key_id: str, now: float, events: Sequence[NewEvent] = ()
    ) -> bool:
        """Revoke one of a service's API keys; False if there is no such live key."""

    @abstractmethod
    async def purge_personal_data(self, ended_before: float) -> int:
        """Blank names, safety plans and safe words of sessions that ended before the cut-off."""

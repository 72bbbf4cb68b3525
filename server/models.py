"""Records the store hands out: plain frozen values, no behaviour beyond validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from signals import AlertState

Role = Literal["facilitator", "lead", "admin"]
ROLES: tuple[Role, ...] = ("facilitator", "lead", "admin")
SessionKind = Literal["one_to_one", "group"]
SESSION_KINDS: tuple[SessionKind, ...] = ("one_to_one", "group")
ParticipantStatus = Literal["waiting", "admitted", "denied", "removed", "left"]
PauseReason = Literal["panic", "step_away", "facilitator"]
GROUP_MAX_CLIENTS = 12


@dataclass(frozen=True)
class Service:
    """An organisation using Haven; everything else is scoped to one."""

    id: str
    slug: str
    name: str
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class User:
    """A staff account: facilitator, safeguarding lead or admin of one service."""

    id: str
    service_id: str
    email: str
    role: Role
    password_hash: str = field(repr=False)
    on_duty: bool = False


@dataclass(frozen=True)
class Login:
    """A signed-in console (the server side of the session cookie)."""

    token_hash: str
    user_id: str
    csrf_token: str = field(repr=False)
    created_at: float
    last_seen: float


@dataclass(frozen=True)
class Session:
    """A live video session: 1:1 or a group of up to twelve clients."""

    id: str
    service_id: str
    kind: SessionKind
    title: str
    facilitator_id: str
    co_facilitator_id: str | None
    locked: bool
    created_at: float
    ended_at: float | None

    @property
    def facilitator_ids(self) -> tuple[str, ...]:
        """The session's facilitators: the creator, then the co-facilitator if any."""
        return (self.facilitator_id,) + (
            (self.co_facilitator_id,) if self.co_facilitator_id else ()
        )

    @property
    def max_clients(self) -> int:
        """How many clients may be admitted at once."""
        return 1 if self.kind == "one_to_one" else GROUP_MAX_CLIENTS


@dataclass(frozen=True)
class Invite:
    """A single-use invite link for one client, with that client's safety arrangements."""

    id: str
    session_id: str
    label: str
    expires_at: float
    pin_hash: str | None = field(repr=False)
    duress_pin_hash: str | None = field(repr=False)
    pin_failures: int
    locked_until: float | None
    revoked_at: float | None
    used_at: float | None
    safety_plan: str = field(repr=False)
    safe_word: str = field(repr=False)
    spoken_phrase: str = field(repr=False)
    spoken_opt_in: bool = False


@dataclass(frozen=True)
class Participant:
    """A client who redeemed an invite: waiting, admitted, or gone."""

    id: str
    session_id: str
    invite_id: str
    display_name: str = field(repr=False)
    camera_off: bool = False
    status: ParticipantStatus = "waiting"
    paused_reason: PauseReason | None = None
    paused_at: float | None = None
    alert_id: str | None = None


@dataclass(frozen=True)
class Alert:
    """An alert raised by a panic or duress signal, replayed from the store until resolved."""

    service_id: str
    session_id: str
    signal_id: str
    source: str
    state: AlertState

    @property
    def id(self) -> str:
        """The alert's id, derived from the signal that raised it."""
        return self.state.alert_id


@dataclass(frozen=True)
class PhraseCalibration:
    """A spoken phrase's detection threshold, calibrated on a bank of ordinary speech.

    ``phrase_key`` is a hash of the normalised phrase: the phrase itself is never stored here.
    """

    phrase_key: str
    threshold: float
    false_alarms_per_hour: float
    bank_hours: float
    calibrated_at: float


@dataclass(frozen=True)
class Checkpoint:
    """An HMAC over the log's head hash at ``seq``, under a key kept outside the database."""

    seq: int
    head_hash: str
    mac: str
    at: float

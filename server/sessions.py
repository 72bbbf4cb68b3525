"""Sessions, invites and the waiting room: who may join, and who lets them in."""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from server.auth.passwords import Passwords
from server.auth.tokens import new_id, new_token, token_hash
from server.config import Config
from server.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from server.hub import Hub
from server.models import Invite, Participant, Session, SessionKind, User
from server.store import EventType, NewEvent, Store, WebhookBody

PIN = re.compile(r"^\d{6}$")
PIN_LOCK_AFTER = 5
PIN_REVOKE_AFTER = 10
PIN_LOCK_S = 15 * 60
MAX_NAME = 40
MAX_PLAN = 4000


@dataclass(frozen=True)
class InviteLink:
    """A newly created invite and the link to send the client (shown once)."""

    invite: Invite
    url: str


@dataclass(frozen=True)
class Joined:
    """A client who redeemed an invite, with the capability token their page keeps."""

    participant: Participant
    token: str


def clean_text(value: object, *, field: str, max_len: int, allow_empty: bool = True) -> str:
    """Return untrusted text normalised (NFC, no control characters, trimmed) or raise."""
    if not isinstance(value, str):
        raise BadRequest(f"{field} must be text.")
    text = unicodedata.normalize("NFC", value)
    text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c)[0] != "C").strip()
    if len(text) > max_len:
        raise BadRequest(f"{field} can be at most {max_len} characters.")
    if not text and not allow_empty:
        raise BadRequest(f"{field} cannot be empty.")
    return text


def display_name(value: object) -> str:
    """Validate a client's display name: a first name or alias on one line."""
    name = clean_text(value, field="The display name", max_len=MAX_NAME, allow_empty=False)
    if "\n" in name or "\t" in name:
        raise BadRequest("The display name must be on one line.")
    return name


class MediaLifecycle(Protocol):
    """What the waiting room needs from the relay: cut one member, or a whole session."""

    async def drop(self, member_id: str) -> None:
        """Disconnect one member's media."""

    async def end(self, session_id: str) -> None:
        """Disconnect everyone's media in a session."""


class Sessions:
    """Create sessions and invites, let clients in, and let facilitators run the room."""

    def __init__(
        self,
        store: Store,
        passwords: Passwords,
        config: Config,
        hub: Hub,
        clock: Callable[[], float] = time.time,
        media: MediaLifecycle | None = None,
    ) -> None:
        self._store = store
        self._passwords = passwords
        self._config = config
        self._hub = hub
        self._clock = clock
        self._media = media

    # -- access ---------------------------------------------------------------------------------

    async def get(self, session_id: str, user: User) -> Session:
        """Return a session the account may see: its facilitators, or the service's leads/admins."""
        session = await self._store.session(session_id)
        if session is None or session.service_id != user.service_id:
            raise NotFound("There is no such session.")
        if user.id not in session.facilitator_ids and user.role not in ("lead", "admin"):
            raise NotFound("There is no such session.")
        return session

    async def run(self, session_id: str, user: User) -> Session:
        """Return a session the account facilitates (or, as a lead, oversees) and that is live."""
        session = await self.get(session_id, user)
        if session.ended_at is not None:
            raise Conflict("This session has ended.")
        return session

    # -- facilitator actions --------------------------------------------------------------------

    async def create(
        self,
        user: User,
        kind: str,
        title: str,
        co_facilitator_email: str = "",
        *,
        actor: str | None = None,
    ) -> Session:
        """Create a 1:1 or group session led by ``user``, with an optional co-facilitator."""
        if user.role not in ("facilitator", "lead", "admin"):
            raise Forbidden("Only staff can create sessions.")
        if kind not in ("one_to_one", "group"):
            raise BadRequest("A session is one_to_one or group.")
        co_id = None
        if co_facilitator_email:
            co = await self._store.user_by_email(co_facilitator_email)
            if co is None or co.service_id != user.service_id or co.id == user.id:
                raise BadRequest("The co-facilitator must be another account of this service.")
            if kind != "group":
                raise BadRequest("Only a group session has a co-facilitator.")
            co_id = co.id
        session = Session(
            id=new_id("s"),
            service_id=user.service_id,
            kind=_kind(kind),
            title=clean_text(title, field="The title", max_len=120) or "Session",
            facilitator_id=user.id,
            co_facilitator_id=co_id,
            locked=False,
            created_at=self._clock(),
            ended_at=None,
        )
        event = NewEvent(
            "session.created",
            session.service_id,
            session.id,
            actor or f"user:{user.id}",
            {"kind": kind, "co_facilitator": bool(co_id)},
        )
        await self._store.create_session(session, [event])
        return session

    async def invite(
        self,
        session: Session,
        user: User,
        fields: dict[str, object],
        base_url: str = "",
        *,
        actor: str | None = None,
    ) -> InviteLink:
        """Create a single-use invite for one client with their safety arrangements."""
        if len(await self._store.invites(session.id)) >= 3 * session.max_clients + 3:
            raise Conflict("This session has too many invites; revoke unused ones first.")
        token = new_token()
        now = self._clock()
        invite = Invite(
            id=new_id("inv"),
            session_id=session.id,
            label=clean_text(fields.get("label", ""), field="The label", max_len=60),
            expires_at=now + self._config.invite_ttl_hours * 3600,
            pin_hash=None,
            duress_pin_hash=None,
            pin_failures=0,
            locked_until=None,
            revoked_at=None,
            used_at=None,
            safety_plan="",
            safe_word="",
            spoken_phrase="",
        )
        invite = self._with_arrangements(invite, fields)
        event = NewEvent(
            "invite.created",
            session.service_id,
            session.id,
            actor or f"user:{user.id}",
            {"invite": invite.id, "pin": invite.pin_hash is not None},
        )
        await self._store.create_invite(invite, token_hash(token), [event])
        return InviteLink(invite, f"{base_url or self._config.base_url}/join#{token}")

    async def update_invite(
        self, session: Session, user: User, invite_id: str, fields: dict[str, object]
    ) -> Invite:
        """Change a client's safety plan, safe words or PINs."""
        invite = await self._store.invite(invite_id)
        if invite is None or invite.session_id != session.id:
            raise NotFound("There is no such invite.")
        updated = self._with_arrangements(invite, fields)
        event = NewEvent(
            "invite.updated",
            session.service_id,
            session.id,
            f"user:{user.id}",
            {"invite": invite.id, "fields": sorted(k for k in fields if k in _ARRANGEMENTS)},
        )
        await self._store.update_invite(updated, [event])
        return updated

    def _with_arrangements(self, invite: Invite, fields: dict[str, object]) -> Invite:
        unknown = set(fields) - _ARRANGEMENTS - {"label"}
        if unknown:
            raise BadRequest(f"Unknown field: {sorted(unknown)[0]}.")
        changes: dict[str, object] = {}
        if "label" in fields:
            changes["label"] = clean_text(fields["label"], field="The label", max_len=60)
        if "safety_plan" in fields:
            changes["safety_plan"] = clean_text(
                fields["safety_plan"], field="The safety plan", max_len=MAX_PLAN
            )
        for name, label in (("safe_word", "The safe word"), ("spoken_phrase", "The phrase")):
            if name in fields:
                changes[name] = clean_text(fields[name], field=label, max_len=60)
        if "spoken_opt_in" in fields:
            changes["spoken_opt_in"] = bool(fields["spoken_opt_in"])
        pins: dict[str, str | None] = {}
        for name in ("pin", "duress_pin"):
            if name in fields:
                pin = fields[name]
                if pin in (None, ""):
                    pins[name] = None
                elif isinstance(pin, str) and PIN.match(pin):
                    pins[name] = pin
                else:
                    raise BadRequest("A PIN is exactly six digits.")
        if pins.get("pin") and pins.get("pin") == pins.get("duress_pin"):
            raise BadRequest("The duress PIN must differ from the PIN.")
        for name, pin in pins.items():
            changes[f"{name}_hash"] = self._passwords.hash(pin) if pin else None
        return replace(invite, **changes)  # type: ignore[arg-type]

    async def admit(
        self, session: Session, user: User, participant_id: str, *, actor: str | None = None
    ) -> Participant:
        """Let one waiting client into the call."""
        participant = await self._participant_of(session, participant_id)
        if participant.status != "waiting":
            raise Conflict("Only a waiting client can be admitted.")
        admitted = [p for p in await self._store.participants(session.id) if p.status == "admitted"]
        if len(admitted) >= session.max_clients:
            raise Conflict(f"This session already has {session.max_clients} client(s) in the call.")
        event = NewEvent(
            "participant.admitted",
            session.service_id,
            session.id,
            actor or f"user:{user.id}",
            {"participant": participant.id},
        )
        if not await self._store.set_participant_status(
            participant.id, "admitted", [event], only_from=("waiting",)
        ):
            raise Conflict("Only a waiting client can be admitted.")
        admitted_p = replace(participant, status="admitted")
        await self._hub.to_participant(participant.id, "admitted", {"session_id": session.id})
        # Every console on the session refreshes, whoever admitted (another console, the API).
        await self._hub.to_session_staff(
            session.id, "participant_admitted", {"participant_id": participant.id}
        )
        return admitted_p

    async def deny(self, session: Session, user: User, participant_id: str) -> None:
        """Turn a waiting client away; their invite cannot be used again."""
        await self._end_participant(session, user, participant_id, "denied", ("waiting",))

    async def remove(self, session: Session, user: User, participant_id: str) -> None:
        """Remove a client from the session; they cannot rejoin with the same invite."""
        await self._end_participant(
            session, user, participant_id, "removed", ("waiting", "admitted")
        )

    async def _end_participant(
        self,
        session: Session,
        user: User,
        participant_id: str,
        status: str,
        only_from: tuple[str, ...],
    ) -> None:
        participant = await self._participant_of(session, participant_id)
        event_type: EventType = (
            "participant.denied" if status == "denied" else "participant.removed"
        )
        event = NewEvent(
            event_type,
            session.service_id,
            session.id,
            f"user:{user.id}",
            {"participant": participant.id},
        )
        if not await self._store.set_participant_status(
            participant.id, status, [event], only_from=only_from
        ):
            raise Conflict("That client is not in the session.")
        await self._store.revoke_invite(participant.invite_id, self._clock(), [])
        if self._media is not None:
            await self._media.drop(participant.id)
        await self._hub.to_participant(participant.id, "removed", {})

    async def set_locked(self, session: Session, user: User, locked: bool) -> None:
        """Lock the session (nobody new may join) or unlock it."""
        event = NewEvent(
            "session.locked" if locked else "session.unlocked",
            session.service_id,
            session.id,
            f"user:{user.id}",
        )
        await self._store.set_session_locked(session.id, locked, [event])

    async def end(self, session: Session, user: User, *, actor: str | None = None) -> bool:
        """End the session for everyone; ending twice is harmless."""
        who = actor or f"user:{user.id}"
        event = NewEvent("session.ended", session.service_id, session.id, who)
        now = self._clock()
        webhook = WebhookBody(
            f"msg_{session.id}_ended",
            session.service_id,
            "session.ended",
            {"session_id": session.id, "ended_at": now},
            now,
        )
        ended = await self._store.end_session(session.id, now, [event], [webhook])
        if ended:
            if self._media is not None:
                await self._media.end(session.id)
            await self._hub.to_session_clients(session.id, "session_ended", {})
            for p in await self._store.participants(session.id):
                await self._hub.to_participant(p.id, "session_ended", {})
        return ended

    async def _participant_of(self, session: Session, participant_id: object) -> Participant:
        if not isinstance(participant_id, str):
            raise BadRequest("participant_id must be text.")
        participant = await self._store.participant(participant_id)
        if participant is None or participant.session_id != session.id:
            raise NotFound("There is no such client in this session.")
        return participant

    # -- client journey -------------------------------------------------------------------------

    async def open_invite(self, token: object, pin: object = None) -> tuple[Invite, Session]:
        """Check an invite token (and its PIN if it has one) without spending it."""
        if not isinstance(token, str) or not 16 <= len(token) <= 128:
            raise Unauthorized("This invite link is not valid.")
        invite = await self._store.invite_by_token(token_hash(token))
        if invite is None:
            raise Unauthorized("This invite link is not valid.")
        session = await self._store.session(invite.session_id)
        now = self._clock()
        if session is None or session.ended_at is not None:
            raise Gone("This session has ended.")
        if invite.revoked_at is not None or invite.used_at is not None:
            raise Gone(
                "This invite link has already been used. Ask your facilitator for a new one."
            )
        if invite.expires_at < now:
            raise Gone("This invite link has expired. Ask your facilitator for a new one.")
        if invite.locked_until is not None and invite.locked_until > now:
            wait = invite.locked_until - now
            raise TooManyRequests(
                f"Too many wrong PINs. Try again in {int(wait // 60) + 1} minutes.", wait
            )
        if invite.pin_hash is not None:
            if pin is None:
                raise Unauthorized("This invite needs its six-digit PIN.")
            if not (isinstance(pin, str) and PIN.match(pin)) or not self._passwords.verify(
                invite.pin_hash, pin
            ):
                await self._pin_failed(invite, session, now)
                raise Unauthorized("That PIN is not right.")
        return invite, session

    async def _pin_failed(self, invite: Invite, session: Session, now: float) -> None:
        failures = invite.pin_failures + 1
        events = [
            NewEvent(
                "invite.pin_failed",
                session.service_id,
                session.id,
                payload={"invite": invite.id, "failures": failures},
            )
        ]
        locked_until, revoked_at = invite.locked_until, invite.revoked_at
        if failures >= PIN_REVOKE_AFTER:
            revoked_at = now
            events.append(
                NewEvent(
                    "invite.revoked",
                    session.service_id,
                    session.id,
                    payload={"invite": invite.id, "reason": "pin_failures"},
                )
            )
        elif failures % PIN_LOCK_AFTER == 0:
            locked_until = now + PIN_LOCK_S
            events.append(
                NewEvent(
                    "invite.locked",
                    session.service_id,
                    session.id,
                    payload={"invite": invite.id, "minutes": PIN_LOCK_S // 60},
                )
            )
        await self._store.update_invite(
            replace(
                invite, pin_failures=failures, locked_until=locked_until, revoked_at=revoked_at
            ),
            events,
        )

    async def redeem(
        self, token: object, pin: object, name: object, camera_off: object, consent: object
    ) -> Joined:
        """Spend an invite: record consent and put the client in the waiting room."""
        invite, session = await self.open_invite(token, pin)
        if consent is not True:
            raise BadRequest("Please read and agree to how Haven works before joining.")
        if session.locked:
            raise Conflict("This session is locked. Your facilitator can let you in.")
        participant = Participant(
            id=new_id("p"),
            session_id=session.id,
            invite_id=invite.id,
            display_name=display_name(name),
            camera_off=bool(camera_off),
        )
        capability = new_token()
        actor = f"participant:{participant.id}"
        events = [
            NewEvent(
                "consent.given",
                session.service_id,
                session.id,
                actor,
                {"spoken_safe_word": invite.spoken_opt_in},
            ),
            NewEvent(
                "participant.joined",
                session.service_id,
                session.id,
                actor,
                {"invite": invite.id, "camera_off": participant.camera_off},
            ),
        ]
        now = self._clock()
        if not await self._store.redeem_invite(participant, token_hash(capability), now, events):
            raise Gone(
                "This invite link has already been used. Ask your facilitator for a new one."
            )
        await self._hub.to_session_staff(session.id, "waiting", {"participant_id": participant.id})
        return Joined(participant, capability)

    async def participant_for(self, token: object) -> Participant:
        """Return the client a capability token belongs to."""
        if not isinstance(token, str) or not 16 <= len(token) <= 128:
            raise Unauthorized("This link is not valid any more.")
        participant = await self._store.participant_by_token(token_hash(token))
        if participant is None:
            raise Unauthorized("This link is not valid any more.")
        return participant


_ARRANGEMENTS = frozenset(
    {"safety_plan", "safe_word", "spoken_phrase", "spoken_opt_in", "pin", "duress_pin"}
)


def _kind(value: str) -> SessionKind:
    return "group" if value == "group" else "one_to_one"

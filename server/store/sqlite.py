"""The embedded store: one SQLite database in WAL mode with ``synchronous=FULL``.

Every write is one short transaction on the store's write thread (``writer.py``), so the event loop
never waits for the disk; reads run on the loop on a second connection, which sees every committed
write and never a write under way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

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
from server.store.alert_json import alert_state_to_json
from server.store.base import (
    ApiKey,
    AuditKey,
    OutboxItem,
    SignalWrite,
    StaleRead,
    Store,
    StoreError,
    WebhookAttempt,
    WebhookBody,
    pause_read,
)
from server.store.chain import GENESIS_HASH, EventRecord, chain_after, checkpoint_mac
from server.store.events import NewEvent
from server.store.rows import (
    alert_from,
    api_key_from,
    event_from,
    invite_from,
    outbox_from,
    participant_from,
    service_from,
    session_from,
    user_from,
)
from server.store.writer import WalCheckpointer, Writer

log = logging.getLogger(__name__)

T = TypeVar("T")


class SqliteStore(Store):
    """The store on a local SQLite file; the only owner of its connection."""

    def __init__(self, path: Path, audit_key: AuditKey, *, checkpoint_every: int = 100) -> None:
        self._path = path
        self._key = audit_key
        self._checkpoint_every = checkpoint_every
        self._db: sqlite3.Connection | None = None  # the writer's, used on the write thread only
        self._reader: sqlite3.Connection | None = None  # reads, on the event-loop thread
        self._writer: Writer | None = None
        self._wal: WalCheckpointer | None = None
        self._head: tuple[int, str] = (0, GENESIS_HASH)
        self._head_to_record: Checkpoint | None = None

    async def open(self, *, read_only: bool = False) -> None:
        """Open the database, create the schema if needed and load the log's head."""
        if self._reader is not None:
            return
        if read_only:
            reader = sqlite3.connect(
                f"{self._path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None
            )
        else:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA busy_timeout=5000")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA wal_autocheckpoint=0")  # WalCheckpointer does it, off the writer
            db.executescript(resources.files("server.store").joinpath("schema.sql").read_text())
            self._db = db
            self._wal = WalCheckpointer(str(self._path))
            self._writer = Writer("haven-sqlite-writer", self._after_write)
            reader = sqlite3.connect(self._path, isolation_level=None)
            reader.execute("PRAGMA query_only=ON")
        reader.row_factory = sqlite3.Row
        reader.execute("PRAGMA busy_timeout=5000")
        self._reader = reader
        row = reader.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        if row:
            self._head = (row["seq"], row["hash"])

    async def close(self) -> None:
        """Write a final checkpoint and close the database; closing twice is harmless."""
        if self._reader is None:
            return
        if self._writer is not None:
            if self._head[0] and not self._checkpointed(self._head[0]):
                await self._transact(self._write_checkpoint)
            await asyncio.to_thread(self._writer.stop)
            self._writer = None
        if self._wal is not None:
            await asyncio.to_thread(self._wal.stop)
            self._wal = None
        for db in (self._db, self._reader):
            if db is not None:
                db.close()
        self._db = self._reader = None

    # -- plumbing -------------------------------------------------------------------------------

    @property
    def _conn(self) -> sqlite3.Connection:
        """The connection for reads: it sees every committed write, never one under way."""
        if self._reader is None:
            raise StoreError("The store is not open.")
        return self._reader

    async def _transact(
        self, work: Callable[[sqlite3.Connection], T], *, urgent: bool = False
    ) -> T:
        """Run ``work`` in one transaction on the write thread; urgent work goes first."""
        if self._writer is None:
            raise StoreError("The store is not open for writing.")
        return await self._writer.run(lambda: self._in_tx(work), urgent=urgent)

    def _in_tx(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._db is None:
            raise StoreError("The store is not open for writing.")
        db = self._db
        head = self._head
        db.execute("BEGIN IMMEDIATE")
        try:
            result = work(db)
        except BaseException:
            db.execute("ROLLBACK")
            self._head = head
            self._head_to_record = None
            raise
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            db.execute("ROLLBACK")
            self._head = head
            self._head_to_record = None
            raise StoreError("The database refused the write.") from exc
        return result

    def _after_write(self) -> None:
        """After a write's caller has its answer: mirror a new checkpoint, count the commit."""
        checkpoint, self._head_to_record = self._head_to_record, None
        if checkpoint is not None:
            self._key.record_head(checkpoint)
        if self._wal is not None:
            self._wal.note_commit()

    def _append(self, db: sqlite3.Connection, events: Sequence[NewEvent]) -> list[EventRecord]:
        records = chain_after(events, *self._head, time.time())
        for record in records:
            db.execute(
                "INSERT INTO events (seq, ts, service_id, session_id, actor, type, payload,"
                " prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    record.seq,
                    record.ts,
                    record.service_id,
                    record.session_id,
                    record.actor,
                    record.type,
                    json.dumps(record.payload, sort_keys=True),
                    record.prev_hash,
                    record.hash,
                ),
            )
            self._head = (record.seq, record.hash)
            if record.seq % self._checkpoint_every == 0:
                self._write_checkpoint(db)
        return records

    def _write_checkpoint(self, db: sqlite3.Connection) -> Checkpoint:
        seq, head = self._head
        checkpoint = Checkpoint(seq, head, checkpoint_mac(self._key.secret, seq, head), time.time())
        db.execute(
            "INSERT OR REPLACE INTO checkpoints (seq, head_hash, mac, at) VALUES (?,?,?,?)",
            (checkpoint.seq, checkpoint.head_hash, checkpoint.mac, checkpoint.at),
        )
        self._head_to_record = checkpoint  # mirrored in the head file once committed
        return checkpoint

    def _checkpointed(self, seq: int) -> bool:
        row = self._conn.execute("SELECT 1 FROM checkpoints WHERE seq = ?", (seq,)).fetchone()
        return row is not None

    async def _write(self, sql: str, params: Sequence[Any], events: Sequence[NewEvent]) -> int:
        def work(db: sqlite3.Connection) -> int:
            changed: int = db.execute(sql, params).rowcount
            if changed:
                self._append(db, events)
            return changed

        return await self._transact(work)

    # -- events ---------------------------------------------------------------------------------

    async def append(self, *events: NewEvent) -> list[EventRecord]:
        """Append events durably, in order, in one transaction."""

        def work(db: sqlite3.Connection) -> list[EventRecord]:
            return self._append(db, events)

        return await self._transact(work)

    async def events(
        self, *, session_id: str | None = None, after_seq: int = 0, limit: int = 10_000
    ) -> list[EventRecord]:
        """Return the log's events in order, optionally for one session."""
        sql = "SELECT * FROM events WHERE seq > ?"
        params: list[Any] = [after_seq]
        if session_id is not None:
            sql += " AND session_id = ?"
            params.append(session_id)
        rows = self._conn.execute(sql + " ORDER BY seq LIMIT ?", (*params, limit)).fetchall()
        return [event_from(r) for r in rows]

    async def head_seq(self) -> int:
        """Return the sequence number of the newest event, 0 while the log is empty."""
        row = self._conn.execute("SELECT MAX(seq) AS seq FROM events").fetchone()
        return int(row["seq"] or 0)

    async def checkpoints(self) -> list[Checkpoint]:
        """Return every checkpoint, oldest first."""
        rows = self._conn.execute("SELECT * FROM checkpoints ORDER BY seq").fetchall()
        return [Checkpoint(r["seq"], r["head_hash"], r["mac"], r["at"]) for r in rows]

    # -- services and users ---------------------------------------------------------------------

    async def create_service(self, service: Service, events: Sequence[NewEvent]) -> None:
        """Create a service."""
        await self._write(
            "INSERT INTO services (id, slug, name, settings, created_at) VALUES (?,?,?,?,?)",
            (service.id, service.slug, service.name, json.dumps(service.settings), time.time()),
            events,
        )

    async def service(self, service_id: str) -> Service | None:
        """Return the service with this id."""
        row = self._conn.execute("SELECT * FROM services WHERE id = ?", (service_id,)).fetchone()
        return service_from(row) if row else None

    async def service_by_slug(self, slug: str) -> Service | None:
        """Return the service with this slug."""
        row = self._conn.execute("SELECT * FROM services WHERE slug = ?", (slug,)).fetchone()
        return service_from(row) if row else None

    async def update_service_settings(
        self, service_id: str, settings: dict[str, Any], events: Sequence[NewEvent] = ()
    ) -> None:
        """Replace a service's settings, with the events that record the change."""
        await self._write(
            "UPDATE services SET settings = ? WHERE id = ?",
            (json.dumps(settings), service_id),
            events,
        )

    async def create_user(self, user: User, events: Sequence[NewEvent]) -> None:
        """Create a staff account; raises StoreError if the email is taken."""
        try:
            await self._write(
                "INSERT INTO users (id, service_id, email, role, password_hash, created_at)"
                " VALUES (?,?,?,?,?,?)",
                (user.id, user.service_id, user.email, user.role, user.password_hash, time.time()),
                events,
            )
        except sqlite3.IntegrityError:
            raise StoreError(f"An account with the email {user.email} already exists.") from None

    async def user(self, user_id: str) -> User | None:
        """Return the account with this id."""
        row = self._conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        return user_from(row) if row else None

    async def user_by_email(self, email: str) -> User | None:
        """Return the account with this email."""
        row = self._conn.execute(
            "SELECT * FROM users WHERE email = ?", (email.strip().lower(),)
        ).fetchone()
        return user_from(row) if row else None

    async def set_password(
        self, user_id: str, password_hash: str, events: Sequence[NewEvent]
    ) -> None:
        """Replace an account's password hash and sign it out everywhere."""

        def work(db: sqlite3.Connection) -> None:
            db.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id))
            db.execute("DELETE FROM logins WHERE user_id = ?", (user_id,))
            self._append(db, events)

        await self._transact(work)

    async def set_on_duty(self, user_id: str, on_duty: bool, events: Sequence[NewEvent]) -> None:
        """Mark a safeguarding lead on or off duty."""
        await self._write(
            "UPDATE users SET on_duty = ? WHERE id = ?", (int(on_duty), user_id), events
        )

    async def login_failures_since(self, user_id: str, since: float) -> list[float]:
        """Return the times of an account's failed sign-ins since ``since``, oldest first."""
        rows = self._conn.execute(
            "SELECT at FROM login_failures WHERE user_id = ? AND at >= ? ORDER BY at",
            (user_id, since),
        ).fetchall()
        return [r["at"] for r in rows]

    async def add_login_failure(self, user_id: str, at: float) -> None:
        """Record a failed sign-in and forget those older than a day."""

        def work(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO login_failures (user_id, at) VALUES (?, ?)", (user_id, at))
            db.execute("DELETE FROM login_failures WHERE at < ?", (at - 86400,))

        await self._transact(work)

    async def clear_login_failures(self, user_id: str) -> None:
        """Forget an account's failed sign-ins after a successful one."""
        await self._write("DELETE FROM login_failures WHERE user_id = ?", (user_id,), ())

    # -- console sign-in ------------------------------------------------------------------------

    async def create_login(self, login: Login, events: Sequence[NewEvent]) -> None:
        """Store a new signed-in console."""
        await self._write(
            "INSERT INTO logins (token_hash, user_id, csrf_token, created_at, last_seen)"
            " VALUES (?,?,?,?,?)",
            (login.token_hash, login.user_id, login.csrf_token, login.created_at, login.last_seen),
            events,
        )

    async def login(self, token_hash: str) -> Login | None:
        """Return the signed-in console with this cookie hash."""
        row = self._conn.execute(
            "SELECT * FROM logins WHERE token_hash = ?", (token_hash,)
        ).fetchone()
        if row is None:
            return None
        return Login(
            row["token_hash"],
            row["user_id"],
            row["csrf_token"],
            row["created_at"],
            row["last_seen"],
        )

    async def touch_login(self, token_hash: str, now: float) -> None:
        """Record activity on a signed-in console."""
        await self._write(
            "UPDATE logins SET last_seen = ? WHERE token_hash = ?", (now, token_hash), ()
        )

    async def delete_login(self, token_hash: str) -> None:
        """Sign a console out."""
        await self._write("DELETE FROM logins WHERE token_hash = ?", (token_hash,), ())

    async def create_signin_link(self, token_hash: str, user_id: str, expires_at: float) -> None:
        """Store a one-time sign-in link."""
        await self._write(
            "INSERT INTO signin_links (token_hash, user_id, expires_at) VALUES (?,?,?)",
            (token_hash, user_id, expires_at),
            (),
        )

    async def use_signin_link(self, token_hash: str, now: float) -> str | None:
        """Spend a one-time sign-in link and return its account id, or None if it is not valid."""

        def work(db: sqlite3.Connection) -> str | None:
            row = db.execute(
                "SELECT user_id FROM signin_links WHERE token_hash = ? AND used_at IS NULL"
                " AND expires_at > ?",
                (token_hash, now),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE signin_links SET used_at = ? WHERE token_hash = ?", (now, token_hash)
            )
            return str(row["user_id"])

        return await self._transact(work)

    # -- sessions, invites, participants --------------------------------------------------------

    async def create_session(self, session: Session, events: Sequence[NewEvent]) -> None:
        """Create a session."""
        await self._write(
            "INSERT INTO sessions (id, service_id, kind, title, facilitator_id, co_facilitator_id,"
            " locked, created_at) VALUES (?,?,?,?,?,?,0,?)",
            (
                session.id,
                session.service_id,
                session.kind,
                session.title,
                session.facilitator_id,
                session.co_facilitator_id,
                session.created_at,
            ),
            events,
        )

    async def session(self, session_id: str) -> Session | None:
        """Return the session with this id."""
        row = self._conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return session_from(row) if row else None

    async def sessions(self, service_id: str) -> list[Session]:
        """Return a service's sessions, newest first."""
        rows = self._conn.execute(
            "SELECT * FROM sessions WHERE service_id = ? ORDER BY created_at DESC", (service_id,)
        ).fetchall()
        return [session_from(r) for r in rows]

    async def set_session_locked(
        self, session_id: str, locked: bool, events: Sequence[NewEvent]
    ) -> None:
        """Lock or unlock a session."""
        await self._write(
            "UPDATE sessions SET locked = ? WHERE id = ? AND ended_at IS NULL",
            (int(locked), session_id),
            events,
        )

    async def end_session(
        self,
        session_id: str,
        now: float,
        events: Sequence[NewEvent],
        webhooks: Sequence[WebhookBody] = (),
    ) -> bool:
        """End a session once (queueing its webhooks); return False if it had already ended."""

        def work(db: sqlite3.Connection) -> bool:
            changed = db.execute(
                "UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
                (now, session_id),
            ).rowcount
            if not changed:
                return False
            self._enqueue_webhooks(db, webhooks)
            db.execute(
                "UPDATE participants SET status = 'left' WHERE session_id = ?"
                " AND status IN ('waiting', 'admitted')",
                (session_id,),
            )
            db.execute(
                "UPDATE invites SET revoked_at = ? WHERE session_id = ? AND revoked_at IS NULL",
                (now, session_id),
            )
            self._append(db, events)
            return True

        return await self._transact(work)

    async def create_invite(
        self, invite: Invite, token_hash: str, events: Sequence[NewEvent]
    ) -> None:
        """Create an invite."""
        await self._write(
            "INSERT INTO invites (id, session_id, token_hash, label, expires_at, pin_hash,"
            " duress_pin_hash, safety_plan, safe_word, spoken_phrase, spoken_opt_in, created_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                invite.id,
                invite.session_id,
                token_hash,
                invite.label,
                invite.expires_at,
                invite.pin_hash,
                invite.duress_pin_hash,
                invite.safety_plan,
                invite.safe_word,
                invite.spoken_phrase,
                int(invite.spoken_opt_in),
                time.time(),
            ),
            events,
        )

    async def invite(self, invite_id: str) -> Invite | None:
        """Return the invite with this id."""
        row = self._conn.execute("SELECT * FROM invites WHERE id = ?", (invite_id,)).fetchone()
        return invite_from(row) if row else None

    async def invite_by_token(self, token_hash: str) -> Invite | None:
        """Return the invite whose token hashes to ``token_hash``."""
        row = self._conn.execute(
            "SELECT * FROM invites WHERE token_hash = ?", (token_hash,)
        ).fetchone()
        return invite_from(row) if row else None

    async def invites(self, session_id: str) -> list[Invite]:
        """Return a session's invites, oldest first."""
        rows = self._conn.execute(
            "SELECT * FROM invites WHERE session_id = ? ORDER BY created_at", (session_id,)
        ).fetchall()
        return [invite_from(r) for r in rows]

    async def update_invite(self, invite: Invite, events: Sequence[NewEvent]) -> None:
        """Save an invite's safety arrangements, PINs and PIN-failure state."""
        await self._write(
            "UPDATE invites SET label = ?, pin_hash = ?, duress_pin_hash = ?, safety_plan = ?,"
            " safe_word = ?, spoken_phrase = ?, spoken_opt_in = ?, pin_failures = ?,"
            " locked_until = ?, revoked_at = ? WHERE id = ?",
            (
                invite.label,
                invite.pin_hash,
                invite.duress_pin_hash,
                invite.safety_plan,
                invite.safe_word,
                invite.spoken_phrase,
                int(invite.spoken_opt_in),
                invite.pin_failures,
                invite.locked_until,
                invite.revoked_at,
                invite.id,
            ),
            events,
        )

    async def redeem_invite(
        self, participant: Participant, token_hash: str, now: float, events: Sequence[NewEvent]
    ) -> bool:
        """Spend an invite on a new waiting participant; return False if it was already spent."""

        def work(db: sqlite3.Connection) -> bool:
            changed = db.execute(
                "UPDATE invites SET used_at = ? WHERE id = ? AND used_at IS NULL"
                " AND revoked_at IS NULL",
                (now, participant.invite_id),
            ).rowcount
            if not changed:
                return False
            db.execute(
                "INSERT INTO participants (id, session_id, invite_id, token_hash, display_name,"
                " camera_off, status, created_at) VALUES (?,?,?,?,?,?,?,?)",
                (
                    participant.id,
                    participant.session_id,
                    participant.invite_id,
                    token_hash,
                    participant.display_name,
                    int(participant.camera_off),
                    participant.status,
                    now,
                ),
            )
            self._append(db, events)
            return True

        return await self._transact(work)

    async def participant(self, participant_id: str) -> Participant | None:
        """Return the participant with this id."""
        row = self._conn.execute(
            "SELECT * FROM participants WHERE id = ?", (participant_id,)
        ).fetchone()
        return participant_from(row) if row else None

    async def participant_by_token(self, token_hash: str) -> Participant | None:
        """Return the participant whose capability token hashes to ``token_hash``."""
        row = self._conn.execute(
            "SELECT * FROM participants WHERE token_hash = ?", (token_hash,)
        ).fetchone()
        return participant_from(row) if row else None

    async def participant_by_invite(self, invite_id: str) -> Participant | None:
        """Return the participant who redeemed this invite, if any."""
        row = self._conn.execute(
            "SELECT * FROM participants WHERE invite_id = ?", (invite_id,)
        ).fetchone()
        return participant_from(row) if row else None

    async def participants(self, session_id: str) -> list[Participant]:
        """Return a session's participants in arrival order."""
        rows = self._conn.execute(
            "SELECT * FROM participants WHERE session_id = ? ORDER BY created_at", (session_id,)
        ).fetchall()
        return [participant_from(r) for r in rows]

    async def set_participant_status(
        self,
        participant_id: str,
        status: str,
        events: Sequence[NewEvent],
        *,
        only_from: Sequence[str] = ("waiting", "admitted"),
    ) -> bool:
        """Move a participant to ``status`` if it is currently one of ``only_from``."""
        marks = ",".join("?" * len(only_from))
        return bool(
            await self._write(
                f"UPDATE participants SET status = ? WHERE id = ? AND status IN ({marks})",  # noqa: S608
                (status, participant_id, *only_from),
                events,
            )
        )

    async def revoke_invite(self, invite_id: str, now: float, events: Sequence[NewEvent]) -> None:
        """Revoke an invite so it can never be used again."""
        await self._write(
            "UPDATE invites SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?",
            (now, invite_id),
            events,
        )

    # -- signals and alerts ---------------------------------------------------------------------

    async def record_signal(self, write: SignalWrite) -> bool:
        """Commit a signal and all its consequences at once; False if its id was already seen."""

        def work(db: sqlite3.Connection) -> bool:
            inserted = db.execute(
                "INSERT OR IGNORE INTO signals (subject_id, signal_id, kind, source, channel,"
                " received_at) VALUES (?,?,?,?,?,?)",
                (
                    write.subject_id,
                    write.signal_id,
                    write.kind,
                    write.source,
                    write.channel,
                    write.received_at,
                ),
            ).rowcount
            if not inserted:
                return False
            if write.participant is not None:
                p, was = write.participant, write.participant_read
                saved = db.execute(
                    "UPDATE participants SET paused_reason = ?, paused_at = ?, alert_id = ?"
                    " WHERE id = ? AND paused_reason IS ? AND paused_at IS ? AND alert_id IS ?",
                    (p.paused_reason, p.paused_at, p.alert_id, p.id, *pause_read(was)),
                ).rowcount
                if not saved:
                    raise StaleRead(p.id)
            for alert in write.alerts:
                self._save_alert(db, alert)
            self._enqueue_webhooks(db, write.webhooks)
            self._append(db, write.events)
            return True

        return await self._transact(work, urgent=True)

    async def save_participant_pause(self, participant: Participant) -> None:
        """Save a participant's pause state (reason, start, linked alert)."""
        await self._write(
            "UPDATE participants SET paused_reason = ?, paused_at = ?, alert_id = ? WHERE id = ?",
            (
                participant.paused_reason,
                participant.paused_at,
                participant.alert_id,
                participant.id,
            ),
            (),
        )

    async def save_phrase_calibration(self, calibration: PhraseCalibration) -> None:
        """Store (or replace) a spoken phrase's calibrated threshold."""
        c = calibration
        await self._write(
            "INSERT OR REPLACE INTO phrase_calibrations (phrase_key, threshold,"
            " false_alarms_per_hour, bank_hours, calibrated_at) VALUES (?,?,?,?,?)",
            (c.phrase_key, c.threshold, c.false_alarms_per_hour, c.bank_hours, c.calibrated_at),
            (),
        )

    async def phrase_calibration(self, phrase_key: str) -> PhraseCalibration | None:
        """Return the calibration stored for a phrase key, if any."""
        row = self._conn.execute(
            "SELECT * FROM phrase_calibrations WHERE phrase_key = ?", (phrase_key,)
        ).fetchone()
        if row is None:
            return None
        return PhraseCalibration(
            row["phrase_key"],
            row["threshold"],
            row["false_alarms_per_hour"],
            row["bank_hours"],
            row["calibrated_at"],
        )

    async def save_alert(
        self, alert: Alert, events: Sequence[NewEvent], webhooks: Sequence[WebhookBody] = ()
    ) -> None:
        """Save an alert's new state with the events that explain it."""

        def work(db: sqlite3.Connection) -> None:
            self._save_alert(db, alert)
            self._enqueue_webhooks(db, webhooks)
            self._append(db, events)

        await self._transact(work, urgent=True)

    def _save_alert(self, db: sqlite3.Connection, alert: Alert) -> None:
        db.execute(
            "INSERT OR REPLACE INTO alerts (id, service_id, session_id, signal_id, source, status,"
            " raised_at, state) VALUES (?,?,?,?,?,?,?,?)",
            (
                alert.id,
                alert.service_id,
                alert.session_id,
                alert.signal_id,
                alert.source,
                alert.state.progress,
                alert.state.raised_at,
                json.dumps(alert_state_to_json(alert.state)),
            ),
        )

    async def alert(self, alert_id: str) -> Alert | None:
        """Return the alert with this id."""
        row = self._conn.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return alert_from(row) if row else None

    async def open_alerts(
        self, *, service_id: str | None = None, session_id: str | None = None
    ) -> list[Alert]:
        """Return every alert not yet resolved, oldest first, for a service or a session."""
        sql = "SELECT * FROM alerts WHERE status != 'resolved'"
        params: list[Any] = []
        if service_id is not None:
            sql += " AND service_id = ?"
            params.append(service_id)
        if session_id is not None:
            sql += " AND session_id = ?"
            params.append(session_id)
        rows = self._conn.execute(sql + " ORDER BY raised_at", params).fetchall()
        return [alert_from(r) for r in rows]

    async def alerts(self, session_id: str) -> list[Alert]:
        """Return every alert of a session, oldest first."""
        rows = self._conn.execute(
            "SELECT * FROM alerts WHERE session_id = ? ORDER BY raised_at", (session_id,)
        ).fetchall()
        return [alert_from(r) for r in rows]

    # -- webhooks -------------------------------------------------------------------------------

    def _enqueue_webhooks(self, db: sqlite3.Connection, bodies: Sequence[WebhookBody]) -> None:
        """Queue webhooks, in the caller's transaction, for services that have an endpoint."""
        db.executemany(
            "INSERT OR IGNORE INTO webhook_outbox (id, service_id, event_type, body,"
            " next_attempt_at, created_at) SELECT ?,?,?,?,?,? WHERE EXISTS (SELECT 1 FROM services"
            " WHERE id = ? AND COALESCE(json_extract(settings, '$.webhook_url'), '') <> '')",
            [
                (b.id, b.service_id, b.event_type, json.dumps(b.data), b.at, b.at, b.service_id)
                for b in bodies
            ],
        )

    async def due_webhooks(self, now: float, limit: int = 50) -> list[OutboxItem]:
        """Return webhook deliveries due now, oldest first."""
        rows = self._conn.execute(
            "SELECT * FROM webhook_outbox WHERE delivered_at IS NULL AND given_up_at IS NULL"
            " AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
            (now, limit),
        ).fetchall()
        return [outbox_from(r) for r in rows]

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

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE webhook_outbox SET attempts = attempts + 1, delivered_at = ?,"
                " next_attempt_at = COALESCE(?, next_attempt_at), given_up_at = ?, last_error = ?"
                " WHERE id = ?",
                (
                    delivered_at,
                    retry_at,
                    None if delivered_at or retry_at else time.time(),
                    error,
                    item.id,
                ),
            )
            row = db.execute(
                "SELECT attempts FROM webhook_outbox WHERE id = ?", (item.id,)
            ).fetchone()
            db.execute(
                "INSERT OR REPLACE INTO webhook_attempt_log (outbox_id, attempt, at, status, error,"
                " duration_ms) VALUES (?,?,?,?,?,?)",
                (
                    item.id,
                    row["attempts"] if row else item.attempts + 1,
                    delivered_at or time.time(),
                    status,
                    error,
                    duration_ms,
                ),
            )
            self._append(db, events)

        await self._transact(work)

    async def webhook_attempts(self, service_id: str) -> list[OutboxItem]:
        """Return a service's webhook deliveries, newest first, for its admin."""
        rows = self._conn.execute(
            "SELECT * FROM webhook_outbox WHERE service_id = ? ORDER BY created_at DESC LIMIT 200",
            (service_id,),
        ).fetchall()
        return [outbox_from(r) for r in rows]

    async def claim_webhook(self, item_id: str, now: float, lease_until: float) -> bool:
        """Take a due outbox item for one sender until ``lease_until``; False if another has it."""
        return bool(
            await self._write(
                "UPDATE webhook_outbox SET next_attempt_at = ? WHERE id = ?"
                " AND delivered_at IS NULL AND given_up_at IS NULL AND next_attempt_at <= ?",
                (lease_until, item_id, now),
                (),
            )
        )

    async def webhook_attempt_log(self, service_id: str, outbox_id: str) -> list[WebhookAttempt]:
        """Return every delivery attempt of one of a service's outbox items, oldest first."""
        rows = self._conn.execute(
            "SELECT a.* FROM webhook_attempt_log a JOIN webhook_outbox o ON o.id = a.outbox_id"
            " WHERE o.service_id = ? AND a.outbox_id = ? ORDER BY a.attempt",
            (service_id, outbox_id),
        ).fetchall()
        return [
            WebhookAttempt(
                r["outbox_id"], r["attempt"], r["at"], r["status"], r["error"], r["duration_ms"]
            )
            for r in rows
        ]

    # -- API keys -------------------------------------------------------------------------------

    async def create_api_key(
        self, key: ApiKey, key_hash: str, events: Sequence[NewEvent] = ()
    ) -> None:
        """Store a new API key by the SHA-256 of its secret."""

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO api_keys (id, service_id, key_hash, name, prefix, scopes, created_at,"
                " created_by, revoked_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    key.id,
                    key.service_id,
                    key_hash,
                    key.name,
                    key.prefix,
                    " ".join(key.scopes),
                    key.created_at,
                    key.created_by,
                    key.revoked_at,
                ),
            )
            self._append(db, events)

        await self._transact(work)

    async def api_key_by_hash(self, key_hash: str) -> ApiKey | None:
        """Return the API key (revoked or not) whose secret hashes to ``key_hash``."""
        row = self._conn.execute(
            "SELECT * FROM api_keys WHERE key_hash = ?", (key_hash,)
        ).fetchone()
        return api_key_from(row) if row else None

    async def api_keys(self, service_id: str) -> list[ApiKey]:
        """Return a service's API keys, revoked ones included, oldest first."""
        rows = self._conn.execute(
            "SELECT * FROM api_keys WHERE service_id = ? ORDER BY created_at", (service_id,)
        ).fetchall()
        return [api_key_from(r) for r in rows]

    async def revoke_api_key(
        self, service_id: str, key_id: str, now: float, events: Sequence[NewEvent] = ()
    ) -> bool:
        """Revoke one of a service's API keys; False if there is no such live key."""
        return bool(
            await self._write(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND service_id = ?"
                " AND revoked_at IS NULL",
                (now, key_id, service_id),
                events,
            )
        )

    # -- retention ------------------------------------------------------------------------------

    async def purge_personal_data(self, ended_before: float) -> int:
        """Blank names, safety plans and safe words of sessions that ended before the cut-off."""

        def work(db: sqlite3.Connection) -> int:
            ids = [
                r["id"]
                for r in db.execute(
                    "SELECT id FROM sessions WHERE ended_at IS NOT NULL AND ended_at < ?",
                    (ended_before,),
                )
            ]
            for session_id in ids:
                db.execute(
                    "UPDATE participants SET display_name = '' WHERE session_id = ?", (session_id,)
                )
                db.execute(
                    "UPDATE invites SET safety_plan = '', safe_word = '', spoken_phrase = '',"
                    " pin_hash = NULL, duress_pin_hash = NULL WHERE session_id = ?",
                    (session_id,),
                )
            db.execute("DELETE FROM logins WHERE last_seen < ?", (ended_before,))
            db.execute("DELETE FROM signin_links WHERE expires_at < ?", (ended_before,))
            return len(ids)

        return await self._transact(work)

"""The store on PostgreSQL (asyncpg), for a service that runs several Haven nodes.

The hash chain and its checkpoints are exactly those of the SQLite store. What differs is who
decides the order: every transaction that appends events locks the one ``event_head`` row
(``SELECT ... FOR UPDATE``) and reads the head from it, so any number of processes append in the
one order the database grants the lock, and the chain stays a single line. ``synchronous_commit``
is forced on, so a commit is on disk before anyone is told. Losing the database connection turns
into ``Unavailable`` (503, or a negative acknowledgement): the caller retries, and signal ids make
the retry idempotent.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg

from server.errors import Unavailable
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
    Holder,
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
from server.store.migrations import LATEST, MIGRATIONS
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

log = logging.getLogger(__name__)

T = TypeVar("T")
Conn = Any  # asyncpg.Connection or a pool proxy of one; asyncpg ships no precise types.
MIGRATION_LOCK = "haven.schema_migrations"
UNAVAILABLE = "The database is not reachable at the moment. Please try again in a few seconds."

# Errors that mean "the database is down or the connection broke", never "the request is bad".
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InternalClientError,
    asyncpg.InterfaceError,
)


def _event_row(r: EventRecord) -> tuple[int, float, str, str, str, str, str, str, str]:
    return (
        r.seq,
        r.ts,
        r.service_id,
        r.session_id,
        r.actor,
        r.type,
        json.dumps(r.payload, sort_keys=True),
        r.prev_hash,
        r.hash,
    )


# Whom a token names, as one row of whole records (see ``_holder``). By token: two index lookups
# (a participant's token, else a not yet spent invite's), not one join with an OR across tables,
# which would scan every invite.
_HOLDER_BY_CAPABILITY_SQL = (
    "SELECT p AS p, i AS i, s AS s, v AS v FROM participants p JOIN invites i ON i.id = p.invite_id"
    " JOIN sessions s ON s.id = i.session_id JOIN services v ON v.id = s.service_id"
    " WHERE p.token_hash = $1"
    " UNION ALL SELECT NULL::participants, i, s, v FROM invites i"
    " JOIN sessions s ON s.id = i.session_id JOIN services v ON v.id = s.service_id"
    " WHERE i.token_hash = $1 AND NOT EXISTS (SELECT 1 FROM participants WHERE token_hash = $1)"
)
_HOLDER_BY_PARTICIPANT_SQL = (
    "SELECT p AS p, i AS i, s AS s, v AS v FROM participants p JOIN invites i ON i.id = p.invite_id"
    " JOIN sessions s ON s.id = i.session_id JOIN services v ON v.id = s.service_id"
    " WHERE p.id = $1"
)


def _holder(row: Any) -> Holder | None:
    if row is None:
        return None
    participant = participant_from(row["p"]) if row["p"] is not None else None
    invite, session, service = invite_from(row["i"]), session_from(row["s"]), service_from(row["v"])
    return Holder(participant, invite, session, service)


# The two ``WITH`` items below are built from constants only (parameter numbers and a fixed
# condition); every value travels as a parameter.
_SIGNAL_IS_NEW = "EXISTS (SELECT 1 FROM signal)"


def _upsert_alerts(first: int, when: str = "TRUE") -> str:
    """A ``WITH`` item saving the alerts given as 8 arrays from parameter ``$first`` on."""
    a = [f"${first + i}" for i in range(8)]
    return (
        "alerted AS (INSERT INTO alerts"  # noqa: S608
        " (id, service_id, session_id, signal_id, source, status,"
        f" raised_at, state) SELECT * FROM unnest({a[0]}::text[], {a[1]}::text[], {a[2]}::text[],"
        f" {a[3]}::text[], {a[4]}::text[], {a[5]}::text[], {a[6]}::float8[], {a[7]}::text[])"
        f" WHERE {when} ON CONFLICT (id) DO UPDATE SET service_id = EXCLUDED.service_id,"
        " session_id = EXCLUDED.session_id, signal_id = EXCLUDED.signal_id,"
        " source = EXCLUDED.source, status = EXCLUDED.status,"
        " raised_at = EXCLUDED.raised_at, state = EXCLUDED.state)"
    )


def _alert_columns(alerts: Sequence[Alert]) -> list[list[Any]]:
    rows = [
        (
            a.id,
            a.service_id,
            a.session_id,
            a.signal_id,
            a.source,
            a.state.progress,
            a.state.raised_at,
            json.dumps(alert_state_to_json(a.state)),
        )
        for a in alerts
    ]
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * 8


def _queue_webhooks(first: int, when: str = "TRUE") -> str:
    """A ``WITH`` item queueing webhooks (5 arrays from ``$first``) if their service has an URL."""
    w = [f"${first + i}" for i in range(5)]
    return (
        "queued AS (INSERT INTO webhook_outbox"  # noqa: S608
        " (id, service_id, event_type, body,"
        " next_attempt_at, created_at) SELECT w.id, w.service_id, w.event_type, w.body, w.at, w.at"
        f" FROM unnest({w[0]}::text[], {w[1]}::text[], {w[2]}::text[], {w[3]}::text[],"
        f" {w[4]}::float8[]) AS w(id, service_id, event_type, body, at) WHERE {when} AND EXISTS"
        " (SELECT 1 FROM services WHERE id = w.service_id"
        " AND COALESCE(settings::jsonb ->> 'webhook_url', '') <> '') ON CONFLICT (id) DO NOTHING)"
    )


def _webhook_columns(bodies: Sequence[WebhookBody]) -> list[list[Any]]:
    rows = [(b.id, b.service_id, b.event_type, json.dumps(b.data), b.at) for b in bodies]
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * 5


def _event_columns(records: Sequence[EventRecord]) -> list[Any]:
    """The events as 9 arrays and the new head (seq, hash): parameters $1 to $11."""
    columns = [list(c) for c in zip(*(_event_row(r) for r in records), strict=True)]
    return [*columns, records[-1].seq, records[-1].hash]


# Appending: the events (9 arrays) and the new head in one statement.
_EVENTS_SQL = (
    "appended AS (INSERT INTO events (seq, ts, service_id, session_id, actor, type, payload,"
    " prev_hash, hash) SELECT * FROM unnest($1::bigint[], $2::float8[], $3::text[], $4::text[],"
    " $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])"
)
# (Statements built from constants only: S608 does not apply.)
_APPEND_SQL = f"WITH {_EVENTS_SQL}) UPDATE event_head SET seq = $10, hash = $11 WHERE id = 1"  # noqa: S608
# The same, only if the head (locked here) is still ($12, $13); it returns the head it locked.
_APPEND_IF_HEAD_SQL = (
    "WITH head AS MATERIALIZED (SELECT seq, hash FROM event_head WHERE id = 1 FOR UPDATE),"  # noqa: S608
    f" {_EVENTS_SQL} WHERE (SELECT seq = $12 AND hash = $13 FROM head)),"
    " moved AS (UPDATE event_head SET seq = $10, hash = $11"
    " WHERE id = 1 AND (SELECT seq = $12 AND hash = $13 FROM head))"
    " SELECT seq, hash FROM head"
)


def _count(status: str) -> int:
    """Return the row count of a command tag such as ``UPDATE 1`` or ``INSERT 0 1``."""
    try:
        return int(status.rsplit(" ", 1)[-1])
    except ValueError:
        return 0


def describe_url(url: str) -> str:
    """Return the database URL without its password, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


class _Tx:
    """One open transaction, the checkpoints to record and the head it leaves once committed."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.checkpoints: list[Checkpoint] = []
        self.head: tuple[int, str] | None = None


class PostgresStore(Store):
    """The store on a PostgreSQL database; the only owner of its connection pool."""

    def __init__(
        self,
        url: str,
        audit_key: AuditKey,
        *,
        checkpoint_every: int = 100,
        min_connections: int = 1,
        max_connections: int = 10,
    ) -> None:
        self._url = url
        self._key = audit_key
        self._checkpoint_every = checkpoint_every
        self._min = min_connections
        self._max = max_connections
        self._pool: asyncpg.Pool | None = None
        self._read_only = False
        self._head_seen: tuple[int, str] = (0, GENESIS_HASH)  # a guess; the database decides

    # -- lifecycle ------------------------------------------------------------------------------

    async def open(self, *, read_only: bool = False) -> None:
        """Connect, bring the schema up to date (unless read-only) and check its version."""
        if self._pool is not None:
            return
        self._read_only = read_only
        settings = {"synchronous_commit": "on", "application_name": "haven"}
        if read_only:
            settings["default_transaction_read_only"] = "on"
        try:
            pool = await asyncpg.create_pool(
                self._url,
                min_size=self._min,
                max_size=self._max,
                server_settings=settings,
                timeout=5,
                command_timeout=15,
            )
        except CONNECTION_ERRORS as exc:
            raise StoreError(
                f"Haven cannot reach PostgreSQL at {describe_url(self._url)}: {exc}"
            ) from None
        try:
            async with pool.acquire() as conn:
                if read_only:
                    version = await _schema_version(conn)
                else:
                    version = await migrate(conn)
        except BaseException:
            await pool.close()
            raise
        if version != LATEST:
            await pool.close()
            raise StoreError(
                f"The database's schema is version {version}, but this Haven knows versions up to"
                f" {LATEST}; start Haven (not read-only) to migrate it, or upgrade Haven."
            )
        self._pool = pool

    async def close(self) -> None:
        """Write a final checkpoint and close the pool; closing twice is harmless."""
        if self._pool is None:
            return
        try:
            if not self._read_only:
                await self._final_checkpoint()
        except (Unavailable, StoreError):
            log.warning("Could not write the final checkpoint: the database is not reachable")
        finally:
            pool, self._pool = self._pool, None
            await pool.close()

    async def ping(self) -> None:
        """Run a trivial query; raises ``Unavailable`` if the database does not answer."""
        await self._fetchval("SELECT 1")

    async def _final_checkpoint(self) -> None:
        async with self._tx() as tx:
            head = await tx.conn.fetchrow(
                "SELECT seq, hash FROM event_head WHERE id = 1 FOR UPDATE"
            )
            seq, digest = int(head["seq"]), str(head["hash"])
            if seq and not await tx.conn.fetchval("SELECT 1 FROM checkpoints WHERE seq = $1", seq):
                await self._write_checkpoint(tx, seq, digest)

    # -- plumbing -------------------------------------------------------------------------------

    @property
    def _live_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError("The store is not open.")
        return self._pool

    async def _guard(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except CONNECTION_ERRORS as exc:
            log.warning("Database unavailable: %s", type(exc).__name__)
            raise Unavailable(UNAVAILABLE) from None

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[_Tx]:
        pool = self._live_pool
        tx: _Tx | None = None
        try:
            async with pool.acquire() as conn, conn.transaction():
                tx = _Tx(conn)
                yield tx
        except CONNECTION_ERRORS as exc:
            log.warning("Database unavailable during a write: %s", type(exc).__name__)
            raise Unavailable(UNAVAILABLE) from None
        # Only a committed checkpoint may reach the head file, or verification would see a
        # checkpoint beyond the log's end and call it truncation.
        for checkpoint in tx.checkpoints if tx else ():
            self._key.record_head(checkpoint)
        if tx is not None and tx.head is not None:
            self._head_seen = tx.head

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        return await self._guard(lambda: self._live_pool.fetch(sql, *args))

    async def _fetchrow(self, sql: str, *args: Any) -> Any:
        return await self._guard(lambda: self._live_pool.fetchrow(sql, *args))

    async def _fetchval(self, sql: str, *args: Any) -> Any:
        return await self._guard(lambda: self._live_pool.fetchval(sql, *args))

    async def _append(self, tx: _Tx, events: Sequence[NewEvent]) -> list[EventRecord]:
        """Append ``events`` after the head, holding the head row's lock until commit.

        The chain is computed on the head this process last saw and sent with it in one
        statement, which locks the head row and appends only if the head is still that one;
        otherwise (another process appended meanwhile) it returns the head it locked, and the
        chain is computed again on it: one round trip usually, two at most.
        """
        if not events:
            return []
        seq, prev = self._head_seen
        records = chain_after(events, seq, prev, time.time())
        head = await tx.conn.fetchrow(_APPEND_IF_HEAD_SQL, *_event_columns(records), seq, prev)
        if (head["seq"], head["hash"]) != (seq, prev):
            # The lock is ours now: the head cannot move again before the commit.
            records = chain_after(events, int(head["seq"]), str(head["hash"]), time.time())
            await tx.conn.execute(_APPEND_SQL, *_event_columns(records))
        for record in records:
            if record.seq % self._checkpoint_every == 0:
                await self._write_checkpoint(tx, record.seq, record.hash)
        tx.head = (records[-1].seq, records[-1].hash)
        return records

    async def _write_checkpoint(self, tx: _Tx, seq: int, head: str) -> None:
        checkpoint = Checkpoint(seq, head, checkpoint_mac(self._key.secret, seq, head), time.time())
        await tx.conn.execute(
            "INSERT INTO checkpoints (seq, head_hash, mac, at) VALUES ($1,$2,$3,$4)"
            " ON CONFLICT (seq) DO NOTHING",
            checkpoint.seq,
            checkpoint.head_hash,
            checkpoint.mac,
            checkpoint.at,
        )
        tx.checkpoints.append(checkpoint)

    async def _write(self, sql: str, args: Sequence[Any], events: Sequence[NewEvent]) -> int:
        async with self._tx() as tx:
            changed = _count(await tx.conn.execute(sql, *args))
            if changed:
                await self._append(tx, events)
            return changed

    # -- events ---------------------------------------------------------------------------------

    async def append(self, *events: NewEvent) -> list[EventRecord]:
        """Append events durably, in order, in one transaction."""
        async with self._tx() as tx:
            return await self._append(tx, events)

    async def events(
        self, *, session_id: str | None = None, after_seq: int = 0, limit: int = 10_000
    ) -> list[EventRecord]:
        """Return the log's events in order, optionally for one session."""
        if session_id is None:
            rows = await self._fetch(
                "SELECT * FROM events WHERE seq > $1 ORDER BY seq LIMIT $2", after_seq, limit
            )
        else:
            rows = await self._fetch(
                "SELECT * FROM events WHERE seq > $1 AND session_id = $2 ORDER BY seq LIMIT $3",
                after_seq,
                session_id,
                limit,
            )
        return [event_from(r) for r in rows]

    async def checkpoints(self) -> list[Checkpoint]:
        """Return every checkpoint, oldest first."""
        rows = await self._fetch("SELECT * FROM checkpoints ORDER BY seq")
        return [Checkpoint(r["seq"], r["head_hash"], r["mac"], r["at"]) for r in rows]

    async def head_seq(self) -> int:
        """Return the sequence number of the newest event, 0 while the log is empty."""
        return int(await self._fetchval("SELECT seq FROM event_head WHERE id = 1"))

    # -- services and users ---------------------------------------------------------------------

    async def create_service(self, service: Service, events: Sequence[NewEvent]) -> None:
        """Create a service."""
        await self._write(
            "INSERT INTO services (id, slug, name, settings, created_at) VALUES ($1,$2,$3,$4,$5)",
            (service.id, service.slug, service.name, json.dumps(service.settings), time.time()),
            events,
        )

    async def service(self, service_id: str) -> Service | None:
        """Return the service with this id."""
        row = await self._fetchrow("SELECT * FROM services WHERE id = $1", service_id)
        return service_from(row) if row else None

    async def service_by_slug(self, slug: str) -> Service | None:
        """Return the service with this slug."""
        row = await self._fetchrow("SELECT * FROM services WHERE slug = $1", slug)
        return service_from(row) if row else None

    async def update_service_settings(
        self, service_id: str, settings: dict[str, Any], events: Sequence[NewEvent] = ()
    ) -> None:
        """Replace a service's settings, with the events that record the change."""
        await self._write(
            "UPDATE services SET settings = $1 WHERE id = $2",
            (json.dumps(settings), service_id),
            events,
        )

    async def create_user(self, user: User, events: Sequence[NewEvent]) -> None:
        """Create a staff account; raises StoreError if the email is taken."""
        try:
            await self._write(
                "INSERT INTO users (id, service_id, email, role, password_hash, created_at)"
                " VALUES ($1,$2,$3,$4,$5,$6)",
                (user.id, user.service_id, user.email, user.role, user.password_hash, time.time()),
                events,
            )
        except asyncpg.UniqueViolationError:
            raise StoreError(f"An account with the email {user.email} already exists.") from None

    async def user(self, user_id: str) -> User | None:
        """Return the account with this id."""
        row = await self._fetchrow("SELECT * FROM users WHERE id = $1", user_id)
        return user_from(row) if row else None

    async def user_by_email(self, email: str) -> User | None:
        """Return the account with this email."""
        row = await self._fetchrow("SELECT * FROM users WHERE email = $1", email.strip().lower())
        return user_from(row) if row else None

    async def set_password(
        self, user_id: str, password_hash: str, events: Sequence[NewEvent]
    ) -> None:
        """Replace an account's password hash and sign it out everywhere."""
        async with self._tx() as tx:
            await tx.conn.execute(
                "UPDATE users SET password_hash = $1 WHERE id = $2", password_hash, user_id
            )
            await tx.conn.execute("DELETE FROM logins WHERE user_id = $1", user_id)
            await self._append(tx, events)

    async def set_on_duty(self, user_id: str, on_duty: bool, events: Sequence[NewEvent]) -> None:
        """Mark a safeguarding lead on or off duty."""
        await self._write(
            "UPDATE users SET on_duty = $1 WHERE id = $2", (int(on_duty), user_id), events
        )

    async def login_failures_since(self, user_id: str, since: float) -> list[float]:
        """Return the times of an account's failed sign-ins since ``since``, oldest first."""
        rows = await self._fetch(
            "SELECT at FROM login_failures WHERE user_id = $1 AND at >= $2 ORDER BY at",
            user_id,
            since,
        )
        return [r["at"] for r in rows]

    async def add_login_failure(self, user_id: str, at: float) -> None:
        """Record a failed sign-in and forget those older than a day."""
        async with self._tx() as tx:
            await tx.conn.execute(
                "INSERT INTO login_failures (user_id, at) VALUES ($1, $2)", user_id, at
            )
            await tx.conn.execute("DELETE FROM login_failures WHERE at < $1", at - 86400)

    async def clear_login_failures(self, user_id: str) -> None:
        """Forget an account's failed sign-ins after a successful one."""
        await self._write("DELETE FROM login_failures WHERE user_id = $1", (user_id,), ())

    # -- console sign-in ------------------------------------------------------------------------

    async def create_login(self, login: Login, events: Sequence[NewEvent]) -> None:
        """Store a new signed-in console."""
        await self._write(
            "INSERT INTO logins (token_hash, user_id, csrf_token, created_at, last_seen)"
            " VALUES ($1,$2,$3,$4,$5)",
            (login.token_hash, login.user_id, login.csrf_token, login.created_at, login.last_seen),
            events,
        )

    async def login(self, token_hash: str) -> Login | None:
        """Return the signed-in console with this cookie hash."""
        row = await self._fetchrow("SELECT * FROM logins WHERE token_hash = $1", token_hash)
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
            "UPDATE logins SET last_seen = $1 WHERE token_hash = $2", (now, token_hash), ()
        )

    async def delete_login(self, token_hash: str) -> None:
        """Sign a console out."""
        await self._write("DELETE FROM logins WHERE token_hash = $1", (token_hash,), ())

    async def create_signin_link(self, token_hash: str, user_id: str, expires_at: float) -> None:
        """Store a one-time sign-in link."""
        await self._write(
            "INSERT INTO signin_links (token_hash, user_id, expires_at) VALUES ($1,$2,$3)",
            (token_hash, user_id, expires_at),
            (),
        )

    async def use_signin_link(self, token_hash: str, now: float) -> str | None:
        """Spend a one-time sign-in link and return its account id, or None if it is not valid."""
        async with self._tx() as tx:
            user_id = await tx.conn.fetchval(
                "UPDATE signin_links SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL"
                " AND expires_at > $1 RETURNING user_id",
                now,
                token_hash,
            )
            return str(user_id) if user_id is not None else None

    # -- sessions, invites, participants --------------------------------------------------------

    async def create_session(self, session: Session, events: Sequence[NewEvent]) -> None:
        """Create a session."""
        await self._write(
            "INSERT INTO sessions (id, service_id, kind, title, facilitator_id, co_facilitator_id,"
            " locked, created_at) VALUES ($1,$2,$3,$4,$5,$6,0,$7)",
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
        row = await self._fetchrow("SELECT * FROM sessions WHERE id = $1", session_id)
        return session_from(row) if row else None

    async def sessions(self, service_id: str) -> list[Session]:
        """Return a service's sessions, newest first."""
        rows = await self._fetch(
            "SELECT * FROM sessions WHERE service_id = $1 ORDER BY created_at DESC", service_id
        )
        return [session_from(r) for r in rows]

    async def set_session_locked(
        self, session_id: str, locked: bool, events: Sequence[NewEvent]
    ) -> None:
        """Lock or unlock a session."""
        await self._write(
            "UPDATE sessions SET locked = $1 WHERE id = $2 AND ended_at IS NULL",
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
        async with self._tx() as tx:
            changed = _count(
                await tx.conn.execute(
                    "UPDATE sessions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL",
                    now,
                    session_id,
                )
            )
            if not changed:
                return False
            await tx.conn.execute(
                f"WITH {_queue_webhooks(1)} SELECT 1", *_webhook_columns(webhooks)
            )
            await tx.conn.execute(
                "UPDATE participants SET status = 'left' WHERE session_id = $1"
                " AND status IN ('waiting', 'admitted')",
                session_id,
            )
            await tx.conn.execute(
                "UPDATE invites SET revoked_at = $1 WHERE session_id = $2 AND revoked_at IS NULL",
                now,
                session_id,
            )
            await self._append(tx, events)
            return True

    async def create_invite(
        self, invite: Invite, token_hash: str, events: Sequence[NewEvent]
    ) -> None:
        """Create an invite."""
        await self._write(
            "INSERT INTO invites (id, session_id, token_hash, label, expires_at, pin_hash,"
            " duress_pin_hash, safety_plan, safe_word, spoken_phrase, spoken_opt_in, created_at)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
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
        row = await self._fetchrow("SELECT * FROM invites WHERE id = $1", invite_id)
        return invite_from(row) if row else None

    async def invite_by_token(self, token_hash: str) -> Invite | None:
        """Return the invite whose token hashes to ``token_hash``."""
        row = await self._fetchrow("SELECT * FROM invites WHERE token_hash = $1", token_hash)
        return invite_from(row) if row else None

    async def invites(self, session_id: str) -> list[Invite]:
        """Return a session's invites, oldest first."""
        rows = await self._fetch(
            "SELECT * FROM invites WHERE session_id = $1 ORDER BY created_at", session_id
        )
        return [invite_from(r) for r in rows]

    async def update_invite(self, invite: Invite, events: Sequence[NewEvent]) -> None:
        """Save an invite's safety arrangements, PINs and PIN-failure state."""
        await self._write(
            "UPDATE invites SET label = $1, pin_hash = $2, duress_pin_hash = $3, safety_plan = $4,"
            " safe_word = $5, spoken_phrase = $6, spoken_opt_in = $7, pin_failures = $8,"
            " locked_until = $9, revoked_at = $10 WHERE id = $11",
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
        async with self._tx() as tx:
            changed = _count(
                await tx.conn.execute(
                    "UPDATE invites SET used_at = $1 WHERE id = $2 AND used_at IS NULL"
                    " AND revoked_at IS NULL",
                    now,
                    participant.invite_id,
                )
            )
            if not changed:
                return False
            await tx.conn.execute(
                "INSERT INTO participants (id, session_id, invite_id, token_hash, display_name,"
                " camera_off, status, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
                participant.id,
                participant.session_id,
                participant.invite_id,
                token_hash,
                participant.display_name,
                int(participant.camera_off),
                participant.status,
                now,
            )
            await self._append(tx, events)
            return True

    async def participant(self, participant_id: str) -> Participant | None:
        """Return the participant with this id."""
        row = await self._fetchrow("SELECT * FROM participants WHERE id = $1", participant_id)
        return participant_from(row) if row else None

    async def participant_by_token(self, token_hash: str) -> Participant | None:
        """Return the participant whose capability token hashes to ``token_hash``."""
        row = await self._fetchrow("SELECT * FROM participants WHERE token_hash = $1", token_hash)
        return participant_from(row) if row else None

    async def token_holder(self, token_hash: str) -> Holder | None:
        """Return whom a token names (participant, invite, session, service) in one query."""
        return _holder(await self._fetchrow(_HOLDER_BY_CAPABILITY_SQL, token_hash))

    async def participant_holder(self, participant_id: str) -> Holder | None:
        """Return a participant with their invite, session and service in one query."""
        return _holder(await self._fetchrow(_HOLDER_BY_PARTICIPANT_SQL, participant_id))

    async def participant_by_invite(self, invite_id: str) -> Participant | None:
        """Return the participant who redeemed this invite, if any."""
        row = await self._fetchrow("SELECT * FROM participants WHERE invite_id = $1", invite_id)
        return participant_from(row) if row else None

    async def participants(self, session_id: str) -> list[Participant]:
        """Return a session's participants in arrival order."""
        rows = await self._fetch(
            "SELECT * FROM participants WHERE session_id = $1 ORDER BY created_at", session_id
        )
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
        return bool(
            await self._write(
                "UPDATE participants SET status = $1 WHERE id = $2 AND status = ANY($3::text[])",
                (status, participant_id, list(only_from)),
                events,
            )
        )

    async def revoke_invite(self, invite_id: str, now: float, events: Sequence[NewEvent]) -> None:
        """Revoke an invite so it can never be used again."""
        await self._write(
            "UPDATE invites SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2",
            (now, invite_id),
            events,
        )

    # -- signals and alerts ---------------------------------------------------------------------

    async def record_signal(self, write: SignalWrite) -> bool:
        """Commit a signal and all its consequences at once; False if its id was already seen."""
        p = write.participant
        async with self._tx() as tx:
            # The signal row, the participant's pause state, its alerts and webhooks in one
            # round trip; the rest is written only if the signal is new (its id unique per
            # subject). The event log follows, under the head row's lock, as in every write.
            inserted, saved = await tx.conn.fetchrow(
                "WITH signal AS (INSERT INTO signals"  # noqa: S608 (see _SIGNAL_IS_NEW)
                " (subject_id, signal_id, kind, source,"
                " channel, received_at) VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING"
                " RETURNING 1), paused AS (UPDATE participants SET paused_reason = $7,"
                " paused_at = $8, alert_id = $9 WHERE id = $10 AND EXISTS (SELECT 1 FROM signal)"
                " AND paused_reason IS NOT DISTINCT FROM $24 AND paused_at IS NOT DISTINCT FROM"
                " $25 AND alert_id IS NOT DISTINCT FROM $26 RETURNING 1),"
                f" {_upsert_alerts(11, _SIGNAL_IS_NEW)}, {_queue_webhooks(19, _SIGNAL_IS_NEW)}"
                " SELECT (SELECT count(*) FROM signal), (SELECT count(*) FROM paused)",
                write.subject_id,
                write.signal_id,
                write.kind,
                write.source,
                write.channel,
                write.received_at,
                p.paused_reason if p else None,
                p.paused_at if p else None,
                p.alert_id if p else None,
                p.id if p else None,
                *_alert_columns(write.alerts),
                *_webhook_columns(write.webhooks),
                *pause_read(write.participant_read),
            )
            if not inserted:
                return False
            if p is not None and not saved:
                raise StaleRead(p.id)  # leaving the block rolls the signal row back too
            await self._append(tx, write.events)
            return True

    async def save_participant_pause(self, participant: Participant) -> None:
        """Save a participant's pause state (reason, start, linked alert)."""
        await self._write(
            "UPDATE participants SET paused_reason = $1, paused_at = $2, alert_id = $3"
            " WHERE id = $4",
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
            "INSERT INTO phrase_calibrations (phrase_key, threshold, false_alarms_per_hour,"
            " bank_hours, calibrated_at) VALUES ($1,$2,$3,$4,$5) ON CONFLICT (phrase_key) DO UPDATE"
            " SET threshold = EXCLUDED.threshold,"
            " false_alarms_per_hour = EXCLUDED.false_alarms_per_hour,"
            " bank_hours = EXCLUDED.bank_hours, calibrated_at = EXCLUDED.calibrated_at",
            (c.phrase_key, c.threshold, c.false_alarms_per_hour, c.bank_hours, c.calibrated_at),
            (),
        )

    async def phrase_calibration(self, phrase_key: str) -> PhraseCalibration | None:
        """Return the calibration stored for a phrase key, if any."""
        row = await self._fetchrow(
            "SELECT * FROM phrase_calibrations WHERE phrase_key = $1", phrase_key
        )
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
        async with self._tx() as tx:
            await tx.conn.execute(
                f"WITH {_upsert_alerts(1)}, {_queue_webhooks(9)} SELECT 1",
                *_alert_columns([alert]),
                *_webhook_columns(webhooks),
            )
            await self._append(tx, events)

    async def alert(self, alert_id: str) -> Alert | None:
        """Return the alert with this id."""
        row = await self._fetchrow("SELECT * FROM alerts WHERE id = $1", alert_id)
        return alert_from(row) if row else None

    async def open_alerts(
        self, *, service_id: str | None = None, session_id: str | None = None
    ) -> list[Alert]:
        """Return every alert not yet resolved, oldest first, for a service or a session."""
        rows = await self._fetch(
            "SELECT * FROM alerts WHERE status <> 'resolved'"
            " AND ($1::text IS NULL OR service_id = $1)"
            " AND ($2::text IS NULL OR session_id = $2) ORDER BY raised_at",
            service_id,
            session_id,
        )
        return [alert_from(r) for r in rows]

    async def alerts(self, session_id: str) -> list[Alert]:
        """Return every alert of a session, oldest first."""
        rows = await self._fetch(
            "SELECT * FROM alerts WHERE session_id = $1 ORDER BY raised_at", session_id
        )
        return [alert_from(r) for r in rows]

    # -- webhooks -------------------------------------------------------------------------------

    async def due_webhooks(self, now: float, limit: int = 50) -> list[OutboxItem]:
        """Return webhook deliveries due now, oldest first."""
        rows = await self._fetch(
            "SELECT * FROM webhook_outbox WHERE delivered_at IS NULL AND given_up_at IS NULL"
            " AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2",
            now,
            limit,
        )
        return [outbox_from(r) for r in rows]

    async def outbox_depth(self) -> int:
        """Return how many webhooks wait to be delivered (for the metrics endpoint)."""
        return int(
            await self._fetchval(
                "SELECT count(*) FROM webhook_outbox"
                " WHERE delivered_at IS NULL AND given_up_at IS NULL"
            )
        )

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
        async with self._tx() as tx:
            attempts = await tx.conn.fetchval(
                "UPDATE webhook_outbox SET attempts = attempts + 1, delivered_at = $1,"
                " next_attempt_at = COALESCE($2, next_attempt_at), given_up_at = $3,"
                " last_error = $4 WHERE id = $5 RETURNING attempts",
                delivered_at,
                retry_at,
                None if delivered_at or retry_at else time.time(),
                error,
                item.id,
            )
            await tx.conn.execute(
                "INSERT INTO webhook_attempt_log (outbox_id, attempt, at, status, error,"
                " duration_ms) VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (outbox_id, attempt)"
                " DO UPDATE SET at = EXCLUDED.at, status = EXCLUDED.status,"
                " error = EXCLUDED.error, duration_ms = EXCLUDED.duration_ms",
                item.id,
                attempts if attempts is not None else item.attempts + 1,
                delivered_at or time.time(),
                status,
                error,
                duration_ms,
            )
            await self._append(tx, events)

    async def webhook_attempts(self, service_id: str) -> list[OutboxItem]:
        """Return a service's webhook deliveries, newest first, for its admin."""
        rows = await self._fetch(
            "SELECT * FROM webhook_outbox WHERE service_id = $1 ORDER BY created_at DESC LIMIT 200",
            service_id,
        )
        return [outbox_from(r) for r in rows]

    async def claim_webhook(self, item_id: str, now: float, lease_until: float) -> bool:
        """Take a due outbox item for one sender until ``lease_until``; False if another has it."""
        return bool(
            await self._write(
                "UPDATE webhook_outbox SET next_attempt_at = $1 WHERE id = $2"
                " AND delivered_at IS NULL AND given_up_at IS NULL AND next_attempt_at <= $3",
                (lease_until, item_id, now),
                (),
            )
        )

    async def webhook_attempt_log(self, service_id: str, outbox_id: str) -> list[WebhookAttempt]:
        """Return every delivery attempt of one of a service's outbox items, oldest first."""
        rows = await self._fetch(
            "SELECT a.* FROM webhook_attempt_log a JOIN webhook_outbox o ON o.id = a.outbox_id"
            " WHERE o.service_id = $1 AND a.outbox_id = $2 ORDER BY a.attempt",
            service_id,
            outbox_id,
        )
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
        async with self._tx() as tx:
            await tx.conn.execute(
                "INSERT INTO api_keys (id, service_id, key_hash, name, prefix, scopes, created_at,"
                " created_by, revoked_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
                key.id,
                key.service_id,
                key_hash,
                key.name,
                key.prefix,
                " ".join(key.scopes),
                key.created_at,
                key.created_by,
                key.revoked_at,
            )
            await self._append(tx, events)

    async def api_key_by_hash(self, key_hash: str) -> ApiKey | None:
        """Return the API key (revoked or not) whose secret hashes to ``key_hash``."""
        row = await self._fetchrow("SELECT * FROM api_keys WHERE key_hash = $1", key_hash)
        return api_key_from(row) if row else None

    async def api_keys(self, service_id: str) -> list[ApiKey]:
        """Return a service's API keys, revoked ones included, oldest first."""
        rows = await self._fetch(
            "SELECT * FROM api_keys WHERE service_id = $1 ORDER BY created_at", service_id
        )
        return [api_key_from(r) for r in rows]

    async def revoke_api_key(
        self, service_id: str, key_id: str, now: float, events: Sequence[NewEvent] = ()
    ) -> bool:
        """Revoke one of a service's API keys; False if there is no such live key."""
        return bool(
            await self._write(
                "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND service_id = $3"
                " AND revoked_at IS NULL",
                (now, key_id, service_id),
                events,
            )
        )

    # -- retention ------------------------------------------------------------------------------

    async def purge_personal_data(self, ended_before: float) -> int:
        """Blank names, safety plans and safe words of sessions that ended before the cut-off."""
        async with self._tx() as tx:
            ids = [
                r["id"]
                for r in await tx.conn.fetch(
                    "SELECT id FROM sessions WHERE ended_at IS NOT NULL AND ended_at < $1",
                    ended_before,
                )
            ]
            if ids:
                await tx.conn.execute(
                    "UPDATE participants SET display_name = '' WHERE session_id = ANY($1::text[])",
                    ids,
                )
                await tx.conn.execute(
                    "UPDATE invites SET safety_plan = '', safe_word = '', spoken_phrase = '',"
                    " pin_hash = NULL, duress_pin_hash = NULL WHERE session_id = ANY($1::text[])",
                    ids,
                )
            await tx.conn.execute("DELETE FROM logins WHERE last_seen < $1", ended_before)
            await tx.conn.execute("DELETE FROM signin_links WHERE expires_at < $1", ended_before)
            return len(ids)


# -- migrations ---------------------------------------------------------------------------------


async def _schema_version(conn: Conn) -> int:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations"))


async def migrate(conn: Conn, *, target: int = LATEST) -> int:
    """Apply every migration up to ``target`` not yet applied, under a lock; return the version.

    Nodes starting together queue on a transaction-scoped advisory lock, so each migration runs
    once; the whole upgrade is one transaction, so a failure leaves the previous version intact.
    """
    async with conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext(current_schema() || $1))", MIGRATION_LOCK
        )
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
            " name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
        )
        applied = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        newest = max(applied, default=0)
        if newest > LATEST:
            return newest
        for migration in MIGRATIONS:
            if migration.version in applied or migration.version > target:
                continue
            log.info("Applying database migration %04d_%s", migration.version, migration.name)
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                time.time(),
            )
            newest = max(newest, migration.version)
        return newest


# -- rows to records ----------------------------------------------------------------------------

"""The store interface behaves the same on SQLite and PostgreSQL, method by method."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest

from server.config import Config
from server.errors import Unavailable
from server.models import Alert, Invite, Login, Participant, Service, Session, User
from server.store import (
    Holder,
    NewEvent,
    SignalWrite,
    StaleRead,
    Store,
    StoreError,
    WebhookBody,
)
from server.store.base import ApiKey
from server.store.factory import make_store
from signals import AlertState
from tests.harness import some
from tests.store.conftest import Backend

SETTINGS = {"a": 1, "webhook_url": "https://hooks.example.org/haven"}


def _ev(kind: str = "note.added", session: str = "") -> NewEvent:
    return NewEvent(kind, "svc", session)  # type: ignore[arg-type]


async def _seed(backend: Backend) -> tuple[Store, Session, Invite]:
    store = backend.store()
    await store.open()
    await store.create_service(Service("svc", "svc", "Service", SETTINGS), [_ev("service.created")])
    await store.create_user(User("u1", "svc", "f@example.org", "facilitator", "h"), [])
    session = Session("ses", "svc", "one_to_one", "Title", "u1", None, False, time.time(), None)
    await store.create_session(session, [_ev("session.created", "ses")])
    invite = Invite(
        id="inv",
        session_id="ses",
        label="Sam",
        expires_at=time.time() + 3600,
        pin_hash=None,
        duress_pin_hash=None,
        pin_failures=0,
        locked_until=None,
        revoked_at=None,
        used_at=None,
        safety_plan="text them",
        safe_word="pineapple",
        spoken_phrase="",
    )
    await store.create_invite(invite, "tokhash", [_ev("invite.created", "ses")])
    return store, session, invite


async def test_accounts_sessions_and_invites_round_trip(backend: Backend) -> None:
    """What is written comes back the same, and a taken email is refused with StoreError."""
    store, session, invite = await _seed(backend)
    try:
        assert some(await store.service_by_slug("svc")).settings == SETTINGS
        await store.update_service_settings("svc", {"b": 2})
        assert some(await store.service("svc")).settings == {"b": 2}
        with pytest.raises(StoreError, match="already exists"):
            await store.create_user(User("u2", "svc", "f@example.org", "lead", "h"), [])
        assert some(await store.user_by_email(" F@example.org ".lower())).id == "u1"
        assert await store.session("ses") == session
        assert await store.invite_by_token("tokhash") == invite
        await store.set_session_locked("ses", True, [_ev("session.locked", "ses")])
        assert some(await store.session("ses")).locked
        now = time.time()
        await store.create_login(Login("lh", "u1", "csrf", now, now), [])
        assert some(await store.login("lh")).csrf_token == "csrf"
        await store.create_signin_link("sl", "u1", now + 60)
        assert await store.use_signin_link("sl", now) == "u1"
        assert await store.use_signin_link("sl", now) is None
        await store.add_login_failure("u1", now)
        assert await store.login_failures_since("u1", now - 1) == [now]
        await store.clear_login_failures("u1")
        assert await store.login_failures_since("u1", 0) == []
    finally:
        await store.close()


async def test_token_holder_names_participant_invite_session_and_service(
    backend: Backend,
) -> None:
    """An invite token before joining, the participant's token after; an unknown one: nothing."""
    store, session, invite = await _seed(backend)
    try:
        service = some(await store.service("svc"))
        assert await store.token_holder("tokhash") == Holder(None, invite, session, service)
        assert await store.token_holder("nobody") is None
        p = Participant("p1", "ses", "inv", "Sam", status="waiting")
        assert await store.redeem_invite(p, "ptok", time.time(), [])
        holder = await store.token_holder("ptok")
        assert holder is not None and holder.participant == await store.participant("p1")
        assert holder.invite.id == "inv" and holder.invite.used_at is not None
        assert (holder.session, holder.service) == (session, service)
        assert await store.participant_holder("p1") == holder
        assert await store.participant_holder("nobody") is None
    finally:
        await store.close()


async def test_no_webhook_is_queued_for_a_service_without_an_endpoint(backend: Backend) -> None:
    """A service with no endpoint gets no outbox rows; the signal itself is still recorded."""
    store, _, _ = await _seed(backend)
    try:
        await store.update_service_settings("svc", {"webhook_url": ""})
        now = time.time()
        write = SignalWrite(
            subject_id="inv",
            signal_id="sig-nohook",
            kind="panic",
            source="control",
            channel="socket",
            received_at=now,
            participant=None,
            participant_read=None,
            alerts=[],
            webhooks=[WebhookBody("wh-nohook", "svc", "signal.received", {"x": 1}, now)],
            events=[_ev("signal.received", "ses")],
        )
        assert await store.record_signal(write)
        assert not await store.record_signal(write)  # recorded: the same id is a duplicate
        assert await store.due_webhooks(now + 1) == []
        assert await store.webhook_attempts("svc") == []
    finally:
        await store.close()


async def test_a_signal_decided_on_a_stale_pause_state_writes_nothing(backend: Backend) -> None:
    """If the pause state changed since it was read, the commit raises StaleRead, all undone."""
    store, _, _ = await _seed(backend)
    try:
        p = Participant("p1", "ses", "inv", "Sam", status="admitted")
        assert await store.redeem_invite(p, "ptok", time.time(), [])
        now = time.time()

        def panic(signal_id: str, alert_id: str, read: Participant) -> SignalWrite:
            state = AlertState(alert_id, "p1", "panic", now)
            alert = Alert("svc", "ses", signal_id, "control", state)
            return SignalWrite(
                subject_id="p1",
                signal_id=signal_id,
                kind="panic",
                source="control",
                channel="socket",
                received_at=now,
                participant=replace(p, paused_reason="panic", paused_at=now, alert_id=alert_id),
                participant_read=read,
                alerts=[alert],
                webhooks=[WebhookBody(f"wh-{signal_id}", "svc", "session.paused", {}, now)],
                events=[_ev("signal.received", "ses")],
            )

        assert await store.record_signal(panic("sig1", "al1", p))  # read: active; it was
        head = await store.head_seq()
        with pytest.raises(StaleRead):  # read: active; it is paused by now
            await store.record_signal(panic("sig2", "al2", p))
        assert await store.head_seq() == head
        assert [a.id for a in await store.open_alerts(session_id="ses")] == ["al1"]
        assert [w.id for w in await store.due_webhooks(now + 1)] == ["wh-sig1"]
        stored = await store.participant("p1")
        assert stored is not None and stored.alert_id == "al1"
        # Decided again: fine, and not a duplicate, so the stale attempt recorded nothing.
        assert await store.record_signal(panic("sig2", "al2", stored))
    finally:
        await store.close()


async def test_signal_with_alert_and_webhook_commits_once(backend: Backend) -> None:
    """A signal's consequences commit together; the same signal id a second time changes nothing."""
    store, _, _ = await _seed(backend)
    s = store
    try:
        p = Participant("p1", "ses", "inv", "Sam", status="admitted")
        assert await s.redeem_invite(p, "ptok", time.time(), [_ev("participant.joined", "ses")])
        assert not await s.redeem_invite(p, "ptok2", time.time(), [])
        now = time.time()
        alert = Alert("svc", "ses", "sig1", "control", AlertState("al1", "p1", "panic", now))
        write = SignalWrite(
            subject_id="p1",
            signal_id="sig1",
            kind="panic",
            source="control",
            channel="socket",
            received_at=now,
            participant=replace(p, paused_reason="panic", paused_at=now, alert_id="al1"),
            participant_read=p,
            alerts=[alert],
            webhooks=[WebhookBody("wh1", "svc", "session.paused", {"x": 1}, now)],
            events=[_ev("signal.received", "ses"), _ev("alert.raised", "ses")],
        )
        head = await s.head_seq()
        assert await s.record_signal(write)
        assert not await s.record_signal(write)
        assert await s.head_seq() == head + 2
        paused = some(await s.participant_by_token("ptok"))
        assert paused.paused_reason == "panic" and paused.alert_id == "al1"
        assert [a.id for a in await s.open_alerts(service_id="svc")] == ["al1"]
        assert [a.id for a in await s.open_alerts(session_id="nope")] == []
        [due] = await s.due_webhooks(now + 1)
        assert due.id == "wh1" and due.data == {"x": 1}
        assert await s.claim_webhook("wh1", now + 1, now + 30)
        assert not await s.claim_webhook("wh1", now + 1, now + 30)
        await s.webhook_attempted(due, delivered_at=now + 2, retry_at=None, error="", status=204)
        [attempt] = await s.webhook_attempt_log("svc", "wh1")
        assert attempt.attempt == 1 and attempt.status == 204
        resolved = replace(
            alert,
            state=replace(
                alert.state,
                progress="resolved",
                acknowledged_by=("user:u1",),
                acknowledged_at=now,
                resolved_by="user:u1",
                resolved_at=now,
            ),
        )
        await s.save_alert(resolved, [_ev("alert.resolved", "ses")])
        assert await s.open_alerts() == []
        assert some(await s.alert("al1")).state.progress == "resolved"
        assert await s.end_session("ses", now, [_ev("session.ended", "ses")])
        assert not await s.end_session("ses", now, [])
        assert some(await s.participant("p1")).status == "left"
        assert await s.purge_personal_data(now + 1) == 1
        assert some(await s.invite("inv")).safety_plan == ""
        assert some(await s.participant("p1")).display_name == ""
    finally:
        await s.close()


async def test_api_keys(backend: Backend) -> None:
    """API keys are found by hash and revoked once."""
    store, _, _ = await _seed(backend)
    try:
        key = ApiKey("k1", "svc", "embed", "hvn_ab", ("signals:write",), time.time(), "user:u1")
        await store.create_api_key(key, "khash")
        assert await store.api_key_by_hash("khash") == key
        assert await store.revoke_api_key("svc", "k1", time.time())
        assert not await store.revoke_api_key("svc", "k1", time.time())
        assert (await store.api_keys("svc"))[0].revoked_at is not None
    finally:
        await store.close()


async def test_lost_connections_are_unavailable_then_recover(backend: Backend) -> None:
    """Connections cut by the server turn into Unavailable (503), and the next call reconnects."""
    if backend.name != "postgres":
        pytest.skip("SQLite has no connection to lose")
    store, _, _ = await _seed(backend)
    try:
        conn = await asyncpg.connect(backend.admin_url)
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'haven' AND datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
        await conn.close()
        failures = 0
        for _ in range(3):  # the pool's idle connection is dead: at most one call fails
            try:
                await store.append(_ev())
            except Unavailable as exc:
                assert "not reachable" in exc.message and exc.status == 503
                failures += 1
        assert failures <= 1
        assert await store.head_seq() == 3 + 3 - failures
    finally:
        await store.close()


async def test_unreachable_postgres_names_the_server_not_the_password(tmp_path: Path) -> None:
    """Starting against a PostgreSQL that does not answer fails with a clear message."""
    url = "postgresql://haven:s3cret@127.0.0.1:1/haven"
    store = make_store(Config(data_dir=tmp_path, database_url=url))
    with pytest.raises(StoreError) as caught:
        await store.open()
    assert "127.0.0.1:1" in str(caught.value) and "s3cret" not in str(caught.value)

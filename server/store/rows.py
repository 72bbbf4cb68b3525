"""Turning a database row into a record: one place for both stores (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any, Protocol

from server.models import Alert, Invite, Participant, Service, Session, User
from server.store.alert_json import alert_state_from_json
from server.store.base import ApiKey, OutboxItem
from server.store.chain import EventRecord


class Row(Protocol):
    """A database row read by column name (sqlite3.Row, asyncpg.Record)."""

    def __getitem__(self, key: str) -> Any:
        """Return a column's value."""


def service_from(row: Row) -> Service:
    return Service(row["id"], row["slug"], row["name"], json.loads(row["settings"]))


def user_from(row: Row) -> User:
    return User(
        row["id"],
        row["service_id"],
        row["email"],
        row["role"],
        row["password_hash"],
        bool(row["on_duty"]),
    )


def session_from(row: Row) -> Session:
    return Session(
        row["id"],
        row["service_id"],
        row["kind"],
        row["title"],
        row["facilitator_id"],
        row["co_facilitator_id"],
        bool(row["locked"]),
        row["created_at"],
        row["ended_at"],
    )


def invite_from(row: Row) -> Invite:
    return Invite(
        id=row["id"],
        session_id=row["session_id"],
        label=row["label"],
        expires_at=row["expires_at"],
        pin_hash=row["pin_hash"],
        duress_pin_hash=row["duress_pin_hash"],
        pin_failures=row["pin_failures"],
        locked_until=row["locked_until"],
        revoked_at=row["revoked_at"],
        used_at=row["used_at"],
        safety_plan=row["safety_plan"],
        safe_word=row["safe_word"],
        spoken_phrase=row["spoken_phrase"],
        spoken_opt_in=bool(row["spoken_opt_in"]),
    )


def participant_from(row: Row) -> Participant:
    return Participant(
        row["id"],
        row["session_id"],
        row["invite_id"],
        row["display_name"],
        bool(row["camera_off"]),
        row["status"],
        row["paused_reason"],
        row["paused_at"],
        row["alert_id"],
    )


def alert_from(row: Row) -> Alert:
    return Alert(
        service_id=row["service_id"],
        session_id=row["session_id"],
        signal_id=row["signal_id"],
        source=row["source"],
        state=alert_state_from_json(json.loads(row["state"])),
    )


def event_from(row: Row) -> EventRecord:
    return EventRecord(
        seq=row["seq"],
        ts=row["ts"],
        service_id=row["service_id"],
        session_id=row["session_id"],
        actor=row["actor"],
        type=row["type"],
        payload=json.loads(row["payload"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


def outbox_from(row: Row) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        service_id=row["service_id"],
        event_type=row["event_type"],
        data=json.loads(row["body"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
        given_up_at=row["given_up_at"],
        last_error=row["last_error"],
    )


def api_key_from(row: Row) -> ApiKey:
    return ApiKey(
        id=row["id"],
        service_id=row["service_id"],
        name=row["name"],
        prefix=row["prefix"],
        scopes=tuple(row["scopes"].split()),
        created_at=row["created_at"],
        created_by=row["created_by"],
        revoked_at=row["revoked_at"],
    )

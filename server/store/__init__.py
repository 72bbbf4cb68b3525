"""Durable state and the tamper-evident event log."""

from __future__ import annotations

from server.store.base import (
    AuditKey,
    Holder,
    OutboxItem,
    SignalWrite,
    StaleRead,
    Store,
    StoreError,
    WebhookBody,
)
from server.store.chain import EventRecord
from server.store.events import EVENT_TYPES, EventType, NewEvent

__all__ = [
    "EVENT_TYPES",
    "AuditKey",
    "EventRecord",
    "EventType",
    "Holder",
    "NewEvent",
    "OutboxItem",
    "SignalWrite",
    "StaleRead",
    "Store",
    "StoreError",
    "WebhookBody",
]

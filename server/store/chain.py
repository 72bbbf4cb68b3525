"""The tamper-evident chain: canonical JSON, record hashes and checkpoint HMACs (no I/O)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from server.store.events import NewEvent

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> bytes:
    """Serialise ``value`` deterministically: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class EventRecord:
    """One row of the append-only event log, exactly as hashed."""

    seq: int
    ts: float
    service_id: str
    session_id: str
    actor: str
    type: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str = ""

    def body(self) -> dict[str, Any]:
        """Return the fields covered by the hash, the previous hash included."""
        return {
            "seq": self.seq,
            "ts": self.ts,
            "service_id": self.service_id,
            "session_id": self.session_id,
            "actor": self.actor,
            "type": self.type,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
        }

    def computed_hash(self) -> str:
        """Return the SHA-256 of the canonical JSON of the record and the previous hash."""
        return hashlib.sha256(canonical_json(self.body())).hexdigest()

    def to_json(self) -> dict[str, Any]:
        """Return the record as a JSON-ready mapping, for export."""
        return {**self.body(), "hash": self.hash}


def chain_after(
    events: Sequence[NewEvent], seq: int, prev_hash: str, ts: float
) -> list[EventRecord]:
    """Hash-chain ``events``, stamped ``ts``, after the head ``(seq, prev_hash)``."""
    records = []
    for event in events:
        record = EventRecord(
            seq + 1,
            ts,
            event.service_id,
            event.session_id,
            event.actor,
            event.type,
            event.payload,
            prev_hash,
        )
        record = EventRecord(**{**record.body(), "hash": record.computed_hash()})
        records.append(record)
        seq, prev_hash = record.seq, record.hash
    return records


def checkpoint_mac(key: bytes, seq: int, head_hash: str) -> str:
    """Return the HMAC-SHA256, under the server's audit key, of the log head at ``seq``."""
    return hmac.new(key, f"{seq}:{head_hash}".encode(), hashlib.sha256).hexdigest()


def mac_matches(key: bytes, seq: int, head_hash: str, mac: str) -> bool:
    """Tell, in constant time, whether ``mac`` is the checkpoint of ``head_hash`` at ``seq``."""
    return hmac.compare_digest(checkpoint_mac(key, seq, head_hash), mac)

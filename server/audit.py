"""Verifying the tamper-evident event log and exporting a session's events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from server.models import Checkpoint
from server.store import EventRecord, Store
from server.store.chain import GENESIS_HASH, mac_matches

BATCH = 5000


@dataclass(frozen=True)
class Verdict:
    """The outcome of a verification: intact, or the first bad sequence number and why."""

    ok: bool
    events: int
    first_bad_seq: int | None = None
    reason: str = ""

    def describe(self) -> str:
        """Return a one-line, human-readable summary."""
        if self.ok:
            return f"OK: {self.events} events, hash chain and checkpoints intact."
        return f"TAMPERED: first bad sequence number {self.first_bad_seq}: {self.reason}"


async def all_events(store: Store) -> AsyncIterator[EventRecord]:
    """Yield every event of the log in order, in batches."""
    after = 0
    while True:
        batch = await store.events(after_seq=after, limit=BATCH)
        for record in batch:
            yield record
        if len(batch) < BATCH:
            return
        after = batch[-1].seq


async def verify(store: Store, key: bytes, head: Checkpoint | None) -> Verdict:
    """Check the chain row by row, then every checkpoint (and the head file) against it."""
    expected, prev = 1, GENESIS_HASH
    hashes: dict[int, str] = {}
    async for record in all_events(store):
        if record.seq != expected:
            return Verdict(False, expected - 1, expected, "an event is missing or out of order")
        if record.prev_hash != prev:
            return Verdict(
                False, expected - 1, record.seq, "it does not link to the previous event"
            )
        if record.computed_hash() != record.hash:
            return Verdict(False, expected - 1, record.seq, "its contents do not match its hash")
        hashes[record.seq] = record.hash
        prev, expected = record.hash, expected + 1
    count = expected - 1
    checkpoints = list(await store.checkpoints()) + ([head] if head else [])
    return _check_checkpoints(checkpoints, hashes, count, key)


def _check_checkpoints(
    checkpoints: Iterable[Checkpoint], hashes: dict[int, str], count: int, key: bytes
) -> Verdict:
    good_before = 0
    for cp in sorted(checkpoints, key=lambda c: c.seq):
        if not mac_matches(key, cp.seq, cp.head_hash, cp.mac):
            return Verdict(False, count, cp.seq, "a checkpoint's signature is not valid")
        if cp.seq > count:
            return Verdict(
                False, count, count + 1, f"the log was truncated before checkpoint {cp.seq}"
            )
        if hashes.get(cp.seq) != cp.head_hash:
            return Verdict(
                False,
                count,
                good_before + 1,
                f"the log was rewritten at or after this point (checkpoint {cp.seq} disagrees)",
            )
        good_before = cp.seq
    return Verdict(True, count)

"""The event log on both stores: hash chain, checkpoints, append-only, tamper detection."""

from __future__ import annotations

import json
import subprocess

import pytest

from server.audit import verify
from server.store import NewEvent
from server.store.chain import EventRecord
from server.store.factory import audit_key
from tests.harness import some
from tests.store.conftest import Backend


async def _log(backend: Backend, count: int) -> None:
    store = backend.store()
    await store.open()
    for i in range(count):
        await store.append(NewEvent("note.added", "svc", f"s{i % 3}", "user:u1", {"n": i}))
    await store.close()


def _run(backend: Backend, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(backend.cli(*argv), capture_output=True, text=True, timeout=60)


async def test_intact_log_verifies(backend: Backend) -> None:
    """An untouched log verifies with exit status 0 through ``haven audit verify``."""
    await _log(backend, 25)
    result = _run(backend, "audit", "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: 25 events" in result.stdout


async def test_append_only_triggers_refuse_changes(backend: Backend) -> None:
    """The database itself refuses updates and deletes of events."""
    await _log(backend, 3)
    for statement in ("UPDATE events SET actor = 'x' WHERE seq = 1", "DELETE FROM events"):
        with pytest.raises(Exception, match="append-only"):
            await backend.execute(statement)
    if backend.name == "postgres":
        with pytest.raises(Exception, match="append-only"):
            await backend.execute("TRUNCATE events")


@pytest.mark.parametrize(
    ("statements", "first_bad"),
    [
        (["UPDATE events SET payload = '{\"n\": 99}' WHERE seq = 7"], 7),
        (["DELETE FROM events WHERE seq = 12"], 12),
        (
            [
                "UPDATE events SET seq = -5 WHERE seq = 5",
                "UPDATE events SET seq = 5 WHERE seq = 6",
                "UPDATE events SET seq = 6 WHERE seq = -5",
            ],
            5,
        ),
        (
            [
                "INSERT INTO events SELECT 26, ts, service_id, session_id, actor, type, payload,"
                " prev_hash, hash FROM events WHERE seq = 25"
            ],
            26,
        ),
    ],
    ids=["edit", "delete", "reorder", "insert"],
)
async def test_single_row_tampering_is_named(
    backend: Backend, statements: list[str], first_bad: int
) -> None:
    """Editing, deleting, reordering or inserting one row fails and names the first bad seq."""
    await _log(backend, 25)
    await backend.tamper(*statements)
    result = _run(backend, "audit", "verify")
    assert result.returncode == 1
    assert f"first bad sequence number {first_bad}" in result.stdout


async def test_truncation_behind_checkpoint_is_detected(backend: Backend) -> None:
    """Removing the tail of the log behind the last checkpoint fails verification."""
    await _log(backend, 25)
    await backend.tamper(
        "DELETE FROM events WHERE seq > 15", "DELETE FROM checkpoints WHERE seq > 15"
    )
    result = _run(backend, "audit", "verify")
    assert result.returncode == 1
    assert "first bad sequence number 16" in result.stdout and "truncated" in result.stdout


async def test_rewritten_chain_fails_the_checkpoint(backend: Backend) -> None:
    """An attacker who recomputes every hash after an edit is caught by the keyed checkpoint."""
    await _log(backend, 25)
    store = backend.store()
    await store.open(read_only=True)
    records = await store.events()
    await store.close()
    prev = records[3].prev_hash
    statements = []
    for r in records[3:]:
        payload = {"n": 1000} if r.seq == 4 else r.payload
        forged = EventRecord(
            r.seq, r.ts, r.service_id, r.session_id, r.actor, r.type, payload, prev
        )
        digest = forged.computed_hash()
        statements.append(
            f"UPDATE events SET payload = '{json.dumps(payload, sort_keys=True)}',"
            f" prev_hash = '{prev}', hash = '{digest}' WHERE seq = {r.seq}"
        )
        prev = digest
    await backend.tamper(*statements)
    result = _run(backend, "audit", "verify")
    assert result.returncode == 1
    assert "first bad sequence number 1:" in result.stdout and "checkpoint 10" in result.stdout


async def test_checkpoints_every_n_and_at_shutdown(backend: Backend) -> None:
    """A checkpoint is written every N events and once more when the store closes."""
    await _log(backend, 25)
    store = backend.store()
    await store.open(read_only=True)
    assert [c.seq for c in await store.checkpoints()] == [10, 20, 25]
    assert await store.head_seq() == 25
    key = audit_key(backend.config)
    assert some(key.last_head()).seq == 25
    assert (await verify(store, key.secret, key.last_head())).ok
    await store.close()


async def test_export_writes_one_session_as_json_lines(backend: Backend) -> None:
    """``haven audit export`` writes a session's events, and only them, as JSON lines."""
    await _log(backend, 9)
    result = _run(backend, "audit", "export", "--session", "s1")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0 and [r["seq"] for r in lines] == [2, 5, 8], result.stderr
    assert all(r["session_id"] == "s1" and len(r["hash"]) == 64 for r in lines)


async def test_reopened_store_continues_the_chain(backend: Backend) -> None:
    """A store opened again appends after the head it finds, and the whole log still verifies."""
    await _log(backend, 12)
    await _log(backend, 5)
    store = backend.store()
    await store.open(read_only=True)
    key = audit_key(backend.config)
    verdict = await verify(store, key.secret, key.last_head())
    await store.close()
    assert verdict.ok and verdict.events == 17

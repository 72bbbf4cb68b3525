"""The event log: hash chain, checkpoints, and tamper detection by ``haven audit verify``."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from server.audit import verify
from server.config import Config
from server.store import NewEvent
from server.store.factory import audit_key, make_store

VERIFY = [sys.executable, "-m", "server", "audit", "verify", "--data-dir"]


async def _log(config: Config, count: int) -> Path:
    store = make_store(config)
    await store.open()
    for i in range(count):
        await store.append(NewEvent("note.added", "svc", f"s{i % 3}", "user:u1", {"n": i}))
    await store.close()
    return config.data_dir / "haven.sqlite3"


def _run_verify(config: Config) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VERIFY, str(config.data_dir)], capture_output=True, text=True, timeout=60
    )


def _tamper(db_path: Path, *statements: str) -> None:
    """Change the database as an attacker with file access would: bypassing the triggers."""
    db = sqlite3.connect(db_path)
    db.execute("DROP TRIGGER events_no_update")
    db.execute("DROP TRIGGER events_no_delete")
    for statement in statements:
        db.execute(statement)
    db.commit()
    db.close()


async def test_intact_log_verifies(config: Config) -> None:
    """An untouched log verifies with exit status 0."""
    await _log(config, 25)
    result = _run_verify(config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: 25 events" in result.stdout


async def test_append_only_triggers_refuse_changes(config: Config) -> None:
    """The database itself refuses updates and deletes of events."""
    db_path = await _log(config, 3)
    db = sqlite3.connect(db_path)
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("UPDATE events SET actor = 'x' WHERE seq = 1")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("DELETE FROM events WHERE seq = 1")


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
    config: Config, statements: list[str], first_bad: int
) -> None:
    """Editing, deleting, reordering or inserting one row fails and names the first bad seq."""
    db_path = await _log(config, 25)
    _tamper(db_path, *statements)
    result = _run_verify(config)
    assert result.returncode == 1
    assert f"first bad sequence number {first_bad}" in result.stdout


async def test_truncation_behind_checkpoint_is_detected(config: Config) -> None:
    """Removing the tail of the log behind the last checkpoint fails verification."""
    db_path = await _log(config, 25)
    _tamper(db_path, "DELETE FROM events WHERE seq > 15", "DELETE FROM checkpoints WHERE seq > 15")
    result = _run_verify(config)
    assert result.returncode == 1
    assert "first bad sequence number 16" in result.stdout and "truncated" in result.stdout


async def test_rewritten_chain_fails_the_checkpoint(config: Config) -> None:
    """An attacker who recomputes every hash after an edit is caught by the keyed checkpoint."""
    db_path = await _log(config, 25)
    store = make_store(config)
    await store.open(read_only=True)
    records = await store.events()
    await store.close()
    from server.store.chain import EventRecord

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
    _tamper(db_path, *statements)
    result = _run_verify(config)
    assert result.returncode == 1
    assert "first bad sequence number 1:" in result.stdout and "checkpoint 10" in result.stdout


async def test_checkpoints_every_n_and_at_shutdown(config: Config) -> None:
    """A checkpoint is written every N events and once more when the store closes."""
    await _log(config, 25)
    store = make_store(config)
    await store.open(read_only=True)
    assert [c.seq for c in await store.checkpoints()] == [10, 20, 25]
    key = audit_key(config)
    assert (await verify(store, key.secret, key.last_head())).ok
    await store.close()


async def test_export_writes_one_session_as_json_lines(config: Config) -> None:
    """``haven audit export`` writes a session's events, and only them, as JSON lines."""
    await _log(config, 9)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "server",
            "audit",
            "export",
            "--data-dir",
            str(config.data_dir),
            "--session",
            "s1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0 and [r["seq"] for r in lines] == [2, 5, 8]
    assert all(r["session_id"] == "s1" and len(r["hash"]) == 64 for r in lines)

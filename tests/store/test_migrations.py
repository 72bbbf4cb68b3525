"""PostgreSQL schema migrations: from empty, from the previous version, once under a race."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from server.audit import verify
from server.config import Config
from server.store import NewEvent, StoreError
from server.store.factory import audit_key, make_store
from server.store.migrations import LATEST, MIGRATIONS
from server.store.postgres import migrate
from tests.store.conftest import fresh_schema
from tests.store.services import with_search_path


async def _versions(url: str) -> list[int]:
    conn = await asyncpg.connect(url)
    try:
        return [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")]
    finally:
        await conn.close()


async def test_empty_database_is_migrated_to_the_latest_version(
    postgres_url: str, tmp_path: object
) -> None:
    """Opening the store on an empty schema applies every migration, in order, exactly once."""
    async with fresh_schema(postgres_url) as schema:
        url = with_search_path(postgres_url, schema)
        config = Config(data_dir=tmp_path, database_url=url)  # type: ignore[arg-type]
        store = make_store(config)
        await store.open()
        await store.append(NewEvent("note.added", "svc", "s1", "system", {"n": 1}))
        await store.close()
        store = make_store(config)
        await store.open()  # a second start finds nothing to do
        await store.close()
        assert (
            sorted(await _versions(url))
            == [m.version for m in MIGRATIONS]
            == list(range(1, LATEST + 1))
        )


async def test_previous_version_is_upgraded_with_its_data(
    postgres_url: str, tmp_path: object
) -> None:
    """A version-1 database keeps its log, accounts and open alert through the upgrade."""
    async with fresh_schema(postgres_url) as schema:
        url = with_search_path(postgres_url, schema)
        conn = await asyncpg.connect(url)
        assert await migrate(conn, target=1) == 1
        await conn.close()
        config = Config(data_dir=tmp_path, database_url=url, checkpoint_every=3)  # type: ignore[arg-type]
        # Write the version-1 data through raw SQL, as a version-1 Haven would have.
        conn = await asyncpg.connect(url)
        await conn.execute(
            "INSERT INTO services (id, slug, name, created_at) VALUES ('svc', 'svc', 'Svc', 1)"
        )
        await conn.execute(
            "INSERT INTO alerts (id, service_id, session_id, participant_id, signal_id, kind,"
            " source, status, raised_at, delivered_to) VALUES ('al_1', 'svc', 'ses', 'p1', 'sig',"
            " 'panic', 'control', 'delivered', 100.0, '[\"user:u1\"]')"
        )
        await conn.close()
        store = make_store(config)
        await store.open()
        assert sorted(await _versions(url)) == list(range(1, LATEST + 1))
        service = await store.service("svc")
        assert service is not None and service.name == "Svc"
        [alert] = await store.open_alerts(service_id="svc")
        assert alert.id == "al_1" and alert.state.progress == "delivered"
        assert alert.state.participant == "p1" and alert.state.delivered_to == {"user:u1"}
        for i in range(4):
            await store.append(NewEvent("note.added", "svc", "ses", "system", {"n": i}))
        await store.close()
        store = make_store(config)
        await store.open(read_only=True)
        key = audit_key(config)
        assert (await verify(store, key.secret, key.last_head())).ok
        await store.close()


async def test_nodes_starting_together_migrate_once(postgres_url: str) -> None:
    """Two connections migrating the same empty schema at once apply each migration once."""
    async with fresh_schema(postgres_url) as schema:
        url = with_search_path(postgres_url, schema)
        conns = [await asyncpg.connect(url) for _ in range(3)]
        try:
            results = await asyncio.gather(*(migrate(c) for c in conns))
        finally:
            for c in conns:
                await c.close()
        assert results == [LATEST] * 3
        assert sorted(await _versions(url)) == list(range(1, LATEST + 1))


async def test_newer_schema_is_refused(postgres_url: str, tmp_path: object) -> None:
    """A node older than its database refuses to start instead of guessing."""
    async with fresh_schema(postgres_url) as schema:
        url = with_search_path(postgres_url, schema)
        conn = await asyncpg.connect(url)
        await migrate(conn)
        await conn.execute(
            "INSERT INTO schema_migrations VALUES ($1, 'from_the_future', 0)", LATEST + 1
        )
        await conn.close()
        store = make_store(Config(data_dir=tmp_path, database_url=url))  # type: ignore[arg-type]
        with pytest.raises(StoreError, match=f"version {LATEST + 1}"):
            await store.open()


async def test_read_only_open_refuses_an_unmigrated_database(
    postgres_url: str, tmp_path: object
) -> None:
    """``haven audit verify`` on an empty database says so instead of creating tables."""
    async with fresh_schema(postgres_url) as schema:
        url = with_search_path(postgres_url, schema)
        store = make_store(Config(data_dir=tmp_path, database_url=url))  # type: ignore[arg-type]
        with pytest.raises(StoreError, match="version 0"):
            await store.open(read_only=True)
        conn = await asyncpg.connect(url)
        tables = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1", schema
        )
        await conn.close()
        assert tables == 0, json.dumps(tables)

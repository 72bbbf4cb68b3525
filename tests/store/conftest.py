"""The ``backend`` fixture: every store test runs on SQLite and on PostgreSQL, each fresh."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from server.config import Config
from server.store import Store
from server.store.factory import make_store
from tests.store.services import ensure_postgres, unique_name, with_search_path


@dataclass
class Backend:
    """One store backend for one test: its configuration and raw access for an attacker."""

    name: str
    config: Config
    admin_url: str = ""
    schema: str = ""

    def store(self) -> Store:
        """Return a new, unopened store on this backend."""
        return make_store(self.config)

    def cli(self, *argv: str) -> list[str]:
        """Return a ``haven`` command line pointed at this backend."""
        args = [sys.executable, "-m", "server", *argv, "--data-dir", str(self.config.data_dir)]
        if self.config.database_url:
            args += ["--database-url", self.config.database_url]
        return args

    async def tamper(self, *statements: str) -> None:
        """Change the log as an attacker with database access would: bypassing the triggers."""
        if self.name == "sqlite":
            db = sqlite3.connect(self.config.data_dir / "haven.sqlite3")
            db.execute("DROP TRIGGER events_no_update")
            db.execute("DROP TRIGGER events_no_delete")
            for statement in statements:
                db.execute(statement)
            db.commit()
            db.close()
            return
        conn = await asyncpg.connect(with_search_path(self.admin_url, self.schema))
        try:
            async with conn.transaction():
                await conn.execute("ALTER TABLE events DISABLE TRIGGER USER")
                for statement in statements:
                    await conn.execute(statement)
        finally:
            await conn.close()

    async def execute(self, statement: str) -> None:
        """Run one statement as an ordinary client of the database, triggers in force."""
        if self.name == "sqlite":
            db = sqlite3.connect(self.config.data_dir / "haven.sqlite3")
            try:
                db.execute(statement)
                db.commit()
            finally:
                db.close()
            return
        conn = await asyncpg.connect(with_search_path(self.admin_url, self.schema))
        try:
            await conn.execute(statement)
        finally:
            await conn.close()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The shared PostgreSQL, started (or installed) if it is not running."""
    return ensure_postgres()


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """A store backend with nothing in it yet: SQLite in a fresh directory, or a fresh schema."""
    data_dir = tmp_path / "data"
    if request.param == "sqlite":
        yield Backend("sqlite", Config(data_dir=data_dir, demo=False, checkpoint_every=10))
        return
    admin = request.getfixturevalue("postgres_url")
    async with fresh_schema(admin) as schema:
        config = Config(
            data_dir=data_dir,
            demo=False,
            checkpoint_every=10,
            database_url=with_search_path(admin, schema),
        )
        yield Backend("postgres", config, admin, schema)


@asynccontextmanager
async def fresh_schema(admin: str) -> AsyncIterator[str]:
    """Create an empty schema of the test's own, and drop it afterwards."""
    schema = unique_name("haven_t")
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f"CREATE SCHEMA {schema}")
        yield schema
    finally:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()

"""Choose the store implementation from the configuration."""

from __future__ import annotations

from server.config import Config
from server.store.base import AuditKey, Store
from server.store.sqlite import SqliteStore


def audit_key(config: Config) -> AuditKey:
    """Return the checkpoint key and head files, kept beside (never inside) the database."""
    return AuditKey(config.data_dir / "audit.key", config.data_dir / "audit-head.json")


def make_store(config: Config) -> Store:
    """Return the store ``config`` asks for: SQLite in the data directory by default."""
    if config.database_url:
        from server.store.postgres import PostgresStore  # asyncpg is only needed for PostgreSQL

        return PostgresStore(
            config.database_url, audit_key(config), checkpoint_every=config.checkpoint_every
        )
    return SqliteStore(
        config.data_dir / "haven.sqlite3",
        audit_key(config),
        checkpoint_every=config.checkpoint_every,
    )

"""PostgreSQL schema migrations: numbered, applied in order at start, each exactly once.

A migration is never edited once released: a change to the schema is a new, higher-numbered
module in this package, listed in ``MIGRATIONS``. The ``schema_migrations`` table records which
ones a database has, so a node started on an older database brings it up to date, and a node
started on a newer one refuses to run rather than guess.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.store.migrations import (
    v0001_initial,
    v0002_alert_state,
    v0003_webhooks_api_keys,
    v0004_phrase_calibrations,
)


@dataclass(frozen=True)
class Migration:
    """One numbered schema change: a version, a short name and the SQL that makes it."""

    version: int
    name: str
    sql: str

    def __post_init__(self) -> None:
        if self.version < 1 or not self.name or not self.sql.strip():
            raise ValueError("A migration needs a positive version, a name and some SQL.")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial", v0001_initial.SQL),
    Migration(2, "alert_state", v0002_alert_state.SQL),
    Migration(3, "webhooks_api_keys", v0003_webhooks_api_keys.SQL),
    Migration(4, "phrase_calibrations", v0004_phrase_calibrations.SQL),
)
LATEST = MIGRATIONS[-1].version

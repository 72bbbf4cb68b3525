"""Fixtures for several Haven nodes on real PostgreSQL and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.scale.nodes import Cluster
from tests.store.conftest import fresh_schema
from tests.store.services import PrivateRedis, ensure_postgres, with_search_path


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The shared PostgreSQL, started (or installed) if it is not running."""
    return ensure_postgres()


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A Redis of the test's own on a free port, which the test may stop and start again."""
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def cluster(postgres_url: str, redis: PrivateRedis, tmp_path: Path) -> AsyncIterator[Cluster]:
    """A fresh schema on the shared PostgreSQL and a private Redis, for nodes to share."""
    async with fresh_schema(postgres_url) as schema:
        cluster = Cluster(tmp_path, with_search_path(postgres_url, schema), redis.url)
        try:
            yield cluster
        finally:
            await cluster.close()

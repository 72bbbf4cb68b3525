"""Fixtures: a real Haven server on an ephemeral port, with a fresh data directory per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.config import Config
from tests.harness import FakeClock, Haven, start_haven, stop_haven


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """A configuration for one test: its own data directory, no demo, any free port."""
    return Config(port=0, data_dir=tmp_path / "data", demo=False, checkpoint_every=10)


@pytest.fixture
def clock() -> FakeClock:
    """A clock the test moves by hand."""
    return FakeClock()


@pytest.fixture
async def haven(config: Config) -> AsyncIterator[Haven]:
    """A running Haven server."""
    haven = await start_haven(config)
    yield haven
    await stop_haven(haven)

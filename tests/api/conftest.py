"""Fixtures for the API tests: a real server whose webhook retries take milliseconds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.config import Config
from tests.api.helpers import Receiver
from tests.harness import Haven, start_haven, stop_haven


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """A configuration whose webhook backoff starts at 50 ms, so retries are quick to test."""
    return Config(
        port=0,
        data_dir=tmp_path / "data",
        demo=False,
        checkpoint_every=10,
        webhook_retry_base_s=0.05,
        webhook_retry_max_s=0.2,
        webhook_poll_s=0.2,
    )


@pytest.fixture
async def haven(config: Config) -> AsyncIterator[Haven]:
    """A running Haven server."""
    haven = await start_haven(config)
    yield haven
    await stop_haven(haven)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A real HTTP server on loopback that records every webhook it is sent."""
    receiver = Receiver()
    await receiver.start()
    yield receiver
    await receiver.stop()

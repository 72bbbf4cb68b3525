"""Embed fixtures: the browser fixtures of tests/browser, plus Haven and the demo platform."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest_asyncio
from aiohttp import web

from server.api_v1.keys import ApiKeys
from server.config import Config
from server.demo_embed import DemoSettings, create_demo_app
from tests.browser.conftest import browser, contexts, make_config  # noqa: F401 - shared fixtures
from tests.harness import Haven, Staff, start_haven, stop_haven


@dataclass
class Embed:
    """A running Haven, its facilitator, and the demo platform on another origin."""

    haven: Haven
    staff: Staff
    demo: str
    settings: DemoSettings


@pytest_asyncio.fixture(loop_scope="session")
async def embed(config: Config) -> AsyncIterator[Embed]:
    """Start the demo platform on its own port and a Haven that allows its origin."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # the port is known before Haven starts, and stays ours
    demo = f"http://127.0.0.1:{sock.getsockname()[1]}"
    haven = await start_haven(dataclasses.replace(config, allowed_origins=(demo,)))
    staff = await haven.staff()
    service = await haven.store.service_by_slug("test")
    assert service is not None
    _, key = await ApiKeys(haven.store).create(service.id, "demo", ["sessions:write"], "test")
    settings = DemoSettings(
        haven_url=haven.base, api_key=key, facilitator_email=staff.user["email"]
    )
    runner = web.AppRunner(create_demo_app(settings), shutdown_timeout=1)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    yield Embed(haven, staff, demo, settings)
    await runner.cleanup()
    await stop_haven(haven)

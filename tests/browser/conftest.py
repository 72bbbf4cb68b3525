"""Browser fixtures: one Chromium for the whole run, a real Haven server per test, axe and shots."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright

from server.config import Config
from tests.harness import Haven, start_haven, stop_haven

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
PHONE: ViewportSize = {"width": 360, "height": 740}
DESK: ViewportSize = {"width": 1280, "height": 860}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium with a fake camera and microphone, shared by every browser test."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Chromium is not installed (apt-get install chromium).")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=executable,
            args=[
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                "--no-sandbox",
            ],
        )
        yield browser
        await browser.close()


@pytest.fixture
def make_config(config: Config) -> Callable[..., Config]:
    """Return a factory for this test's Config with some fields changed."""

    def make(**changes: Any) -> Config:
        return dataclasses.replace(config, **changes)

    return make


@pytest_asyncio.fixture(loop_scope="session")
async def web(config: Config) -> AsyncIterator[Haven]:
    """A running Haven server on the browser's loop."""
    haven = await start_haven(config)
    yield haven
    await stop_haven(haven)


@pytest_asyncio.fixture(loop_scope="session")
async def contexts(browser: Browser) -> AsyncIterator[Callable[..., Awaitable[BrowserContext]]]:
    """Open browser contexts (a phone-sized one by default) and close them after the test."""
    opened: list[BrowserContext] = []

    async def new(viewport: ViewportSize = PHONE, **kwargs: Any) -> BrowserContext:
        context = await browser.new_context(viewport=viewport, reduced_motion="reduce", **kwargs)
        context.set_default_timeout(10_000)
        opened.append(context)
        return context

    yield new
    for context in opened:
        await context.close()


async def shot(page: Page, name: str) -> None:
    """Save a screenshot of the page's current state for people to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def axe(page: Page, name: str) -> None:
    """Run axe-core (vendored, served by Haven) on the page and fail on any WCAG 2.2 AA issue."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.add_script_tag(url="/static/vendor/axe.min.js")
    violations = await page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
            return result.violations.map(v => ({
                id: v.id, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)
            }));
        }""",
        AXE_TAGS,
    )
    assert violations == [], f"axe found problems on {name}: {violations}"


async def check(page: Page, name: str) -> None:
    """Screenshot the page and run axe on it."""
    await shot(page, name)
    await axe(page, name)

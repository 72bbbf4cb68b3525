"""The page's lossless delivery in a real Chromium: fetch and beacon when the socket fails."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.browser.conftest import DESK
from tests.browser.flows import admit_all, sign_in, walk_to_waiting_room
from tests.harness import TIMEOUT, Haven

pytestmark = pytest.mark.asyncio(loop_scope="session")
NewContext = Callable[..., Awaitable[BrowserContext]]

# Make the page's socket swallow every outgoing packet silently, as a dead network path would:
# the page still believes it is connected, and its acknowledgement timers still run.
SILENCE_SOCKET = """() => {
    const engine = window.havenClient.state.socket.io.engine;
    engine.transport.send = () => {};
}"""


def _channels(haven: Haven) -> list[tuple[str, str]]:
    db = sqlite3.connect(haven.config.data_dir / "haven.sqlite3")
    rows = db.execute("SELECT kind, channel FROM signals ORDER BY received_at").fetchall()
    db.close()
    return rows


async def _until_recorded(haven: Haven) -> list[tuple[str, str]]:
    for _ in range(int(TIMEOUT / 0.05)):
        rows = _channels(haven)
        if rows:
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError("the signal never reached the store")


async def _client_in_call(web: Haven, contexts: NewContext) -> tuple[Page, str]:
    staff = await web.staff()
    session_id = await web.new_session(staff)
    invite = await web.invite(staff, session_id)
    page = await (await contexts()).new_page()
    await walk_to_waiting_room(page, invite["url"], "Ali", camera=False)
    await admit_all(web, staff, session_id, 1)
    await expect(page.locator('[data-step="call"]')).to_be_visible()
    return page, session_id


async def _shift_three_times(page: Page) -> None:
    for _ in range(3):
        await page.keyboard.press("Shift")


async def test_socket_silently_dropped_falls_back_to_http(web: Haven, contexts: NewContext) -> None:
    """With the socket swallowing messages, the outbox posts the signal over HTTP."""
    page, _ = await _client_in_call(web, contexts)
    await page.evaluate(SILENCE_SOCKET)
    await _shift_three_times(page)
    await expect(page.locator(".js-decoy")).to_be_visible()
    assert await _until_recorded(web) == [("panic", "http")]


async def test_page_closed_50ms_after_the_press_is_recorded_by_beacon(
    web: Haven, contexts: NewContext
) -> None:
    """The page closed 50 ms after the press (socket dead): the beacon delivers the signal."""
    page, _ = await _client_in_call(web, contexts)
    await page.evaluate(SILENCE_SOCKET)
    await _shift_three_times(page)
    await asyncio.sleep(0.05)
    await page.close(run_before_unload=True)
    assert await _until_recorded(web) == [("panic", "beacon")]


async def test_console_offline_gets_the_alert_when_it_comes_back(
    web: Haven, contexts: NewContext
) -> None:
    """A facilitator whose console was closed sees the open alert as soon as it reopens."""
    staff = await web.staff(email="offline@example.org")
    session_id = await web.new_session(staff)
    invite = await web.invite(staff, session_id, safety_plan="Text 'moved' later.")
    joined = await web.join(invite["token"])
    await staff.call(
        "POST", f"/api/sessions/{session_id}/participants/{joined['participant_id']}/admit"
    )
    client = await web.client_socket(joined["token"])
    await client.call(
        "signal",
        {"id": "offline-1234", "kind": "panic", "source": "keys"},
        namespace="/client",
        timeout=5,
    )
    console = await (await contexts(DESK)).new_page()
    await sign_in(console, web.base, "/console", "offline@example.org")
    card = console.locator(".js-alert")
    await expect(card).to_have_count(1)
    await expect(card.locator(".js-safety-plan")).to_have_text("Text 'moved' later.")
    alert_id = await card.get_attribute("data-alert")
    for _ in range(int(TIMEOUT / 0.05)):
        stored = await web.store.alert(str(alert_id))
        if stored is not None and stored.state.delivered_to:
            break
        await asyncio.sleep(0.05)
    assert stored is not None and stored.state.progress == "delivered"
    await client.disconnect()

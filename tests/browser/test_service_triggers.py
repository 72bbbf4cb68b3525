"""The service's own trigger settings in a real Chromium: an alternative chord, no gesture."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import BrowserContext, expect

from tests.browser.conftest import check
from tests.browser.flows import admit_all, walk_to_waiting_room
from tests.harness import TIMEOUT, Haven

pytestmark = pytest.mark.asyncio(loop_scope="session")
NewContext = Callable[..., Awaitable[BrowserContext]]


async def test_alternative_chord_exits_and_disabled_gesture_does_not(
    web: Haven, contexts: NewContext
) -> None:
    """With Control+Alt+H configured and the gesture off, taps do nothing and the chord exits."""
    admin = await web.staff("admin", email="admin@example.org")
    await admin.call(
        "PUT",
        "/api/service/settings",
        {
            "alternative_chord": {"key": "Control+Alt+H", "presses": 1, "window_s": 5.0},
            "touch_gesture": False,
        },
    )
    staff = await web.staff(email="f@example.org")
    session_id = await web.new_session(staff)
    invite = await web.invite(staff, session_id)
    page = await (await contexts(has_touch=True)).new_page()
    await walk_to_waiting_room(page, invite["url"], "Noor", camera=False)
    await admit_all(web, staff, session_id, 1)
    await expect(page.locator('[data-step="call"]')).to_be_visible()
    for _ in range(3):
        await page.tap(".js-clock")
    await asyncio.sleep(0.3)
    await expect(page.locator(".js-decoy")).to_be_hidden()
    await page.keyboard.press("Control+Alt+KeyH")
    await expect(page.locator(".js-decoy")).to_be_visible()
    await check(page, "client-alternative-chord-decoy")
    for _ in range(int(TIMEOUT / 0.05)):
        received = [
            e for e in await web.store.events(session_id=session_id) if e.type == "signal.received"
        ]
        if received:
            break
        await asyncio.sleep(0.05)
    assert [e.payload["source"] for e in received] == ["keys"]

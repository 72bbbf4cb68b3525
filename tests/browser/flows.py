"""Steps the browser tests share: signing in a console and walking a client to the waiting room."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page, expect

from tests.harness import PASSWORD, Haven, Staff


async def sign_in(page: Page, base: str, path: str, email: str) -> None:
    """Open a staff page and sign in through its form."""
    await page.goto(base + path)
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.click(".js-signin-form button[type=submit]")
    await expect(page.locator(".js-signed-in").first).to_be_visible()


async def walk_to_waiting_room(
    page: Page, url: str, name: str, *, pin: str | None = None, camera: bool = True
) -> None:
    """Take a client from the invite link to the waiting room, skipping the practice."""
    await page.goto(url)
    if pin:
        await page.fill("#pin", pin)
        await page.click(".js-pin-form button")
    await page.check("#consent")
    await page.click(".js-consent-form button")
    await page.fill("#display-name", name)
    await page.check("#camera-on" if camera else "#camera-off")
    await page.click(".js-details-form button")
    await page.click(".js-join")
    await expect(page.locator('[data-step="waiting"]')).to_be_visible()


async def admit_all(haven: Haven, staff: Staff, session_id: str, count: int) -> list[Any]:
    """Admit every waiting client once ``count`` of them are waiting; return the participants."""
    for _ in range(100):
        status, body = await staff.call("GET", f"/api/sessions/{session_id}")
        waiting = [p for p in body["participants"] if p["status"] == "waiting"]
        if len(waiting) >= count:
            break
        await page_pause()
    for p in waiting:
        status, _ = await staff.call(
            "POST", f"/api/sessions/{session_id}/participants/{p['id']}/admit"
        )
        assert status == 200
    return waiting


async def page_pause() -> None:
    """Yield to the server briefly while waiting for a page's request to land."""
    import asyncio

    await asyncio.sleep(0.05)

"""Two safety paths through the real pages: the console's pause, and a duress resume."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import BrowserContext, expect

from server.web.keys import HUB
from tests.browser.conftest import DESK, check
from tests.browser.flows import admit_all, sign_in, walk_to_waiting_room
from tests.harness import TIMEOUT, Haven

pytestmark = pytest.mark.asyncio(loop_scope="session")
NewContext = Callable[..., Awaitable[BrowserContext]]


async def _until(web: Haven, session_id: str, kind: str) -> None:
    for _ in range(int(TIMEOUT / 0.05)):
        if kind in await web.event_types(session_id):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{kind} never reached the log")


async def test_console_pause_then_duress_resume_looks_normal_and_escalates(
    web: Haven, contexts: NewContext
) -> None:
    """The console pauses a client (decoy, no alert); the duress PIN rejoins and escalates."""
    staff = await web.staff(email="pause@example.org")
    session_id = await web.new_session(staff)
    invite = await web.invite(staff, session_id, pin="246810", duress_pin="135790")
    client = await (await contexts()).new_page()
    await walk_to_waiting_room(client, invite["url"], "Kim", pin="246810", camera=False)
    await admit_all(web, staff, session_id, 1)
    await expect(client.locator('[data-step="call"]')).to_be_visible()
    console = await (await contexts(DESK)).new_page()
    await sign_in(console, web.base, f"/console?session={session_id}", "pause@example.org")

    await console.click(".js-pause")
    await expect(client.locator(".js-decoy")).to_be_visible()
    await expect(console.locator(".js-tile-name")).to_contain_text("paused by a facilitator")
    await _until(web, session_id, "gate.closed")
    assert "alert.raised" not in await web.event_types(session_id)
    await check(console, "console-facilitator-pause")

    await client.click(".js-decoy-heading", click_count=3)
    await client.fill("#rejoin-code", "135790")  # the duress PIN
    await client.click(".js-rejoin button")
    await expect(client.locator('[data-step="call"]')).to_be_visible()
    assert await client.title() == "Video appointment"
    await _until(web, session_id, "alert.escalated")
    card = console.locator(".js-alert")
    await expect(card).to_have_count(1)
    await expect(card.locator(".js-alert-state")).to_contain_text("escalated")
    events = await web.store.events(session_id=session_id)
    resumed = [e.payload for e in events if e.type == "participant.resumed"]
    assert resumed == [{"participant": resumed[0]["participant"], "duress": True}]
    await check(client, "client-after-duress-resume")


async def test_console_says_plainly_when_the_sessions_relay_stops(
    web: Haven, contexts: NewContext
) -> None:
    """relay_lost (as a signalling node sends it) shows a polite status line on the console."""
    staff = await web.staff(email="relay@example.org")
    session_id = await web.new_session(staff)
    console = await (await contexts(DESK)).new_page()
    await sign_in(console, web.base, f"/console?session={session_id}", "relay@example.org")
    status = console.locator(".js-relay-status")
    await expect(status).to_be_hidden()
    sio = await staff.console_socket()
    ack = await sio.call("media", {"session_id": session_id}, namespace="/console", timeout=TIMEOUT)
    await sio.disconnect()
    lost = {"session_id": session_id, "relay": ack["media"]["relay"]}
    for _ in range(int(TIMEOUT / 0.2)):  # until the console has joined the session's room
        await web.app[HUB].to_session_staff(session_id, "relay_lost", lost)
        await asyncio.sleep(0.2)
        if await status.is_visible():
            break
    await expect(status).to_contain_text("Sound and video are reconnecting")
    await expect(status).to_have_attribute("role", "status")
    await check(console, "console-relay-lost")

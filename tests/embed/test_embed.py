"""The embed widget in a real Chromium, on a platform of another origin Haven does not carry."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.browser.conftest import DESK, SHOTS, axe, shot
from tests.browser.flows import sign_in
from tests.embed.conftest import Embed
from tests.harness import TIMEOUT

pytestmark = pytest.mark.asyncio(loop_scope="session")
NewContext = Callable[..., Awaitable[BrowserContext]]
DECOY = "haven-exit .decoy"


async def wait_for_event(embed: Embed, session_id: str, kind: str) -> list[str]:
    """Wait until the session's log holds an event of this type."""
    for _ in range(int(TIMEOUT / 0.05)):
        types = await embed.haven.event_types(session_id)
        if kind in types:
            return types
        await asyncio.sleep(0.05)
    raise AssertionError(f"{kind} never reached the log")


async def open_call(
    embed: Embed, contexts: NewContext, query: str = "", **client_options: bool
) -> tuple[Page, Page, str]:
    """Start a demo call; return the client's page, the counsellor's page and the session id."""
    async with aiohttp.ClientSession() as http:
        async with http.post(embed.demo + "/rooms", allow_redirects=False) as response:
            assert response.status == 303
            room = response.headers["Location"]
    counsellor = await (await contexts(DESK)).new_page()
    await counsellor.goto(embed.demo + room + "/counsellor")
    client = await (await contexts(**client_options)).new_page()
    await client.goto(embed.demo + room + "/client" + query)
    await client.wait_for_function("() => window.demo.log.includes('widget')")
    for page in (client, counsellor):
        await page.wait_for_function("() => window.demo.log.includes('connected')")
        await page.wait_for_function(
            "() => { const v = document.querySelector('.js-remote'); return v.videoWidth > 0; }"
        )
    return client, counsellor, room


async def session_of(embed: Embed) -> str:
    """Return the id of the one session the demo created."""
    status, body = await embed.staff.call("GET", "/api/sessions")
    assert status == 200
    return str(body["sessions"][0]["id"])


async def axe_on(embed: Embed, page: Page, name: str) -> None:
    """Run axe on a demo page, loading it from Haven (which the page's CSP allows)."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.add_script_tag(url=embed.haven.base + "/static/vendor/axe.min.js")
    await axe(page, name)


async def press_shift_three_times(page: Page) -> None:
    """Press and release Shift three times, as a person would."""
    for _ in range(3):
        await page.keyboard.press("Shift")


async def test_shift_three_times_pauses_a_p2p_call_haven_does_not_carry(
    embed: Embed, contexts: NewContext
) -> None:
    """A p2p call with the widget; Shift x3 runs onPause, ends the tracks, decoys, alerts."""
    client, counsellor, _ = await open_call(embed, contexts)
    session_id = await session_of(embed)
    # The facilitator follows the session the platform created through the API.
    console = await (await contexts(DESK)).new_page()
    await sign_in(console, embed.haven.base, "/console", embed.staff.user["email"])
    await console.click(".js-open-session")
    await expect(console.locator(".js-session")).to_be_visible()
    await shot(client, "embed-1-client-call")
    await shot(counsellor, "embed-1-counsellor-call")
    await axe_on(embed, client, "embed client call")
    globals_added = await client.evaluate(
        "() => ({haven: typeof window.Haven, io: typeof window.io})"
    )
    assert globals_added == {"haven": "object", "io": "undefined"}

    await press_shift_three_times(client)
    await expect(client.locator(DECOY)).to_be_visible()
    state = await client.evaluate(
        """() => ({
            log: window.demo.log,
            ended: window.demo.tracks.length > 0
                && window.demo.tracks.every((t) => t.readyState === 'ended'),
            covered: document.elementFromPoint(innerWidth / 2, innerHeight / 2).localName,
            title: document.title,
        })"""
    )
    assert "onPause" in state["log"]
    assert state["ended"] is True
    assert state["covered"] == "haven-exit"
    assert state["title"] == "Meeting ended"
    await client.screenshot(path=str(SHOTS / "embed-2-client-decoy.png"))  # the viewport
    await axe_on(embed, client, "embed decoy")
    await expect(counsellor.locator(".js-call-state")).to_contain_text("left the call")
    await shot(counsellor, "embed-2-counsellor-after")

    types = await wait_for_event(embed, session_id, "alert.raised")
    assert "signal.received" in types
    alert = console.locator(".js-alert")
    await expect(alert).to_be_visible()
    await expect(alert).to_contain_text("Shift pressed three times")
    await shot(console, "embed-3-console-alert")
    await client.wait_for_function("() => localStorage.getItem('haven.outbox') === null")

    await client.locator("haven-exit h1").click(click_count=3)
    await client.fill("#haven-rejoin-code", "482913")
    await client.locator("haven-exit form button").click()
    await expect(client.locator(DECOY)).to_be_hidden()
    await client.wait_for_function("() => window.demo.log.includes('onResume')")
    await wait_for_event(embed, session_id, "participant.resumed")


async def test_iframe_mode_ignores_messages_from_other_origins(
    embed: Embed, contexts: NewContext
) -> None:
    """In iframe mode a fake "paused" from another origin is ignored; Shift x3 still works."""
    # The host's CSP would block the rogue frame; bypass it to test the widget's own check.
    client, _, _ = await open_call(embed, contexts, "?frame=1", bypass_csp=True)
    session_id = await session_of(embed)
    frames = [f.url for f in client.frames]
    assert any(u.startswith(embed.haven.base + "/embed/frame?host=") for u in frames), frames
    # The host page itself and a frame of a third origin pretend to be Haven.
    rogue = "http://localhost:" + embed.demo.rsplit(":", 1)[1]
    await client.evaluate(
        """async (rogue) => {
            const fake = {haven: 1, type: 'paused', paused: true};
            window.postMessage(fake, '*');
            window.postMessage({haven: 1, type: 'ready'}, '*');
            await new Promise((resolve) => {
                const $f = document.createElement('iframe');
                $f.src = rogue + '/static/demo.css';
                $f.onload = resolve;
                document.body.append($f);
            });
        }""",
        rogue,
    )
    rogue_frame = next(f for f in client.frames if f.url.startswith(rogue))
    await rogue_frame.evaluate(
        "() => parent.postMessage({haven: 1, type: 'paused', paused: true}, '*')"
    )
    # A round trip through the real frame: messages posted before it are handled before it.
    assert await client.evaluate("() => Haven.typed('hello there')") is True
    assert await client.evaluate("() => window.demo.log.includes('onPause')") is False
    await expect(client.locator(DECOY)).to_be_hidden()
    assert "signal.received" not in await embed.haven.event_types(session_id)

    await press_shift_three_times(client)
    await expect(client.locator(DECOY)).to_be_visible()
    await client.wait_for_function("() => window.demo.log.includes('onPause')")
    await wait_for_event(embed, session_id, "alert.raised")
    await client.screenshot(path=str(SHOTS / "embed-4-iframe-decoy.png"))


async def test_typed_safe_word_pauses_through_the_host_chat(
    embed: Embed, contexts: NewContext
) -> None:
    """The host passes its chat text to Haven.typed; the safe word pauses and is never sent."""
    client, counsellor, _ = await open_call(embed, contexts)
    session_id = await session_of(embed)
    await client.fill("#chat-text", "hello")
    await client.press("#chat-text", "Enter")
    await expect(counsellor.locator(".js-chat")).to_contain_text("hello")
    await client.fill("#chat-text", "Bluebird")
    await client.press("#chat-text", "Enter")
    await expect(client.locator(DECOY)).to_be_visible()
    await client.wait_for_function("() => window.demo.log.includes('onPause')")
    types = await wait_for_event(embed, session_id, "alert.raised")
    assert "signal.received" in types
    await expect(counsellor.locator(".js-call-state")).to_contain_text("left the call")
    assert "luebird" not in (await counsellor.locator(".js-chat").text_content() or "")

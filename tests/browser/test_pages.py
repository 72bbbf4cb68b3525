"""The pages in a real Chromium: the client's journey and exit, the console, the lead, groups."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import BrowserContext, Page, expect

from server.config import Config
from tests.browser.conftest import DESK, ROOT, axe, check, shot
from tests.browser.flows import admit_all, sign_in, walk_to_waiting_room
from tests.harness import TIMEOUT, Haven, start_haven, stop_haven

# Every test shares the session loop that owns the one browser (see conftest.py).
pytestmark = pytest.mark.asyncio(loop_scope="session")
NewContext = Callable[..., Awaitable[BrowserContext]]
VECTORS = json.loads((ROOT / "tests" / "vectors" / "chord.json").read_text())


async def events(haven: Haven, session_id: str) -> list[str]:
    """Return the session's event types."""
    return await haven.event_types(session_id)


async def wait_for_event(haven: Haven, session_id: str, kind: str) -> list[str]:
    """Wait until the session's log holds an event of this type."""
    for _ in range(int(TIMEOUT / 0.05)):
        types = await events(haven, session_id)
        if kind in types:
            return types
        await asyncio.sleep(0.05)
    raise AssertionError(f"{kind} never reached the log: {await events(haven, session_id)}")


async def test_chord_matches_the_shared_vectors(web: Haven, contexts: NewContext) -> None:
    """The browser's chord detector agrees with signals/chord.py on every shared vector."""
    page = await (await contexts()).new_page()
    await page.goto(web.base + "/ended")
    results = await page.evaluate(
        """async (cases) => {
            const chord = await import('/static/js/chord.js');
            return cases.map((c) => {
                let d = chord.makeDetector(chord.makeRule(c.rule || {}));
                const fired = [];
                c.events.forEach((e, i) => {
                    let f;
                    [d, f] = chord.stepChord(d, {code: '', ctrlKey: false, altKey: false,
                        shiftKey: false, metaKey: false, repeat: false, ...e}, e.t);
                    if (f) fired.push(i);
                });
                return {name: c.name, fired};
            });
        }""",
        VECTORS["cases"],
    )
    for case, result in zip(VECTORS["cases"], results, strict=True):
        assert result["fired"] == case["fired"], case["name"]


async def test_public_pages_are_plain_and_accessible(web: Haven, contexts: NewContext) -> None:
    """The landing page, the stand-alone decoy, a dead link and the sign-in pages pass axe."""
    page = await (await contexts()).new_page()
    await page.goto(web.base + "/")
    await check(page, "index")
    await page.goto(web.base + "/ended")
    assert await page.title() == "Meeting ended"
    await check(page, "ended-standalone")
    await page.goto(web.base + "/join#" + "x" * 43)
    await expect(page.locator('[data-step="invalid"]')).to_be_visible()
    assert "#" not in page.url
    await check(page, "client-invalid-link")
    desk = await (await contexts(DESK)).new_page()
    await desk.goto(web.base + "/console")
    await expect(desk.locator(".js-signin")).to_be_visible()
    await check(desk, "console-signin")
    await desk.goto(web.base + "/lead")
    await expect(desk.locator(".js-signin")).to_be_visible()
    await check(desk, "lead-signin")


async def test_whole_journey_client_and_facilitator(web: Haven, contexts: NewContext) -> None:
    """Consent, practice, waiting room, admit, call, Shift x3, decoy, alert, ack, resume, record."""
    staff = await web.staff()
    console = await (await contexts(DESK)).new_page()
    await sign_in(console, web.base, "/console", staff.user["email"])
    await console.click(".js-new-session-box summary")
    await console.fill("#session-title", "Tuesday check-in")
    await console.click(".js-new-session button")
    await expect(console.locator(".js-session")).to_be_visible()
    await console.click(".js-new-invite-box summary")
    await console.fill("#invite-label", "Client A")
    await console.fill("#invite-plan", "Do not call back. Text 'appointment moved' in 30 minutes.")
    await console.fill("#invite-safe-word", "bluebird")
    await console.fill("#invite-pin", "246810")
    await console.fill("#invite-duress", "135790")
    await console.click(".js-new-invite button[type=submit]")
    await expect(console.locator(".js-invite-result")).to_be_visible()
    url = (await console.locator(".js-invite-url").text_content() or "").strip()
    assert "/join#" in url
    assert (await console.locator(".js-qr").get_attribute("src") or "").startswith("data:image/svg")
    await check(console, "console-invite-created")
    session_id = await console.evaluate("() => window.havenConsole.session.id")

    client = await (await contexts()).new_page()
    await client.goto(url)
    await expect(client.locator('[data-step="pin"]')).to_be_visible()
    assert "#" not in client.url, "the invite token must leave the address bar"
    await check(client, "client-1-pin")
    await client.fill("#pin", "111111")
    await client.click(".js-pin-form button")
    await expect(client.locator(".js-pin-error")).to_be_visible()
    await check(client, "client-1b-pin-wrong")
    await client.fill("#pin", "246810")
    await client.click(".js-pin-form button")
    await expect(client.locator('[data-step="consent"]')).to_be_visible()
    await expect(client.locator(".js-exit")).to_be_visible()
    assert await client.locator(".js-exit").text_content() == "Help"
    await check(client, "client-2-consent")
    await client.click(".js-consent-form button")
    await expect(client.locator(".js-consent-error")).to_be_visible()
    await client.check("#consent")
    await client.click(".js-consent-form button")
    await client.fill("#display-name", "Sam")
    await check(client, "client-3-details")
    await client.click(".js-details-form button")
    await expect(client.locator('[data-step="practice"]')).to_be_visible()
    await check(client, "client-4-practice")

    # Practice: the decoy appears, nothing is sent, and the hidden gesture brings the page back.
    await client.click(".js-exit")
    await expect(client.locator(".js-decoy")).to_be_visible()
    assert await client.title() == "Meeting ended"
    await check(client, "client-5-practice-decoy")
    await client.click(".js-decoy-heading", click_count=3)
    await expect(client.locator(".js-rejoin")).to_be_visible()
    await check(client, "client-6-decoy-rejoin-form")
    await client.click(".js-rejoin button")
    await expect(client.locator(".js-practice-done")).to_be_visible()
    assert "signal.received" not in await events(web, session_id)

    await client.click(".js-join")
    await expect(client.locator('[data-step="waiting"]')).to_be_visible()
    await check(client, "client-7-waiting-room")
    assert "consent.given" in await events(web, session_id)

    await expect(console.locator(".js-admit")).to_be_visible()
    await check(console, "console-waiting-room")
    await console.click(".js-admit")
    await expect(client.locator('[data-step="call"]')).to_be_visible()
    await client.wait_for_function(
        "() => window.havenClient.state.stream"
        " && window.havenClient.state.stream.getTracks().length === 2"
    )
    await expect(console.locator(".js-call-tiles .tile")).to_have_count(1)

    await client.fill("#chat-text", "hello there")
    await client.click(".js-chat-form button")
    await expect(console.locator(".js-chat")).to_contain_text("Sam: hello there")
    await console.fill("#chat-text", "Hi Sam, good to see you")
    await console.click(".js-chat-form button")
    await expect(client.locator(".js-chat")).to_contain_text("Facilitator: Hi Sam")
    await check(client, "client-8-call")
    await check(console, "console-call")

    # The exit: Shift three times. The decoy must be up in the very next frame.
    await client.evaluate("() => { window.__tracks = havenClient.state.stream.getTracks(); }")
    for _ in range(2):
        await client.keyboard.press("Shift")
    frame = await client.evaluate(
        """() => new Promise((resolve) => {
            document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Shift', shiftKey: true}));
            document.dispatchEvent(new KeyboardEvent('keyup', {key: 'Shift'}));
            requestAnimationFrame(() => resolve({
                decoy: !document.querySelector('.js-decoy').hidden,
                app: !document.querySelector('.js-app').hidden,
                ended: window.__tracks.every((t) => t.readyState === 'ended'),
                videos: document.querySelectorAll('.js-app video').length,
            }));
        })"""
    )
    assert frame == {"decoy": True, "app": False, "ended": True, "videos": 0}
    assert client.url.endswith("/ended")
    assert await client.title() == "Meeting ended"
    await client.wait_for_function("() => window.havenClient.outbox.entries.size === 0")
    storage = await client.evaluate(
        "() => ({local: Object.keys(localStorage), session: Object.keys(sessionStorage)})"
    )
    assert storage == {"local": [], "session": []}
    await check(client, "client-9-decoy")

    alert = console.locator(".js-alert")
    await expect(alert).to_be_visible()
    await expect(alert).to_contain_text("Shift pressed three times")
    await expect(alert).to_contain_text("appointment moved")
    await expect(alert).to_contain_text("999")
    await check(console, "console-alert")
    types = await wait_for_event(web, session_id, "alert.delivered")
    assert {"signal.received", "participant.paused", "alert.raised"} <= set(types)
    await console.click(".js-ack")
    await wait_for_event(web, session_id, "alert.acknowledged")
    await console.fill(".js-note-form textarea", "Texted 'appointment moved'.")
    await console.click(".js-note-form button")
    await wait_for_event(web, session_id, "note.added")

    # Resume through the hidden gesture and the PIN: a wrong one is refused neutrally.
    await client.click(".js-decoy-heading", click_count=3)
    await client.fill("#rejoin-code", "999999")
    await client.click(".js-rejoin button")
    await expect(client.locator(".js-rejoin-error")).to_have_text("That passcode didn't work.")
    await client.fill("#rejoin-code", "246810")
    await client.click(".js-rejoin button")
    await expect(client.locator('[data-step="call"]')).to_be_visible()
    assert await client.title() == "Video appointment"
    await wait_for_event(web, session_id, "participant.resumed")
    await check(client, "client-10-resumed")

    await console.click(".js-resolve")
    await wait_for_event(web, session_id, "alert.resolved")
    await expect(console.locator(".js-no-alerts")).to_be_visible()
    await console.click(".js-end")
    await expect(console.locator(".js-record")).to_be_visible()
    await expect(client.locator(".js-decoy")).to_be_visible()
    await console.fill("#record-text", "Check-in; client used the exit once, safe, plan followed.")
    await check(console, "console-session-record")
    await console.click(".js-record button")
    await wait_for_event(web, session_id, "session.record_written")
    record = console.locator('.js-timeline [data-type="session.record_written"]')
    await expect(record).to_be_visible()
    await check(console, "console-timeline")


async def test_back_after_the_decoy_never_shows_the_call(web: Haven, contexts: NewContext) -> None:
    """After the Help control, Back and Forward land on neutral pages and never on the call."""
    staff = await web.staff()
    session_id = await web.new_session(staff)
    invite = await web.invite(staff, session_id)
    client = await (await contexts()).new_page()
    await client.goto(web.base + "/")
    await walk_to_waiting_room(client, invite["url"], "Ali", camera=False)
    await admit_all(web, staff, session_id, 1)
    await expect(client.locator('[data-step="call"]')).to_be_visible()
    await client.click(".js-exit")
    await expect(client.locator(".js-decoy")).to_be_visible()
    await wait_for_event(web, session_id, "alert.raised")
    await client.go_back()
    assert "/join" not in client.url
    await expect(client.locator(".js-tiles")).to_have_count(0)
    await client.go_forward()
    assert client.url.endswith("/ended")
    assert await client.title() == "Meeting ended"
    await expect(client.locator("text=This meeting has ended")).to_be_visible()
    await expect(client.locator(".js-tiles")).to_have_count(0)
    await check(client, "client-back-forward-decoy")


async def test_lead_view_receives_an_escalation(
    make_config: Callable[..., Config], contexts: NewContext
) -> None:
    """An alert nobody acknowledges escalates to the lead on duty, who reviews and exports it."""
    haven = await start_haven(make_config(escalate_after_s=1.0))
    context = await contexts(DESK)
    try:
        await _lead_escalation(haven, await context.new_page())
    finally:
        await context.close()  # pages first, so the server never waits on their sockets
        await stop_haven(haven)


async def _lead_escalation(haven: Haven, page: Page) -> None:
    staff = await haven.staff()
    lead = await haven.staff(role="lead")
    session_id = await haven.new_session(staff, title="Evening group")
    invite = await haven.invite(staff, session_id, safety_plan="Call the lead.")
    await sign_in(page, haven.base, "/lead", lead.user["email"])
    await check(page, "lead-off-duty")
    await page.check("#on-duty")
    await expect(page.locator(".js-duty-state")).to_contain_text("You receive live alerts")
    joined = await haven.join(invite["token"], "Robin")
    sio = await haven.client_socket(joined["token"])
    try:
        ack = await sio.call(
            "signal",
            {"id": "sig_lead_test_1", "kind": "panic", "source": "control"},
            namespace="/client",
            timeout=TIMEOUT,
        )
        assert ack["ok"]
    finally:
        await sio.disconnect()
    await expect(page.locator(".js-alert")).to_be_visible()
    await expect(page.locator(".js-escalation")).to_be_visible(timeout=8000)
    await expect(page.locator(".js-alert-state")).to_contain_text("escalated")
    await check(page, "lead-escalation")
    await page.select_option("#review-session", session_id)
    await page.click(".js-review")
    await expect(page.locator('.js-timeline [data-type="alert.escalated"]')).to_be_visible()
    href = await page.locator(".js-export").get_attribute("href")
    response = await page.request.get(haven.base + (href or ""))
    assert response.ok and "alert.escalated" in await response.text()
    await check(page, "lead-incident-review")


async def test_group_of_three_with_one_stepping_away(web: Haven, contexts: NewContext) -> None:
    """Others see a neutral "stepped away" tile; a typed safe word is never shown to anyone."""
    staff = await web.staff()
    session_id = await web.new_session(staff, kind="group", title="Peer group")
    pages: list[Page] = []
    for name, word in (("Ava", ""), ("Ben", ""), ("Cleo", "bluebird")):
        invite = await web.invite(staff, session_id, safe_word=word)
        page = await (await contexts()).new_page()
        await walk_to_waiting_room(page, invite["url"], name, camera=False)
        pages.append(page)
    await admit_all(web, staff, session_id, 3)
    ava, ben, cleo = pages
    for page in pages:
        await expect(page.locator('[data-step="call"]')).to_be_visible()
        await expect(page.locator(".js-tiles .tile")).to_have_count(3)
    await check(ben, "group-call")

    await ava.click(".js-step-away")
    await expect(ava.locator('[data-step="away"]')).to_be_visible()
    await check(ava, "group-stepped-away-self")
    away_tile = ben.locator('.js-tiles [data-away="true"]')
    await expect(away_tile).to_have_count(1)
    await expect(away_tile).to_contain_text("Ava · stepped away")
    await check(ben, "group-peer-stepped-away")
    text = (await ben.locator("body").inner_text()).lower()
    assert "panic" not in text and "paused" not in text and "alert" not in text
    _, body = await staff.call("GET", f"/api/sessions/{session_id}")
    reasons = {p["display_name"]: p["paused_reason"] for p in body["participants"]}
    assert reasons["Ava"] == "step_away"

    await ava.click(".js-back-form button")
    await expect(ava.locator('[data-step="call"]')).to_be_visible()
    await expect(ben.locator('.js-tiles [data-away="true"]')).to_have_count(0)

    await cleo.fill("#chat-text", "Bluebird!")
    await cleo.click(".js-chat-form button")
    await expect(cleo.locator(".js-decoy")).to_be_visible()
    await wait_for_event(web, session_id, "alert.raised")
    await expect(ben.locator('.js-tiles [data-away="true"]')).to_contain_text("Cleo · stepped away")
    await asyncio.sleep(0.3)
    for page in (ava, ben):
        assert "bluebird" not in (await page.locator(".js-chat").inner_text()).lower()


async def test_video_flows_both_ways(web: Haven, contexts: NewContext) -> None:
    """With the relay present, the client and the facilitator each receive the other's video."""
    staff = await web.staff()
    session_id = await web.new_session(staff)
    invite = await web.invite(staff, session_id)
    console = await (await contexts(DESK)).new_page()
    await sign_in(console, web.base, f"/console?session={session_id}", staff.user["email"])
    client = await (await contexts()).new_page()
    await walk_to_waiting_room(client, invite["url"], "Vic")
    await admit_all(web, staff, session_id, 1)
    await expect(client.locator('[data-step="call"]')).to_be_visible()
    await console.click(".js-join-media")
    await client.wait_for_function(
        "() => window.havenClient.state.link && window.havenClient.state.link.available !== null",
        timeout=20_000,
    )
    assert await client.evaluate("() => window.havenClient.state.link.available")
    playing = (
        "() => [...document.querySelectorAll('video[data-stream], .js-call-tiles video')]"
        ".some(v => v.videoWidth > 0)"
    )
    await client.wait_for_function(playing, timeout=10_000)
    await console.wait_for_function(playing, timeout=10_000)
    await shot(client, "client-call-video")
    await shot(console, "console-call-video")
    await axe(client, "client-call-video")

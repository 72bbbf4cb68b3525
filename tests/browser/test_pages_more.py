"""More of the pages in a real Chromium: named group tiles, relay statistics, keyboard, touch, phone
width, the URL decoy, the back-forward cache and the spoken safe word's consent wording."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.browser.conftest import DESK, PHONE, axe, check, shot
from tests.browser.flows import admit_all, sign_in, walk_to_waiting_room
from tests.harness import PASSWORD, TIMEOUT, Haven

pytestmark = pytest.mark.asyncio(loop_scope="session")
NewContext = Callable[..., Awaitable[BrowserContext]]

FOCUS_VISIBLE = """() => {
    const e = document.activeElement;
    if (!e || e === document.body || !e.matches(':focus-visible')) return false;
    const cs = getComputedStyle(e);
    const outline = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2;
    return outline || (cs.boxShadow && cs.boxShadow !== 'none');
}"""
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


async def wait_for_event(haven: Haven, session_id: str, kind: str) -> list[str]:
    """Wait until the session's log holds an event of this type."""
    for _ in range(int(TIMEOUT / 0.05)):
        types = await haven.event_types(session_id)
        if kind in types:
            return types
        await asyncio.sleep(0.05)
    raise AssertionError(f"{kind} never reached the log: {await haven.event_types(session_id)}")


async def tab_to(page: Page, selector: str, *, limit: int = 80, back: bool = False) -> None:
    """Press Tab (or Shift+Tab) until the focused element matches; focus must be visible there."""
    key = "Shift+Tab" if back else "Tab"
    for _ in range(limit):
        await page.keyboard.press(key)
        if await page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector):
            assert await page.evaluate(FOCUS_VISIBLE), f"focus on {selector} is not visible"
            return
    raise AssertionError(f"Tab never reached {selector}")


async def no_overflow(page: Page, name: str) -> None:
    """The page fits the viewport's width: nothing scrolls sideways."""
    assert await page.evaluate(OVERFLOW) <= 0, f"{name} scrolls sideways at this width"


# -- 1 and 2: named tiles in a group with real video, and the relay's statistics on the console --


async def test_group_video_tiles_are_named_and_show_relay_stats(
    web: Haven, contexts: NewContext
) -> None:
    """Three clients with cameras see each other's video on named tiles; a paused one is only
    "stepped away" to the others, while the console shows the truth and the relay's figures."""
    staff = await web.staff()
    session_id = await web.new_session(staff, kind="group", title="Video group")
    console = await (await contexts(DESK)).new_page()
    await sign_in(console, web.base, f"/console?session={session_id}", staff.user["email"])
    pages: dict[str, Page] = {}
    for name in ("Ava", "Ben", "Cleo"):
        invite = await web.invite(staff, session_id)
        page = await (await contexts()).new_page()
        await walk_to_waiting_room(page, invite["url"], name)
        pages[name] = page
    admitted = await admit_all(web, staff, session_id, 3)
    ids = {p["display_name"]: p["id"] for p in admitted}
    await console.click(".js-join-media")
    playing = """([id, name]) => {
        const t = document.querySelector(`[data-peer="${id}"], [data-participant="${id}"]`);
        const v = t && t.querySelector('video');
        return Boolean(v && v.videoWidth > 0 && t.textContent.includes(name));
    }"""
    for me, page in pages.items():
        await expect(page.locator('[data-step="call"]')).to_be_visible()
        for name, pid in ids.items():
            if name != me:
                await page.wait_for_function(playing, arg=[pid, name], timeout=20_000)
        # Every tile has a name: no anonymous video anywhere.
        for tile in await page.locator(".js-tiles .tile").all():
            assert (await tile.locator(".tile__name").inner_text()).strip()
    for name, pid in ids.items():
        await console.wait_for_function(playing, arg=[pid, name], timeout=20_000)
    await expect(pages["Ava"].locator(".js-tiles [data-peer]")).to_have_count(4)  # + facilitator
    await expect(pages["Ava"].locator(".js-tiles .tile", has_text="Facilitator")).to_have_count(1)
    await shot(pages["Ava"], "group-video-named-tiles")

    # The relay's figures reach the console's tiles: bitrate, loss and round-trip time.
    stats = console.locator(f'[data-participant="{ids["Ben"]}"] .js-stats')
    await expect(stats).to_have_text(
        re.compile(r"Sends [1-9]\d* kbit/s · receives \d+ kbit/s · loss \d+\.\d % · round trip"),
        timeout=10_000,
    )
    await shot(console, "console-group-video-stats")

    await pages["Cleo"].click(".js-exit")
    await expect(pages["Cleo"].locator(".js-decoy")).to_be_visible()
    for name in ("Ava", "Ben"):
        tile = pages[name].locator(f'[data-peer="{ids["Cleo"]}"]')
        await expect(tile).to_have_text("Cleo · stepped away")
        await expect(tile.locator("video")).to_have_count(0)
        text = (await pages[name].locator("body").inner_text()).lower()
        assert "panic" not in text and "paused" not in text and "safety" not in text
    await shot(pages["Ben"], "group-video-peer-stepped-away")
    await axe(pages["Ben"], "group-video-peer-stepped-away")
    truth = console.locator(f'[data-participant="{ids["Cleo"]}"] .js-tile-name')
    await expect(truth).to_have_text("Cleo · paused for safety")
    await expect(console.locator(f'[data-participant="{ids["Ava"]}"] video')).to_have_count(1)
    await check(console, "console-group-video-paused")


# -- 3 and 5: keyboard alone, and the Help link with Enter --------------------------------------


async def test_keyboard_only_client_journey_and_console(web: Haven, contexts: NewContext) -> None:
    """Tab, Enter and Space alone take a client to the call and out by the Help link, and let the
    facilitator admit, acknowledge and resolve, with visible focus at every stop."""
    staff = await web.staff()
    session_id = await web.new_session(staff, title="Keyboard")
    invite = await web.invite(staff, session_id, safety_plan="Text later.")
    console = await (await contexts(DESK)).new_page()
    await console.goto(f"{web.base}/console?session={session_id}")
    await expect(console.locator("#email")).to_be_focused()
    await console.keyboard.type(staff.user["email"])
    await tab_to(console, "#password")
    await console.keyboard.type(PASSWORD)
    await console.keyboard.press("Enter")
    await expect(console.locator(".js-session")).to_be_visible()

    client = await (await contexts()).new_page()
    await client.goto(invite["url"])
    await expect(client.locator('[data-step="consent"]')).to_be_visible()
    await tab_to(client, ".js-exit")  # the first stop on every screen
    await tab_to(client, "#consent")
    await client.keyboard.press("Space")
    await expect(client.locator("#consent")).to_be_checked()
    await tab_to(client, ".js-consent-form button")
    await client.keyboard.press("Enter")
    await expect(client.locator('[data-step="details"]')).to_be_visible()
    await tab_to(client, "#display-name")
    await client.keyboard.type("Kai")
    await tab_to(client, "#camera-on")
    await client.keyboard.press("ArrowDown")
    await expect(client.locator("#camera-off")).to_be_checked()
    await tab_to(client, ".js-details-form button")
    await shot(client, "keyboard-client-details-focus")
    await client.keyboard.press("Enter")
    await expect(client.locator('[data-step="practice"]')).to_be_visible()
    await tab_to(client, ".js-join")
    await client.keyboard.press("Enter")
    await expect(client.locator('[data-step="waiting"]')).to_be_visible()

    await expect(console.locator(".js-admit")).to_be_visible()
    await tab_to(console, ".js-admit")
    await shot(console, "keyboard-console-admit-focus")
    await console.keyboard.press("Enter")
    await expect(client.locator('[data-step="call"]')).to_be_visible()
    # Focus is not dropped to the top of the page when the admitted row disappears.
    await expect(console.locator("#waiting-h")).to_be_focused()

    # The disguised control, by keyboard: Tab to Help, Enter.
    await client.keyboard.press("Shift+Tab")  # leave wherever focus was, then start over
    await client.locator("#main").focus()
    await tab_to(client, ".js-exit", back=True)
    await client.keyboard.press("Enter")
    await expect(client.locator(".js-decoy")).to_be_visible()
    assert client.url.endswith("/ended")
    await wait_for_event(web, session_id, "alert.raised")

    await expect(console.locator(".js-ack")).to_be_visible()
    await tab_to(console, ".js-ack", back=True)  # alerts come first in the page
    await shot(console, "keyboard-console-ack-focus")
    await console.keyboard.press("Enter")
    await wait_for_event(web, session_id, "alert.acknowledged")
    # Acknowledged: the button goes and focus moves to Resolve in the same card.
    await expect(console.locator(".js-ack")).to_have_count(0)
    await expect(console.locator(".js-resolve")).to_be_focused()
    assert await console.evaluate(FOCUS_VISIBLE)
    await console.keyboard.press("Space")
    await wait_for_event(web, session_id, "alert.resolved")
    await expect(console.locator(".js-no-alerts")).to_be_visible()
    await expect(console.locator("#alerts-h")).to_be_focused()


async def test_exit_by_touch_and_for_screen_readers(web: Haven, contexts: NewContext) -> None:
    """On a touch phone three taps on the clock exit; Help is a plain link named "Help"."""
    staff = await web.staff()
    session_id = await web.new_session(staff)
    invite = await web.invite(staff, session_id)
    page = await (await contexts(PHONE, has_touch=True, is_mobile=True)).new_page()
    await page.goto(invite["url"])
    await expect(page.locator('[data-step="consent"]')).to_be_visible()
    # What a screen reader reads: a link called Help, nothing more; the clock is not announced.
    await expect(page.locator(".bar")).to_match_aria_snapshot('- link "Help"')
    await expect(page.get_by_role("link", name="Help", exact=True)).to_have_attribute(
        "href", "/ended"
    )
    await page.tap("#consent")
    await page.tap(".js-consent-form button")
    await page.tap("#display-name")
    await page.keyboard.type("Tia")
    await page.tap("label[for=camera-off]")
    await page.tap(".js-details-form button")
    await page.tap(".js-join")
    await expect(page.locator('[data-step="waiting"]')).to_be_visible()
    await admit_all(web, staff, session_id, 1)
    await expect(page.locator('[data-step="call"]')).to_be_visible()
    await shot(page, "touch-call")
    for _ in range(3):
        await page.tap(".js-clock")
    await expect(page.locator(".js-decoy")).to_be_visible()
    assert await page.title() == "Meeting ended"
    await wait_for_event(web, session_id, "alert.raised")
    _, body = await staff.call("GET", f"/api/sessions/{session_id}/events")
    sources = [e["payload"].get("source") for e in body["events"] if e["type"] == "signal.received"]
    assert sources == ["gesture"]
    await check(page, "touch-decoy")
    # The same gesture, on the decoy's heading, reveals the rejoin form.
    for _ in range(3):
        await page.tap(".js-decoy-heading")
    await expect(page.locator(".js-rejoin")).to_be_visible()


# -- 4: phone width for the console and the lead view -------------------------------------------


async def test_console_and_lead_at_phone_width(web: Haven, contexts: NewContext) -> None:
    """At 360 px the console (waiting room, call, alert) and the lead view fit and pass axe."""
    staff = await web.staff()
    lead = await web.staff(role="lead")
    session_id = await web.new_session(staff, kind="group", title="A rather long session title")
    waiting = await web.join((await web.invite(staff, session_id))["token"], "Wendy")
    inside = await web.join(
        (await web.invite(staff, session_id, safety_plan="Call back."))["token"]
    )
    pid = inside["participant_id"]
    await staff.call("POST", f"/api/sessions/{session_id}/participants/{pid}/admit")
    assert waiting["participant_id"]

    phone = await contexts(PHONE)
    console = await phone.new_page()
    await sign_in(console, web.base, f"/console?session={session_id}", staff.user["email"])
    await expect(console.locator(".js-admit")).to_be_visible()
    await expect(console.locator(".js-call-tiles .tile")).to_have_count(1)
    await check(console, "phone-console-session")
    await no_overflow(console, "the console")

    lead_page = await (await contexts(PHONE)).new_page()
    await sign_in(lead_page, web.base, "/lead", lead.user["email"])
    await lead_page.check("#on-duty")
    await expect(lead_page.locator(".js-duty-state")).to_contain_text("You receive live alerts")
    sio = await web.client_socket(inside["token"])
    try:
        ack = await sio.call(
            "signal",
            {"id": "sig_phone_width_1", "kind": "panic", "source": "keys"},
            namespace="/client",
            timeout=TIMEOUT,
        )
        assert ack["ok"]
    finally:
        await sio.disconnect()
    await expect(console.locator(".js-alert")).to_be_visible()
    await check(console, "phone-console-alert")
    await no_overflow(console, "the console with an alert")
    await expect(lead_page.locator(".js-alert")).to_be_visible()
    await check(lead_page, "phone-lead-alert")
    await no_overflow(lead_page, "the lead view")
    await lead_page.select_option("#review-session", session_id)
    await lead_page.click(".js-review")
    await expect(lead_page.locator('.js-timeline [data-type="alert.raised"]')).to_be_visible()
    await check(lead_page, "phone-lead-review")
    await no_overflow(lead_page, "the lead's incident review")


# -- 6: the service's URL decoy and the back-forward cache --------------------------------------

DECOY_URL = "https://weather.example/today"
DECOY_HTML = "<!doctype html><title>Weather</title><h1>Weather today: light rain</h1>"


async def test_url_decoy_replaces_the_call_and_back_does_not_return(
    web: Haven, contexts: NewContext
) -> None:
    """A service decoy URL replaces the page on a trigger; Back never shows the call."""
    staff = await web.staff()
    service = await web.store.service_by_slug("test")
    assert service is not None
    settings = {**service.settings, "decoy": {"kind": "url", "url": DECOY_URL}}
    await web.store.update_service_settings(service.id, settings)
    session_id = await web.new_session(staff)
    invite = await web.invite(staff, session_id)
    context = await contexts()
    # The decoy site is served by the test, so nothing leaves the machine.
    await context.route(
        "https://weather.example/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body=DECOY_HTML),
    )
    page = await context.new_page()
    await page.goto(web.base + "/")
    await walk_to_waiting_room(page, invite["url"], "Uma", camera=False)
    assert await page.locator(".js-exit").get_attribute("href") == DECOY_URL
    await admit_all(web, staff, session_id, 1)
    await expect(page.locator('[data-step="call"]')).to_be_visible()
    await page.keyboard.press("Shift")
    await page.keyboard.press("Shift")
    await page.keyboard.press("Shift")
    await page.wait_for_url(DECOY_URL)
    await expect(page.locator("h1")).to_have_text("Weather today: light rain")
    await wait_for_event(web, session_id, "alert.raised")
    await shot(page, "url-decoy")
    await page.go_back()
    assert "/join" not in page.url and "/ended" not in page.url
    await expect(page.locator(".js-tiles")).to_have_count(0)
    await page.go_forward()
    assert page.url == DECOY_URL


async def test_back_forward_cache_restore_shows_the_decoy(web: Haven, contexts: NewContext) -> None:
    """A page restored with pageshow.persisted after an exit shows the decoy, never the call."""
    staff = await web.staff()
    session_id = await web.new_session(staff)
    invite = await web.invite(staff, session_id)
    page = await (await contexts()).new_page()
    await walk_to_waiting_room(page, invite["url"], "Noor", camera=False)
    await admit_all(web, staff, session_id, 1)
    await expect(page.locator('[data-step="call"]')).to_be_visible()
    await page.click(".js-exit")
    await expect(page.locator(".js-decoy")).to_be_visible()
    await wait_for_event(web, session_id, "alert.raised")
    # A snapshot taken at the wrong moment (or a browser repainting an old frame) shows the call;
    # the restore event must put the decoy back before anything else.
    shown = await page.evaluate(
        """async () => {
            const decoy = await import('/static/js/decoy.js');
            decoy.hideDecoy();
            dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}));
            return {decoy: !document.querySelector('.js-decoy').hidden,
                    app: !document.querySelector('.js-app').hidden, title: document.title};
        }"""
    )
    assert shown == {"decoy": True, "app": False, "title": "Meeting ended"}
    await expect(page.locator(".js-tiles .tile")).to_have_count(0)
    await shot(page, "bfcache-restored-decoy")


# -- 7: the spoken safe word on the consent page -------------------------------------------------


async def test_consent_explains_the_spoken_safe_word(web: Haven, contexts: NewContext) -> None:
    """With the spoken safe word on, consent says what listens, where, and how to stop it."""
    staff = await web.staff()
    session_id = await web.new_session(staff)
    on = await web.invite(staff, session_id, spoken_opt_in=True, spoken_phrase="purple umbrella")
    off = await web.invite(staff, session_id)
    page = await (await contexts()).new_page()
    await page.goto(on["url"])
    spoken = page.locator(".js-spoken")
    await expect(spoken).to_be_visible()
    text = await spoken.inner_text()
    for words in (
        "listens to the sound from your microphone",
        "memory only",
        "never recorded",
        "ask your facilitator to turn this off",
    ):
        assert words in text, words
    await spoken.scroll_into_view_if_needed()
    await check(page, "client-consent-spoken-safe-word")
    page = await (await contexts()).new_page()
    await page.goto(off["url"])
    await expect(page.locator('[data-step="consent"]')).to_be_visible()
    await expect(page.locator(".js-spoken")).to_be_hidden()

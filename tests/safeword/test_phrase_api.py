"""Choosing a spoken phrase with the facilitator: check it, then calibrate it, over REST."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil

import pytest

from server.config import Config
from server.safeword.bank import SEEDS, BankSpec, build_bank
from tests.harness import Haven, start_haven, stop_haven


async def test_check_explains_problems_in_plain_words(haven: Haven) -> None:
    """A short, common or sincere phrase is explained; a good one has no problems."""
    staff = await haven.staff()
    status, body = await staff.call("POST", "/api/phrases/check", {"phrase": "stop"})
    assert status == 200 and {p["code"] for p in body["problems"]} >= {"too_short"}
    status, body = await staff.call("POST", "/api/phrases/check", {"phrase": "I need a break"})
    assert "sincere_phrase" in {p["code"] for p in body["problems"]}
    status, body = await staff.call("POST", "/api/phrases/check", {"phrase": "blue umbrella"})
    assert body == {"problems": []}
    status, _ = await staff.call("POST", "/api/phrases/check", {"phrase": ""})
    assert status == 400
    async with haven.http.post(haven.base + "/api/phrases/check", json={"phrase": "x"}) as r:
        assert r.status == 401  # staff only


async def test_calibration_runs_in_the_background_and_is_stored(config: Config) -> None:
    """Calibrating answers at once, runs off the loop, and stores only a hash and a threshold."""
    if shutil.which("flite") is None or shutil.which("sox") is None:
        pytest.skip("flite and sox are needed to build a speech bank")
    bank = config.data_dir.parent / "bank"
    # A tiny bank keeps the test short; the real one is two hours (python -m server.safeword.bank).
    await asyncio.to_thread(build_bank, bank / "calibration", BankSpec(SEEDS["calibration"], 0.01))
    haven = await start_haven(dataclasses.replace(config, speech_bank=bank))
    try:
        staff = await haven.staff()
        status, body = await staff.call("POST", "/api/phrases/calibrate", {"phrase": "stop"})
        assert status == 409 and "problems" in body["error"]
        phrase = {"phrase": "blue umbrella"}
        assert (await staff.call("POST", "/api/phrases/status", phrase))[1]["status"] == "missing"
        status, body = await staff.call("POST", "/api/phrases/calibrate", phrase)
        assert status == 202 and body == {"status": "running"}
        for _ in range(600):
            _, body = await staff.call("POST", "/api/phrases/status", phrase)
            if body["status"] != "running":
                break
            await asyncio.sleep(0.1)
        assert body["status"] == "done", body
        assert body["bank_hours"] > 0
        db_text = (config.data_dir / "haven.sqlite3").read_bytes()
        assert b"umbrella" not in db_text
    finally:
        await stop_haven(haven)

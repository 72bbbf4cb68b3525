"""REST routes for choosing a client's spoken safe phrase with the facilitator: check, calibrate.

The phrase travels in the body, never in a URL, and is stored only on the client's invite;
calibrations are keyed by a hash of it.
"""

from __future__ import annotations

from aiohttp import web

from server.messages import fields
from server.sessions import clean_text
from server.web.common import read_json, staff
from server.web.keys import SPOKEN

routes = web.RouteTableDef()


async def _phrase(request: web.Request) -> str:
    await staff(request)
    body = fields(await read_json(request), required={"phrase": str})
    return clean_text(body["phrase"], field="The phrase", max_len=60, allow_empty=False)


@routes.post("/api/phrases/check")
async def check(request: web.Request) -> web.Response:
    """Explain in plain words what is wrong with a proposed phrase (an empty list: nothing)."""
    phrase = await _phrase(request)
    return web.json_response({"problems": await request.app[SPOKEN].check(phrase)})


@routes.post("/api/phrases/calibrate")
async def calibrate(request: web.Request) -> web.Response:
    """Start calibrating a phrase against the bank of ordinary speech (a few minutes)."""
    phrase = await _phrase(request)
    state = await request.app[SPOKEN].start_calibration(phrase)
    return web.json_response({"status": state}, status=202 if state == "running" else 200)


@routes.post("/api/phrases/status")
async def status(request: web.Request) -> web.Response:
    """Say whether a phrase is calibrated, and with what expected false-alarm rate."""
    phrase = await _phrase(request)
    state, detail = await request.app[SPOKEN].calibration_state(phrase)
    body: dict[str, object] = {"status": state}
    if state == "done":
        body["false_alarms_per_hour"] = detail.false_alarms_per_hour
        body["bank_hours"] = detail.bank_hours
    elif state == "failed":
        body["error"] = detail
    return web.json_response(body)

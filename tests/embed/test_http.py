"""The embed routes over plain HTTP: CORS for allowed origins only, the frame, the typed check."""

from __future__ import annotations

import aiohttp
import pytest

from tests.embed.conftest import Embed

pytestmark = pytest.mark.asyncio(loop_scope="session")
EVIL = "http://evil.example"


async def test_cors_only_for_allowed_origins(embed: Embed) -> None:
    """Modules and the signal answer are readable by the demo's origin and by no other."""
    base = embed.haven.base
    async with aiohttp.ClientSession() as http:
        for path in ("/static/embed/widget.js", "/static/js/outbox.js", "/embed/socket.io.js"):
            async with http.get(base + path, headers={"Origin": embed.demo}) as r:
                assert r.status == 200
                assert r.headers["Access-Control-Allow-Origin"] == embed.demo
            async with http.get(base + path, headers={"Origin": EVIL}) as r:
                assert "Access-Control-Allow-Origin" not in r.headers
        async with http.options(base + "/api/signal", headers={"Origin": embed.demo}) as r:
            assert r.status == 204
            assert r.headers["Access-Control-Allow-Origin"] == embed.demo
            assert "POST" in r.headers["Access-Control-Allow-Methods"]
        async with http.get(base + "/embed/socket.io.js") as r:
            text = await r.text()
            assert "export const io" in text and r.content_type == "text/javascript"


async def test_frame_is_only_for_allowed_hosts(embed: Embed) -> None:
    """The iframe-mode frame names its one host in frame-ancestors and refuses other hosts."""
    base = embed.haven.base
    async with aiohttp.ClientSession() as http:
        async with http.get(base + "/embed/frame", params={"host": embed.demo}) as r:
            assert r.status == 200
            assert f"frame-ancestors {embed.demo}" in r.headers["Content-Security-Policy"]
            assert "X-Frame-Options" not in r.headers
        async with http.get(base + "/embed/frame", params={"host": EVIL}) as r:
            assert r.status == 403


async def test_typed_text_is_checked_never_relayed(embed: Embed) -> None:
    """Text without the safe word answers paused false and leaves no event; the word pauses."""
    haven = embed.haven
    session_id = await haven.new_session(embed.staff)
    invite = await haven.invite(embed.staff, session_id, safe_word="bluebird")
    joined = await haven.join(invite["token"])
    plain = {"Content-Type": "text/plain", "Origin": embed.demo}
    async with aiohttp.ClientSession() as http:
        body = {"token": joined["token"], "id": "msg_0000000001", "text": "see you"}
        async with http.post(haven.base + "/api/embed/typed", json=body, headers=plain) as r:
            assert r.status == 200
            assert await r.json() == {"ok": True, "paused": False}
            assert r.headers["Access-Control-Allow-Origin"] == embed.demo
        before = await haven.event_types(session_id)
        assert "signal.received" not in before
        body = {"token": joined["token"], "id": "msg_0000000002", "text": "BLUEBIRD"}
        async with http.post(haven.base + "/api/embed/typed", json=body, headers=plain) as r:
            assert await r.json() == {"ok": True, "paused": True}
    assert "alert.raised" in await haven.event_types(session_id)

"""The alert stream: authenticated, live, and resumable from a sequence number."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import aiohttp

from tests.api.helpers import admin_and_key, embedded_client, panic
from tests.harness import TIMEOUT, Haven

STREAM = "/api/v1/alerts/stream"


async def _open(haven: Haven, key: str, after: int | None) -> aiohttp.ClientWebSocketResponse:
    url = haven.base.replace("http", "ws", 1) + STREAM
    params = {} if after is None else {"after": str(after)}
    return await haven.http.ws_connect(
        url, params=params, headers={"Authorization": f"Bearer {key}"}
    )


async def _read(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    while len(lines) < count:
        msg = await asyncio.wait_for(ws.receive(), TIMEOUT)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        line = json.loads(msg.data)
        if line["type"] != "stream.opened":
            lines.append(line)
    return lines


async def _alert_seqs(haven: Haven) -> list[int]:
    return [e.seq for e in await haven.store.events() if e.type.startswith("alert.")]


async def test_stream_resumes_without_gap_or_duplicate(haven: Haven) -> None:
    """Events missed while disconnected arrive on reconnect with after=<last seq>, once each."""
    _, client = await admin_and_key(haven, "sessions:write", "alerts:write")
    facilitator = await haven.staff()
    first = await embedded_client(haven, client, facilitator)
    ws = await _open(haven, client.key, after=0)
    hello = json.loads((await asyncio.wait_for(ws.receive(), TIMEOUT)).data)
    assert hello == {"type": "stream.opened", "service": "test", "after": 0}

    await panic(haven, first["token"], "stream-panic-01")
    (raised,) = await _read(ws, 1)
    assert raised["type"] == "alert.raised" and raised["data"]["kind"] == "panic"
    await ws.close()

    # While nobody is listening: the alert is acknowledged, and another client panics.
    await client.call("POST", f"/api/v1/alerts/{raised['alert_id']}/acknowledge")
    second = await embedded_client(haven, client, facilitator)
    await panic(haven, second["token"], "stream-panic-02")

    ws = await _open(haven, client.key, after=raised["seq"])
    missed = await _read(ws, 2)
    await client.call("POST", f"/api/v1/alerts/{raised['alert_id']}/resolve")
    (live,) = await _read(ws, 1)
    await ws.close()

    seen = [raised["seq"], *(m["seq"] for m in missed), live["seq"]]
    assert seen == await _alert_seqs(haven)  # every alert event, in order, exactly once
    assert [m["type"] for m in missed] == ["alert.acknowledged", "alert.raised"]
    assert live["type"] == "alert.resolved"


async def test_stream_without_after_starts_at_the_head(haven: Haven) -> None:
    """Without ``after`` the stream starts at the log's head and says where, for the next resume."""
    _, client = await admin_and_key(haven, "sessions:write", "alerts:read")
    facilitator = await haven.staff()
    first = await embedded_client(haven, client, facilitator)
    await panic(haven, first["token"], "head-panic-0001")
    ws = await _open(haven, client.key, after=None)
    hello = json.loads((await asyncio.wait_for(ws.receive(), TIMEOUT)).data)
    assert hello["after"] == await haven.store.head_seq()
    second = await embedded_client(haven, client, facilitator)
    await panic(haven, second["token"], "head-panic-0002")
    (line,) = await _read(ws, 1)
    assert line["seq"] > hello["after"] and line["type"] == "alert.raised"
    await ws.close()


async def test_stream_needs_a_key_with_alerts_read(haven: Haven) -> None:
    """The stream refuses a missing or under-scoped key, and plain HTTP gets 426."""
    _, reader = await admin_and_key(haven, "sessions:read")
    for key, status in (("hvn_nope-nope-nope-nope", 401), (reader.key, 403)):
        try:
            await _open(haven, key, after=0)
        except aiohttp.WSServerHandshakeError as exc:
            assert exc.status == status
        else:
            raise AssertionError("the handshake should have been refused")
    _, allowed = await admin_and_key(haven, "alerts:read")
    status, body = await allowed.call("GET", STREAM)
    assert status == 426 and body["code"] == "upgrade_required"


async def test_other_services_alerts_are_not_streamed(haven: Haven) -> None:
    """A key sees only its own service's alerts."""
    _, mine = await admin_and_key(haven, "alerts:read")
    _, theirs = await admin_and_key(haven, "sessions:write", service="other")
    facilitator = await haven.staff(service="other")
    participant = await embedded_client(haven, theirs, facilitator)
    ws = await _open(haven, mine.key, after=0)
    await panic(haven, participant["token"], "other-panic-001")
    await asyncio.sleep(0.3)
    await ws.close()
    lines = [json.loads(m.data) async for m in ws if m.type == aiohttp.WSMsgType.TEXT]
    assert all(line["type"] == "stream.opened" for line in lines)


async def test_haven_watch_prints_alerts(haven: Haven) -> None:
    """``haven watch --service test`` prints an alert raised while it runs."""
    _, client = await admin_and_key(haven, "sessions:write", "alerts:read")
    facilitator = await haven.staff()
    participant = await embedded_client(haven, client, facilitator)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server", "watch", "--service", "test", "--url", haven.base,
        env={"HAVEN_API_KEY": client.key, "PATH": ""},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        first = await asyncio.wait_for(process.stdout.readline(), 4 * TIMEOUT)
        assert b"Watching test's alerts" in first
        await panic(haven, participant["token"], "watch-panic-001")
        line = await asyncio.wait_for(process.stdout.readline(), TIMEOUT)
        assert b"alert.raised" in line and b"kind=panic" in line
    finally:
        process.terminate()
        await process.wait()


async def test_watch_refuses_a_key_of_another_service(haven: Haven) -> None:
    """``haven watch`` stops with an error if the key belongs to a different service."""
    _, client = await admin_and_key(haven, "alerts:read")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server", "watch", "--service", "elsewhere", "--url", haven.base,
        "--key", client.key,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 4 * TIMEOUT)
    assert process.returncode == 1 and b"belongs to test" in err


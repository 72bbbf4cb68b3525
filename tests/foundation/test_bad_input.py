"""Bad input gets a clear 4xx or error acknowledgement, never a 500, and the connection stays up."""

from __future__ import annotations

import asyncio

import pytest
import socketio

from tests.harness import Haven


async def test_malformed_json_is_a_clear_400(haven: Haven) -> None:
    """Malformed JSON is refused with a readable message."""
    async with haven.http.post(
        haven.base + "/api/invite/open",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    ) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "The message is not valid JSON."


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([1, 2], "The message must be a JSON object."),
        ({}, "The field token is missing."),
        ({"token": "x" * 30, "extra": 1}, "Unknown field: extra."),
        ({"token": ["x"]}, "The field token has the wrong type."),
    ],
)
async def test_wrong_shapes_are_named(haven: Haven, body: object, message: str) -> None:
    """Missing, unknown and mistyped fields are named in the error."""
    status, answer = await haven.post("/api/invite/open", body)
    assert status == 400 and answer["error"] == message


async def test_oversized_body_is_413(haven: Haven) -> None:
    """A body over 64 KB is refused with 413 and a message."""
    status, answer = await haven.post("/api/invite/open", {"token": "x" * 70_000})
    assert status == 413 and answer["code"] == "too_large"


async def test_bad_console_input_keeps_signin(haven: Haven) -> None:
    """Invalid session fields are refused and the console stays signed in."""
    staff = await haven.staff()
    status, body = await staff.call("POST", "/api/sessions", {"kind": "party"})
    assert status == 400 and "one_to_one or group" in body["error"]
    status, body = await staff.call("POST", "/api/sessions", {"kind": "group", "title": "x" * 500})
    assert status == 400 and "at most 120" in body["error"]
    status, body = await staff.call(
        "POST", f"/api/sessions/{await haven.new_session(staff)}/invites", {"pin": "12ab"}
    )
    assert status == 400 and "six digits" in body["error"]
    assert (await staff.call("GET", "/api/auth/me"))[0] == 200


async def test_unknown_session_is_404_not_500(haven: Haven) -> None:
    """Asking for a session that does not exist is a 404."""
    staff = await haven.staff()
    status, body = await staff.call("GET", "/api/sessions/s_nothing")
    assert status == 404 and body["error"] == "There is no such session."


async def test_socket_with_bad_token_is_refused(haven: Haven) -> None:
    """A socket.io client with a bad token cannot connect."""
    with pytest.raises(socketio.exceptions.ConnectionError):
        await haven.client_socket("not-a-real-token-at-all")


async def test_socket_bad_message_gets_error_ack_and_stays_up(haven: Haven) -> None:
    """A malformed console message gets an error acknowledgement; the connection stays up."""
    staff = await haven.staff()
    console = await staff.console_socket()
    answer = await console.call("watch", "nonsense", namespace="/console", timeout=5)
    assert answer["ok"] is False and "session_id" in answer["error"]
    answer = await console.call("watch", {"session_id": "s_none"}, namespace="/console", timeout=5)
    assert answer == {"ok": False, "error": "There is no such session.", "code": "not_found"}
    assert console.connected
    await console.disconnect()


async def test_socket_message_over_64kb_closes_only_that_connection(haven: Haven) -> None:
    """A socket.io message over 64 KB is dropped with its connection; the server carries on."""
    staff = await haven.staff()
    console = await staff.console_socket()
    big = {"session_id": "x" * 70_000}
    with pytest.raises((socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError)):
        await console.call("watch", big, namespace="/console", timeout=2)
    await asyncio.sleep(0.1)
    fresh = await staff.console_socket()
    assert fresh.connected
    await fresh.disconnect()
    await console.disconnect()


async def test_foreign_origin_socket_is_refused(haven: Haven) -> None:
    """A browser socket.io connection from an unlisted origin is refused (never '*')."""
    staff = await haven.staff()
    sio = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio.connect(
            haven.base,
            namespaces=["/console"],
            transports=["websocket"],
            headers={"Cookie": staff.cookie, "Origin": "https://evil.example"},
        )


async def test_security_headers_on_every_response(haven: Haven) -> None:
    """Every response carries the strict CSP, no-referrer and nosniff."""
    async with haven.http.get(haven.base + "/api/auth/me") as response:
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Content-Type-Options"] == "nosniff"

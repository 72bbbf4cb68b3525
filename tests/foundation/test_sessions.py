"""Sessions, invites, PINs and the waiting room, through the real server and socket.io."""

from __future__ import annotations

import asyncio
import time

import pytest
import socketio

from server.config import Config
from tests.harness import FakeClock, Haven, Inbox, start_haven, stop_haven


async def test_invite_token_has_at_least_128_bits(haven: Haven) -> None:
    """An invite link carries a token of at least 128 random bits and is shown with a QR code."""
    staff = await haven.staff()
    invite = await haven.invite(staff, await haven.new_session(staff))
    assert len(invite["token"]) >= 22  # 128 bits in URL-safe base64
    assert invite["qr_svg"].startswith("data:image/svg+xml")
    assert invite["url"].startswith(haven.base + "/join#")


async def test_client_waits_until_admitted(haven: Haven) -> None:
    """A client who arrives before the facilitator waits, and enters only when admitted."""
    staff = await haven.staff()
    session_id = await haven.new_session(staff)
    invite = await haven.invite(staff, session_id)
    joined = await haven.join(invite["token"], camera_off=True)
    client = await haven.client_socket(joined["token"])
    inbox = Inbox(client, "/client", "admitted")
    state = await client.call("state", {}, namespace="/client", timeout=5)
    assert state["status"] == "waiting"
    await asyncio.sleep(0.2)
    assert inbox.items["admitted"] == []  # never automatically

    console = await staff.console_socket()
    await console.call("watch", {"session_id": session_id}, namespace="/console", timeout=5)
    status, _ = await staff.call(
        "POST", f"/api/sessions/{session_id}/participants/{joined['participant_id']}/admit"
    )
    assert status == 200
    await inbox.next("admitted")
    state = await client.call("state", {}, namespace="/client", timeout=5)
    assert state["status"] == "admitted"
    assert await haven.event_types(session_id) == [
        "session.created",
        "invite.created",
        "consent.given",
        "participant.joined",
        "participant.admitted",
    ]
    await client.disconnect()
    await console.disconnect()


async def test_invite_is_single_use(haven: Haven) -> None:
    """A used invite cannot be used again."""
    staff = await haven.staff()
    invite = await haven.invite(staff, await haven.new_session(staff))
    await haven.join(invite["token"])
    status, body = await haven.post(
        "/api/invite/join", {"token": invite["token"], "display_name": "X", "consent": True}
    )
    assert status == 410 and "already been used" in body["error"]


async def test_bad_and_other_tokens_are_refused(haven: Haven) -> None:
    """A made-up token is refused with 401 and a plain message."""
    status, body = await haven.post("/api/invite/open", {"token": "x" * 32})
    assert status == 401 and body["error"] == "This invite link is not valid."
    status, body = await haven.post("/api/invite/open", {"token": 12})
    assert status == 400 and "wrong type" in body["error"]


async def test_expired_invite_is_gone(config: Config, clock: FakeClock) -> None:
    """An invite past its expiry is refused as gone."""
    haven = await start_haven(config, clock)
    try:
        staff = await haven.staff()
        invite = await haven.invite(staff, await haven.new_session(staff))
        clock.advance(config.invite_ttl_hours * 3600 + 1)
        status, body = await haven.post("/api/invite/open", {"token": invite["token"]})
        assert status == 410 and "expired" in body["error"]
    finally:
        await stop_haven(haven)


async def test_pin_locks_after_five_and_revokes_after_ten(config: Config, clock: FakeClock) -> None:
    """Five wrong PINs lock the invite for 15 minutes; ten revoke it."""
    haven = await start_haven(config, clock)
    try:
        staff = await haven.staff()
        invite = await haven.invite(staff, await haven.new_session(staff), pin="123456")
        token = invite["token"]
        assert (await haven.post("/api/invite/open", {"token": token}))[0] == 401
        for _ in range(5):
            status, _ = await haven.post("/api/invite/open", {"token": token, "pin": "000000"})
            assert status == 401
        status, body = await haven.post("/api/invite/open", {"token": token, "pin": "123456"})
        assert status == 429 and "minutes" in body["error"]
        clock.advance(15 * 60 + 1)
        assert (await haven.post("/api/invite/open", {"token": token, "pin": "123456"}))[0] == 200
        for _ in range(5):
            await haven.post("/api/invite/open", {"token": token, "pin": "999999"})
        status, _ = await haven.post("/api/invite/open", {"token": token, "pin": "123456"})
        assert status == 410
    finally:
        await stop_haven(haven)


async def test_removed_client_cannot_rejoin(haven: Haven) -> None:
    """A removed client is disconnected and neither their token nor their invite works again."""
    staff = await haven.staff()
    session_id = await haven.new_session(staff)
    invite = await haven.invite(staff, session_id)
    joined = await haven.join(invite["token"])
    client = await haven.client_socket(joined["token"])
    inbox = Inbox(client, "/client", "removed")
    pid = joined["participant_id"]
    assert (await staff.call("POST", f"/api/sessions/{session_id}/participants/{pid}/remove"))[
        0
    ] == 200
    await inbox.next("removed")
    await client.disconnect()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await haven.client_socket(joined["token"])
    assert (await haven.post("/api/invite/open", {"token": invite["token"]}))[0] == 410


async def test_locked_session_refuses_new_clients(haven: Haven) -> None:
    """Nobody new can join a locked session."""
    staff = await haven.staff()
    session_id = await haven.new_session(staff, "group")
    invite = await haven.invite(staff, session_id)
    assert (await staff.call("POST", f"/api/sessions/{session_id}/lock", {"locked": True}))[
        0
    ] == 200
    status, body = await haven.post(
        "/api/invite/join", {"token": invite["token"], "display_name": "A", "consent": True}
    )
    assert status == 409 and "locked" in body["error"]


async def test_one_to_one_admits_one_client(haven: Haven) -> None:
    """A 1:1 session admits a single client; a group admits up to twelve."""
    staff = await haven.staff()
    session_id = await haven.new_session(staff)
    ids = []
    for _ in range(2):
        invite = await haven.invite(staff, session_id)
        ids.append((await haven.join(invite["token"]))["participant_id"])
    base = f"/api/sessions/{session_id}/participants"
    assert (await staff.call("POST", f"{base}/{ids[0]}/admit"))[0] == 200
    status, body = await staff.call("POST", f"{base}/{ids[1]}/admit")
    assert status == 409 and "already has 1" in body["error"]


async def test_safety_plan_visible_only_to_session_staff_and_leads(haven: Haven) -> None:
    """Only the session's facilitators and the service's leads can read a safety plan."""
    owner = await haven.staff()
    other = await haven.staff(email="other@example.org")
    lead = await haven.staff("lead", email="lead@example.org")
    outsider = await haven.staff(email="out@example.org", service="elsewhere")
    session_id = await haven.new_session(owner)
    await haven.invite(
        owner,
        session_id,
        safety_plan="Text 'appointment moved' in 30 minutes.",
        safe_word="kaleidoscope",
        spoken_phrase="blue umbrella",
    )
    path = f"/api/sessions/{session_id}"
    status, body = await owner.call("GET", path)
    assert status == 200 and body["invites"][0]["safety_plan"].startswith("Text")
    assert (await lead.call("GET", path))[0] == 200
    assert (await other.call("GET", path))[0] == 404
    assert (await outsider.call("GET", path))[0] == 404


async def test_group_with_co_facilitator(haven: Haven) -> None:
    """A group session can name a co-facilitator of the same service, who can then run it."""
    owner = await haven.staff()
    co = await haven.staff(email="co@example.org")
    session_id = await haven.new_session(owner, "group", co_facilitator_email="co@example.org")
    status, body = await co.call("GET", f"/api/sessions/{session_id}")
    assert status == 200 and body["co_facilitator_id"] == co.user["id"]


async def test_end_session_tells_clients_and_revokes_invites(haven: Haven) -> None:
    """Ending a session tells connected clients and makes unused invites useless."""
    staff = await haven.staff()
    session_id = await haven.new_session(staff, "group")
    unused = await haven.invite(staff, session_id)
    joined = await haven.join((await haven.invite(staff, session_id))["token"])
    client = await haven.client_socket(joined["token"])
    inbox = Inbox(client, "/client", "session_ended")
    assert (await staff.call("POST", f"/api/sessions/{session_id}/end"))[0] == 200
    await inbox.next("session_ended")
    assert (await haven.post("/api/invite/open", {"token": unused["token"]}))[0] == 410
    assert (await staff.call("POST", f"/api/sessions/{session_id}/end"))[1]["ended"] is False
    await client.disconnect()


async def test_retention_removes_personal_data_of_old_sessions(haven: Haven) -> None:
    """Names, safety plans, safe words and PINs are deleted once retention has passed."""
    from server.retention import sweep

    staff = await haven.staff()
    session_id = await haven.new_session(staff)
    invite = await haven.invite(
        staff, session_id, safety_plan="Text me.", safe_word="avocado", pin="123456"
    )
    joined = await haven.join(invite["token"], name="Robin", pin="123456")
    await staff.call("POST", f"/api/sessions/{session_id}/end")
    assert await sweep(haven.store, 30, time.time() + 29 * 86400) == 0
    assert await sweep(haven.store, 30, time.time() + 31 * 86400) == 1
    participant = await haven.store.participant(joined["participant_id"])
    stored = await haven.store.invite(invite["id"])
    assert participant is not None and participant.display_name == ""
    assert stored is not None and (stored.safety_plan, stored.safe_word, stored.pin_hash) == (
        "",
        "",
        None,
    )

"""Real WebRTC through the real server: offers at the relay, the gate closed by a signal."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import replace

from server.config import Config
from tests.harness import (
    Haven,
    Inbox,
    MediaOffers,
    follow_renegotiation,
    open_media,
    start_haven,
    stop_haven,
)
from tests.relay.conftest import Browser, real_video_both_ways, wait_for


async def test_call_media_flows_and_a_panic_cuts_it_at_the_relay(haven: Haven) -> None:
    """Client and facilitator see each other through the relay; a panic cuts both directions."""
    staff = await haven.staff()
    session_id = await haven.new_session(staff)
    created = await haven.invite(staff, session_id, pin="123456")
    joined = await haven.join(created["token"], pin="123456")
    pid = joined["participant_id"]
    client = await haven.client_socket(joined["token"])
    refused = await client.call("media", {}, namespace="/client", timeout=5)
    assert refused["ok"] is False and "let in" in refused["error"]  # waiting room: no media
    await staff.call("POST", f"/api/sessions/{session_id}/participants/{pid}/admit")
    console = await staff.console_socket()
    client_media = await open_media(haven.base, client, "/client")
    console_media = await open_media(haven.base, console, "/console", session_id)

    ice = await client_media.call("ice", {}, namespace="/media", timeout=5)
    assert ice == {"ok": True, "ice_servers": []}
    me = Browser(MediaOffers(client_media), session_id, pid)
    them = Browser(MediaOffers(console_media), session_id, staff.user["id"])
    follow_renegotiation(client_media, me)
    follow_renegotiation(console_media, them)
    try:
        for browser in (me, them):
            browser.add_media()
            browser.add_receivers(1)
            await browser.negotiate()
        from_client, to_client = await real_video_both_ways(me, pid, them, staff.user["id"])

        paused = Inbox(client, "/client", "paused")
        ack = await client.call(
            "signal",
            {"id": "media-panic-1", "kind": "panic", "source": "keys"},
            namespace="/client",
            timeout=5,
        )
        assert ack["ok"]
        await paused.next("paused")
        closed_at = time.monotonic() + 0.1  # packets already on the wire may still land
        await wait_for(lambda: from_client["video"].packets_after(closed_at + 0.3) > 0)
        assert from_client["video"].real_packets_after(closed_at) == 0
        assert from_client["audio"].real_packets_after(closed_at) == 0
        assert to_client["video"].real_packets_after(closed_at) == 0
        assert to_client["audio"].real_packets_after(closed_at) == 0
        assert not any(real for at, real in from_client["video"].frames if at > closed_at + 0.2)

        ack = await client.call(
            "signal",
            {"id": "media-resume-1", "kind": "resume", "source": "control", "pin": "123456"},
            namespace="/client",
            timeout=5,
        )
        assert ack["ok"]
        resumed_at = time.monotonic()
        await wait_for(lambda: from_client["video"].real_packets_after(resumed_at) > 0)
        await wait_for(
            lambda: any(real for at, real in from_client["video"].frames if at > resumed_at)
        )
        stats = await console_media.call("stats", {}, namespace="/media", timeout=5)
        assert stats["ok"] and pid in stats["stats"]
        refused = await client_media.call("stats", {}, namespace="/media", timeout=5)
        assert refused["ok"] is False  # a client's ticket does not show the session's figures
    finally:
        await me.close()
        await them.close()
        for sio in (client_media, console_media, client, console):
            await sio.disconnect()


async def test_ice_servers_carry_time_limited_turn_credentials(config: Config) -> None:
    """STUN passes through; TURN gets a coturn REST credential naming the member, for an hour."""
    servers = ({"urls": "stun:turn.example.org:3478"}, {"urls": ["turn:turn.example.org:3478"]})
    haven = await start_haven(replace(config, ice_servers=servers, turn_secret="s3cret"))
    try:
        staff = await haven.staff()
        session_id = await haven.new_session(staff)
        joined = await haven.join((await haven.invite(staff, session_id))["token"])
        pid = joined["participant_id"]
        await staff.call("POST", f"/api/sessions/{session_id}/participants/{pid}/admit")
        client = await haven.client_socket(joined["token"])
        media = await open_media(haven.base, client, "/client")
        ice = await media.call("ice", {}, namespace="/media", timeout=5)
        stun, turn = ice["ice_servers"]
        assert stun == {"urls": "stun:turn.example.org:3478"}
        expiry, member = turn["username"].split(":")
        assert member == joined["participant_id"]
        assert 3500 < int(expiry) - time.time() <= 3600
        digest = hmac.new(b"s3cret", turn["username"].encode(), hashlib.sha1).digest()
        assert turn["credential"] == base64.b64encode(digest).decode()
        await media.disconnect()
        await client.disconnect()
    finally:
        await stop_haven(haven)

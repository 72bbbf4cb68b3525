"""Safety signals through the real server: commit before ack, one record per id, alerts to staff."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import replace
from typing import Any

import aiohttp

from server.config import Config
from server.web.keys import SAFETY
from tests.harness import Haven, Inbox, Staff, start_haven, stop_haven


async def _admitted_client(
    haven: Haven, staff: Staff, session_id: str, **invite: Any
) -> tuple[dict[str, Any], Any]:
    created = await haven.invite(staff, session_id, **invite)
    pin = {"pin": invite["pin"]} if "pin" in invite else {}
    joined = await haven.join(created["token"], **pin)
    await staff.call(
        "POST", f"/api/sessions/{session_id}/participants/{joined['participant_id']}/admit"
    )
    client = await haven.client_socket(joined["token"])
    joined["invite_token"] = created["token"]
    return joined, client


def _signal(kind: str = "panic", sid: str = "sig-000001", **extra: Any) -> dict[str, Any]:
    return {"id": sid, "kind": kind, "source": "keys", **extra}


def _signal_rows(haven: Haven) -> list[tuple[str, str]]:
    db = sqlite3.connect(haven.config.data_dir / "haven.sqlite3")
    rows = db.execute("SELECT subject_id, signal_id FROM signals").fetchall()
    db.close()
    return rows


async def test_panic_is_committed_then_acknowledged_and_alerts_staff(haven: Haven) -> None:
    """A panic is durable before its ack, and the facilitator's console gets the safety plan."""
    staff = await haven.staff()
    session_id = await haven.new_session(staff)
    console = await staff.console_socket()
    inbox = Inbox(console, "/console", "alert", "participant_state")
    await console.call("watch", {"session_id": session_id}, namespace="/console", timeout=5)
    joined, client = await _admitted_client(
        haven, staff, session_id, safety_plan="Do not call back; text in 30 minutes."
    )
    ack = await client.call("signal", _signal(), namespace="/client", timeout=5)
    assert ack == {"ok": True, "id": "sig-000001", "duplicate": False}
    assert "alert.raised" in await haven.event_types(session_id)  # durable before the ack
    alert = await inbox.next("alert")
    assert alert["participant_id"] == joined["participant_id"]
    assert alert["safety_plan"] == "Do not call back; text in 30 minutes."
    assert alert["source"] == "keys" and alert["kind"] == "panic"
    assert "999" in alert["escalation_protocol"]
    state = await inbox.next("participant_state")
    assert state == {"participant_id": joined["participant_id"], "paused": True, "reason": "panic"}
    await client.disconnect()
    await console.disconnect()


async def test_the_log_holds_the_consequences_in_order(haven: Haven) -> None:
    """Signal, pause, gate closed and alert raised are logged together, with no chat text."""
    staff = await haven.staff()
    session_id = await haven.new_session(staff)
    _, client = await _admitted_client(haven, staff, session_id)
    await client.call("signal", _signal(), namespace="/client", timeout=5)
    events = await haven.store.events(session_id=session_id)
    tail = [e.type for e in events][-4:]
    assert tail == ["signal.received", "participant.paused", "gate.closed", "alert.raised"]
    received = events[-4].payload
    assert received["auth_state"] == "admitted" and received["channel"] == "socket"
    await client.disconnect()


async def test_same_signal_through_every_channel_is_one_record(haven: Haven) -> None:
    """The same signal sent ten times through socket, fetch and beacon at once: one record."""
    staff = await haven.staff()
    session_id = await haven.new_session(staff)
    console = await staff.console_socket()
    inbox = Inbox(console, "/console", "alert")
    await console.call("watch", {"session_id": session_id}, namespace="/console", timeout=5)
    joined, client = await _admitted_client(haven, staff, session_id)
    body = {"token": joined["token"], "signal": _signal(sid="same-signal-1")}

    async def by_socket() -> Any:
        return await client.call("signal", body["signal"], namespace="/client", timeout=5)

    async def by_http(via: str) -> Any:
        async with haven.http.post(
            f"{haven.base}/api/signal{via}",
            data=json.dumps(body),
            headers={"Content-Type": "text/plain"},
        ) as response:
            assert response.status == 200
            return await response.json()

    answers = await asyncio.gather(
        *[by_socket() for _ in range(4)],
        *[by_http("") for _ in range(3)],
        *[by_http("?via=beacon") for _ in range(3)],
    )
    assert all(a["ok"] and a["id"] == "same-signal-1" for a in answers)
    assert sum(not a["duplicate"] for a in answers) == 1
    assert _signal_rows(haven) == [(joined["participant_id"], "same-signal-1")]
    await inbox.next("alert")
    await asyncio.sleep(0.3)
    assert len(inbox.items["alert"]) == 1
    types = await haven.event_types(session_id)
    assert types.count("signal.received") == 1 and types.count("alert.raised") == 1
    await client.disconnect()
    await console.disconnect()


async def test_signal_is_never_refused_for_authorisation_state(haven: Haven) -> None:
    """In the waiting room, before joining or after removal, a signal is recorded with its state."""
    staff = await haven.staff()
    session_id = await haven.new_session(staff, "group")
    waiting = await haven.join((await haven.invite(staff, session_id))["token"])
    early = await haven.invite(staff, session_id)
    removed = await haven.join((await haven.invite(staff, session_id))["token"])
    await staff.call(
        "POST", f"/api/sessions/{session_id}/participants/{removed['participant_id']}/remove"
    )
    for token, sid in (
        (waiting["token"], "wait-signal"),
        (early["token"], "early-signal"),
        (removed["token"], "gone-signal"),
    ):
        status, answer = await haven.post(
            "/api/signal", {"token": token, "signal": _signal(sid=sid)}
        )
        assert status == 200 and answer["ok"], answer
    states = [
        e.payload["auth_state"]
        for e in await haven.store.events(session_id=session_id)
        if e.type == "signal.received"
    ]
    assert states == ["waiting", "not_joined", "removed"]


async def test_malformed_signal_is_recorded_with_its_problem(haven: Haven) -> None:
    """A signal without a usable id is recorded, the problem noted; an unreadable kind is not."""
    staff = await haven.staff()
    session_id = await haven.new_session(staff)
    _, client = await _admitted_client(haven, staff, session_id)
    ack = await client.call(
        "signal", {"kind": "panic", "source": "weird", "x": 1}, namespace="/client", timeout=5
    )
    assert ack["ok"] and ack["id"].startswith("srv_")
    events = await haven.store.events(session_id=session_id)
    received = next(e for e in events if e.type == "signal.received")
    assert set(received.payload["problems"]) == {
        "missing_or_invalid_id",
        "unknown_source",
        "unknown_fields",
    }
    ack = await client.call("signal", {"kind": "explode"}, namespace="/client", timeout=5)
    assert ack["ok"] is False and "panic, step_away or resume" in ack["error"]
    assert client.connected
    await client.disconnect()


async def test_step_away_pauses_without_alarm_and_peers_learn_only_away(haven: Haven) -> None:
    """'I need a moment' pauses without an alert; other clients see only that someone is away."""
    staff = await haven.staff()
    session_id = await haven.new_session(staff, "group")
    console = await staff.console_socket()
    staff_inbox = Inbox(console, "/console", "alert", "participant_state")
    await console.call("watch", {"session_id": session_id}, namespace="/console", timeout=5)
    me, client = await _admitted_client(haven, staff, session_id)
    _, peer = await _admitted_client(haven, staff, session_id)
    peer_inbox = Inbox(peer, "/client", "peer_state")
    await client.call("signal", _signal("step_away"), namespace="/client", timeout=5)
    assert await peer_inbox.next("peer_state") == {
        "participant_id": me["participant_id"],
        "away": True,
    }
    state = await staff_inbox.next("participant_state")
    assert state["reason"] == "step_away"
    await asyncio.sleep(0.2)
    assert staff_inbox.items["alert"] == []
    await client.call("signal", _signal("resume", "resume-0001"), namespace="/client", timeout=5)
    assert (await peer_inbox.next("peer_state", 2))["away"] is False
    for sio in (client, peer, console):
        await sio.disconnect()


async def test_resume_needs_the_pin_and_duress_pin_escalates_silently(haven: Haven) -> None:
    """The PIN resumes; the duress PIN resumes identically for the client but escalates."""
    staff = await haven.staff()
    lead = await haven.staff("lead", email="lead@example.org")
    lead_console = await lead.console_socket()
    assert (await lead_console.call("on_duty", {"on": True}, namespace="/console", timeout=5))["ok"]
    lead_inbox = Inbox(lead_console, "/console", "alert_escalated", "alert")
    session_id = await haven.new_session(staff)
    joined, client = await _admitted_client(
        haven, staff, session_id, pin="123456", duress_pin="654321"
    )
    await client.call("signal", _signal(), namespace="/client", timeout=5)
    wrong = await client.call(
        "signal", _signal("resume", "resume-0001", pin="000000"), namespace="/client", timeout=5
    )
    assert wrong == {"ok": False, "error": "That PIN is not right.", "code": "unauthorized"}
    good = await client.call(
        "signal", _signal("resume", "resume-0002", pin="123456"), namespace="/client", timeout=5
    )
    await client.call("signal", _signal(sid="sig-000002"), namespace="/client", timeout=5)
    duress = await client.call(
        "signal", _signal("resume", "resume-0003", pin="654321"), namespace="/client", timeout=5
    )
    assert good.keys() == duress.keys() and duress["ok"] and not duress["duplicate"]
    escalated = await lead_inbox.next("alert_escalated")
    alert = await haven.store.alert(escalated["alert_id"])
    assert alert is not None and alert.state.escalations == ("duress",) and alert.state.is_open
    participant = await haven.store.participant(joined["participant_id"])
    assert participant is not None and participant.paused_reason is None
    resumed = [
        e.payload
        for e in await haven.store.events(session_id=session_id)
        if e.type == "participant.resumed"
    ]
    assert [r["duress"] for r in resumed] == [False, True]
    for sio in (client, lead_console):
        await sio.disconnect()


async def test_a_panic_read_on_a_stale_pause_state_is_decided_again(haven: Haven) -> None:
    """A resume commits (elsewhere) between a panic's read and its commit: the panic still alerts.

    Decided on the stale read (still paused), the panic would change nothing and raise no alert;
    the commit notices the pause state moved and the signal is decided again on what is stored.
    """
    staff = await haven.staff()
    session_id = await haven.new_session(staff)
    joined, client = await _admitted_client(haven, staff, session_id, pin="123456")
    await client.call("signal", _signal(), namespace="/client", timeout=5)
    safety = haven.app[SAFETY]
    stale = await safety.subject_for_token(joined["token"])  # read while paused
    assert stale.participant is not None and stale.participant.paused_reason == "panic"
    resumed = await client.call(
        "signal", _signal("resume", "resume-0001", pin="123456"), namespace="/client", timeout=5
    )
    assert resumed["ok"]
    receipt = await safety.receive(stale, _signal(sid="sig-000002"), "http")
    assert not receipt.duplicate
    participant = await haven.store.participant(joined["participant_id"])
    alerts = await haven.store.alerts(session_id)
    assert participant is not None and participant.paused_reason == "panic"
    assert len(alerts) == 2 and participant.alert_id == alerts[-1].id
    await client.disconnect()


async def test_facilitator_can_pause_but_never_resume(haven: Haven) -> None:
    """A facilitator pauses a client; no route or message lets staff un-pause them."""
    staff = await haven.staff()
    session_id = await haven.new_session(staff)
    joined, client = await _admitted_client(haven, staff, session_id)
    inbox = Inbox(client, "/client", "paused")
    base = f"/api/sessions/{session_id}/participants/{joined['participant_id']}"
    status, answer = await staff.call("POST", f"{base}/pause")
    assert status == 200 and answer["ok"]
    assert (await inbox.next("paused")) == {"paused": True}
    assert (await staff.call("POST", f"{base}/resume"))[0] == 400
    participant = await haven.store.participant(joined["participant_id"])
    assert participant is not None and participant.paused_reason == "facilitator"
    await client.disconnect()


async def test_typed_safe_word_is_a_signal_and_never_shown(haven: Haven) -> None:
    """A message with the safe word pauses the sender and reaches nobody; the log has no text."""
    staff = await haven.staff()
    session_id = await haven.new_session(staff, "group")
    console = await staff.console_socket()
    staff_inbox = Inbox(console, "/console", "chat", "alert")
    await console.call("watch", {"session_id": session_id}, namespace="/console", timeout=5)
    _, client = await _admitted_client(haven, staff, session_id, safe_word="kaleidoscope")
    _, peer = await _admitted_client(haven, staff, session_id)
    peer_inbox = Inbox(peer, "/client", "chat")
    ok = await client.call(
        "chat", {"id": "chat-0000001", "text": "hello all"}, namespace="/client", timeout=5
    )
    assert ok == {"ok": True}
    assert (await peer_inbox.next("chat"))["text"] == "hello all"
    hidden = await client.call(
        "chat",
        {"id": "chat-0000002", "text": "I like Kaléidoscopes!"},
        namespace="/client",
        timeout=5,
    )
    assert hidden == ok
    alert = await staff_inbox.next("alert")
    assert alert["source"] == "typed"
    await asyncio.sleep(0.2)
    assert len(peer_inbox.items["chat"]) == 1 and len(staff_inbox.items["chat"]) == 1
    log_text = json.dumps([e.to_json() for e in await haven.store.events()])
    assert "léidoscope" not in log_text.lower() and "hello all" not in log_text
    for sio in (client, peer, console):
        await sio.disconnect()


async def test_offline_facilitator_escalates_and_alert_replays_on_reconnect(
    config: Config,
) -> None:
    """Nobody acknowledges: the alert escalates to the lead; the console gets it on reconnect."""
    haven = await start_haven(replace(config, escalate_after_s=0.3))
    try:
        staff = await haven.staff()
        lead = await haven.staff("lead", email="lead@example.org")
        service = await haven.store.service_by_slug("test")
        assert service is not None  # the service has a webhook endpoint: its outbox fills
        hook = {**service.settings, "webhook_url": "https://hooks.example.org/haven"}
        await haven.store.update_service_settings(service.id, hook)
        lead_console = await lead.console_socket()
        await lead_console.call("on_duty", {"on": True}, namespace="/console", timeout=5)
        lead_inbox = Inbox(lead_console, "/console", "alert", "alert_escalated")
        session_id = await haven.new_session(staff)
        _, client = await _admitted_client(haven, staff, session_id)
        await client.call("signal", _signal(), namespace="/client", timeout=5)
        first = await lead_inbox.next("alert")
        escalated = await lead_inbox.next("alert_escalated")
        assert escalated["alert_id"] == first["alert_id"]
        alert = await haven.store.alert(first["alert_id"])
        assert alert is not None and alert.state.escalations == ("unacknowledged",)

        console = await staff.console_socket()  # the facilitator comes back online
        sync = await console.call("sync", {}, namespace="/console", timeout=5)
        [replayed] = sync["alerts"]
        assert replayed["alert_id"] == first["alert_id"] and replayed["escalated"] is True
        ack = await console.call(
            "alert_delivered", {"alert_id": first["alert_id"]}, namespace="/console", timeout=5
        )
        assert ack == {"ok": True}
        assert (await staff.call("POST", f"/api/alerts/{first['alert_id']}/acknowledge"))[0] == 200
        assert (
            await staff.call(
                "POST", f"/api/alerts/{first['alert_id']}/notes", {"text": "Texted at 14:10."}
            )
        )[0] == 200
        assert (await staff.call("POST", f"/api/alerts/{first['alert_id']}/resolve"))[0] == 200
        types = await haven.event_types(session_id)
        for expected in (
            "alert.escalated",
            "alert.delivered",
            "alert.acknowledged",
            "note.added",
            "alert.resolved",
        ):
            assert expected in types
        db = sqlite3.connect(haven.config.data_dir / "haven.sqlite3")
        kinds = [r[0] for r in db.execute("SELECT event_type FROM webhook_outbox")]
        assert "alert.escalated" in kinds and "session.paused" in kinds
        for sio in (client, console, lead_console):
            await sio.disconnect()
    finally:
        await stop_haven(haven)


async def test_acknowledged_alert_does_not_escalate(config: Config) -> None:
    """An alert a person acknowledges in time never escalates."""
    haven = await start_haven(replace(config, escalate_after_s=0.5))
    try:
        staff = await haven.staff()
        session_id = await haven.new_session(staff)
        console = await staff.console_socket()
        inbox = Inbox(console, "/console", "alert")
        await console.call("watch", {"session_id": session_id}, namespace="/console", timeout=5)
        _, client = await _admitted_client(haven, staff, session_id)
        await client.call("signal", _signal(), namespace="/client", timeout=5)
        alert = await inbox.next("alert")
        await staff.call("POST", f"/api/alerts/{alert['alert_id']}/acknowledge")
        await asyncio.sleep(0.8)
        stored = await haven.store.alert(alert["alert_id"])
        assert stored is not None and stored.state.escalations == ()
        for sio in (client, console):
            await sio.disconnect()
    finally:
        await stop_haven(haven)


async def test_other_services_cannot_see_or_touch_an_alert(haven: Haven) -> None:
    """Alerts are scoped to their service and session staff."""
    staff = await haven.staff()
    outsider = await haven.staff(email="out@example.org", service="elsewhere")
    session_id = await haven.new_session(staff)
    _, client = await _admitted_client(haven, staff, session_id)
    await client.call("signal", _signal(), namespace="/client", timeout=5)
    alerts = (await staff.call("GET", "/api/alerts"))[1]["alerts"]
    assert len(alerts) == 1
    assert (await outsider.call("GET", "/api/alerts"))[1]["alerts"] == []
    status, _ = await outsider.call("POST", f"/api/alerts/{alerts[0]['alert_id']}/resolve")
    assert status == 404
    await client.disconnect()


async def test_bad_signal_token_is_401(haven: Haven) -> None:
    """A signal with a made-up token gets a clear 401, not a 500."""
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{haven.base}/api/signal", json={"token": "z" * 40, "signal": _signal()}
        ) as response:
            assert response.status == 401
            assert (await response.json())["error"] == "This link is not valid any more."


async def test_facilitator_console_not_watching_still_gets_the_alert(haven: Haven) -> None:
    """A facilitator's open console gets the alert even if it never opened that session."""
    staff = await haven.staff()
    console = await staff.console_socket()  # connected, watching nothing
    inbox = Inbox(console, "/console", "alert")
    session_id = await haven.new_session(staff)
    _, client = await _admitted_client(haven, staff, session_id)
    await client.call("signal", _signal(), namespace="/client", timeout=5)
    alert = await inbox.next("alert")
    assert alert["session_id"] == session_id
    await asyncio.sleep(0.2)
    assert len(inbox.items["alert"]) == 1  # one emit over several rooms: no duplicates
    await client.disconnect()
    await console.disconnect()

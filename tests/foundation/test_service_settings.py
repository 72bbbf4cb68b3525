"""A service admin configures the texts, the decoy and the triggers; clients receive them."""

from __future__ import annotations

from tests.harness import Haven


async def test_admin_sets_an_alternative_chord_that_clients_receive(haven: Haven) -> None:
    """An admin adds Control+Alt+H; an invite's page is told; facilitators cannot change it."""
    admin = await haven.staff("admin", email="admin@example.org")
    facilitator = await haven.staff(email="f@example.org")
    chord = {"key": "Control+Alt+H", "presses": 1, "window_s": 5.0}
    status, body = await admin.call(
        "PUT", "/api/service/settings", {"alternative_chord": chord, "touch_gesture": False}
    )
    assert status == 200 and body["alternative_chord"] == chord
    assert (await facilitator.call("PUT", "/api/service/settings", {"touch_gesture": True}))[
        0
    ] == 403
    session_id = await haven.new_session(facilitator)
    invite = await haven.invite(facilitator, session_id)
    status, opened = await haven.post("/api/invite/open", {"token": invite["token"]})
    assert opened["triggers"] == {"alternative_chord": chord, "touch_gesture": False}


async def test_settings_refuse_chords_that_fire_while_typing(haven: Haven) -> None:
    """A single letter, an unknown field or a non-https decoy is refused with a clear message."""
    admin = await haven.staff("admin", email="admin@example.org")
    status, body = await admin.call(
        "PUT", "/api/service/settings", {"alternative_chord": {"key": "h", "presses": 3}}
    )
    assert status == 400 and "would fire while typing" in body["error"]
    status, body = await admin.call("PUT", "/api/service/settings", {"colour": "red"})
    assert status == 400 and body["error"] == "Unknown field: colour."
    status, body = await admin.call(
        "PUT", "/api/service/settings", {"decoy": {"kind": "url", "url": "http://x.example"}}
    )
    assert status == 400 and "https://" in body["error"]
    status, body = await admin.call(
        "PUT", "/api/service/settings", {"ground_rules": "Be kind.", "decoy": {"kind": "builtin"}}
    )
    assert status == 200 and body["ground_rules"] == "Be kind."

"""The REST API: OpenAPI, problem details, API keys (scopes, revocation) and participant tokens."""

from __future__ import annotations

import asyncio
import sys

from server.api_v1.setup import OPENAPI_PATH
from tests.api.helpers import Client, admin_and_key, embedded_client, panic
from tests.harness import TIMEOUT, Haven, Inbox


async def test_openapi_document_describes_every_route(haven: Haven) -> None:
    """The OpenAPI 3.1 document lists every /api/v1 route the server answers, with its scope."""
    async with haven.http.get(haven.base + OPENAPI_PATH) as response:
        assert response.status == 200
        doc = await response.json()
    assert doc["openapi"] == "3.1.0"
    served = {
        (route.method, route.resource.canonical)
        for route in haven.app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/v1/")
        and route.method not in ("*", "HEAD")
    }
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert served == documented
    for ops in doc["paths"].values():
        for op in ops.values():
            assert op["security"][0]["apiKey"] == [op["x-haven-scope"]]


async def test_errors_are_problem_details(haven: Haven) -> None:
    """A missing key, an unknown path and a wrong method are RFC 9457 problem documents."""
    async with haven.http.get(haven.base + "/api/v1/sessions") as response:
        assert response.status == 401
        assert response.content_type == "application/problem+json"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        body = await response.json(content_type=None)
        assert body["status"] == 401 and body["title"] == "Unauthorized" and body["detail"]
    _, client = await admin_and_key(haven, "sessions:write")
    status, body = await client.call("GET", "/api/v1/nothing/here")
    assert status == 404 and body["code"] == "not_found"
    status, body = await client.call("DELETE", "/api/v1/sessions")
    assert status == 405 and body["code"] == "method_not_allowed"
    status, body = await client.call("POST", "/api/v1/sessions", {"kind": "party"})
    assert status == 400 and body["detail"] == "The field facilitator_email is missing."
    status, body = await client.call(
        "POST", "/api/v1/sessions", {"kind": "party", "facilitator_email": "a@example.org"}
    )
    assert status == 400 and "one_to_one, group" in body["detail"]
    status, body = await client.call(
        "POST", "/api/v1/sessions", {"kind": "group", "facilitator_email": "no@example.org"}
    )
    assert status == 400 and "staff account of this service" in body["detail"]


async def test_scopes_limit_what_a_key_can_do(haven: Haven) -> None:
    """A read-only key can list sessions but not create one; a write scope includes its read."""
    facilitator = await haven.staff()
    _, reader = await admin_and_key(haven, "sessions:read")
    status, body = await reader.call("GET", "/api/v1/sessions")
    assert status == 200 and body == {"sessions": []}
    status, body = await reader.call(
        "POST",
        "/api/v1/sessions",
        {"kind": "one_to_one", "facilitator_email": facilitator.user["email"]},
    )
    assert status == 403 and body["code"] == "insufficient_scope"
    assert "sessions:write" in body["detail"]
    status, _ = await reader.call("GET", "/api/v1/alerts")
    assert status == 403
    _, writer = await admin_and_key(haven, "sessions:write")
    status, session = await writer.call(
        "POST",
        "/api/v1/sessions",
        {"kind": "one_to_one", "facilitator_email": facilitator.user["email"], "title": "Tue"},
    )
    assert status == 201 and session["facilitator_id"] == facilitator.user["id"]
    status, body = await writer.call("GET", "/api/v1/sessions")
    assert status == 200 and [s["id"] for s in body["sessions"]] == [session["id"]]
    events = await haven.store.events(session_id=session["id"])
    assert events[0].type == "session.created" and events[0].actor.startswith("apikey:key_")


async def test_revoked_key_is_refused(haven: Haven) -> None:
    """A key revoked in the console is refused on its next request."""
    admin, client = await admin_and_key(haven, "sessions:read")
    assert (await client.call("GET", "/api/v1/sessions"))[0] == 200
    status, listing = await admin.call("GET", "/api/service/apikeys")
    (key,) = listing["keys"]
    assert "key" not in key and client.key.startswith(key["prefix"])
    status, _ = await admin.call("DELETE", f"/api/service/apikeys/{key['id']}")
    assert status == 200
    status, body = await client.call("GET", "/api/v1/sessions")
    assert status == 401 and body["detail"] == "This API key has been revoked."
    status, _ = await admin.call("DELETE", f"/api/service/apikeys/{key['id']}")
    assert status == 404


async def test_keys_are_hashed_at_rest(haven: Haven) -> None:
    """Only the key's hash and a short prefix are stored: the secret is nowhere in the database."""
    _, client = await admin_and_key(haven, "sessions:read")
    database = (haven.config.data_dir / "haven.sqlite3").read_bytes()
    wal = haven.config.data_dir / "haven.sqlite3-wal"
    database += wal.read_bytes() if wal.exists() else b""
    assert client.key.encode() not in database
    assert client.key[:10].encode() in database


async def test_only_an_admin_with_csrf_creates_keys(haven: Haven) -> None:
    """A facilitator cannot create API keys, and an admin needs the CSRF header."""
    facilitator = await haven.staff()
    status, body = await facilitator.call(
        "POST", "/api/service/apikeys", {"scopes": ["sessions:read"]}
    )
    assert status == 403 and body["code"] == "forbidden"
    admin = await haven.staff("admin")
    async with admin.http.post(
        haven.base + "/api/service/apikeys", json={"scopes": ["sessions:read"]}
    ) as response:
        assert response.status == 401
    status, body = await admin.call("POST", "/api/service/apikeys", {"scopes": ["root"]})
    assert status == 400 and "Unknown scope" in body["error"]


async def test_cli_creates_a_working_key(haven: Haven) -> None:
    """``haven apikey create`` prints a key (once) that the running server accepts."""
    await haven.staff("admin")  # creates the service "test"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server", "apikey", "create", "--service", "test",
        "--scope", "sessions:read", "--scope", "alerts:read",
        "--data-dir", str(haven.config.data_dir),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 4 * TIMEOUT)
    assert process.returncode == 0, err
    key = out.decode().strip().splitlines()[-1]
    client = Client(haven.http, haven.base, key)
    assert (await client.call("GET", "/api/v1/sessions"))[0] == 200
    assert (await client.call("GET", "/api/v1/alerts"))[0] == 200
    assert (await client.call("GET", "/api/v1/webhook"))[0] == 403


async def test_participant_token_drives_signal_and_socket(haven: Haven) -> None:
    """A participant token from the API works with /api/signal and the socket.io /client room."""
    _, client = await admin_and_key(haven, "sessions:write", "alerts:write", "events:read")
    facilitator = await haven.staff()
    participant = await embedded_client(haven, client, facilitator)
    assert participant["status"] == "admitted"
    console = await facilitator.console_socket()
    inbox = Inbox(console, "/console", "alert")
    await console.call(
        "watch", {"session_id": participant["session_id"]}, namespace="/console", timeout=TIMEOUT
    )
    sio = await haven.client_socket(participant["token"])
    state = await sio.call("state", {}, namespace="/client", timeout=TIMEOUT)
    assert state["status"] == "admitted" and state["paused"] is False

    await panic(haven, participant["token"], "embed-signal-01")
    alert = await inbox.next("alert")
    assert alert["safety_plan"] == "Text 'appointment moved'."
    state = await sio.call("state", {}, namespace="/client", timeout=TIMEOUT)
    assert state["paused"] is True

    status, alerts = await client.call("GET", "/api/v1/alerts")
    (listed,) = alerts["alerts"]
    assert listed["id"] == alert["alert_id"] and "safety_plan" not in listed
    status, acked = await client.call("POST", f"/api/v1/alerts/{listed['id']}/acknowledge")
    assert status == 200 and acked["progress"] == "acknowledged"
    (by,) = acked["acknowledged_by"]
    assert by.startswith("apikey:key_")
    status, resolved = await client.call("POST", f"/api/v1/alerts/{listed['id']}/resolve")
    assert status == 200 and resolved["progress"] == "resolved"
    status, page = await client.call(
        "GET", f"/api/v1/sessions/{participant['session_id']}/events?limit=3"
    )
    assert [e["type"] for e in page["events"]] == [
        "session.created",
        "invite.created",
        "consent.given",
    ]
    status, rest = await client.call(
        "GET",
        f"/api/v1/sessions/{participant['session_id']}/events?after={page['next_after']}",
    )
    types = [e["type"] for e in rest["events"]]
    assert types[:2] == ["participant.joined", "participant.admitted"]
    assert {"signal.received", "alert.raised", "alert.acknowledged", "alert.resolved"} <= set(types)
    await sio.disconnect()
    await console.disconnect()


async def test_key_webhook_and_settings_changes_are_in_the_event_log(haven: Haven) -> None:
    """Keys created and revoked, the webhook endpoint and the settings: logged, secrets never."""
    admin, client = await admin_and_key(haven, "webhooks:write")
    url = "https://hooks.example.org/haven"
    status, endpoint = await client.call(
        "PUT", "/api/v1/webhook", {"url": url, "allow_private": True}
    )
    assert status == 200, endpoint
    assert (await client.call("POST", "/api/v1/webhook/secret"))[0] == 200
    assert (await client.call("DELETE", "/api/v1/webhook"))[0] == 200
    status, _ = await admin.call("PUT", "/api/service/settings", {"touch_gesture": False})
    assert status == 200
    _, listing = await admin.call("GET", "/api/service/apikeys")
    (key,) = listing["keys"]
    assert (await admin.call("DELETE", f"/api/service/apikeys/{key['id']}"))[0] == 200
    logged = [e for e in await haven.store.events() if e.session_id == ""]
    by_type = {e.type: e for e in logged}
    admin_actor = f"user:{admin.user['id']}"
    created = by_type["api_key.created"]
    assert created.actor == admin_actor
    assert created.payload == {"key": key["id"], "scopes": ["webhooks:write"]}
    assert by_type["webhook.endpoint_set"].actor == f"apikey:{key['id']}"
    assert by_type["webhook.endpoint_set"].payload == {"allow_private": True}
    assert by_type["webhook.secret_rotated"].actor == f"apikey:{key['id']}"
    assert by_type["webhook.endpoint_removed"].actor == f"apikey:{key['id']}"
    assert by_type["service.settings_changed"].payload == {"fields": ["touch_gesture"]}
    assert by_type["api_key.revoked"].payload == {"key": key["id"]}
    assert by_type["api_key.revoked"].actor == admin_actor
    text = repr([e.payload for e in logged])
    assert url not in text and "whsec_" not in text and client.key not in text

"""Webhooks: Standard Webhooks signatures, retries with one webhook-id, no private addresses."""

from __future__ import annotations

import asyncio
import base64

import pytest

from server.store.base import OutboxItem
from server.webhooks import address_allowed, payload, sign
from tests.api.helpers import Client, Receiver, admin_and_key, embedded_client, panic, verify
from tests.harness import TIMEOUT, Haven


def test_signature_matches_the_specification_example() -> None:
    """The signature of the Standard Webhooks example message is the one the spec publishes."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert (
        sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("93.184.215.14", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("::1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
    ],
)
def test_only_public_unicast_addresses_are_allowed(address: str, allowed: bool) -> None:
    """Loopback, private, link-local, shared, reserved, multicast and mapped forms are refused."""
    assert address_allowed(address) is allowed


def test_body_is_the_same_bytes_on_every_attempt() -> None:
    """The body of an outbox item depends only on the item, so every retry carries it unchanged."""
    data = {"session_id": "s_1"}
    item = OutboxItem("msg_1", "svc", "session.ended", data, 0, 0.0, 1.5, None, None, "")
    retried = OutboxItem("msg_1", "svc", "session.ended", data, 2, 9.0, 1.5, None, None, "x")
    assert payload(item) == payload(retried)
    assert payload(item) == (
        b'{"data":{"session_id":"s_1"},"timestamp":"1970-01-01T00:00:01.500000Z",'
        b'"type":"session.ended"}'
    )


async def _endpoint(haven: Haven, receiver: Receiver) -> tuple[str, Client]:
    _, client = await admin_and_key(
        haven, "webhooks:write", "sessions:write", "alerts:write", "events:read"
    )
    status, body = await client.call(
        "PUT", "/api/v1/webhook", {"url": receiver.url, "allow_private": True}
    )
    assert status == 200, body
    assert body["secret"].startswith("whsec_") and len(base64.b64decode(body["secret"][6:])) == 32
    return body["secret"], client


async def test_signed_webhooks_verify(haven: Haven, receiver: Receiver) -> None:
    """A panic sends signal.received and session.paused; each signature verifies with the secret."""
    secret, client = await _endpoint(haven, receiver)
    facilitator = await haven.staff()
    participant = await embedded_client(haven, client, facilitator)
    await panic(haven, participant["token"], "sig-verify-0001")

    (received,) = await receiver.wait_for("signal.received")
    body = verify(secret, received.headers, received.body)
    assert body["data"] == {
        "session_id": participant["session_id"],
        "participant_id": participant["participant_id"],
        "signal_id": "sig-verify-0001",
        "kind": "panic",
        "source": "keys",
        "channel": "http",
        "auth_state": "admitted",
    }
    assert body["timestamp"].endswith("Z")
    (paused,) = await receiver.wait_for("session.paused")
    assert verify(secret, paused.headers, paused.body)["data"]["participant_id"] == (
        participant["participant_id"]
    )
    tampered = dict(received.headers, **{"webhook-id": "msg_other"})
    with pytest.raises(Exception, match="No signature"):
        verify(secret, tampered, received.body)
    assert "Sam" not in received.body.decode() and "appointment" not in received.body.decode()


async def test_failed_delivery_is_retried_with_the_same_webhook_id(
    haven: Haven, receiver: Receiver
) -> None:
    """The receiver answers 500 twice; the third try succeeds with the same id, body and secret."""
    receiver.fail_first = 2
    secret, client = await _endpoint(haven, receiver)
    facilitator = await haven.staff()
    participant = await embedded_client(haven, client, facilitator)
    status, _ = await client.call(
        "POST", f"/api/v1/sessions/{participant['session_id']}/end"
    )
    assert status == 200

    tries = await receiver.wait_for("session.ended", 3)
    assert len({t.headers["webhook-id"] for t in tries}) == 1
    assert len({t.body for t in tries}) == 1
    for attempt in tries:
        verify(secret, attempt.headers, attempt.body)
    msg_id = tries[0].headers["webhook-id"]

    async def delivered() -> dict[str, object]:
        while True:
            _, listing = await client.call("GET", "/api/v1/webhook/deliveries")
            found = next(d for d in listing["deliveries"] if d["id"] == msg_id)
            if found["state"] == "delivered":
                return dict(found)
            await asyncio.sleep(0.02)

    found = await asyncio.wait_for(delivered(), TIMEOUT)
    assert found["attempts"] == 3
    status, attempts = await client.call(
        "GET", f"/api/v1/webhook/deliveries/{msg_id}/attempts"
    )
    assert [a["status"] for a in attempts["attempts"]] == [500, 500, 204]
    await asyncio.sleep(0.3)
    assert len(receiver.of_type("session.ended")) == 3  # never sent again once delivered
    log = [
        (e.type, e.payload.get("attempt"))
        for e in await haven.store.events(session_id=participant["session_id"])
        if e.type.startswith("webhook.") and e.payload["webhook"] == msg_id
    ]
    assert log == [("webhook.failed", 1), ("webhook.failed", 2), ("webhook.delivered", 3)]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://10.0.0.8/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:192.168.0.1]/hook",
        "ftp://example.org/hook",
        "http://user:pw@example.org/hook",
    ],
)
async def test_private_webhook_url_is_refused(haven: Haven, url: str) -> None:
    """A webhook URL on a loopback, private or link-local address (or not http) is refused."""
    _, client = await admin_and_key(haven, "webhooks:write")
    status, body = await client.call("PUT", "/api/v1/webhook", {"url": url})
    assert status == 422, body
    assert body["status"] == 422 and body["code"] == "unprocessable"
    status, body = await client.call("GET", "/api/v1/webhook")
    assert body["url"] == ""


async def test_delivery_to_a_private_address_is_refused_at_send_time(
    haven: Haven, receiver: Receiver
) -> None:
    """If the settings point at a private address without permission, nothing is sent."""
    _, client = await admin_and_key(haven, "webhooks:read", "sessions:write")
    facilitator = await haven.staff()
    service = await haven.store.service_by_slug("test")
    assert service is not None
    settings = dict(service.settings, webhook_url=receiver.url, webhook_secret="whsec_" + "A" * 44)
    await haven.store.update_service_settings(service.id, settings)
    participant = await embedded_client(haven, client, facilitator)
    await client.call("POST", f"/api/v1/sessions/{participant['session_id']}/end")

    async def refused() -> list[str]:
        while True:
            _, listing = await client.call("GET", "/api/v1/webhook/deliveries")
            errors = [d["last_error"] for d in listing["deliveries"] if d["attempts"]]
            if errors:
                return errors
            await asyncio.sleep(0.02)

    errors = await asyncio.wait_for(refused(), TIMEOUT)
    assert "private" in errors[0]
    assert receiver.requests == []


async def test_secret_rotation_signs_with_both_secrets(haven: Haven, receiver: Receiver) -> None:
    """After a rotation each webhook carries two signatures: the new secret's and the old one's."""
    old, client = await _endpoint(haven, receiver)
    status, rotated = await client.call("POST", "/api/v1/webhook/secret")
    assert status == 200 and rotated["secret"] != old and rotated["previous_secret_valid_until"]
    facilitator = await haven.staff()
    participant = await embedded_client(haven, client, facilitator)
    await client.call("POST", f"/api/v1/sessions/{participant['session_id']}/end")
    (ended,) = await receiver.wait_for("session.ended")
    assert len(ended.headers["webhook-signature"].split(" ")) == 2
    verify(old, ended.headers, ended.body)
    verify(rotated["secret"], ended.headers, ended.body)

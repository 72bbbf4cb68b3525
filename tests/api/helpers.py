"""Helpers for the API tests: an API client, a webhook receiver and a signature verifier."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.harness import TIMEOUT, Haven, Staff


class InvalidSignature(Exception):
    """A webhook whose signature or timestamp does not verify."""


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300) -> Any:
    """Verify a Standard Webhooks message as a receiver would, and return its decoded body."""
    msg_id = headers["webhook-id"]
    stamp = headers["webhook-timestamp"]
    if abs(time.time() - int(stamp)) > tolerance:
        raise InvalidSignature("The timestamp is too far from now.")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{stamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for candidate in headers["webhook-signature"].split(" "):
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return json.loads(body)
    raise InvalidSignature("No signature matches.")


@dataclass
class Received:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        """The decoded body."""
        return json.loads(self.body)


@dataclass
class Receiver:
    """A real aiohttp server that records webhooks and can fail the first tries of each id."""

    fail_first: int = 0
    requests: list[Received] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _runner: web.AppRunner | None = None
    url: str = ""

    async def start(self) -> None:
        """Listen on an ephemeral loopback port."""
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        received = Received(dict(request.headers), await request.read())
        async with self._changed:
            self.requests.append(received)
            self._changed.notify_all()
        msg_id = received.headers["webhook-id"]
        tries = sum(r.headers["webhook-id"] == msg_id for r in self.requests)
        return web.Response(status=500 if tries <= self.fail_first else 204)

    def of_type(self, event_type: str) -> list[Received]:
        """Return the requests carrying this event type, in arrival order."""
        return [r for r in self.requests if r.json["type"] == event_type]

    async def wait_for(
        self, event_type: str, count: int = 1, timeout: float = TIMEOUT
    ) -> list[Received]:
        """Wait until ``count`` requests of ``event_type`` arrived and return them."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.of_type(event_type)) >= count), timeout
            )
        return self.of_type(event_type)


@dataclass
class Client:
    """An API client holding one service API key."""

    http: aiohttp.ClientSession
    base: str
    key: str

    async def call(
        self, method: str, path: str, body: Any = None, *, key: str | None = None
    ) -> tuple[int, Any]:
        """Send a request with the key and return (status, decoded body)."""
        headers = {"Authorization": f"Bearer {key or self.key}"}
        async with self.http.request(
            method, self.base + path, json=body, headers=headers
        ) as response:
            return response.status, await response.json(content_type=None)


async def admin_and_key(haven: Haven, *scopes: str, service: str = "test") -> tuple[Staff, Client]:
    """Sign in a service admin and create an API key with these scopes through the console."""
    admin = await haven.staff("admin", service=service)
    status, body = await admin.call(
        "POST", "/api/service/apikeys", {"name": "test", "scopes": list(scopes)}
    )
    assert status == 201, body
    return admin, Client(haven.http, haven.base, body["key"])


async def embedded_client(haven: Haven, client: Client, facilitator: Staff) -> dict[str, Any]:
    """Create a session run by ``facilitator`` and an embedded participant; return the token."""
    status, session = await client.call(
        "POST",
        "/api/v1/sessions",
        {"kind": "one_to_one", "facilitator_email": facilitator.user["email"]},
    )
    assert status == 201, session
    status, participant = await client.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/participants",
        {"display_name": "Sam", "consent": True, "safety_plan": "Text 'appointment moved'."},
    )
    assert status == 201, participant
    return dict(participant)


async def panic(haven: Haven, token: str, signal_id: str) -> None:
    """Send a panic signal over the HTTP fallback, as the embed widget would."""
    status, body = await haven.post(
        "/api/signal",
        {"token": token, "signal": {"id": signal_id, "kind": "panic", "source": "keys"}},
    )
    assert status == 200 and body["ok"], body

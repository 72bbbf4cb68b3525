"""Helpers for driving a real Haven server: staff consoles, clients and socket.io connections."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import socketio
from aiohttp import web
from aiohttp.test_utils import TestServer

from server.accounts import Accounts
from server.app import create_app
from server.auth.passwords import Passwords
from server.config import Config
from server.store import Store
from server.web.keys import ACCOUNTS, STORE

T = TypeVar("T")


def some(value: T | None) -> T:
    """The value a read just found; the test fails here if it found nothing."""
    assert value is not None
    return value


PASSWORD = "correct horse battery"
# One scaled unit for every wait, so a slow CI machine can stretch them all at once.
TIMEOUT = 5.0


def fast_passwords() -> Passwords:
    """Real argon2id with cheap parameters, so tests don't spend seconds hashing."""
    return Passwords(time_cost=1, memory_cost=1024)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


@dataclass
class Staff:
    """A signed-in console: an HTTP session carrying the cookie and the CSRF token."""

    http: aiohttp.ClientSession
    base: str
    user: dict[str, Any]
    csrf: str
    cookie: str

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Send a JSON request with the CSRF header and return (status, decoded body)."""
        async with self.http.request(
            method, self.base + path, json=body, headers={"X-CSRF-Token": self.csrf}
        ) as response:
            data = await response.json(content_type=None)
            return response.status, data

    async def console_socket(self) -> socketio.AsyncClient:
        """Open the console's socket.io connection with its session cookie."""
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(
            self.base,
            namespaces=["/console"],
            transports=["websocket"],
            headers={"Cookie": self.cookie},
            wait_timeout=TIMEOUT,
        )
        return sio


@dataclass
class Haven:
    """A real Haven server on an ephemeral port, with helpers to drive it."""

    server: TestServer
    config: Config
    http: aiohttp.ClientSession
    sessions: list[aiohttp.ClientSession] = field(default_factory=list)

    @property
    def base(self) -> str:
        """The server's base URL."""
        return str(self.server.make_url("")).rstrip("/")

    @property
    def app(self) -> web.Application:
        """The running application."""
        return self.server.app

    @property
    def store(self) -> Store:
        """The application's store."""
        return self.app[STORE]

    @property
    def accounts(self) -> Accounts:
        """The application's accounts."""
        return self.app[ACCOUNTS]

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        """POST JSON without any cookie and return (status, decoded body)."""
        async with self.http.post(self.base + path, json=body, **kwargs) as response:
            return response.status, await response.json(content_type=None)

    async def staff(
        self, role: str = "facilitator", email: str | None = None, service: str = "test"
    ) -> Staff:
        """Create an account (and its service if needed) and sign it in."""
        if await self.store.service_by_slug(service) is None:
            await self.accounts.create_service(service, service)
        email = email or f"{role}{len(self.sessions)}@example.org"
        await self.accounts.add_user(service, role, email, PASSWORD)
        jar = aiohttp.CookieJar(unsafe=True)
        http = aiohttp.ClientSession(cookie_jar=jar)
        self.sessions.append(http)
        async with http.post(
            self.base + "/api/auth/signin", json={"email": email, "password": PASSWORD}
        ) as response:
            assert response.status == 200, await response.text()
            user = await response.json()
        cookie = "; ".join(f"{c.key}={c.value}" for c in jar)
        return Staff(http, self.base, user, user["csrf_token"], cookie)

    async def new_session(self, staff: Staff, kind: str = "one_to_one", **extra: Any) -> str:
        """Create a session as ``staff`` and return its id."""
        status, body = await staff.call("POST", "/api/sessions", {"kind": kind, **extra})
        assert status == 201, body
        return str(body["id"])

    async def invite(self, staff: Staff, session_id: str, **fields: Any) -> dict[str, Any]:
        """Create an invite and return the response, with ``token`` split from the link."""
        status, body = await staff.call("POST", f"/api/sessions/{session_id}/invites", fields)
        assert status == 201, body
        body["token"] = body["url"].split("#", 1)[1]
        return dict(body)

    async def join(self, token: str, name: str = "Sam", **extra: Any) -> dict[str, Any]:
        """Redeem an invite as a client and return the join response."""
        status, body = await self.post(
            "/api/invite/join", {"token": token, "display_name": name, "consent": True, **extra}
        )
        assert status == 201, body
        return dict(body)

    async def client_socket(self, token: str) -> socketio.AsyncClient:
        """Open a client's socket.io connection with its capability token."""
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(
            self.base,
            namespaces=["/client"],
            transports=["websocket"],
            auth={"token": token},
            wait_timeout=TIMEOUT,
        )
        return sio

    async def event_types(self, session_id: str) -> list[str]:
        """Return the types of a session's events, in order."""
        return [e.type for e in await self.store.events(session_id=session_id)]


async def start_haven(config: Config, clock: FakeClock | None = None) -> Haven:
    """Start a Haven server for ``config`` on an ephemeral port."""
    app = create_app(config, passwords=fast_passwords(), clock=clock or time.time)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    return Haven(server, config, aiohttp.ClientSession())


async def stop_haven(haven: Haven) -> None:
    """Close every HTTP session and stop the server."""
    for http in haven.sessions:
        await http.close()
    await haven.http.close()
    await haven.server.close()


async def open_media(
    base: str, signalling: socketio.AsyncClient, namespace: str, session_id: str | None = None
) -> socketio.AsyncClient:
    """Ask the signalling node where a member's media goes and connect there, as a page does."""
    payload = {"session_id": session_id} if session_id else {}
    ack = await signalling.call("media", payload, namespace=namespace, timeout=TIMEOUT)
    assert ack["ok"], ack
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(
        ack["media"]["url"] or base,
        namespaces=["/media"],
        transports=["websocket"],
        auth={"ticket": ack["media"]["ticket"]},
        wait_timeout=TIMEOUT,
    )
    return sio


class MediaOffers:
    """Stands in for the relay inside a test ``Browser``: offers travel over a media socket."""

    def __init__(self, sio: socketio.AsyncClient) -> None:
        self._sio = sio

    async def offer(self, session_id: str, participant_id: str, sdp: str) -> str:
        """Send the offer to the relay through the media namespace and return its answer."""
        answer = await self._sio.call("offer", {"sdp": sdp}, namespace="/media", timeout=10)
        assert answer["ok"], answer
        return str(answer["sdp"])


def follow_renegotiation(sio: socketio.AsyncClient, browser: Any) -> None:
    """Offer again, with one more receiver pair, whenever the relay asks (as a page does)."""

    async def renegotiate(data: Any = None) -> None:
        browser.add_receivers(1)
        await browser.negotiate()

    sio.on("renegotiate", renegotiate, namespace="/media")


class Inbox:
    """Collect the events a socket.io client receives, and wait for them with a timeout."""

    def __init__(self, sio: socketio.AsyncClient, namespace: str, *events: str) -> None:
        self.items: dict[str, list[Any]] = {e: [] for e in events}
        self._changed = asyncio.Condition()
        for event in events:
            sio.on(event, self._handler(event), namespace=namespace)

    def _handler(self, event: str) -> Any:
        async def handle(data: Any = None) -> None:
            async with self._changed:
                self.items[event].append(data)
                self._changed.notify_all()

        return handle

    async def next(self, event: str, count: int = 1, timeout: float = TIMEOUT) -> Any:
        """Wait until ``count`` ``event`` messages arrived and return the last one."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.items[event]) >= count), timeout
            )
            return self.items[event][count - 1]

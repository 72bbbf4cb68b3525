"""Haven nodes as real processes sharing PostgreSQL (and Redis), and the people who use them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from server.accounts import Accounts
from server.config import Config
from server.store.factory import audit_key, make_store
from tests.harness import PASSWORD, TIMEOUT, Inbox, Staff, fast_passwords
from tests.store.services import free_port

ROOT = Path(__file__).resolve().parents[2]
METRIC = re.compile(r"^(\w+) ([0-9.e+-]+)$", re.M)


@dataclass
class Node:
    """One ``haven serve`` process on its own port."""

    name: str
    port: int
    proc: asyncio.subprocess.Process
    output: list[bytes] = field(default_factory=list)
    _drain: asyncio.Task[None] | None = None

    def log(self) -> str:
        """Return what the node printed so far (JSON log lines)."""
        return b"".join(self.output).decode(errors="replace")

    @property
    def base(self) -> str:
        """The node's base URL."""
        return f"http://127.0.0.1:{self.port}"

    async def kill(self) -> None:
        """Kill the process with SIGKILL: no shutdown, no goodbye to anyone."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self) -> None:
        """Stop the process with SIGTERM (SIGKILL if it takes too long)."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                await self.kill()
        if self._drain is not None:
            await asyncio.gather(self._drain, return_exceptions=True)

    async def metrics(self, http: aiohttp.ClientSession) -> dict[str, float]:
        """Return the node's unlabelled Prometheus series."""
        async with http.get(self.base + "/metrics") as response:
            return {k: float(v) for k, v in METRIC.findall(await response.text())}


@dataclass
class Cluster:
    """A fresh database (and optionally Redis) shared by the nodes the test starts."""

    workdir: Path
    database_url: str
    redis_url: str = ""
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    nodes: list[Node] = field(default_factory=list)
    http: list[aiohttp.ClientSession] = field(default_factory=list)
    sockets: list[socketio.AsyncClient] = field(default_factory=list)

    def data_dir(self, name: str) -> Path:
        """Return a node's data directory, holding the cluster's one audit key."""
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        shared = self.workdir / "audit.key"
        if not shared.exists():
            audit_key(Config(data_dir=self.workdir))
        if not (path / "audit.key").exists():
            shutil.copy(shared, path / "audit.key")
        return path

    def config(self, name: str = "seed") -> Config:
        """A configuration for an in-test store on the cluster's database."""
        return Config(data_dir=self.data_dir(name), database_url=self.database_url, demo=False)

    async def seed_staff(self, email: str, role: str = "facilitator") -> None:
        """Create the service (if needed) and a staff account, straight in the database."""
        store = make_store(self.config())
        await store.open()
        try:
            accounts = Accounts(store, fast_passwords(), self.config())
            if await store.service_by_slug("test") is None:
                await accounts.create_service("test", "test")
            await accounts.add_user("test", role, email, PASSWORD)
        finally:
            await store.close()

    async def start_node(self, name: str, **env: str) -> Node:
        """Start ``haven serve`` on a free port and wait until it says it is running."""
        port = free_port()
        environ = {
            **os.environ,
            "HAVEN_DATA_DIR": str(self.data_dir(name)),
            "HAVEN_DATABASE_URL": self.database_url,
            "HAVEN_REDIS_URL": self.redis_url,
            "HAVEN_DEMO": "0",
            "HAVEN_LOG_FORMAT": "json",
            "HAVEN_ESCALATE_AFTER_S": "600",
            "HAVEN_CLUSTER_SECRET": self.secret,
            **env,
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "server",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            cwd=ROOT,
            env=environ,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        node = Node(name, port, proc)
        self.nodes.append(node)
        ready = asyncio.get_running_loop().create_future()
        node._drain = asyncio.create_task(_drain(proc, node.output, ready))
        try:
            await asyncio.wait_for(ready, 30)
        except TimeoutError:
            raise AssertionError(f"{name} did not start:\n{node.log()}") from None
        return node

    async def start_relay(self, name: str) -> Node:
        """Start a relay process (role relay) that registers itself in the cluster's Redis."""
        return await self.start_node(
            name, HAVEN_ROLE="relay", HAVEN_ALLOWED_ORIGINS="https://haven.example.org"
        )

    async def sign_in(self, node: Node, email: str) -> Staff:
        """Sign a staff account in on ``node`` and return its console helper."""
        jar = aiohttp.CookieJar(unsafe=True)
        http = aiohttp.ClientSession(cookie_jar=jar)
        self.http.append(http)
        async with http.post(
            node.base + "/api/auth/signin", json={"email": email, "password": PASSWORD}
        ) as response:
            assert response.status == 200, await response.text()
            user = await response.json()
        cookie = "; ".join(f"{c.key}={c.value}" for c in jar)
        return Staff(http, node.base, user, user["csrf_token"], cookie)

    async def console(self, node: Node, staff: Staff, session_id: str) -> tuple[Any, Inbox]:
        """Open a console on ``node`` watching ``session_id``; return it and its inbox."""
        sio = socketio.AsyncClient(reconnection=False)
        inbox = Inbox(sio, "/console", "alert", "alert_update")
        await sio.connect(
            node.base,
            namespaces=["/console"],
            transports=["websocket"],
            headers={"Cookie": staff.cookie},
            wait_timeout=TIMEOUT,
        )
        self.sockets.append(sio)
        ack = await sio.call("watch", {"session_id": session_id}, namespace="/console", timeout=5)
        assert ack["ok"], ack
        return sio, inbox

    async def client(self, node: Node, staff: Staff, session_id: str) -> tuple[Any, str]:
        """Invite, join (on ``node``), admit and connect a client; return its socket and id."""
        status, invite = await staff.call("POST", f"/api/sessions/{session_id}/invites", {})
        assert status == 201, invite
        token = invite["url"].split("#", 1)[1]
        http = aiohttp.ClientSession()
        self.http.append(http)
        async with http.post(
            node.base + "/api/invite/join",
            json={"token": token, "display_name": "Sam", "consent": True},
        ) as response:
            joined = await response.json()
            assert response.status == 201, joined
        status, body = await staff.call(
            "POST", f"/api/sessions/{session_id}/participants/{joined['participant_id']}/admit"
        )
        assert status == 200, body
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(
            node.base,
            namespaces=["/client"],
            transports=["websocket"],
            auth={"token": joined["token"]},
            wait_timeout=TIMEOUT,
        )
        self.sockets.append(sio)
        return sio, str(joined["participant_id"])

    async def close(self) -> None:
        """Disconnect every socket, close every HTTP session and stop every node."""
        for sio in self.sockets:
            with contextlib.suppress(Exception):
                await sio.disconnect()
        for http in self.http:
            await http.close()
        await asyncio.gather(*(n.stop() for n in self.nodes))


async def _drain(
    proc: asyncio.subprocess.Process, output: list[bytes], ready: asyncio.Future[None]
) -> None:
    """Keep the node's output and resolve ``ready`` when it says it is serving."""
    assert proc.stdout is not None
    async for line in proc.stdout:
        output.append(line)
        if b"Haven is running at" in line and not ready.done():
            ready.set_result(None)


def signal_message(signal_id: str, kind: str = "panic") -> dict[str, str]:
    """A client's safety signal, as the page sends it."""
    return {"id": signal_id, "kind": kind, "source": "keys"}

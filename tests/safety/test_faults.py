"""Faults on the signal path: the server killed between commit and acknowledgement."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import socketio

from tests.harness import PASSWORD, TIMEOUT


class ServerProcess:
    """``haven serve`` as a real process on a free port, with its own data directory."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--port", "0", "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "HAVEN_DEMO": "off", **env},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert "running at" in line, line
        self.base = line.split("running at ", 1)[1].strip().rstrip("/")

    def stop(self) -> None:
        """Stop the process if it still runs."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A data directory with one facilitator account."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "server",
            "user",
            "add",
            "--service",
            "svc",
            "--role",
            "facilitator",
            "f@example.org",
            "--data-dir",
            str(tmp_path),
        ],
        input=PASSWORD + "\n",
        text=True,
        check=True,
        capture_output=True,
        timeout=60,
    )
    yield tmp_path


async def _admitted_client(base: str) -> str:
    """Sign in, create a session and an invite, join and admit; return the client's token."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.post(
            f"{base}/api/auth/signin", json={"email": "f@example.org", "password": PASSWORD}
        ) as r:
            csrf = {"X-CSRF-Token": (await r.json())["csrf_token"]}
        async with http.post(
            f"{base}/api/sessions", json={"kind": "one_to_one"}, headers=csrf
        ) as r:
            session_id = (await r.json())["id"]
        async with http.post(
            f"{base}/api/sessions/{session_id}/invites", json={}, headers=csrf
        ) as r:
            token = (await r.json())["url"].split("#", 1)[1]
        async with http.post(
            f"{base}/api/invite/join", json={"token": token, "display_name": "Sam", "consent": True}
        ) as r:
            joined = await r.json()
        async with http.post(
            f"{base}/api/sessions/{session_id}/participants/{joined['participant_id']}/admit",
            headers=csrf,
        ) as r:
            assert r.status == 200
    return str(joined["token"])


async def test_killed_after_commit_the_resend_makes_exactly_one_record(data_dir: Path) -> None:
    """SIGKILL after the commit, before the ack: the page resends and one record exists."""
    doomed = ServerProcess(data_dir, HAVEN_TEST_FAULT="kill_after_commit")
    try:
        token = await _admitted_client(doomed.base)
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(
            doomed.base,
            namespaces=["/client"],
            transports=["websocket"],
            auth={"token": token},
            wait_timeout=TIMEOUT,
        )
        signal = {"id": "killed-signal-1", "kind": "panic", "source": "keys"}
        with pytest.raises(
            (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError)
        ):
            await client.call("signal", signal, namespace="/client", timeout=3)
        assert await asyncio.to_thread(doomed.proc.wait, 10) == -9
        await client.disconnect()
    finally:
        doomed.stop()

    revived = ServerProcess(data_dir)
    try:
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(
            revived.base,
            namespaces=["/client"],
            transports=["websocket"],
            auth={"token": token},
            wait_timeout=TIMEOUT,
        )
        ack = await client.call("signal", signal, namespace="/client", timeout=TIMEOUT)
        assert ack == {"ok": True, "id": "killed-signal-1", "duplicate": True}
        await client.disconnect()
    finally:
        revived.stop()
    db = sqlite3.connect(data_dir / "haven.sqlite3")
    assert db.execute("SELECT count(*) FROM signals").fetchone() == (1,)
    kinds = [r[0] for r in db.execute("SELECT type FROM events WHERE type LIKE 'alert.%'")]
    assert kinds == ["alert.raised"]
    verify = subprocess.run(
        [sys.executable, "-m", "server", "audit", "verify", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stdout


async def test_socket_dropped_at_the_press_falls_back_to_http(data_dir: Path) -> None:
    """With the socket silently gone, the same signal posted over HTTP is recorded."""
    server = ServerProcess(data_dir)
    try:
        token = await _admitted_client(server.base)
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{server.base}/api/signal",
                json={
                    "token": token,
                    "signal": {"id": "fallback-1", "kind": "panic", "source": "control"},
                },
            ) as r:
                assert r.status == 200 and (await r.json())["duplicate"] is False
    finally:
        server.stop()
    db = sqlite3.connect(data_dir / "haven.sqlite3")
    assert db.execute("SELECT channel FROM signals").fetchall() == [("http",)]

"""``python -m bench alerts``: trigger received → alert at the facilitator's socket.

Haven runs in its own process (``haven serve``, SQLite, durable commit included); so does the
floor, a bare python-socketio server forwarding one message between two clients. The load
generator holds every client and console connection in this process and measures with one
clock. For each load (1, 100, 500 connected sessions: a client and a facilitator console
each) it triggers one panic per sampled session, one at a time, and times until the alert
reaches that session's console; the floor does the same with a plain forwarded message. The
floor is measured first and stopped before Haven is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from bench.report import percentile, print_figures, print_table

PASSWORD = "benchmark password"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_http(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.get(url) as response:
                    await response.read()
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not start")


async def _connect(url: str, namespace: str, **kwargs: Any) -> socketio.AsyncClient:
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(
        url, namespaces=[namespace], transports=["websocket"], wait_timeout=30, **kwargs
    )
    return sio


class HavenLoad:
    """Sessions on a running Haven: a client and a facilitator console each.

    Every session has its own facilitator (``bench{i}@example.org``), as in real use: one account
    watching every session would turn each alert into a fan-out to all its consoles. Consoles use
    ``base``; clients join and connect at ``client_base`` (another node, across nodes).
    """

    def __init__(self, base: str, client_base: str | None = None) -> None:
        self.base = base
        self.client_base = client_base or base
        self.jar = aiohttp.CookieJar(unsafe=True)
        self.http = aiohttp.ClientSession(cookie_jar=self.jar)
        self.csrf: dict[str, str] = {}
        self.pairs: list[tuple[socketio.AsyncClient, socketio.AsyncClient, asyncio.Queue[float]]]
        self.pairs = []
        self._https: list[aiohttp.ClientSession] = [self.http]

    async def next_facilitator(self) -> None:
        """Sign in as the next session's own facilitator."""
        self.jar = aiohttp.CookieJar(unsafe=True)
        self.http = aiohttp.ClientSession(cookie_jar=self.jar)
        self._https.append(self.http)
        email = f"bench{len(self.pairs)}@example.org"
        async with self.http.post(
            f"{self.base}/api/auth/signin", json={"email": email, "password": PASSWORD}
        ) as r:
            body = await r.json()
            if "csrf_token" not in body:
                raise RuntimeError(f"sign-in as {email} failed: {body}")
            self.csrf = {"X-CSRF-Token": body["csrf_token"]}

    async def add_session(self) -> None:
        """Create a session, join and admit its client, watch it from its facilitator's console."""
        await self.next_facilitator()
        async with self.http.post(
            f"{self.base}/api/sessions", json={"kind": "one_to_one"}, headers=self.csrf
        ) as r:
            session_id = (await r.json())["id"]
        async with self.http.post(
            f"{self.base}/api/sessions/{session_id}/invites", json={}, headers=self.csrf
        ) as r:
            token = (await r.json())["url"].split("#", 1)[1]
        async with (
            aiohttp.ClientSession() as anon,
            anon.post(
                f"{self.client_base}/api/invite/join",
                json={"token": token, "display_name": "Bench", "consent": True},
            ) as r,
        ):
            joined = await r.json()
        async with self.http.post(
            f"{self.base}/api/sessions/{session_id}/participants/{joined['participant_id']}/admit",
            headers=self.csrf,
        ):
            pass
        cookie = "; ".join(f"{c.key}={c.value}" for c in self.jar)
        console = await _connect(self.base, "/console", headers={"Cookie": cookie})
        await console.call("watch", {"session_id": session_id}, namespace="/console")
        arrivals: asyncio.Queue[float] = asyncio.Queue()
        seen: set[str] = set()

        async def on_alert(data: Any) -> None:
            # Only a new alert of this session stops the clock (not a replay or a second copy).
            if data.get("session_id") == session_id and data.get("alert_id") not in seen:
                seen.add(data.get("alert_id"))
                arrivals.put_nowait(time.perf_counter())

        console.on("alert", on_alert, namespace="/console")
        client = await _connect(self.client_base, "/client", auth={"token": joined["token"]})
        self.pairs.append((client, console, arrivals))

    async def sample(self, index: int, n: int) -> float:
        client, _, arrivals = self.pairs[index]
        started = time.perf_counter()
        await client.emit(
            "signal",
            {"id": f"bench-{n:010d}", "kind": "panic", "source": "keys"},
            namespace="/client",
        )
        arrived = await asyncio.wait_for(arrivals.get(), 10)
        # Re-arm, untimed: after a resume the next panic raises a fresh alert.
        await client.call(
            "signal",
            {"id": f"bench-r{n:09d}", "kind": "resume", "source": "control"},
            namespace="/client",
        )
        return (arrived - started) * 1000

    async def close(self) -> None:
        for client, console, _ in self.pairs:
            await client.disconnect()
            await console.disconnect()
        for http in self._https:
            await http.close()


async def prepare_accounts(data_dir: Path, count: int, database_url: str = "") -> None:
    """Create the bench service and ``count`` facilitators (cheap hashes: setup, not measured)."""
    from server.accounts import Accounts
    from server.auth.passwords import Passwords
    from server.config import Config
    from server.store.factory import make_store

    config = Config(data_dir=data_dir, demo=False, database_url=database_url)
    store = make_store(config)
    await store.open()
    accounts = Accounts(store, Passwords(time_cost=1, memory_cost=1024), config)
    await accounts.create_service("bench", "Bench")
    for i in range(count):
        await accounts.add_user("bench", "facilitator", f"bench{i}@example.org", PASSWORD)
    await store.close()


class FloorLoad:
    """Pairs of plain socket.io clients on the floor server."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.pairs: list[tuple[socketio.AsyncClient, socketio.AsyncClient, asyncio.Queue[float]]]
        self.pairs = []

    async def add_session(self) -> None:
        pair = len(self.pairs)
        sender = await _connect(self.base, "/")
        receiver = await _connect(self.base, "/")
        for sio in (sender, receiver):
            await sio.call("join", {"pair": pair})
        arrivals: asyncio.Queue[float] = asyncio.Queue()

        async def on_pong(data: Any) -> None:
            arrivals.put_nowait(time.perf_counter())

        receiver.on("pong", on_pong)
        self.pairs.append((sender, receiver, arrivals))

    async def sample(self, index: int, n: int) -> float:
        sender, _, arrivals = self.pairs[index]
        started = time.perf_counter()
        await sender.emit("ping", {"pair": index, "n": n})
        arrived = await asyncio.wait_for(arrivals.get(), 10)
        return (arrived - started) * 1000

    async def close(self) -> None:
        for a, b, _ in self.pairs:
            await a.disconnect()
            await b.disconnect()


async def _measure(load: Any, loads: list[int], samples: int) -> dict[int, list[float]]:
    results: dict[int, list[float]] = {}
    n = 0
    for target in loads:
        while len(load.pairs) < target:
            await load.add_session()
        latencies = []
        for _ in range(samples):
            latencies.append(await load.sample(n % len(load.pairs), n))
            n += 1
            await asyncio.sleep(0.005)
        results[target] = latencies
    return results


async def _run(loads: list[int], samples: int, data_dir: Path) -> dict[str, float]:
    env = {
        **os.environ,
        "HAVEN_DEMO": "off",
        "HAVEN_ESCALATE_AFTER_S": "3600",
        "HAVEN_LOG_LEVEL": "WARNING",
        "HAVEN_MAX_MESSAGE_BYTES": "65536",
    }
    await prepare_accounts(data_dir, max(loads))
    haven_port, floor_port = _free_port(), _free_port()
    haven = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server",
            "serve",
            "--port",
            str(haven_port),
            "--data-dir",
            str(data_dir),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    floor = subprocess.Popen(
        [sys.executable, "-m", "bench.floor_server", str(floor_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await _wait_http(f"http://127.0.0.1:{haven_port}/api/auth/me")
        await _wait_http(f"http://127.0.0.1:{floor_port}/socket.io/?EIO=4&transport=polling")
        floor_load = FloorLoad(f"http://127.0.0.1:{floor_port}")
        floor_results = await _measure(floor_load, loads, samples)
        await floor_load.close()
        # Each server is measured alone: the floor's teardown (a full collection of 1,000
        # connections' worth of objects, up to 250 ms) must not land in Haven's samples.
        floor.terminate()
        floor.wait(timeout=15)
        haven_load = HavenLoad(f"http://127.0.0.1:{haven_port}")
        haven_results = await _measure(haven_load, loads, samples)
        await haven_load.close()
    finally:
        for proc in (haven, floor):
            proc.terminate()
            proc.wait(timeout=15)
    rows, figures = [], {}
    for target in loads:
        h, f = haven_results[target], floor_results[target]
        rows.append(
            [
                target,
                percentile(h, 50),
                percentile(h, 99),
                percentile(f, 50),
                percentile(f, 99),
                percentile(h, 99) / max(percentile(f, 99), 1e-9),
            ]
        )
        figures[f"alert_p50_ms_{target}"] = round(percentile(h, 50), 2)
        figures[f"alert_p99_ms_{target}"] = round(percentile(h, 99), 2)
        figures[f"floor_p50_ms_{target}"] = round(percentile(f, 50), 2)
        figures[f"floor_p99_ms_{target}"] = round(percentile(f, 99), 2)
    print_table(
        f"Trigger -> alert at the facilitator's socket ({samples} samples per load), "
        "next to a bare python-socketio forward (the floor)",
        ["sessions", "alert p50 ms", "alert p99 ms", "floor p50 ms", "floor p99 ms", "p99 ratio"],
        rows,
    )
    print("\nTargets: at 500 sessions, alert p99 <= 2x the floor's p99 and <= 25 ms.")
    return figures


def main(argv: list[str]) -> int:
    """Run the benchmark and print its table, then its figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench alerts")
    parser.add_argument("--quick", action="store_true", help="smaller loads, fewer samples")
    parser.add_argument(
        "--nodes", type=int, default=1, help="2: across two nodes (PostgreSQL, Redis)"
    )
    args, rest = parser.parse_known_args(argv)
    if args.nodes == 2:
        from bench import alerts_nodes

        return alerts_nodes.main([*(["--quick"] if args.quick else []), *rest])
    if args.nodes != 1:
        parser.error("--nodes is 1 or 2")
    loads = [1, 20, 50] if args.quick else [1, 100, 500]
    samples = 50 if args.quick else 500
    with tempfile.TemporaryDirectory() as tmp:
        figures = asyncio.run(_run(loads, samples, Path(tmp)))
    figures["quick"] = args.quick
    print_figures(figures)
    return 0

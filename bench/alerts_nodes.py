"""``python -m bench alerts_nodes``: trigger → alert across two nodes, next to one node.

The same measurement as ``bench alerts`` (a client triggers a panic, the clock stops when the
alert reaches that session's facilitator console), run twice in one go:

* **single**: one ``haven serve`` on SQLite, client and console on the same node;
* **nodes2**: two ``haven serve`` processes sharing PostgreSQL (a fresh schema on the machine's
  server, ``HAVEN_BENCH_POSTGRES_URL``) and a private ``redis-server``; every client is
  connected to node A and every console to node B, so each alert crosses Redis.

The last line is JSON with ``alert_p99_ms_single`` and ``alert_p99_ms_nodes2``; the target is a
p99 across nodes at most 3x the single node's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from bench.alerts import HavenLoad, _free_port, _measure, _wait_http, prepare_accounts
from bench.report import percentile, print_figures, print_table

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def _serve(env: dict[str, str], data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)


def _env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "HAVEN_DEMO": "off",
        "HAVEN_ESCALATE_AFTER_S": "3600",
        "HAVEN_LOG_LEVEL": "WARNING",
        **extra,
    }


async def _single(loads: list[int], samples: int, tmp: Path) -> dict[int, list[float]]:
    data_dir = tmp / "single"
    env = _env()
    await prepare_accounts(data_dir, max(loads))
    port = _free_port()
    proc = _serve(env, data_dir, port)
    try:
        await _wait_http(f"http://127.0.0.1:{port}/healthz")
        base = f"http://127.0.0.1:{port}"
        load = HavenLoad(base)
        results = await _measure(load, loads, samples)
        await load.close()
        return results
    finally:
        _stop(proc)


async def _nodes2(loads: list[int], samples: int, tmp: Path, pg_url: str) -> dict[int, list[float]]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(pg_url)
    await conn.execute(f"CREATE SCHEMA {schema}")
    await conn.close()
    database_url = f"{pg_url}{'&' if '?' in pg_url else '?'}search_path={schema}"
    redis_port = _free_port()
    redis = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(redis_port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = _env(HAVEN_DATABASE_URL=database_url, HAVEN_REDIS_URL=f"redis://127.0.0.1:{redis_port}/0")
    dirs = [tmp / "a", tmp / "b"]
    # The schema, one facilitator per session and the one audit key both nodes share.
    await prepare_accounts(dirs[0], max(loads), database_url)
    dirs[1].mkdir(parents=True, exist_ok=True)
    shutil.copy(dirs[0] / "audit.key", dirs[1] / "audit.key")
    ports = [_free_port(), _free_port()]
    procs = [_serve(env, d, p) for d, p in zip(dirs, ports, strict=True)]
    try:
        for p in ports:
            await _wait_http(f"http://127.0.0.1:{p}/healthz")
        load = HavenLoad(f"http://127.0.0.1:{ports[1]}", f"http://127.0.0.1:{ports[0]}")
        results = await _measure(load, loads, samples)
        await load.close()
        return results
    finally:
        for proc in (*procs, redis):
            _stop(proc)
        conn = await asyncpg.connect(pg_url)
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()


async def _run(loads: list[int], samples: int, pg_url: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        single = await _single(loads, samples, Path(tmp))
        nodes2 = await _nodes2(loads, samples, Path(tmp), pg_url)
    rows, figures = [], {}
    for target in loads:
        s, n = single[target], nodes2[target]
        ratio = percentile(n, 99) / max(percentile(s, 99), 1e-9)
        rows.append(
            [
                target,
                percentile(s, 50),
                percentile(s, 99),
                percentile(n, 50),
                percentile(n, 99),
                ratio,
            ]
        )
        figures[f"alert_p50_ms_single_{target}"] = round(percentile(s, 50), 2)
        figures[f"alert_p99_ms_single_{target}"] = round(percentile(s, 99), 2)
        figures[f"alert_p50_ms_nodes2_{target}"] = round(percentile(n, 50), 2)
        figures[f"alert_p99_ms_nodes2_{target}"] = round(percentile(n, 99), 2)
    top = loads[-1]
    figures["alert_p99_ms_single"] = figures[f"alert_p99_ms_single_{top}"]
    figures["alert_p99_ms_nodes2"] = figures[f"alert_p99_ms_nodes2_{top}"]
    figures["nodes2_over_single_p99"] = round(
        figures["alert_p99_ms_nodes2"] / max(figures["alert_p99_ms_single"], 1e-9), 2
    )
    print_table(
        f"Trigger -> alert at the facilitator's socket ({samples} samples per load): one node on"
        " SQLite, and two nodes on PostgreSQL + Redis (client on A, console on B)",
        ["sessions", "single p50", "single p99", "2 nodes p50", "2 nodes p99", "p99 ratio"],
        rows,
    )
    print(f"\nTarget: at {top} sessions, the 2-node p99 <= 3x the single-node p99.")
    return figures


def main(argv: list[str]) -> int:
    """Run the benchmark and print its table, then its figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench alerts_nodes")
    parser.add_argument("--quick", action="store_true", help="smaller loads, fewer samples")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("HAVEN_BENCH_POSTGRES_URL", DEFAULT_PG),
        help="a PostgreSQL database the benchmark may create a schema in",
    )
    args = parser.parse_args(argv)
    loads = [1, 20, 50] if args.quick else [1, 100, 500]
    samples = 50 if args.quick else 500
    figures: dict[str, Any] = dict(asyncio.run(_run(loads, samples, args.postgres_url)))
    figures["quick"] = args.quick
    print_figures(figures)
    return 0

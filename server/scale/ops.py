"""Operations endpoints: liveness, readiness and Prometheus metrics, written by hand.

``/healthz`` answers as long as the process serves requests. ``/readyz`` answers 200 only when
the database (and Redis, when configured) answer within a second, so a load balancer stops
sending new connections to a node that could not record a signal. ``/metrics`` is the Prometheus
text exposition format (version 0.0.4); no client library is needed for a handful of series.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import socketio
from aiohttp import web

from server.models import Alert
from server.realtime import CLIENT_NS, CONSOLE_NS
from server.store import Store

LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
READY_TIMEOUT_S = 1.0
OUTBOX_SCAN_LIMIT = 100_000


class Histogram:
    """A cumulative Prometheus histogram with fixed buckets."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        """Count one observation."""
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def lines(self, name: str) -> list[str]:
        """Return the series' exposition lines."""
        out, running = [], 0
        for bound, count in zip((*self.buckets, math.inf), self.counts, strict=True):
            running += count
            le = "+Inf" if bound == math.inf else repr(bound)
            out.append(f'{name}_bucket{{le="{le}"}} {running}')
        out += [f"{name}_sum {self.sum!r}", f"{name}_count {self.count}"]
        return out


class Metrics:
    """This node's metrics: gauges read at scrape time, the alert latency observed live."""

    def __init__(
        self,
        store: Store,
        sio: socketio.AsyncServer,
        outbox_depth: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self._store = store
        self._sio = sio
        self._outbox_depth = outbox_depth
        self.alert_latency = Histogram(LATENCY_BUCKETS)
        self.alert_polls: Callable[[], int] = lambda: 0
        self.relays: Callable[[], Awaitable[Sequence[RelayFigures]]] | None = None

    def alert_delivered(self, alert: Alert, now: float) -> None:
        """Observe the time from an alert's trigger to a console's delivery acknowledgement."""
        self.alert_latency.observe(max(0.0, now - alert.state.raised_at))

    def _connected(self, namespace: str) -> int:
        return sum(1 for _ in self._sio.manager.get_participants(namespace, None))

    async def render(self) -> str:
        """Return every series in the Prometheus text format."""
        open_alerts = len(await self._store.open_alerts())
        if self._outbox_depth is not None:
            depth = await self._outbox_depth()
        else:
            depth = len(await self._store.due_webhooks(math.inf, limit=OUTBOX_SCAN_LIMIT))
        series: list[tuple[str, str, str, list[str]]] = [
            (
                "haven_connected_participants",
                "gauge",
                "Client pages connected to this node.",
                [f"haven_connected_participants {self._connected(CLIENT_NS)}"],
            ),
            (
                "haven_connected_consoles",
                "gauge",
                "Staff consoles connected to this node.",
                [f"haven_connected_consoles {self._connected(CONSOLE_NS)}"],
            ),
            (
                "haven_open_alerts",
                "gauge",
                "Alerts raised and not yet resolved (whole service, from the database).",
                [f"haven_open_alerts {open_alerts}"],
            ),
            (
                "haven_alert_latency_seconds",
                "histogram",
                "Time from a safety signal's trigger to a console's delivery acknowledgement.",
                self.alert_latency.lines("haven_alert_latency_seconds"),
            ),
            (
                "haven_webhook_outbox_depth",
                "gauge",
                "Webhooks waiting to be delivered (whole service, from the database).",
                [f"haven_webhook_outbox_depth {depth}"],
            ),
            (
                "haven_alert_polls_total",
                "counter",
                "Database polls for alert changes that pub/sub may have dropped (with Redis).",
                [f"haven_alert_polls_total {self.alert_polls()}"],
            ),
            (
                "process_cpu_seconds_total",
                "counter",
                "CPU time used by this node's process.",
                [f"process_cpu_seconds_total {time.process_time()!r}"],
            ),
        ]
        series += await self._relay_series()
        out = []
        for name, kind, help_text, lines in series:
            out += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *lines]
        return "\n".join(out) + "\n"

    async def _relay_series(self) -> list[tuple[str, str, str, list[str]]]:
        """Return the relays' sessions, peers and CPU, one labelled line per relay."""
        if self.relays is None:
            return []
        try:
            relays = await self.relays()
        except Exception:  # Redis down: the other series still answer
            return []
        lines: dict[str, list[str]] = {"sessions": [], "peers": [], "cpu": []}
        for r in relays:
            label = '{relay="' + _label(r.id) + '"}'
            lines["sessions"].append(f"haven_relay_sessions{label} {r.sessions}")
            lines["peers"].append(f"haven_relay_peers{label} {r.peers}")
            lines["cpu"].append(f"haven_relay_cpu_seconds_total{label} {r.cpu_s!r}")
        return [
            (
                "haven_relay_sessions",
                "gauge",
                "Sessions with media on each live relay.",
                lines["sessions"],
            ),
            ("haven_relay_peers", "gauge", "Peer connections on each live relay.", lines["peers"]),
            (
                "haven_relay_cpu_seconds_total",
                "counter",
                "CPU time used by each relay's process.",
                lines["cpu"],
            ),
        ]


class RelayFigures(Protocol):
    """One relay's figures as /metrics shows them (``RelayInfo`` has them)."""

    @property
    def id(self) -> str:
        """The relay's id."""

    @property
    def sessions(self) -> int:
        """Sessions with media on it."""

    @property
    def peers(self) -> int:
        """Peer connections on it."""

    @property
    def cpu_s(self) -> float:
        """CPU seconds its process has used."""


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


Check = Callable[[], Awaitable[Any]]


def ops_routes(metrics: Metrics, checks: dict[str, Check]) -> list[web.RouteDef]:
    """Return the routes of /healthz, /readyz and /metrics."""

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def readyz(request: web.Request) -> web.Response:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), READY_TIMEOUT_S)
                results[name] = "ok"
            except Exception as exc:  # any failure means "not ready"; the type says which
                results[name] = f"unavailable ({type(exc).__name__})"
        ready = all(v == "ok" for v in results.values())
        return web.json_response({"ok": ready, "checks": results}, status=200 if ready else 503)

    async def prometheus(request: web.Request) -> web.Response:
        return web.Response(
            text=await metrics.render(),
            content_type="text/plain",
            charset="utf-8",
            headers={"X-Content-Type-Options": "nosniff"},
        )

    return [
        web.get("/healthz", healthz),
        web.get("/readyz", readyz),
        web.get("/metrics", prometheus),
    ]

"""Beyond one machine: Redis between nodes, alerts backed by the database, operations endpoints.

``setup`` wires it all into an application that ``create_app`` (or ``create_relay_app``) has
built; with no Redis URL it adds only the operations endpoints and the correlation ids, and the
node runs alone as before. With Redis, every process sweeps the relay registry, and a process
with a relay reports it there.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import socketio
from aiohttp import web

from server.config import Config
from server.models import Alert
from server.realtime import CONSOLE_NS
from server.safety import Safety
from server.scale.alert_feed import AlertFeed
from server.scale.gate import ClusterGate, cluster_gate
from server.scale.logs import correlation_middleware
from server.scale.ops import Check, Metrics, ops_routes
from server.scale.pubsub import JsonRedisManager, create_cluster_sio
from server.scale.relays import RelayInfo, RelayLoad, RelayMonitor, RelayRegistry, relay_load
from server.store import Store

__all__ = [
    "METRICS",
    "AlertFeed",
    "ClusterGate",
    "JsonRedisManager",
    "LocalRelay",
    "Metrics",
    "RelayRegistry",
    "cluster_gate",
    "create_cluster_sio",
    "relay_load",
    "relay_registry",
    "setup",
]

METRICS = web.AppKey("metrics", Metrics)


def create_sio_for(
    config: Config, single_node: Callable[[Config], socketio.AsyncServer]
) -> socketio.AsyncServer:
    """Return the cluster socket.io server when Redis is configured, else ``single_node``'s."""
    return create_cluster_sio(config) if config.redis_url else single_node(config)


@dataclass(frozen=True)
class LocalRelay:
    """This process's relay as the registry and /metrics see it."""

    relay_id: str
    url: str
    load: Callable[[], RelayLoad]


def relay_registry(config: Config) -> RelayRegistry | None:
    """Return the registry of relay processes in Redis, or None on one node (no connection yet)."""
    if not config.redis_url:
        return None
    from redis import asyncio as aioredis

    return RelayRegistry(aioredis.Redis.from_url(config.redis_url, socket_connect_timeout=2))


def setup(
    app: web.Application,
    config: Config,
    sio: socketio.AsyncServer,
    store: Store,
    safety: Safety,
    *,
    registry: RelayRegistry | None = None,
    relay: LocalRelay | None = None,
) -> None:
    """Add correlation ids, /healthz, /readyz, /metrics and, with Redis, the alert poll."""
    app.middlewares.append(correlation_middleware)
    outbox_depth: Callable[[], Awaitable[int]] | None = getattr(store, "outbox_depth", None)
    metrics = Metrics(store, sio, outbox_depth)
    app[METRICS] = metrics
    previous = safety.on_alert_delivered

    def delivered(alert: Alert, now: float) -> None:
        metrics.alert_delivered(alert, now)
        if previous is not None:
            previous(alert, now)

    safety.on_alert_delivered = delivered
    if registry is not None:
        metrics.relays = registry.live
    elif relay is not None:
        metrics.relays = _local_figures(relay)
    checks: dict[str, Check] = {"database": lambda: store.service("__readyz__")}
    manager = sio.manager
    if isinstance(manager, JsonRedisManager):
        checks["redis"] = lambda: _redis_ping(config.redis_url)
        gate = safety.gate if isinstance(safety.gate, ClusterGate) else None
        feed = AlertFeed(store, safety, manager, config.alert_poll_s, gate)
        metrics.alert_polls = lambda: feed.polls
        monitor = _relay_monitor(sio, registry, relay)

        async def feed_ctx(app: web.Application) -> AsyncIterator[None]:
            if gate is not None:
                await gate.start()
            await feed.start()
            if monitor is not None:
                await monitor.start()
            yield
            if monitor is not None:
                await monitor.stop()
            if registry is not None:
                await registry.close()
            await feed.stop()
            if gate is not None:
                await gate.stop()
            await manager.close()

        app.cleanup_ctx.append(feed_ctx)
    app.router.add_routes(ops_routes(metrics, checks))


def _local_figures(relay: LocalRelay) -> Callable[[], Awaitable[list[RelayInfo]]]:
    async def figures() -> list[RelayInfo]:
        load = relay.load()
        info = RelayInfo(
            relay.relay_id,
            relay.url,
            load.peers,
            load.capacity,
            time.time(),
            len(load.sessions),
            load.cpu_s,
        )
        return [info]

    return figures


async def _redis_ping(url: str) -> None:
    from redis import asyncio as aioredis

    client = aioredis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        await client.ping()
    finally:
        await client.aclose()


def _relay_monitor(
    sio: socketio.AsyncServer, registry: RelayRegistry | None, relay: LocalRelay | None
) -> RelayMonitor | None:
    """Report this process's relay (if any) and tell facilitators when any relay dies."""
    if registry is None:
        return None

    async def lost(session_id: str, info: RelayInfo) -> None:
        # Media for the session stopped; its pause state is in the store and survives.
        await sio.emit(
            "relay_lost",
            {"session_id": session_id, "relay": info.id},
            room=f"staff:{session_id}",
            namespace=CONSOLE_NS,
        )

    if relay is None:
        return RelayMonitor(registry, "", "", None, lost)
    return RelayMonitor(registry, relay.relay_id, relay.url, relay.load, lost)

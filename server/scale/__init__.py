"""Beyond one machine: Redis between nodes, alerts backed by the database, operations endpoints.

``setup`` wires it all into an application that ``create_app`` has built; with no Redis URL it
adds only the operations endpoints and the correlation ids, and the node runs alone as before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

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
from server.scale.relays import RelayInfo, RelayMonitor, RelayRegistry, in_process_load
from server.store import Store

__all__ = [
    "METRICS",
    "AlertFeed",
    "ClusterGate",
    "JsonRedisManager",
    "Metrics",
    "cluster_gate",
    "create_cluster_sio",
    "setup",
]

METRICS = web.AppKey("metrics", Metrics)


def create_sio_for(
    config: Config, single_node: Callable[[Config], socketio.AsyncServer]
) -> socketio.AsyncServer:
    """Return the cluster socket.io server when Redis is configured, else ``single_node``'s."""
    return create_cluster_sio(config) if config.redis_url else single_node(config)


def setup(
    app: web.Application, config: Config, sio: socketio.AsyncServer, store: Store, safety: Safety
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
    checks: dict[str, Check] = {"database": lambda: store.service("__readyz__")}
    manager = sio.manager
    if isinstance(manager, JsonRedisManager):
        checks["redis"] = lambda: _redis_ping(config.redis_url)
        gate = safety.gate if isinstance(safety.gate, ClusterGate) else None
        feed = AlertFeed(store, safety, manager, config.alert_poll_s, gate)
        metrics.alert_polls = lambda: feed.polls

        monitor = _relay_monitor(config, sio, gate)

        async def feed_ctx(app: web.Application) -> AsyncIterator[None]:
            if gate is not None:
                await gate.start()
            await feed.start()
            if monitor is not None:
                await monitor.start()
            yield
            if monitor is not None:
                await monitor.stop()
                await monitor.registry.close()
            await feed.stop()
            if gate is not None:
                await gate.stop()
            await manager.close()

        app.cleanup_ctx.append(feed_ctx)
    app.router.add_routes(ops_routes(metrics, checks))


async def _redis_ping(url: str) -> None:
    from redis import asyncio as aioredis

    client = aioredis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        await client.ping()
    finally:
        await client.aclose()


def _relay_monitor(
    config: Config, sio: socketio.AsyncServer, gate: ClusterGate | None
) -> RelayMonitor | None:
    """Register this node's in-process relay and tell facilitators when any relay dies."""
    if gate is None:
        return None
    from redis import asyncio as aioredis

    redis = aioredis.Redis.from_url(config.redis_url, socket_connect_timeout=2)
    registry = RelayRegistry(redis)

    async def lost(session_id: str, relay: RelayInfo) -> None:
        # Media for the session stopped; its pause state is in the store and survives.
        await sio.emit(
            "relay_lost",
            {"session_id": session_id},
            room=f"staff:{session_id}",
            namespace=CONSOLE_NS,
        )

    return RelayMonitor(
        registry,
        f"relay-{gate.node_id}",
        config.base_url,
        in_process_load(gate.local, config.max_peers),
        lost,
    )

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
from server.safety import Safety
from server.scale.alert_feed import AlertFeed
from server.scale.logs import correlation_middleware
from server.scale.ops import Check, Metrics, ops_routes
from server.scale.pubsub import JsonRedisManager, create_cluster_sio
from server.store import Store

__all__ = ["METRICS", "AlertFeed", "JsonRedisManager", "Metrics", "create_cluster_sio", "setup"]

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
        feed = AlertFeed(store, safety, manager, config.alert_poll_s)
        metrics.alert_polls = lambda: feed.polls

        async def feed_ctx(app: web.Application) -> AsyncIterator[None]:
            await feed.start()
            yield
            await feed.stop()

        app.cleanup_ctx.append(feed_ctx)
    app.router.add_routes(ops_routes(metrics, checks))


async def _redis_ping(url: str) -> None:
    from redis import asyncio as aioredis

    client = aioredis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        await client.ping()
    finally:
        await client.aclose()

"""The application factory: builds everything, does no I/O until the app starts."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from server import api_v1, scale
from server.accounts import Accounts
from server.api_v1.hub import WakingHub
from server.api_v1.stream import LogFeed
from server.auth.passwords import Passwords
from server.config import Config, ConfigError
from server.media import Media
from server.media_ns import NoAudioTap, mount_media, ticket_checker
from server.placement import Placement, local_relay, registry_relay
from server.realtime import (
    ClientNamespace,
    ConsoleNamespace,
    SocketHub,
    close_connections_on_shutdown,
    create_sio,
)
from server.relay import Relay
from server.retention import run_sweeps
from server.safety import Gate, NoGate, Safety
from server.scale.relays import ForgetOnEnd
from server.sessions import MediaLifecycle, Sessions
from server.spoken import SpokenSafeWords
from server.store import Store
from server.store.factory import make_store
from server.web import (
    auth_routes,
    client_api,
    console_api,
    embed_routes,
    page_api,
    pages,
    phrase_api,
    safety_api,
    service_api,
)
from server.web.common import error_middleware
from server.web.keys import ACCOUNTS, CONFIG, HUB, MEDIA, SAFETY, SESSIONS, SPOKEN, STORE
from server.web.security import security_middleware
from server.webhooks import WebhookSender

log = logging.getLogger(__name__)
DEMO_LINK = web.AppKey("demo_link", list)


def create_app(
    config: Config,
    *,
    store: Store | None = None,
    passwords: Passwords | None = None,
    clock: Callable[[], float] = time.time,
    gate: Gate | None = None,
) -> web.Application:
    """Build the Haven application for ``config``; nothing is opened until it starts."""
    if config.role == "relay":
        from server.relay_app import create_relay_app

        return create_relay_app(config, store=store, clock=clock, gate=gate)
    app = web.Application(
        middlewares=[
            security_middleware(
                config, frozenset({safety_api.SIGNAL_PATH, embed_routes.TYPED_PATH})
            ),
            error_middleware,
        ],
        client_max_size=config.max_message_bytes,
    )
    store = store or make_store(config)
    passwords = passwords or Passwords()
    sio = scale.create_sio_for(config, create_sio)  # Redis between nodes if configured
    sender = WebhookSender(store, config, clock)
    feed = LogFeed()
    # Every live update follows a commit: wake the webhook sender and the alert streams.
    hub = WakingHub(SocketHub(sio), (sender.wake, feed.wake))
    registry = scale.relay_registry(config)
    local: scale.LocalRelay | None = None
    relay: Relay | None = None
    media: Media | None = None
    if config.role == "all":  # this node's own relay carries every session it signals
        relay_id = f"relay-{secrets.token_hex(8)}"
        secret = config.cluster_secret or secrets.token_urlsafe(32)  # signs and checks here only
        check = ticket_checker(secret, relay_id, clock)
        relay, spoken, media = mount_media(config, sio, store, hub, check, clock)
        load = scale.relay_load(relay, config.max_peers)
        local = scale.LocalRelay(relay_id, config.base_url, load)
        placement = Placement(secret, local_relay(relay_id), clock)
        local_gate: Gate = relay
    else:  # role signal: sessions go to the relay processes of the registry
        if registry is None:
            raise ConfigError("HAVEN_ROLE=signal needs HAVEN_REDIS_URL for the relay registry.")
        spoken = SpokenSafeWords(store, hub, NoAudioTap(), config.speech_bank.expanduser(), clock)
        placement = Placement(config.cluster_secret, registry_relay(registry), clock)
        local_gate = NoGate()
    accounts = Accounts(store, passwords, config, clock)
    # With Redis, a pause (or a removal) reaches the relay carrying the member's media.
    safety_gate = gate or scale.cluster_gate(config.redis_url, local_gate, media)
    lifecycle: MediaLifecycle | None = media
    if isinstance(safety_gate, scale.ClusterGate):
        lifecycle = safety_gate
        if registry is not None:
            lifecycle = ForgetOnEnd(safety_gate, registry)
    sessions = Sessions(store, passwords, config, hub, clock, lifecycle)
    safety = Safety(store, hub, passwords, config, safety_gate, clock)
    spoken.signals = safety
    app[CONFIG] = config
    app[SPOKEN] = spoken
    app[HUB] = hub
    if media is not None:
        app[MEDIA] = media
    app[STORE] = store
    app[ACCOUNTS] = accounts
    app[SESSIONS] = sessions
    app[SAFETY] = safety
    app[DEMO_LINK] = []

    sio.register_namespace(ClientNamespace(sessions, safety, placement, store))
    sio.register_namespace(ConsoleNamespace(accounts, sessions, safety, placement, store))
    sio.attach(app)

    for module in (
        auth_routes,
        console_api,
        client_api,
        safety_api,
        page_api,
        phrase_api,
        service_api,
        pages,
    ):
        app.router.add_routes(module.routes)
    api_v1.setup(app, store, feed, clock)
    embed_routes.setup(app)  # the widget on other origins: loader, frame, CORS
    pages.add_static(app, Path(__file__).resolve().parent.parent / "client_web")

    async def store_ctx(app: web.Application) -> AsyncIterator[None]:
        await store.open()
        if config.demo:
            link = await accounts.ensure_demo()
            if link:
                app[DEMO_LINK].append(link)
        await safety.start()
        sweeper = asyncio.create_task(run_sweeps(store, config.retention_days, clock))
        yield
        sweeper.cancel()
        await asyncio.gather(sweeper, return_exceptions=True)
        spoken.close()
        if relay is not None:
            await relay.close()
        await safety.stop()
        await store.close()

    async def webhooks_ctx(app: web.Application) -> AsyncIterator[None]:
        await sender.start()
        yield
        await sender.stop()

    app.cleanup_ctx.append(store_ctx)
    app.cleanup_ctx.append(webhooks_ctx)
    # Ops endpoints; with Redis, the alert poll and the relay registry.
    scale.setup(app, config, sio, store, safety, registry=registry, relay=local)
    app.on_shutdown.append(close_connections_on_shutdown(sio))
    return app

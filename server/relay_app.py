"""A relay process (role ``relay``): media only, placed by the signalling nodes through Redis.

It serves the ``/media`` namespace for the pages the signalling nodes send to it (each with a
signed ticket), reads who may send media and who is paused from the shared store, applies the
pause gate and removals that any node publishes on Redis (with the database poll as backstop),
listens for spoken safe phrases of the clients it carries (a detection commits through
``Safety`` and alerts consoles through the Redis socket.io manager), reports itself to the
relay registry, and answers /healthz, /readyz and /metrics. It serves no pages and no API.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from server import scale
from server.auth.passwords import Passwords
from server.config import Config
from server.media_ns import mount_media, ticket_checker
from server.realtime import SocketHub, close_connections_on_shutdown, create_sio
from server.safety import Gate, Safety
from server.store import Store
from server.store.factory import make_store
from server.web.common import error_middleware
from server.web.keys import CONFIG, MEDIA, SAFETY, SPOKEN, STORE
from server.web.security import security_middleware

log = logging.getLogger(__name__)


def create_relay_app(
    config: Config,
    *,
    store: Store | None = None,
    clock: Callable[[], float] = time.time,
    gate: Gate | None = None,
) -> web.Application:
    """Build a relay process for ``config`` (role ``relay``); nothing is opened until it starts."""
    app = web.Application(
        middlewares=[security_middleware(config), error_middleware],
        client_max_size=config.max_message_bytes,
    )
    store = store or make_store(config)
    sio = scale.create_sio_for(config, create_sio)  # always the Redis manager: Config insists
    hub = SocketHub(sio)
    relay_id = f"relay-{secrets.token_hex(8)}"
    check = ticket_checker(config.cluster_secret, relay_id, clock)
    relay, spoken, media = mount_media(config, sio, store, hub, check, clock)
    safety_gate = gate or scale.ClusterGate(relay, config.redis_url, media)
    safety = Safety(store, hub, Passwords(), config, safety_gate, clock)
    spoken.signals = safety
    app[CONFIG] = config
    app[STORE] = store
    app[MEDIA] = media
    app[SPOKEN] = spoken
    app[SAFETY] = safety
    sio.attach(app)

    async def store_ctx(app: web.Application) -> AsyncIterator[None]:
        await store.open()
        log.info("Relay %s serving media for %s", relay_id, config.relay_base_url)
        yield
        spoken.close()
        await relay.close()
        await safety.stop()
        await store.close()

    app.cleanup_ctx.append(store_ctx)
    local = scale.LocalRelay(
        relay_id, config.relay_base_url, scale.relay_load(relay, config.max_peers)
    )
    registry = scale.relay_registry(config)
    scale.setup(app, config, sio, store, safety, registry=registry, relay=local)
    app.on_shutdown.append(close_connections_on_shutdown(sio))
    return app

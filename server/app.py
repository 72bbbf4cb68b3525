"""The application factory: builds everything, does no I/O until the app starts."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from server.accounts import Accounts
from server.auth.passwords import Passwords
from server.config import Config
from server.realtime import ClientNamespace, ConsoleNamespace, SocketHub, create_sio
from server.safety import Gate, NoGate, Safety
from server.sessions import Sessions
from server.store import Store
from server.store.factory import make_store
from server.web import auth_routes, client_api, console_api, page_api, pages, safety_api
from server.web.common import error_middleware
from server.web.keys import ACCOUNTS, CONFIG, SAFETY, SESSIONS, STORE
from server.web.security import security_middleware

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
    app = web.Application(
        middlewares=[
            security_middleware(config, frozenset({safety_api.SIGNAL_PATH})),
            error_middleware,
        ],
        client_max_size=config.max_message_bytes,
    )
    store = store or make_store(config)
    passwords = passwords or Passwords()
    sio = create_sio(config)
    hub = SocketHub(sio)
    accounts = Accounts(store, passwords, config, clock)
    sessions = Sessions(store, passwords, config, hub, clock)
    safety = Safety(store, hub, passwords, config, gate or NoGate(), clock)
    app[CONFIG] = config
    app[STORE] = store
    app[ACCOUNTS] = accounts
    app[SESSIONS] = sessions
    app[SAFETY] = safety
    app[DEMO_LINK] = []

    sio.register_namespace(ClientNamespace(sessions, safety, store))
    sio.register_namespace(ConsoleNamespace(accounts, sessions, safety, store))
    sio.attach(app)

    for module in (auth_routes, console_api, client_api, safety_api, page_api, pages):
        app.router.add_routes(module.routes)
    pages.add_static(app, Path(__file__).resolve().parent.parent / "client_web")

    async def store_ctx(app: web.Application) -> AsyncIterator[None]:
        await store.open()
        if config.demo:
            link = await accounts.ensure_demo()
            if link:
                app[DEMO_LINK].append(link)
        await safety.start()
        yield
        await safety.stop()
        await store.close()

    async def disconnect_all(app: web.Application) -> None:
        if sio.eio.sockets:  # close every live connection so shutdown never waits on them
            await sio.eio.disconnect()
        await sio.shutdown()

    app.cleanup_ctx.append(store_ctx)
    app.on_shutdown.append(disconnect_all)
    return app

"""The ``haven`` command: serve, manage accounts, verify and export the event log."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from server.config import Config, ConfigError
from server.errors import HavenError

log = logging.getLogger("haven")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for every ``haven`` sub-command."""
    parser = argparse.ArgumentParser(prog="haven", description="Haven: a discreet way out.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="interface to listen on (HAVEN_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (HAVEN_PORT)")
    serve.add_argument("--data-dir", type=Path, help="data directory (HAVEN_DATA_DIR)")
    serve.add_argument("--public-url", help="address users reach Haven at (HAVEN_PUBLIC_URL)")
    serve.add_argument("--database-url", help="postgresql://... (HAVEN_DATABASE_URL)")
    serve.add_argument("--redis-url", help="redis://... for several nodes (HAVEN_REDIS_URL)")
    serve.add_argument(
        "--role",
        dest="node_role",  # ``user add --role`` is an account's role, not this
        choices=["all", "signal", "relay"],
        help="all: pages, signalling and a relay (default); signal: no relay; relay: media only "
        "(HAVEN_ROLE)",
    )
    serve.add_argument(
        "--demo-embed",
        action="store_true",
        help="also run the embed demo (a p2p call with the widget) on port + 1",
    )

    user = sub.add_parser("user", help="manage staff accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="create an account (asks for the password)")
    add.add_argument("--service", required=True, help="service slug (created if missing)")
    add.add_argument("--role", required=True, choices=["facilitator", "lead", "admin"])
    add.add_argument("email")
    passwd = user_sub.add_parser("passwd", help="set an account's password")
    passwd.add_argument("email")
    for p in (add, passwd):
        p.add_argument("--data-dir", type=Path)
        p.add_argument("--database-url", help="postgresql://... (HAVEN_DATABASE_URL)")

    audit = sub.add_parser("audit", help="verify or export the event log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="exit 0 if the log is intact, 1 if not")
    export = audit_sub.add_parser("export", help="write a session's events as JSON lines")
    export.add_argument("--session", required=True)
    for p in (verify, export):
        p.add_argument("--data-dir", type=Path, help="holds the audit key (HAVEN_DATA_DIR)")
        p.add_argument("--database-url", help="postgresql://... (HAVEN_DATABASE_URL)")
    from server.api_v1 import cli as api_cli

    api_cli.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``haven`` command line; the only place that reads the environment."""
    args = build_parser().parse_args(argv)
    try:
        config = Config.from_env(
            os.environ,
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            data_dir=getattr(args, "data_dir", None),
            public_url=getattr(args, "public_url", None),
            database_url=getattr(args, "database_url", None),
            redis_url=getattr(args, "redis_url", None),
            role=getattr(args, "node_role", None),
        )
    except ConfigError as exc:
        print(f"haven: {exc}", file=sys.stderr)
        return 2
    from server.scale.logs import configure_logging

    configure_logging(config.log_level, config.log_format)  # HAVEN_LOG_FORMAT=json for JSON lines
    logging.getLogger("aioice").setLevel(logging.WARNING)
    try:
        if args.command == "serve":
            return serve(config, demo_embed=args.demo_embed)
        if args.command == "user":
            return asyncio.run(_user(config, args))
        if args.command in ("apikey", "watch"):
            from server.api_v1 import cli as api_cli

            return api_cli.main(config, args, os.environ)
        return asyncio.run(_audit(config, args))
    except HavenError as exc:
        print(f"haven: {exc.message}", file=sys.stderr)
        return 1


def serve(config: Config, *, demo_embed: bool = False) -> int:
    """Run the server until SIGINT or SIGTERM, then shut down within a few seconds."""
    if demo_embed:
        from server.demo_embed import demo_origins

        config = demo_origins(config)  # raises ConfigError without a fixed port
    asyncio.run(_serve(config, demo_embed))
    return 0


async def _serve(config: Config, demo_embed: bool = False) -> None:
    from aiohttp import web

    from server.app import DEMO_LINK, create_app

    app = create_app(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
    await site.start()
    port = runner.addresses[0][1]
    base = config.base_url if config.port else config.base_url.rsplit(":", 1)[0] + f":{port}"
    role = "" if config.role == "all" else f" (role {config.role})"
    print(f"Haven is running at {base}/{role}", flush=True)
    for link in app.get(DEMO_LINK, []):
        link = base + link[len(config.base_url) :]
        print(
            "First start: a demo service was created. Sign in as its facilitator with this "
            f"one-time link:\n\n    {link}\n",
            flush=True,
        )
    demo = None
    if demo_embed:
        from server.demo_embed import start_demo

        demo = await start_demo(app, config, base)
        demo_url = base.rsplit(":", 1)[0] + f":{config.port + 1}/"
        print(f"The embed demo (a call Haven does not carry) is at {demo_url}", flush=True)
    await stop.wait()
    log.info("Shutting down")
    if demo is not None:
        await asyncio.wait_for(demo.cleanup(), timeout=4)
    await asyncio.wait_for(runner.cleanup(), timeout=9)


async def _user(config: Config, args: argparse.Namespace) -> int:
    from server.accounts import Accounts
    from server.auth.passwords import Passwords
    from server.store.factory import make_store

    store = make_store(config)
    await store.open()
    try:
        accounts = Accounts(store, Passwords(), config)
        password = _ask_password()
        if args.user_command == "add":
            if await store.service_by_slug(args.service) is None:
                await accounts.create_service(args.service, args.service)
            await accounts.add_user(args.service, args.role, args.email, password)
            print(f"Created the {args.role} account {args.email} in {args.service}.")
        else:
            await accounts.change_password(args.email, password)
            print(f"Changed the password of {args.email}; it is signed out everywhere.")
        return 0
    finally:
        await store.close()


def _ask_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise HavenError("The two passwords differ.")
    return first


async def _audit(config: Config, args: argparse.Namespace) -> int:
    from server.audit import verify
    from server.store.factory import audit_key, make_store

    if not config.database_url and not (config.data_dir / "haven.sqlite3").exists():
        print(f"haven: there is no Haven database in {config.data_dir}.", file=sys.stderr)
        return 1
    key = audit_key(config)
    store = make_store(config)
    await store.open(read_only=True)
    try:
        if args.audit_command == "verify":
            verdict = await verify(store, key.secret, key.last_head())
            print(verdict.describe())
            return 0 if verdict.ok else 1
        for record in await store.events(session_id=args.session, limit=10**9):
            print(json.dumps(record.to_json(), sort_keys=True))
        return 0
    finally:
        await store.close()

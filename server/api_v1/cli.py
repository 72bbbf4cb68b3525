"""The ``haven apikey`` and ``haven watch`` sub-commands."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from server.api_v1.keys import SCOPES, ApiKeys, key_json
from server.config import Config
from server.errors import HavenError, NotFound

COMMANDS = ("apikey", "watch")


def add_commands(sub: Any) -> None:
    """Add ``apikey`` and ``watch`` to the ``haven`` sub-command parser."""
    apikey = sub.add_parser("apikey", help="manage a service's API keys")
    apikey_sub = apikey.add_subparsers(dest="apikey_command", required=True)
    create = apikey_sub.add_parser("create", help="create a key and print it (shown once)")
    create.add_argument("--service", required=True, help="service slug")
    create.add_argument(
        "--scope", action="append", required=True, choices=SCOPES, help="repeat for each scope"
    )
    create.add_argument("--name", default="", help="a name to recognise the key by")
    listing = apikey_sub.add_parser("list", help="list a service's keys")
    listing.add_argument("--service", required=True)
    revoke = apikey_sub.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("--service", required=True)
    revoke.add_argument("key_id")
    for p in (create, listing, revoke):
        p.add_argument("--data-dir", type=Path, help="data directory (HAVEN_DATA_DIR)")
        p.add_argument("--database-url", help="postgresql://... (HAVEN_DATABASE_URL)")

    watch = sub.add_parser("watch", help="print a service's alerts live from the alert stream")
    watch.add_argument("--service", required=True, help="service slug (must match the key's)")
    watch.add_argument("--key", help="API key with alerts:read (default: $HAVEN_API_KEY)")
    watch.add_argument("--url", help="Haven's address (default: HAVEN_PUBLIC_URL or host:port)")
    watch.add_argument("--after", type=int, help="replay from after this sequence number")
    watch.add_argument("--json", action="store_true", help="print the raw JSON lines")


def main(config: Config, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Run ``apikey`` or ``watch``; Ctrl-C ends ``watch`` quietly."""
    try:
        return asyncio.run(run(config, args, environ))
    except KeyboardInterrupt:
        return 0


async def run(config: Config, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Run ``apikey`` or ``watch``."""
    if args.command == "watch":
        key = args.key or environ.get("HAVEN_API_KEY", "")
        if not key:
            raise HavenError("Give an API key with --key or in HAVEN_API_KEY.")
        return await watch(args.url or config.base_url, key, args.service, args.after, args.json)
    return await _apikey(config, args)


async def _apikey(config: Config, args: argparse.Namespace) -> int:
    from server.store.factory import make_store

    store = make_store(config)
    await store.open()
    try:
        service = await store.service_by_slug(args.service)
        if service is None:
            raise NotFound(f"There is no service called {args.service}.")
        keys = ApiKeys(store)
        if args.apikey_command == "create":
            key, secret = await keys.create(service.id, args.name, args.scope, "cli")
            print(f"Created API key {key.id} ({' '.join(key.scopes)}). It is shown only now:")
            print(secret)
        elif args.apikey_command == "list":
            for key in await keys.list(service.id):
                print(json.dumps(key_json(key), sort_keys=True))
        else:
            await keys.revoke(service.id, args.key_id, "cli")
            print(f"Revoked API key {args.key_id}.")
        return 0
    finally:
        await store.close()


def describe(line: dict[str, Any]) -> str:
    """Return one stream line as a line of text for a terminal."""
    at = datetime.fromtimestamp(float(line.get("at", 0)), UTC).strftime("%Y-%m-%d %H:%M:%S")
    data = line.get("data") or {}
    extra = " ".join(f"{k}={data[k]}" for k in ("kind", "source", "reason") if k in data)
    return (
        f"{at}Z  #{line.get('seq')}  {line.get('type'):<18}  session={line.get('session_id')}"
        f"  alert={line.get('alert_id')}  by={line.get('actor')}  {extra}".rstrip()
    )


async def watch(base: str, key: str, service: str, after: int | None, raw: bool) -> int:
    """Print the alert stream until interrupted, reconnecting and resuming after the last seq."""
    url = base.rstrip("/").replace("http", "ws", 1) + "/api/v1/alerts/stream"
    delay = 1.0
    async with aiohttp.ClientSession() as http:
        while True:
            query = {} if after is None else {"after": str(after)}
            try:
                async with http.ws_connect(
                    url, params=query, headers={"Authorization": f"Bearer {key}"}, heartbeat=30
                ) as ws:
                    delay = 1.0
                    async for msg in ws:
                        if msg.type != aiohttp.WSMsgType.TEXT:
                            break
                        line = json.loads(msg.data)
                        if line.get("type") == "stream.opened":
                            if line.get("service") != service:
                                print(
                                    f"haven: this key belongs to {line.get('service')}, "
                                    f"not {service}.",
                                    file=sys.stderr,
                                )
                                return 1
                            after = int(line["after"])
                            print(f"Watching {service}'s alerts after #{after}.", flush=True)
                            continue
                        after = int(line["seq"])
                        print(json.dumps(line) if raw else describe(line), flush=True)
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status in (401, 403):
                    print(f"haven: the server refused the key ({exc.status}).", file=sys.stderr)
                    return 1
            except (aiohttp.ClientError, OSError):
                pass
            print(f"Disconnected; reconnecting in {delay:g} s.", file=sys.stderr, flush=True)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

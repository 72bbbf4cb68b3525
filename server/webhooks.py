"""Deliver webhooks from the durable outbox, following the Standard Webhooks specification.

Each outbox item is one message with a stable ``webhook-id``: every attempt at it carries the same
id and body, so a receiver can drop duplicates. Attempts back off exponentially until a day has
passed, then the item is given up. Nothing is sent to a loopback, link-local, private or reserved
address unless the service explicitly allows it: the host is resolved and every address checked,
the connection uses only the checked addresses, and redirects are never followed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from server.config import Config
from server.store import NewEvent, OutboxItem, Store

log = logging.getLogger(__name__)

WebhookType = Literal[
    "signal.received",
    "session.paused",
    "alert.escalated",
    "alert.acknowledged",
    "session.resumed",
    "session.ended",
]
WEBHOOK_TYPES: tuple[str, ...] = get_args(WebhookType)
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
ROTATION_GRACE_S = 24 * 3600.0
MAX_URL = 2048
CONCURRENCY = 8


class WebhookRefused(ValueError):
    """A webhook URL Haven will not send to; the message is a whole sentence for the admin."""


class UnsafeAddress(OSError):
    """A host resolved to an address webhooks may not reach (raised inside the connector)."""


# -- signing (Standard Webhooks) ---------------------------------------------------------------


def new_secret() -> str:
    """Return a fresh signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """Return the HMAC key inside a ``whsec_`` secret."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return ``v1,`` and the base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def payload(item: OutboxItem) -> bytes:
    """Return the body of an outbox item, the same bytes on every attempt."""
    at = datetime.fromtimestamp(item.created_at, UTC).isoformat().replace("+00:00", "Z")
    body = {"type": item.event_type, "timestamp": at, "data": item.data}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def signing_secrets(settings: dict[str, Any], now: float) -> list[str]:
    """Return the secrets to sign with: the current one, and the previous during a rotation."""
    found = [settings.get("webhook_secret")]
    if float(settings.get("webhook_previous_secret_until") or 0) > now:
        found.append(settings.get("webhook_previous_secret"))
    return [s for s in found if isinstance(s, str) and s.startswith(SECRET_PREFIX)]


def headers(msg_id: str, timestamp: int, body: bytes, keys: Sequence[str]) -> dict[str, str]:
    """Return the Standard Webhooks headers for one attempt."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(k, msg_id, timestamp, body) for k in keys),
        "Content-Type": "application/json",
        "User-Agent": "Haven-Webhooks/1",
    }


# -- where webhooks may go ----------------------------------------------------------------------


def address_allowed(address: str) -> bool:
    """Tell whether an IP address is a public unicast address webhooks may reach."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def parse_url(url: object) -> tuple[str, int]:
    """Check a webhook URL's shape and return its host and port, or raise WebhookRefused."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise WebhookRefused(f"A webhook URL is an http(s) address under {MAX_URL} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise WebhookRefused("The webhook URL is not a valid address.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused("A webhook URL starts with https:// (or http://) and names a host.")
    if parts.username or parts.password:
        raise WebhookRefused("A webhook URL cannot carry a user name or password.")
    if any(c.isspace() for c in url):
        raise WebhookRefused("A webhook URL cannot contain spaces.")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def check_url(url: object, *, allow_private: bool) -> None:
    """Refuse a URL whose host is, or resolves to, a non-public address (unless allowed)."""
    host, port = parse_url(url)
    if allow_private:
        return
    try:
        ipaddress.ip_address(host)
        addresses = [host]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError:
            raise WebhookRefused(f"The webhook host {host} could not be resolved.") from None
        addresses = [str(info[4][0]) for info in infos]
    if not addresses or not all(address_allowed(a) for a in addresses):
        raise WebhookRefused(
            f"The webhook host {host} is a loopback, link-local, private or reserved address; "
            "the service must allow private webhooks to use it."
        )


class PublicOnlyResolver(AbstractResolver):
    """Resolve a host and refuse it if any address is not public, so rebinding cannot slip by."""

    def __init__(self) -> None:
        self._inner = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Return the host's addresses if every one of them is public."""
        results = await self._inner.resolve(host, port, family)
        if not results or not all(address_allowed(r["host"]) for r in results):
            raise UnsafeAddress(f"The webhook host {host} resolves to a non-public address.")
        return results

    async def close(self) -> None:
        """Release the inner resolver."""
        await self._inner.close()


# -- retries ------------------------------------------------------------------------------------


def retry_delay(attempts: int, config: Config) -> float:
    """Return the wait after the ``attempts``-th failure: doubling from the base, capped."""
    exponent = min(max(attempts - 1, 0), 40)
    return float(min(config.webhook_retry_base_s * 2**exponent, config.webhook_retry_max_s))


def next_attempt_at(item: OutboxItem, attempts: int, now: float, config: Config) -> float | None:
    """Return when to try again after ``attempts`` failures, or None once the day is over."""
    at = now + retry_delay(attempts, config)
    return at if at <= item.created_at + config.webhook_give_up_after_s else None


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: a status if the receiver answered, else an error."""

    status: int | None
    error: str
    kind: str
    """A short category for the event log (never the URL or any personal data)."""

    @property
    def delivered(self) -> bool:
        """Tell whether the receiver accepted the message (any 2xx)."""
        return self.status is not None and 200 <= self.status < 300


class WebhookSender:
    """Send due outbox items, one owner per application; woken at once when one is queued."""

    def __init__(
        self, store: Store, config: Config, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._config = config
        self._clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._strict: aiohttp.ClientSession | None = None
        self._open: aiohttp.ClientSession | None = None
        self._next_retry: float | None = None

    async def start(self) -> None:
        """Open the HTTP sessions and start the delivery loop."""
        timeout = aiohttp.ClientTimeout(total=self._config.webhook_timeout_s)
        strict = aiohttp.TCPConnector(resolver=PublicOnlyResolver(), use_dns_cache=False)
        self._strict = aiohttp.ClientSession(connector=strict, timeout=timeout, trust_env=False)
        self._open = aiohttp.ClientSession(timeout=timeout, trust_env=False)
        self._task = asyncio.create_task(self._run(), name="webhook-sender")

    async def stop(self) -> None:
        """Stop the loop and close the sessions; undelivered items stay in the outbox."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for http in (self._strict, self._open):
            if http is not None:
                await http.close()
        self._strict = self._open = None

    def wake(self) -> None:
        """Look at the outbox now (something was just committed)."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.deliver_due()
            except Exception:
                log.exception("Webhook delivery round failed; trying again shortly")
            wait = self._config.webhook_poll_s
            if self._next_retry is not None:
                wait = max(0.0, min(wait, self._next_retry - self._clock()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def deliver_due(self) -> int:
        """Attempt every due item once; return how many were delivered."""
        self._next_retry = None
        items = await self._store.due_webhooks(self._clock())
        if not items:
            return 0
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(item: OutboxItem) -> bool:
            async with gate:
                return await self._deliver(item)

        results = await asyncio.gather(*(one(i) for i in items))
        return sum(results)

    async def _deliver(self, item: OutboxItem) -> bool:
        now = self._clock()
        lease = now + self._config.webhook_timeout_s + 30
        if not await self._store.claim_webhook(item.id, now, lease):
            return False  # another sender (another node) has it
        service = await self._store.service(item.service_id)
        settings = service.settings if service else {}
        url = settings.get("webhook_url") or ""
        keys = signing_secrets(settings, now)
        if not url or not keys:
            await self._store.webhook_attempted(
                item,
                delivered_at=None,
                retry_at=None,
                error="No webhook endpoint is configured for this service.",
            )
            return False
        started = time.monotonic()
        outcome = await self._post(item, url, keys, bool(settings.get("allow_private_webhooks")))
        duration_ms = (time.monotonic() - started) * 1000
        await self._record(item, outcome, duration_ms)
        return outcome.delivered

    async def _post(
        self, item: OutboxItem, url: str, keys: list[str], allow_private: bool
    ) -> Outcome:
        body = payload(item)
        stamp = int(self._clock())
        http = self._open if allow_private else self._strict
        if http is None:
            return Outcome(None, "The webhook sender is stopped.", "stopped")
        try:
            await check_url(url, allow_private=allow_private)
            async with http.post(
                url, data=body, headers=headers(item.id, stamp, body, keys), allow_redirects=False
            ) as response:
                status = response.status
        except WebhookRefused as exc:
            return Outcome(None, str(exc), "refused_address")
        except TimeoutError:
            limit = self._config.webhook_timeout_s
            return Outcome(None, f"The receiver did not answer within {limit:g} s.", "timeout")
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, UnsafeAddress):
                return Outcome(None, str(exc.os_error), "refused_address")
            return Outcome(None, "Could not connect to the receiver.", "connect")
        except aiohttp.ClientError as exc:
            return Outcome(None, f"The request failed ({type(exc).__name__}).", "http")
        if 200 <= status < 300:
            return Outcome(status, "", "ok")
        if 300 <= status < 400:
            error = f"The receiver redirected ({status}); redirects are not followed."
            return Outcome(status, error, "redirect")
        return Outcome(status, f"The receiver answered {status}.", "status")

    async def _record(self, item: OutboxItem, outcome: Outcome, duration_ms: float) -> None:
        now = self._clock()
        attempt = item.attempts + 1
        session_id = str(item.data.get("session_id", ""))
        common = {"webhook": item.id, "type": item.event_type, "attempt": attempt}
        if outcome.delivered:
            event = NewEvent(
                "webhook.delivered",
                item.service_id,
                session_id,
                payload={**common, "status": outcome.status},
            )
            await self._store.webhook_attempted(
                item,
                delivered_at=now,
                retry_at=None,
                error="",
                status=outcome.status,
                duration_ms=duration_ms,
                events=[event],
            )
            log.info("Webhook %s delivered on attempt %d", item.event_type, attempt)
            return
        retry_at = next_attempt_at(item, attempt, now, self._config)
        event = NewEvent(
            "webhook.failed",
            item.service_id,
            session_id,
            payload={
                **common,
                "status": outcome.status,
                "reason": outcome.kind,
                "given_up": retry_at is None,
            },
        )
        await self._store.webhook_attempted(
            item,
            delivered_at=None,
            retry_at=retry_at,
            error=outcome.error,
            status=outcome.status,
            duration_ms=duration_ms,
            events=[event],
        )
        if retry_at is not None and (self._next_retry is None or retry_at < self._next_retry):
            self._next_retry = retry_at
        log.info(
            "Webhook %s attempt %d failed (%s)%s",
            item.event_type,
            attempt,
            outcome.kind,
            "" if retry_at else "; given up",
        )

"""Service API keys: shown once, stored as a SHA-256 hash, scoped, and revocable."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from server.auth.tokens import new_id, new_token, token_hash
from server.errors import BadRequest, NotFound, Unauthorized
from server.sessions import clean_text
from server.store import NewEvent
from server.store.base import ApiKey, Store

log = logging.getLogger(__name__)

SCOPES: tuple[str, ...] = (
    "sessions:read",
    "sessions:write",
    "alerts:read",
    "alerts:write",
    "events:read",
    "webhooks:read",
    "webhooks:write",
)
"""Every scope a key can hold; ``X:write`` includes ``X:read``."""
KEY_PREFIX = "hvn_"


def parse_scopes(value: object) -> tuple[str, ...]:
    """Read scopes from a list of names or one space-separated string; refuse unknown ones."""
    if isinstance(value, str):
        names = value.split()
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        names = [str(v) for v in value]
    else:
        raise BadRequest("Scopes are a list of names such as sessions:write.")
    for name in names:
        if name not in SCOPES:
            raise BadRequest(f"Unknown scope: {name[:40]}. The scopes are {', '.join(SCOPES)}.")
    if not names:
        raise BadRequest("An API key needs at least one scope.")
    return tuple(s for s in SCOPES if s in names)


def allows(key: ApiKey, scope: str) -> bool:
    """Tell whether a key holds ``scope`` (a write scope grants the matching read scope)."""
    return scope in key.scopes or scope.replace(":read", ":write") in key.scopes


def key_json(key: ApiKey) -> dict[str, Any]:
    """Serialise a key for its service's admin (the secret is never stored, so never shown)."""
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": list(key.scopes),
        "created_at": key.created_at,
        "created_by": key.created_by,
        "revoked_at": key.revoked_at,
    }


class ApiKeys:
    """Create, check and revoke a service's API keys."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    async def create(
        self, service_id: str, name: object, scopes: object, created_by: str
    ) -> tuple[ApiKey, str]:
        """Create a key and return it with its secret, which is shown this once only."""
        label = clean_text(name, field="The key's name", max_len=60) or "API key"
        secret = KEY_PREFIX + new_token()
        key = ApiKey(
            id=new_id("key"),
            service_id=service_id,
            name=label,
            prefix=secret[:10],
            scopes=parse_scopes(scopes),
            created_at=self._clock(),
            created_by=created_by,
        )
        created = NewEvent(
            "api_key.created",
            service_id,
            actor=created_by,
            payload={"key": key.id, "scopes": list(key.scopes)},
        )
        await self._store.create_api_key(key, token_hash(secret), [created])
        log.info("API key %s created with scopes %s", key.id, " ".join(key.scopes))
        return key, secret

    async def authenticate(self, authorization: str | None) -> ApiKey:
        """Return the live key in an ``Authorization: Bearer`` header, or raise Unauthorized."""
        if not authorization:
            raise Unauthorized("Send a service API key in the Authorization: Bearer header.")
        scheme, _, secret = authorization.strip().partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret.startswith(KEY_PREFIX) or len(secret) > 200:
            raise Unauthorized("This is not a Haven API key.")
        key = await self._store.api_key_by_hash(token_hash(secret))
        if key is None:
            raise Unauthorized("This API key is not valid.")
        if key.revoked_at is not None:
            raise Unauthorized("This API key has been revoked.")
        return key

    async def revoke(self, service_id: str, key_id: object, actor: str) -> None:
        """Revoke one of a service's keys at once; every later request with it is refused."""
        if not isinstance(key_id, str):
            raise NotFound("There is no such live API key.")
        revoked = NewEvent("api_key.revoked", service_id, actor=actor, payload={"key": key_id})
        if not await self._store.revoke_api_key(service_id, key_id, self._clock(), [revoked]):
            raise NotFound("There is no such live API key.")
        log.info("API key %s revoked", key_id)

    async def list(self, service_id: str) -> list[ApiKey]:
        """Return a service's keys, revoked ones included."""
        return await self._store.api_keys(service_id)


API_KEYS = web.AppKey("api_keys", ApiKeys)

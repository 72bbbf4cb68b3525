"""Time-limited TURN credentials for coturn's ``use-auth-secret`` (TURN REST API) scheme."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any


def turn_credentials(
    secret: str,
    participant_id: str,
    urls: list[str] | tuple[str, ...],
    *,
    ttl: int = 3600,
    now: float | None = None,
) -> dict[str, Any]:
    """Return an RTCIceServer-like dict whose credential expires ``ttl`` seconds from now."""
    if not secret:
        raise ValueError("A TURN shared secret is required.")
    if ttl <= 0:
        raise ValueError("The TURN credential lifetime must be positive.")
    if ":" in participant_id:
        raise ValueError("A participant id used in a TURN username may not contain ':'.")
    expiry = int(time.time() if now is None else now) + ttl
    username = f"{expiry}:{participant_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return {
        "urls": list(urls),
        "username": username,
        "credential": base64.b64encode(digest).decode("ascii"),
    }

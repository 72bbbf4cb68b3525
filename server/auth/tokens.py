"""Unguessable tokens and the hashes stored in their place."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 24  # 192 random bits: well over the 128 the threat model asks for


def new_token() -> str:
    """Return a fresh URL-safe token carrying 192 random bits."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """Return the SHA-256 of a token: only this is stored, so a leaked database grants nothing."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_id(prefix: str) -> str:
    """Return a short random identifier such as ``s_4kq...``; ids are not secrets."""
    return f"{prefix}_{secrets.token_urlsafe(9)}"

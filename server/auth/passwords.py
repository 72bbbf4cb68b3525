"""Password and PIN hashing with argon2id."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 10


class Passwords:
    """Hash and check secrets with argon2id; one instance per application."""

    def __init__(self, *, time_cost: int = 3, memory_cost: int = 65536) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost)

    def hash(self, secret: str) -> str:
        """Return an argon2id hash of ``secret``."""
        return self._hasher.hash(secret)

    def verify(self, hashed: str | None, secret: str) -> bool:
        """Tell whether ``secret`` matches ``hashed``; a missing hash never matches."""
        if not hashed:
            return False
        try:
            return self._hasher.verify(hashed, secret)
        except (VerificationError, InvalidHashError):
            return False


def password_problem(password: str) -> str | None:
    """Return why a new password is not acceptable, or None if it is."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"A password needs at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > 1024:
        return "A password can have at most 1024 characters."
    return None

"""Small validation helpers shared by the value objects of the signal core."""

from __future__ import annotations

import math
from collections.abc import Iterable


def require_text(value: object, what: str) -> None:
    """Raise ValueError unless value is a non-empty string without surrounding whitespace."""
    if not isinstance(value, str) or not value or value != value.strip():
        raise ValueError(f"The {what} must be a non-empty string without surrounding spaces.")


def require_time(value: object, what: str) -> None:
    """Raise ValueError unless value is a finite number of seconds."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"The {what} must be a finite number of seconds.")


def require_choice(value: object, choices: Iterable[str], what: str) -> None:
    """Raise ValueError unless value is one of the allowed strings."""
    allowed = tuple(choices)
    if value not in allowed:
        listed = ", ".join(allowed)
        raise ValueError(f"The {what} {value!r} is not one of: {listed}.")

"""Sign-in throttling as a pure rule: back off after 5 failures, at most 100 an hour."""

from __future__ import annotations

from collections.abc import Sequence

FREE_FAILURES = 5
HOURLY_LIMIT = 100
MAX_BACKOFF_S = 15 * 60


def signin_wait(failures: Sequence[float], now: float) -> float:
    """Return how many seconds an account must wait before its next sign-in attempt.

    ``failures`` are the times of failed attempts in the last hour, oldest first.
    """
    recent = [t for t in failures if t > now - 3600]
    if len(recent) >= HOURLY_LIMIT:
        return max(0.0, recent[-HOURLY_LIMIT] + 3600 - now)
    if len(recent) < FREE_FAILURES:
        return 0.0
    backoff = min(MAX_BACKOFF_S, 2.0 ** (len(recent) - FREE_FAILURES))
    return max(0.0, recent[-1] + backoff - now)

"""The relay's one exception: a refused request with a user-safe message."""

from __future__ import annotations


class RelayError(Exception):
    """A relay request refused with a whole-sentence, user-safe message (str(exc))."""

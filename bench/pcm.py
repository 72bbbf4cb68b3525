"""Signed 16-bit mono PCM arithmetic for the speech benchmark (what ``audioop`` did, without it).

``audioop`` is deprecated since Python 3.11 and gone in 3.13; these few operations give the same
results (truncated RMS, floored scaling, clipped sums) with the standard ``array`` module.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable

_LOW, _HIGH = -32768, 32767


def samples(pcm: bytes) -> array[int]:
    """Return the samples of native-endian signed 16-bit PCM."""
    values = array("h")
    values.frombytes(pcm)
    return values


def rms(pcm: bytes) -> int:
    """Return the root mean square of the samples, truncated to an integer (0 when empty)."""
    values = samples(pcm)
    if not values:
        return 0
    return int(math.sqrt(sum(v * v for v in values) / len(values)))


def scale(pcm: bytes, factor: float) -> bytes:
    """Return every sample multiplied by ``factor``, floored and clipped to 16 bits."""
    return _pack(math.floor(v * factor) for v in samples(pcm))


def add_scaled(pcm: bytes, other: bytes, factor: float) -> bytes:
    """Return ``pcm`` plus ``other`` scaled by ``factor`` (floored), clipped to 16 bits."""
    return _pack(
        a + max(_LOW, min(_HIGH, math.floor(b * factor)))
        for a, b in zip(samples(pcm), samples(other), strict=True)
    )


def _pack(values: Iterable[int]) -> bytes:
    return array("h", (max(_LOW, min(_HIGH, v)) for v in values)).tobytes()

"""Shared output for benchmarks: a plain-text table, then one JSON object as the last line."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any


def percentile(values: Sequence[float], pct: float) -> float:
    """Return the nearest-rank percentile ``pct`` (0-100) of ``values``, or NaN if empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print ``rows`` under ``headers`` as an aligned text table headed by ``title``."""
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def print_figures(figures: Mapping[str, Any]) -> None:
    """Print the named figures as one JSON object: always the benchmark's last line."""
    print(json.dumps(dict(figures), sort_keys=True), flush=True)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)

"""Dispatch ``python -m bench NAME [args]`` to the module ``bench.NAME``."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench


def available() -> list[str]:
    """Return the names of the benchmarks in this package."""
    return sorted(
        m.name
        for m in pkgutil.iter_modules(bench.__path__)
        if not m.name.startswith("_") and m.name != "report"
    )


def main(argv: list[str]) -> int:
    """Run the benchmark named by the first argument with the remaining arguments."""
    if not argv or argv[0] not in available():
        print(f"usage: python -m bench NAME [--quick]; NAME is one of: {', '.join(available())}")
        return 2
    module = importlib.import_module(f"bench.{argv[0]}")
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

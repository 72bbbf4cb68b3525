"""The small thread pool shared by every spoken safe-word monitor of one server."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

logger = logging.getLogger(__name__)


class SpottingPool:
    """Owns the worker threads that decode and spot; pocketsphinx releases the GIL there."""

    def __init__(self, workers: int = 2) -> None:
        """Start a pool of ``workers`` threads (one per core is plenty)."""
        if workers < 1:
            raise ValueError("A spotting pool needs at least one worker thread.")
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="safeword")
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called."""
        return self._closed

    def submit(self, job: Callable[[], None]) -> Future[None] | None:
        """Run ``job`` on a worker thread; return None if the pool is closed."""
        if self._closed:
            return None
        try:
            return self._executor.submit(job)
        except RuntimeError:
            return None

    def close(self) -> None:
        """Stop accepting work and wait for running jobs; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)

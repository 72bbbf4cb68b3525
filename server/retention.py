"""Retention: personal data of ended sessions is deleted after ``HAVEN_RETENTION_DAYS``."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from server.store import Store

log = logging.getLogger(__name__)
SWEEP_EVERY_S = 6 * 3600


async def sweep(store: Store, retention_days: int, now: float) -> int:
    """Blank names, safety plans, safe words and PIN hashes of sessions past retention."""
    purged = await store.purge_personal_data(now - retention_days * 86400)
    if purged:
        log.info("Retention: removed personal data of %d ended session(s)", purged)
    return purged


async def run_sweeps(
    store: Store, retention_days: int, clock: Callable[[], float] = time.time
) -> None:
    """Sweep at start and then every six hours, until cancelled."""
    while True:
        try:
            await sweep(store, retention_days, clock())
        except Exception:
            log.exception("Retention sweep failed; it will run again later")
        await asyncio.sleep(SWEEP_EVERY_S)

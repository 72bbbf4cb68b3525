"""Listen to one client's inbound Opus audio for their spoken safe phrase, off the event loop."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from server.safeword.pool import SpottingPool
from server.safeword.spotter import SpotterRecipe

logger = logging.getLogger(__name__)

OnDetect = Callable[[float, float], None]
"""Called on the event loop as ``on_detect(score, at)``; ``at`` is the clock's time."""

MAX_QUEUED = 500
"""Payloads (20 ms each, so 10 s) kept waiting before the oldest are dropped."""
BATCH = 25
"""Payloads one job processes before yielding the worker to other monitors."""


class SpokenMonitor:
    """Decodes one client's Opus payloads and calls ``on_detect`` when their phrase is heard."""

    def __init__(
        self,
        recipe: SpotterRecipe,
        pool: SpottingPool,
        on_detect: OnDetect,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Create a monitor; must be called with ``loop`` given or from the event loop."""
        self._pool = pool
        self._channel = pool.open(recipe)
        self._on_detect = on_detect
        self._loop = loop if loop is not None else asyncio.get_running_loop()
        self._clock = clock
        self._queue: deque[bytes | asyncio.Future[None]] = deque()
        self._lock = threading.Lock()
        self._scheduled = False
        self._closed = False
        self._dropped = 0

    @property
    def closed(self) -> bool:
        """Whether the monitor was closed."""
        return self._closed

    @property
    def seconds_decoded(self) -> float:
        """Seconds of audio decoded and spotted so far."""
        return self._channel.seconds

    def feed(self, payload: bytes, rtp_timestamp: int) -> None:
        """Queue one inbound Opus RTP payload; cheap, safe to call from the packet path."""
        del rtp_timestamp  # order of arrival is enough; gaps only shorten the audio heard
        with self._lock:
            if self._closed:
                return
            if len(self._queue) >= MAX_QUEUED:
                oldest = self._queue.popleft()
                if isinstance(oldest, asyncio.Future):
                    self._loop.call_soon_threadsafe(_resolve, oldest)
                self._dropped += 1
                if self._dropped == 1:
                    logger.warning("safe-word spotting is falling behind; dropping old audio")
            self._queue.append(payload)
            self._schedule_locked()

    async def flush(self) -> None:
        """Wait until every payload fed so far has been spotted (returns at once if closed)."""
        waiter: asyncio.Future[None] = self._loop.create_future()
        with self._lock:
            if self._closed:
                return
            self._queue.append(waiter)
            self._schedule_locked()
            if not self._scheduled:  # the pool is closed: nothing will ever drain the queue
                self._queue.remove(waiter)
                return
        await waiter

    def close(self) -> None:
        """Stop decoding at once and drop queued audio; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pending = [item for item in self._queue if isinstance(item, asyncio.Future)]
            self._queue.clear()
        self._pool.release(self._channel)
        for waiter in pending:
            self._loop.call_soon_threadsafe(_resolve, waiter)

    def _schedule_locked(self) -> None:
        if not self._scheduled and not self._pool.closed:
            self._scheduled = self._channel.submit(self._run) is not None

    def _run(self) -> None:
        """Lane-thread job: spot up to a batch of queued payloads, then reschedule if more wait."""
        batch: list[bytes] = []
        waiters: list[asyncio.Future[None]] = []
        with self._lock:
            while self._queue and len(batch) < BATCH and not self._closed:
                item = self._queue.popleft()
                if isinstance(item, asyncio.Future):
                    waiters.append(item)
                    break  # a flush waits for exactly the payloads fed before it
                batch.append(item)
            if self._closed:
                batch = []
        if batch:
            for detection in self._channel.process(batch):
                at = self._clock()
                logger.info("spoken safe phrase detected (score %.1f)", detection.score)
                self._loop.call_soon_threadsafe(self._deliver, detection.score, at)
        for waiter in waiters:
            self._loop.call_soon_threadsafe(_resolve, waiter)
        with self._lock:
            self._scheduled = False
            if self._queue and not self._closed:
                self._schedule_locked()

    def _deliver(self, score: float, at: float) -> None:
        if not self._closed:
            self._on_detect(score, at)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)

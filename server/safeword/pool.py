"""The lanes shared by every spoken safe-word monitor of one server: a thread each, and a process.

pocketsphinx 5.1.1 holds the GIL while it decodes (two threads ran no faster than one), so
spotting in threads would share one core with the event loop and the media path. Each lane is
therefore one thread that owns one worker process: the thread sends a monitor's queued Opus
payloads down a pipe and waits (without the GIL) for the detections; the process keeps that
monitor's Opus decoder and spotter and does the work on its own core. Audio crosses the pipe in
memory only and is never written anywhere.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import multiprocessing.connection
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.process import BaseProcess
from typing import Any

from server.safeword.opus import OpusToPcm
from server.safeword.spotter import Detection, Spotter, SpotterRecipe

logger = logging.getLogger(__name__)

_STOP_TIMEOUT = 5.0


class Channel:
    """One monitor's spotter, living in a lane; use only from jobs submitted through it."""

    def __init__(self, lane: _Lane, recipe: SpotterRecipe, ident: int) -> None:
        """Attach to ``lane``; the spotter is built lazily, where it will run."""
        self._lane = lane
        self._recipe = recipe
        self._ident = ident
        self._local: tuple[OpusToPcm, Spotter] | None = None
        self._generation = -1
        self.seconds = 0.0
        """Seconds of audio spotted so far."""

    def submit(self, job: Callable[[], None]) -> Future[None] | None:
        """Run ``job`` on this channel's lane thread; None if the pool is closed."""
        return self._lane.submit(job)

    def process(self, payloads: list[bytes]) -> list[Detection]:
        """Decode and spot Opus payloads in order; return detections (lane thread only)."""
        if self._lane.conn is None:
            if self._local is None:
                self._local = (OpusToPcm(), self._recipe.build())
            found = _spot(*self._local, payloads)
            self.seconds = self._local[1].seconds
            return found
        recipe = None if self._generation == self._lane.generation else self._recipe
        self._generation = self._lane.generation
        reply = self._lane.call((self._ident, recipe, payloads))
        if reply is None:
            return []
        detections, self.seconds = reply
        return [Detection(score, at) for score, at in detections]

    def close(self) -> None:
        """Drop the spotter where it lives (its queued work is dropped by the monitor)."""
        if self._lane.conn is not None and self._generation >= 0:
            self._lane.submit(lambda: self._lane.call((self._ident, None, None), reply=False))


class _Lane:
    """One thread and, unless spotting in-process, the worker process it talks to."""

    def __init__(self, index: int, processes: bool) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"safeword{index}")
        self._processes = processes
        self._process: BaseProcess | None = None
        self.conn: multiprocessing.connection.Connection | None = None
        self.generation = 0
        self.channels = 0
        if processes:
            self._start()

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(target=_worker, args=(child,), daemon=True, name="safeword")
        process.start()
        child.close()
        self._process, self.conn = process, parent
        self.generation += 1

    def submit(self, job: Callable[[], None]) -> Future[None] | None:
        try:
            return self._executor.submit(job)
        except RuntimeError:
            return None

    def call(self, request: tuple[Any, ...], reply: bool = True) -> Any:
        """Send one request to the worker and wait for its answer (lane thread only)."""
        conn = self.conn
        if conn is None:
            return None
        try:
            conn.send(request)
            return conn.recv() if reply else None
        except (EOFError, OSError) as error:
            logger.warning("a safe-word worker process failed (%s); restarting it", error)
            self._stop_process()
            self._start()
            return None

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._stop_process()

    def _stop_process(self) -> None:
        process, conn = self._process, self.conn
        if process is None or conn is None:
            return
        with contextlib.suppress(OSError):
            conn.send(None)
        process.join(_STOP_TIMEOUT)
        if process.is_alive():
            process.kill()
            process.join(_STOP_TIMEOUT)
        conn.close()


class SpottingPool:
    """Owns the lanes that decode and spot; one lane per core is plenty."""

    def __init__(self, workers: int = 2, *, processes: bool = True) -> None:
        """Start ``workers`` lanes, each with a worker process unless ``processes`` is False."""
        if workers < 1:
            raise ValueError("A spotting pool needs at least one worker.")
        self._lanes = [_Lane(i, processes) for i in range(workers)]
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called."""
        return self._closed

    def open(self, recipe: SpotterRecipe) -> Channel:
        """Give a new monitor a channel on the least busy lane."""
        with self._lock:
            lane = min(self._lanes, key=lambda lane: lane.channels)
            lane.channels += 1
            return Channel(lane, recipe, next(self._ids))

    def release(self, channel: Channel) -> None:
        """Forget a closed monitor's channel and free its spotter."""
        with self._lock:
            channel._lane.channels -= 1
        if not self._closed:
            channel.close()

    def close(self) -> None:
        """Stop accepting work, wait for running jobs and stop the worker processes; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for lane in self._lanes:
            lane.close()


def _spot(decoder: OpusToPcm, spotter: Spotter, payloads: list[bytes]) -> list[Detection]:
    found: list[Detection] = []
    for payload in payloads:
        pcm = decoder.decode(payload)
        if pcm:
            found += spotter.process(pcm)
    return found


def _worker(conn: multiprocessing.connection.Connection) -> None:
    """Worker process: keep one decoder and spotter per channel and answer batches of payloads."""
    channels: dict[int, tuple[OpusToPcm, Spotter]] = {}
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if request is None:
            return
        ident, recipe, payloads = request
        if payloads is None:
            channels.pop(ident, None)
            continue
        if recipe is not None:
            channels[ident] = (OpusToPcm(), recipe.build())
        state = channels.get(ident)
        if state is None:
            conn.send(([], 0.0))
            continue
        found = _spot(*state, payloads)
        conn.send(([(d.score, d.at) for d in found], state[1].seconds))

"""The embedded store's write thread: every transaction runs here, urgent ones first.

A durable SQLite commit waits for the disk (an fsync, one to several milliseconds). Run on the
event loop, that wait would hold up every socket, every alert and the relay's media; run here, the
loop keeps serving while the disk works. One thread keeps one writer order without locks, and a
priority queue lets a safety signal overtake routine bookkeeping (webhook attempts, sign-ins)
that is waiting its turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
Reply = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]"]

URGENT, ROUTINE, LAST = 0, 1, 2


class Writer:
    """One thread that runs write jobs in priority order and hands each result to its loop."""

    def __init__(self, name: str, after_each: Callable[[], None] = lambda: None) -> None:
        self._jobs: queue.PriorityQueue[tuple[int, int, Callable[[], Any] | None, Reply | None]]
        self._jobs = queue.PriorityQueue()
        self._order = itertools.count()
        self._after_each = after_each
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    async def run(self, job: Callable[[], T], *, urgent: bool = False) -> T:
        """Run ``job`` on the write thread and return its result (or raise its exception)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        self._jobs.put((URGENT if urgent else ROUTINE, next(self._order), job, (loop, done)))
        # Shielded: a cancelled caller does not un-commit a transaction already under way.
        return await asyncio.shield(done)

    def stop(self) -> None:
        """Finish every queued job, then end the thread."""
        self._jobs.put((LAST, next(self._order), None, None))
        self._thread.join()

    def _serve(self) -> None:
        while True:
            _, _, job, reply = self._jobs.get()
            if job is None:
                return
            try:
                result, error = job(), None
            except BaseException as exc:  # the caller gets it
                result, error = None, exc
            if reply is not None:
                loop, done = reply
                _reply(loop, done, result, error)
            try:
                self._after_each()
            except Exception:
                log.exception("Store housekeeping after a write failed")


def _reply(
    loop: asyncio.AbstractEventLoop, done: asyncio.Future[Any], result: Any, error: Any
) -> None:
    def settle() -> None:
        if done.done():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)

    with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting any more
        loop.call_soon_threadsafe(settle)


class WalCheckpointer:
    """Copies the write-ahead log back into the database on its own thread and connection.

    SQLite would otherwise do it inside whichever commit crosses its threshold, making that one
    commit (perhaps a safety signal's) many times slower. A passive checkpoint here never blocks
    the writer.
    """

    def __init__(self, path: str, every: int = 200) -> None:
        self._path = path
        self._every = every
        self._commits = 0
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, name="haven-wal", daemon=True)
        self._thread.start()

    def note_commit(self) -> None:
        """Count a commit; every ``every`` commits, wake the checkpoint thread."""
        self._commits += 1
        if self._commits >= self._every:
            self._commits = 0
            self._wake.set()

    def stop(self) -> None:
        """End the thread after any checkpoint under way."""
        self._stopping = True
        self._wake.set()
        self._thread.join()

    def _serve(self) -> None:
        db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA busy_timeout=5000")
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stopping:
                    return
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    log.warning("A write-ahead log checkpoint failed; the next one will retry")
        finally:
            db.close()

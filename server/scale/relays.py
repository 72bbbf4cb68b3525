"""Relay placement: a registry of relay processes in Redis, least-loaded choice, death detection.

Each relay reports itself every ``HEARTBEAT_S`` seconds (id, address, peers, capacity, sessions,
CPU seconds) into one Redis hash. A relay not heard from for ``DEAD_AFTER_S`` is dead: the first
node whose sweep notices removes it (an atomic compare-and-delete, so exactly one node acts),
drops the placements of its sessions, and reports each one so that node can tell the sessions'
facilitators. The pause state lives in the store, not in the relay, so a paused client stays
paused when its media reconnects to another relay.

A session is placed on the least-loaded live relay the first time anyone asks (``HSETNX``, so
two nodes asking at once agree), and stays there while that relay lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from server.sessions import MediaLifecycle

log = logging.getLogger(__name__)

RELAYS_KEY = "haven:relays"
PLACEMENT_KEY = "haven:placement"
HEARTBEAT_S = 1.5
DEAD_AFTER_S = 5.0
SWEEP_S = 1.0

# Delete a relay's entry only if it is still the stale one we read (no heartbeat since).
_COMPARE_AND_DELETE = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
    return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""
# Move a session to a new relay only if it is still placed where we saw it.
_COMPARE_AND_SET = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current == ARGV[2] or (current == false and ARGV[2] == '') then
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
    return ARGV[3]
end
return current
"""


@dataclass(frozen=True)
class RelayInfo:
    """One relay process as it last reported itself."""

    id: str
    url: str
    peers: int
    max_peers: int
    seen_at: float
    sessions: int = 0
    cpu_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.id or self.max_peers < 1 or self.peers < 0 or self.sessions < 0:
            raise ValueError("A relay needs an id, a positive capacity and a peer count.")

    @property
    def load(self) -> float:
        """The share of its capacity in use."""
        return self.peers / self.max_peers

    def to_json(self) -> str:
        """Serialise for the registry (JSON, never pickle)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | bytes) -> RelayInfo:
        """Parse an entry of the registry."""
        data = json.loads(raw)
        return cls(
            str(data["id"]),
            str(data["url"]),
            int(data["peers"]),
            int(data["max_peers"]),
            float(data["seen_at"]),
            int(data.get("sessions", 0)),
            float(data.get("cpu_s", 0.0)),
        )


@dataclass(frozen=True)
class RelayLoad:
    """What a relay carries right now, and the CPU time its process has used."""

    peers: int
    capacity: int
    sessions: tuple[str, ...] = ()
    cpu_s: float = 0.0


def relay_load(relay: Any, capacity: int) -> Callable[[], RelayLoad]:
    """Read the load of a ``server.relay.Relay`` in this process through its ``load()``."""

    def load() -> RelayLoad:
        peers, sessions = relay.load()
        return RelayLoad(peers, capacity, tuple(sessions), time.process_time())

    return load


class RelayRegistry:
    """The relay processes and session placements of a deployment, kept in Redis."""

    def __init__(
        self,
        redis: Any,
        *,
        dead_after: float = DEAD_AFTER_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._dead_after = dead_after
        self._clock = clock

    async def close(self) -> None:
        """Close the Redis connection."""
        await self._redis.aclose()

    async def heartbeat(
        self,
        relay_id: str,
        url: str,
        peers: int,
        max_peers: int,
        *,
        sessions: int = 0,
        cpu_s: float = 0.0,
    ) -> None:
        """Report a relay alive with its current load."""
        info = RelayInfo(relay_id, url, peers, max_peers, self._clock(), sessions, cpu_s)
        await self._redis.hset(RELAYS_KEY, relay_id, info.to_json())

    async def host(self, relay_id: str, session_ids: list[str]) -> None:
        """Record the sessions a relay carries that have no placement (lost with Redis, say).

        Never moves a placed session: a relay that comes back after being declared dead must
        not pull back sessions that were meanwhile placed on another relay.
        """
        for session_id in session_ids:
            await self._redis.hsetnx(PLACEMENT_KEY, session_id, relay_id)

    async def leave(self, relay_id: str) -> None:
        """Remove a relay that shuts down cleanly."""
        await self._redis.hdel(RELAYS_KEY, relay_id)

    async def _entries(self) -> dict[str, tuple[bytes, RelayInfo]]:
        entries = {}
        for raw in (await self._redis.hgetall(RELAYS_KEY)).values():
            try:
                info = RelayInfo.from_json(raw)
            except (ValueError, KeyError, TypeError):
                continue
            entries[info.id] = (raw, info)
        return entries

    def _alive(self, info: RelayInfo) -> bool:
        return self._clock() - info.seen_at <= self._dead_after

    async def live(self) -> list[RelayInfo]:
        """Return the live relays, least loaded first."""
        relays = [info for _, info in (await self._entries()).values() if self._alive(info)]
        return sorted(relays, key=lambda r: (r.load, r.peers, r.id))

    async def place(self, session_id: str) -> RelayInfo | None:
        """Return the relay of a session, placing it on the least-loaded live relay if needed.

        Least loaded means the smallest share of capacity in use, then the fewest sessions
        placed on it (sessions placed a moment ago have no peers yet), then the id.
        """
        live = await self.live()
        by_id = {r.id: r for r in live}
        current = await self._redis.hget(PLACEMENT_KEY, session_id)
        current_id = current.decode() if isinstance(current, bytes) else current
        if current_id in by_id:
            return by_id[current_id]
        if not live:
            return None
        placed = await self._placed_counts()
        best = min(live, key=lambda r: (r.load, placed.get(r.id, 0), r.id))
        chosen = await self._redis.eval(
            _COMPARE_AND_SET, 1, PLACEMENT_KEY, session_id, current_id or "", best.id
        )
        chosen_id = chosen.decode() if isinstance(chosen, bytes) else chosen
        return by_id.get(chosen_id) or await self.place(session_id)

    async def _placed_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for value in (await self._redis.hgetall(PLACEMENT_KEY)).values():
            relay_id = value.decode() if isinstance(value, bytes) else value
            counts[relay_id] = counts.get(relay_id, 0) + 1
        return counts

    async def forget(self, session_id: str) -> None:
        """Drop an ended session's placement."""
        await self._redis.hdel(PLACEMENT_KEY, session_id)

    async def sessions_on(self, relay_id: str) -> list[str]:
        """Return the sessions placed on a relay."""
        placements = await self._redis.hgetall(PLACEMENT_KEY)
        return sorted(
            k.decode() if isinstance(k, bytes) else k
            for k, v in placements.items()
            if (v.decode() if isinstance(v, bytes) else v) == relay_id
        )

    async def sweep(self) -> list[tuple[RelayInfo, list[str]]]:
        """Remove relays not heard from in time; return each with the sessions it carried.

        Only the caller whose compare-and-delete succeeds gets a dead relay back, so across all
        nodes each death is reported once.
        """
        lost = []
        for raw, info in (await self._entries()).values():
            if self._alive(info):
                continue
            if not await self._redis.eval(_COMPARE_AND_DELETE, 1, RELAYS_KEY, info.id, raw):
                continue  # another node took it, or it came back
            sessions = await self.sessions_on(info.id)
            if sessions:
                await self._redis.hdel(PLACEMENT_KEY, *sessions)
            log.warning("Relay %s is dead; %d session(s) lose media", info.id, len(sessions))
            lost.append((info, sessions))
        return lost


class ForgetOnEnd:
    """A media lifecycle that also frees an ended session's placement in the registry."""

    def __init__(self, inner: MediaLifecycle, registry: RelayRegistry) -> None:
        self._inner = inner
        self._registry = registry

    async def drop(self, member_id: str) -> None:
        """Disconnect one member's media."""
        await self._inner.drop(member_id)

    async def end(self, session_id: str) -> None:
        """Disconnect a session's media and forget where it was placed."""
        await self._inner.end(session_id)
        try:
            await self._registry.forget(session_id)
        except Exception as exc:  # Redis down: a stale entry only weighs on the next choice
            log.warning("Placement not freed (%s)", type(exc).__name__)


class RelayMonitor:
    """Keep this process's relay (if any) in the registry; report the sessions of dead relays."""

    def __init__(
        self,
        registry: RelayRegistry,
        relay_id: str,
        url: str,
        load: Callable[[], RelayLoad] | None,
        on_lost: Callable[[str, RelayInfo], Awaitable[None]],
        *,
        heartbeat_s: float = HEARTBEAT_S,
        sweep_s: float = SWEEP_S,
    ) -> None:
        self.registry = registry
        self.relay_id = relay_id
        self._url = url
        self._load = load
        self._on_lost = on_lost
        self._heartbeat_s = heartbeat_s
        self._sweep_s = sweep_s
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start reporting (when this process has a relay) and sweeping."""
        self._tasks = [
            asyncio.create_task(self._every(self._sweep_s, self._sweep), name="relay-sweep")
        ]
        if self._load is not None:
            beat = self._every(self._heartbeat_s, self._beat)
            self._tasks.append(asyncio.create_task(beat, name="relay-beat"))

    async def stop(self, *, leave: bool = True) -> None:
        """Stop; with ``leave``, take this relay out of the registry at once."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if leave and self._load is not None:
            with contextlib.suppress(Exception):
                await self.registry.leave(self.relay_id)

    async def _beat(self) -> None:
        if self._load is None:
            return
        load = self._load()
        await self.registry.heartbeat(
            self.relay_id,
            self._url,
            load.peers,
            load.capacity,
            sessions=len(load.sessions),
            cpu_s=load.cpu_s,
        )
        await self.registry.host(self.relay_id, list(load.sessions))

    async def _sweep(self) -> None:
        for info, sessions in await self.registry.sweep():
            for session_id in sessions:
                await self._on_lost(session_id, info)

    async def _every(self, interval: float, action: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await action()
            except Exception as exc:  # Redis down: try again next round
                log.warning("Relay registry unreachable (%s)", type(exc).__name__)
            await asyncio.sleep(interval)

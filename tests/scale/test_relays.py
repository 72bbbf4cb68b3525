"""Relay placement: least-loaded choice, one answer under a race, dead relays found in time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from redis import asyncio as aioredis

from server.scale.relays import (
    DEAD_AFTER_S,
    SWEEP_S,
    RelayInfo,
    RelayLoad,
    RelayMonitor,
    RelayRegistry,
)
from tests.harness import FakeClock, some
from tests.store.services import PrivateRedis


@pytest.fixture
async def redis_client(redis: PrivateRedis) -> AsyncIterator[aioredis.Redis]:
    """A client of the test's private Redis."""
    client = aioredis.Redis.from_url(redis.url)
    yield client
    await client.aclose()


async def test_new_sessions_go_to_the_least_loaded_live_relay(
    redis_client: aioredis.Redis,
) -> None:
    """Placement picks the relay with the smallest share of its capacity, and then sticks."""
    clock = FakeClock()
    registry = RelayRegistry(redis_client, clock=clock)
    await registry.heartbeat("r1", "https://n1", peers=30, max_peers=50)
    await registry.heartbeat("r2", "https://n2", peers=10, max_peers=50)
    placed = await registry.place("s1")
    assert placed is not None and placed.id == "r2"
    await registry.heartbeat("r2", "https://n2", peers=45, max_peers=50)
    assert some(await registry.place("s1")).id == "r2"
    assert some(await registry.place("s2")).id == "r1"


async def test_nodes_placing_at_once_agree(redis_client: aioredis.Redis) -> None:
    """Many nodes placing the same session at the same moment get the same relay."""
    registry = RelayRegistry(redis_client)
    await registry.heartbeat("r1", "https://n1", peers=0, max_peers=50)
    await registry.heartbeat("r2", "https://n2", peers=0, max_peers=50)
    others = [RelayRegistry(redis_client) for _ in range(8)]
    answers = await asyncio.gather(*(r.place("s1") for r in (registry, *others)))
    assert len({a.id for a in answers if a is not None}) == 1


async def test_a_dead_relay_is_reported_once_and_its_sessions_move(
    redis_client: aioredis.Redis,
) -> None:
    """A relay silent for too long is removed by exactly one sweeper, with its sessions."""
    clock = FakeClock()
    sweepers = [RelayRegistry(redis_client, clock=clock) for _ in range(3)]
    registry = sweepers[0]
    await registry.heartbeat("r1", "https://n1", peers=5, max_peers=50)
    await registry.heartbeat("r2", "https://n2", peers=9, max_peers=50)
    await registry.host("r1", ["s1", "s2"])
    clock.advance(DEAD_AFTER_S - 1)
    await registry.heartbeat("r2", "https://n2", peers=9, max_peers=50)
    assert await asyncio.gather(*(s.sweep() for s in sweepers)) == [[], [], []]
    clock.advance(2)  # r1 silent for longer than DEAD_AFTER_S; r2 heard 2 s ago
    results = await asyncio.gather(*(s.sweep() for s in sweepers))
    reported = [entry for result in results for entry in result]
    assert len(reported) == 1
    info, sessions = reported[0]
    assert isinstance(info, RelayInfo) and info.id == "r1" and sessions == ["s1", "s2"]
    assert [r.id for r in await registry.live()] == ["r2"]
    assert some(await registry.place("s1")).id == "r2"


async def test_facilitators_are_told_within_ten_seconds_of_a_relay_dying(
    redis_client: aioredis.Redis,
) -> None:
    """Two relays report themselves; one stops without leaving; the other node reports it."""
    told: asyncio.Queue[tuple[str, str, float]] = asyncio.Queue()

    async def on_lost(session_id: str, relay: RelayInfo) -> None:
        told.put_nowait((session_id, relay.id, time.monotonic()))

    dying = RelayMonitor(
        RelayRegistry(redis_client),
        "r-dying",
        "https://n1",
        lambda: RelayLoad(2, 50, ("s-media",)),
        on_lost,
        heartbeat_s=0.5,
    )
    survivor = RelayMonitor(
        RelayRegistry(redis_client),
        "r-survivor",
        "https://n2",
        lambda: RelayLoad(0, 50),
        on_lost,
        heartbeat_s=0.5,
        sweep_s=SWEEP_S,
    )
    await dying.start()
    await survivor.start()
    try:
        async with asyncio.timeout(5):
            while await survivor.registry.sessions_on("r-dying") != ["s-media"]:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        await dying.stop(leave=False)  # a crash: no goodbye
        died = time.monotonic()
        session_id, relay_id, at = await asyncio.wait_for(told.get(), 12)
        assert (session_id, relay_id) == ("s-media", "r-dying")
        assert at - died < 10.0
        assert told.empty()
    finally:
        await survivor.stop()


async def test_new_sessions_spread_over_idle_relays_and_ended_ones_are_forgotten(
    redis_client: aioredis.Redis,
) -> None:
    """With no peers anywhere yet, each new session goes to the relay with fewest sessions."""
    registry = RelayRegistry(redis_client)
    await registry.heartbeat("r1", "https://n1", peers=0, max_peers=50)
    await registry.heartbeat("r2", "https://n2", peers=0, max_peers=50)
    placed = [await registry.place(s) for s in ("s1", "s2", "s3", "s4")]
    assert sorted(p.id for p in placed if p is not None) == ["r1", "r1", "r2", "r2"]
    await registry.forget("s1")
    await registry.forget("s3")
    assert await registry.sessions_on("r1") == []
    assert await registry.sessions_on("r2") == ["s2", "s4"]


async def test_a_relay_coming_back_does_not_pull_sessions_back(
    redis_client: aioredis.Redis,
) -> None:
    """A relay's report of what it carries fills gaps but never moves a placed session."""
    registry = RelayRegistry(redis_client)
    await registry.heartbeat("r2", "https://n2", peers=0, max_peers=50)
    assert some(await registry.place("s1")).id == "r2"
    await registry.host("r1", ["s1", "s9"])
    assert await registry.sessions_on("r2") == ["s1"]
    assert await registry.sessions_on("r1") == ["s9"]

"""The pause gate across nodes: closed everywhere through Redis, and replayed from the log."""

from __future__ import annotations

import asyncio
from pathlib import Path

from server.config import Config
from server.scale.alert_feed import AlertFeed
from server.scale.gate import ClusterGate, cluster_gate
from server.scale.pubsub import JsonRedisManager
from server.store import NewEvent
from server.store.factory import make_store
from tests.harness import TIMEOUT
from tests.store.services import PrivateRedis


class RecordingGate:
    """A relay's gate that records what it was told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.changed = asyncio.Event()

    def pause(self, participant_id: str) -> None:
        """Record a pause."""
        self.calls.append(("pause", participant_id))
        self.changed.set()

    def resume(self, participant_id: str) -> None:
        """Record a resume."""
        self.calls.append(("resume", participant_id))
        self.changed.set()

    async def wait_for(self, count: int) -> None:
        """Wait until ``count`` calls were recorded."""
        async with asyncio.timeout(TIMEOUT):
            while len(self.calls) < count:
                self.changed.clear()
                await self.changed.wait()


def test_one_node_keeps_its_own_gate() -> None:
    """Without Redis the relay itself is the gate."""
    local = RecordingGate()
    assert cluster_gate("", local) is local


async def test_a_pause_on_one_node_closes_the_gate_on_the_others(redis: PrivateRedis) -> None:
    """Node A's pause closes A's gate at once and B's through Redis, in order with the resume."""
    local_a, local_b = RecordingGate(), RecordingGate()
    a, b = ClusterGate(local_a, redis.url), ClusterGate(local_b, redis.url)
    await a.start()
    await b.start()
    try:
        # Wait until B listens: Redis counts the subscribers of the channel.
        from redis import asyncio as aioredis

        raw = aioredis.Redis.from_url(redis.url)
        async with asyncio.timeout(TIMEOUT):
            while (await raw.pubsub_numsub("haven.gate"))[0][1] < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        await raw.aclose()
        a.pause("p_1")
        assert local_a.calls == [("pause", "p_1")]  # synchronous on the node that heard it
        a.resume("p_1")
        await local_b.wait_for(2)
        assert local_b.calls == [("pause", "p_1"), ("resume", "p_1")]
        assert local_a.calls == [("pause", "p_1"), ("resume", "p_1")]  # never echoed back
    finally:
        await a.stop()
        await b.stop()


async def test_logged_gate_changes_are_replayed_by_the_poll(tmp_path: Path) -> None:
    """A node that missed Redis re-applies gate.closed and gate.opened from the log, in order."""
    store = make_store(Config(data_dir=tmp_path))
    await store.open()
    local = RecordingGate()
    gate = ClusterGate(local, "redis://127.0.0.1:1/0")  # never started: the log is the only path
    feed = AlertFeed(store, None, JsonRedisManager("redis://127.0.0.1:1/0"), 1.0, gate)  # type: ignore[arg-type]
    await feed.start()
    await store.append(
        NewEvent("gate.closed", "svc", "s", payload={"participant": "p_1"}),
        NewEvent("gate.closed", "svc", "s", payload={"participant": "p_2"}),
        NewEvent("gate.opened", "svc", "s", payload={"participant": "p_1"}),
    )
    await feed.poll()
    await feed.stop()
    await store.close()
    assert local.calls == [("pause", "p_1"), ("pause", "p_2"), ("resume", "p_1")]

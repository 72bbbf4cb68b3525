"""The Redis client manager: JSON on the wire (never pickle) and one delivery per alert version."""

from __future__ import annotations

import asyncio
import json
import pickle
from pathlib import Path

from redis import asyncio as aioredis

from server.config import Config
from server.realtime import CONSOLE_NS
from server.scale.pubsub import CHANNEL, DeliveryLedger, JsonRedisManager, create_cluster_sio
from tests.harness import TIMEOUT
from tests.store.services import PrivateRedis


def _alert(progress: str = "raised", **extra: object) -> dict[str, object]:
    return {
        "alert_id": "al_1",
        "progress": progress,
        "escalated": False,
        "acknowledged_by": [],
        **extra,
    }


async def test_messages_between_nodes_are_json_not_pickle(
    redis: PrivateRedis, tmp_path: Path
) -> None:
    """What a node publishes on the Redis channel is a JSON object a subscriber can read."""
    sio = create_cluster_sio(Config(data_dir=tmp_path, redis_url=redis.url))
    assert isinstance(sio.manager, JsonRedisManager)
    assert sio.eio.transports == ["websocket"]
    raw = aioredis.Redis.from_url(redis.url)
    pubsub = raw.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(CHANNEL)
    await sio.emit("alert", _alert(), room="staff:s1", namespace=CONSOLE_NS)
    message = None
    async with asyncio.timeout(TIMEOUT):
        while message is None:
            message = await pubsub.get_message(timeout=1.0)
    data = message["data"]
    assert isinstance(data, bytes) and data.startswith(b"{") and not data.startswith(b"\x80")
    decoded = json.loads(data)
    assert decoded["method"] == "emit" and decoded["event"] == "alert"
    assert decoded["data"] == [_alert()] and decoded["room"] == "staff:s1"
    await pubsub.aclose()  # type: ignore[no-untyped-call]
    await raw.aclose()
    await sio.shutdown()


async def test_a_pickled_message_on_the_channel_is_ignored(redis: PrivateRedis) -> None:
    """A node never unpickles: a pickle on the channel is dropped and the next JSON one is read."""
    manager = JsonRedisManager(redis.url)
    listener = manager._listen()
    first = asyncio.ensure_future(listener.__anext__())
    raw = aioredis.Redis.from_url(redis.url)
    async with asyncio.timeout(TIMEOUT):
        # Redis's own subscriber count is the only sign that the listener has subscribed.
        while await raw.pubsub_numsub(CHANNEL) == [(CHANNEL.encode(), 0)]:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await raw.publish(CHANNEL, pickle.dumps({"method": "emit", "event": "evil"}))
        await raw.publish(CHANNEL, json.dumps({"method": "emit", "event": "fine"}))
        received = await first
    assert received == {"method": "emit", "event": "fine"}
    await listener.aclose()
    await raw.aclose()


def test_ledger_delivers_each_alert_version_once_and_never_goes_backwards() -> None:
    """The same version twice is dropped; an older one after a newer one is dropped too."""
    ledger = DeliveryLedger()
    assert ledger.admit("sid1", _alert())
    assert not ledger.admit("sid1", _alert())
    assert ledger.admit("sid2", _alert())  # another console gets its own copy
    acknowledged = _alert("acknowledged", acknowledged_by=["user:u1"])
    assert ledger.admit("sid1", acknowledged)
    assert not ledger.admit("sid1", _alert())  # the raise arriving late changes nothing
    assert not ledger.admit("sid1", acknowledged)
    assert ledger.known("sid1", "al_1") and not ledger.known("sid3", "al_1")

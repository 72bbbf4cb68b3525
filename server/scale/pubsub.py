"""socket.io across nodes: python-socketio's Redis manager, JSON only, with alert deduplication.

Every node publishes what it emits on one Redis channel and delivers what the others publish to
its own connections. Redis pub/sub is not a delivery guarantee (a publish that fails is dropped),
so alerts also reach consoles from the database (``AlertFeed``). This manager is the one place
both paths meet: it remembers, per console connection, which version of which alert it has
delivered, and drops anything already delivered or older than what the console already has.

Messages between nodes are JSON, never pickle: the manager encodes and decodes with the standard
``json`` module itself, whatever serializer the server object was given, and ignores anything on
the channel that is not a JSON object.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import AsyncGenerator
from typing import Any

import socketio

from server.config import Config
from server.store.chain import canonical_json
from server.web.security import origin_allowed

log = logging.getLogger(__name__)

CHANNEL = "haven.socketio"
ALERT_EVENTS = frozenset({"alert", "alert_update"})
PROGRESS_RANK = {"raised": 0, "delivered": 1, "acknowledged": 2, "resolved": 3}
LEDGER_TTL_S = 3600.0
LEDGER_PRUNE_S = 60.0
MAX_LISTEN_RETRY_S = 2.0
PUBLISH_BATCH = 100


def alert_version(message: dict[str, Any]) -> tuple[tuple[int, int, int], str]:
    """Return an alert message's rank (how far along it is) and a digest of its content."""
    rank = (
        PROGRESS_RANK.get(str(message.get("progress")), 0),
        int(bool(message.get("escalated"))),
        len(message.get("acknowledged_by") or ()),
    )
    return rank, hashlib.sha256(canonical_json(message)).hexdigest()[:32]


class DeliveryLedger:
    """Which version of which alert each local connection has been given."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], tuple[tuple[int, int, int], set[str], float]] = {}
        self._pruned_at = time.monotonic()

    def admit(self, sid: str, message: dict[str, Any]) -> bool:
        """Record a delivery; False if the connection already has this or a later version."""
        rank, digest = alert_version(message)
        return self.admit_version(sid, str(message.get("alert_id", "")), rank, digest)

    def admit_version(
        self, sid: str, alert_id: str, rank: tuple[int, int, int], digest: str
    ) -> bool:
        """``admit`` with the version already computed (once per message, not per connection)."""
        key = (sid, alert_id)
        now = time.monotonic()
        known = self._seen.get(key)
        if known is not None:
            best, digests, _ = known
            if digest in digests or rank < best:
                return False
            if rank > best:
                digests = set()
            digests.add(digest)
            self._seen[key] = (max(rank, best), digests, now)
            return True
        self._seen[key] = (rank, {digest}, now)
        if now - self._pruned_at > LEDGER_PRUNE_S:
            self._prune(now)
        return True

    def known(self, sid: str, alert_id: str) -> bool:
        """Tell whether this connection was given any version of the alert."""
        return (sid, alert_id) in self._seen

    def _prune(self, now: float) -> None:
        self._pruned_at = now
        for key, (_, _, at) in list(self._seen.items()):
            if now - at > LEDGER_TTL_S:
                del self._seen[key]


class JsonRedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    """The Redis client manager, forced to JSON, that never gives a console an alert twice."""

    name = "haven-redis"

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        super().__init__(
            url,
            channel=channel,
            json=json,
            redis_options={"socket_connect_timeout": 2, "health_check_interval": 10},
        )
        self.ledger = DeliveryLedger()
        self.connected: bool = False
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None

    def set_server(self, server: Any) -> None:
        """Attach to the server but keep the standard JSON module for the channel."""
        super().set_server(server)
        self.json = json

    async def _publish(self, data: Any) -> None:
        """Queue one message for the other nodes; emits never wait for Redis.

        One sender task publishes the queue in order, everything waiting at once in a single
        pipelined round trip, so a burst of emits costs a trip or two to Redis, not one each.
        """
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_queued(), name="haven-redis-publisher")
        self._queue.put_nowait(json.dumps(data, separators=(",", ":")))
        # Let the sender take it now: an alert must not wait for the rest of the handler that
        # raised it (what is emitted meanwhile goes in the next batch).
        await asyncio.sleep(0)

    async def close(self) -> None:
        """Stop the sender task (what is still queued is dropped, as a failed publish is)."""
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)
            self._sender = None

    async def _send_queued(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < PUBLISH_BATCH:
                batch.append(self._queue.get_nowait())
            for attempt in (1, 2):
                try:
                    if not self.connected:
                        self._redis_connect()
                    pipe = self.redis.pipeline(transaction=False)
                    for payload in batch:
                        pipe.publish(self.channel, payload)
                    await pipe.execute()
                    break
                except Exception as exc:  # any failure means: not published
                    self.connected = False
                    if attempt == 2:
                        log.warning(
                            "Redis publish failed (%s); %d message(s) dropped, the alert poll"
                            " covers alerts",
                            type(exc).__name__,
                            len(batch),
                        )

    async def _redis_listen_with_retries(self) -> AsyncGenerator[Any, None]:
        """Listen on the channel, reconnecting every ``MAX_LISTEN_RETRY_S`` at most."""
        subscribed = False
        while True:
            try:
                if not subscribed:
                    self._redis_connect()
                    await self.pubsub.subscribe(self.channel)
                    subscribed = True
                    log.info("Listening for other nodes on Redis")
                async for message in self.pubsub.listen():
                    yield message
            except Exception as exc:  # reconnect whatever went wrong
                log.warning("Redis unreachable (%s); retrying", type(exc).__name__)
                subscribed = False
                await asyncio.sleep(MAX_LISTEN_RETRY_S)

    async def _listen(self) -> AsyncGenerator[Any, None]:
        """Yield each message from another node as a dict decoded from JSON; drop the rest."""
        channel = self.channel.encode()
        async for message in self._redis_listen_with_retries():
            if message.get("channel") != channel or message.get("type") != "message":
                continue
            try:
                data = json.loads(message["data"])
            except (ValueError, TypeError, UnicodeDecodeError):
                log.warning("Ignored a message on the socket.io channel that is not JSON")
                continue
            if isinstance(data, dict):
                yield data

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Emit; to one connection of this node, deliver here without publishing.

        A connection lives on exactly one node, so publishing an emit addressed to a local one
        (an alert replayed to a console as it connects, an acknowledgement) would only make
        every other node decode a message it has nobody to deliver to.
        """
        target = to or room
        ns = namespace or "/"
        if isinstance(target, str) and not kwargs.get("ignore_queue") and self._local(target, ns):
            if event in ALERT_EVENTS and isinstance(data, dict) and "alert_id" in data:
                await self.deliver_alert(event, data, namespace=ns, room=target)
                return None
            return await socketio.AsyncManager.emit(
                self,
                event,
                data,
                namespace=ns,
                room=target,
                skip_sid=skip_sid,
                callback=callback,
            )
        return await super().emit(
            event,
            data,
            namespace=namespace,
            room=room,
            skip_sid=skip_sid,
            callback=callback,
            to=to,
            **kwargs,
        )

    def _local(self, sid: str, namespace: str) -> bool:
        return bool(self.is_connected(sid, namespace) or self.is_pre_connected(sid, namespace))

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        """Deliver an emit on this node; alerts go only to connections that lack that version."""
        data = message.get("data")
        alert = data[0] if isinstance(data, list) and len(data) == 1 else None
        if message.get("event") in ALERT_EVENTS and isinstance(alert, dict) and "alert_id" in alert:
            await self.deliver_alert(
                str(message["event"]),
                alert,
                namespace=message.get("namespace") or "/",
                room=message.get("room"),
                skip_sid=message.get("skip_sid"),
            )
            return
        await super()._handle_emit(message)

    async def deliver_alert(
        self,
        event: str,
        message: dict[str, Any],
        *,
        namespace: str,
        room: Any,
        skip_sid: Any = None,
    ) -> int:
        """Emit an alert to this node's connections in ``room`` that lack it; return how many."""
        skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
        alert_id = str(message.get("alert_id", ""))
        rank, digest = alert_version(message)
        targets = [
            sid
            for sid, _ in list(self.get_participants(namespace, room))
            if sid not in skip and self.ledger.admit_version(sid, alert_id, rank, digest)
        ]
        if targets:  # one emit over all of them: the packet is encoded once
            await socketio.AsyncManager.emit(
                self, event, message, namespace=namespace, room=targets
            )
        return len(targets)


def create_cluster_sio(config: Config) -> socketio.AsyncServer:
    """Create the socket.io server for several nodes: Redis manager, WebSocket transport only.

    Long-polling needs every request of a connection to reach the same node; with WebSocket
    only, one connection is one TCP stream, so a load balancer needs no sticky sessions.
    """

    def allow(origin: str | None, environ: dict[str, Any]) -> bool:
        return origin_allowed(config, origin, environ.get("HTTP_HOST"))

    return socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=JsonRedisManager(config.redis_url),
        transports=["websocket"],
        cors_allowed_origins=allow,
        max_http_buffer_size=config.max_message_bytes,
        logger=False,
        engineio_logger=False,
    )

"""The pause gate across nodes: a pause taken on one node closes the gate on every node's relay.

A client's signal may reach any node (a socket on one, a beacon through the load balancer to
another), while its media flows through the relay of the node its page is connected to. The
gate therefore closes locally at once, as on one machine, and every other node is told through
Redis in the same instant; the database poll (``AlertFeed``) replays ``gate.closed`` and
``gate.opened`` from the log as the backstop when Redis is down. Closing and opening are
idempotent, so hearing the same instruction twice is harmless.

The same channel carries the waiting room's media instructions (``drop`` a removed member,
``end`` a session): the node that removes someone may not be the process whose relay carries
their media. A process without a relay (role ``signal``) only sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from typing import Any, Literal

from server.safety import Gate
from server.sessions import MediaLifecycle

log = logging.getLogger(__name__)

GATE_CHANNEL = "haven.gate"
Action = Literal["pause", "resume", "drop", "end"]
RETRY_S = 1.0


class ClusterGate:
    """A gate that closes on this node now and on the others through Redis pub/sub (JSON)."""

    def __init__(self, local: Gate, redis_url: str, media: MediaLifecycle | None = None) -> None:
        self.local = local
        self.media = media
        self._url = redis_url
        self.node_id = secrets.token_hex(8)
        self._outbox: asyncio.Queue[dict[str, str]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._pending: set[asyncio.Task[None]] = set()
        self.applied_remote = 0

    def pause(self, participant_id: str) -> None:
        """Close the gate here at once, and tell the other nodes."""
        self.local.pause(participant_id)
        self._send("pause", participant_id)

    def resume(self, participant_id: str) -> None:
        """Open the gate here, and tell the other nodes."""
        self.local.resume(participant_id)
        self._send("resume", participant_id)

    async def drop(self, member_id: str) -> None:
        """Disconnect one member's media here, and on whichever relay carries it."""
        if self.media is not None:
            await self.media.drop(member_id)
        self._send("drop", member_id)

    async def end(self, session_id: str) -> None:
        """Disconnect a whole session's media here, and on whichever relay carries it."""
        if self.media is not None:
            await self.media.end(session_id)
        self._send("end", session_id)

    def apply(self, action: str, target: str) -> None:
        """Apply an instruction from another node (or from the log) to this node's relay."""
        if action == "pause":
            self.local.pause(target)
        elif action == "resume":
            self.local.resume(target)
        elif action in ("drop", "end") and self.media is not None:
            lifecycle = self.media.drop if action == "drop" else self.media.end
            task = asyncio.create_task(lifecycle(target))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    def _send(self, action: Action, target: str) -> None:
        if self._outbox is not None:
            self._outbox.put_nowait({"node": self.node_id, "action": action, "participant": target})

    async def start(self) -> None:
        """Start publishing this node's instructions and applying the others'."""
        self._outbox = asyncio.Queue()
        self._tasks = [
            asyncio.create_task(self._publisher(self._outbox), name="haven-gate-publisher"),
            asyncio.create_task(self._listener(), name="haven-gate-listener"),
        ]

    async def stop(self) -> None:
        """Stop both tasks."""
        self._outbox = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await asyncio.gather(*self._pending, return_exceptions=True)

    def _client(self) -> Any:
        from redis import asyncio as aioredis

        return aioredis.Redis.from_url(self._url, socket_connect_timeout=2)

    async def _publisher(self, outbox: asyncio.Queue[dict[str, str]]) -> None:
        client = self._client()
        try:
            while True:  # one sender, so instructions leave in the order they were given
                message = await outbox.get()
                try:
                    await client.publish(GATE_CHANNEL, json.dumps(message))
                except Exception as exc:  # the log replays it on every node within a second
                    log.warning("Gate instruction not published (%s)", type(exc).__name__)
        finally:
            await client.aclose()

    async def _listener(self) -> None:
        while True:
            client = self._client()
            try:
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(GATE_CHANNEL)
                async for message in pubsub.listen():
                    self._received(message.get("data"))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # reconnect whatever went wrong
                log.warning("Gate channel unreachable (%s); retrying", type(exc).__name__)
            finally:
                await client.aclose()
            await asyncio.sleep(RETRY_S)

    def _received(self, raw: Any) -> None:
        try:
            message = json.loads(raw)
        except (TypeError, ValueError, UnicodeDecodeError):
            return
        if not isinstance(message, dict) or message.get("node") == self.node_id:
            return
        participant = message.get("participant")
        if isinstance(participant, str):
            self.apply(str(message.get("action")), participant)
            self.applied_remote += 1


def cluster_gate(redis_url: str, local: Gate, media: MediaLifecycle | None = None) -> Gate:
    """Return ``local`` on one node, or a gate shared through Redis when ``redis_url`` is set."""
    return ClusterGate(local, redis_url, media) if redis_url else local

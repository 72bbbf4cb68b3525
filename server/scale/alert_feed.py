"""The database behind the pub/sub push: each node polls the log for alert changes.

Redis pub/sub drops what it cannot deliver. Every change to an alert is an ``alert.*`` event in
the log, so each node reads the log from the last sequence number it has seen, about once a
second, and hands every changed alert to its own consoles through the manager's ledger, which
drops what Redis (or an earlier poll) already delivered. Logged gate changes, removals and
session ends are re-applied to this node's relay the same way, in case the Redis instruction
was lost. A database that
does not answer only delays the poll; the next one picks up from the same place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from server.errors import HavenError
from server.realtime import CONSOLE_NS
from server.safety import Safety
from server.scale.gate import ClusterGate
from server.scale.pubsub import JsonRedisManager
from server.store import Store, StoreError

log = logging.getLogger(__name__)

BATCH = 1000


class AlertFeed:
    """Poll the event log and push alert changes this node's consoles have not been given."""

    def __init__(
        self,
        store: Store,
        safety: Safety,
        manager: JsonRedisManager,
        interval: float = 1.0,
        gate: ClusterGate | None = None,
    ) -> None:
        self._store = store
        self._gate = gate
        self._safety = safety
        self._manager = manager
        self._interval = interval
        self._after = 0
        self._task: asyncio.Task[None] | None = None
        self.polls = 0

    async def start(self) -> None:
        """Start polling from the log's current head (older open alerts replay on connect)."""
        self._after = await self._store.head_seq()
        self._task = asyncio.create_task(self._run(), name="haven-alert-feed")

    async def stop(self) -> None:
        """Stop polling."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.poll()
            except (HavenError, StoreError, OSError) as exc:
                log.warning("Alert poll skipped: %s", type(exc).__name__)
            except Exception:
                log.exception("Alert poll failed")

    async def poll(self) -> int:
        """Read the log since the last poll and push changed alerts; return how many pushes."""
        pushed = 0
        while True:
            events = await self._store.events(after_seq=self._after, limit=BATCH)
            changed: dict[str, None] = {}
            for event in events:
                self._replay_gate(event.type, event.payload.get("participant"))
                self._replay_media(event.type, event.payload.get("participant"), event.session_id)
                alert_id = event.payload.get("alert")
                if event.type.startswith("alert.") and isinstance(alert_id, str):
                    changed[alert_id] = None
            for alert_id in changed:
                pushed += await self._push(alert_id)
            if events:
                self._after = events[-1].seq
            self.polls += 1
            if len(events) < BATCH:
                return pushed

    def _replay_gate(self, event_type: str, participant: object) -> None:
        """Re-apply a logged gate change on this node's relay, in log order (idempotent)."""
        if self._gate is None or not isinstance(participant, str):
            return
        if event_type == "gate.closed":
            self._gate.apply("pause", participant)
        elif event_type == "gate.opened":
            self._gate.apply("resume", participant)

    def _replay_media(self, event_type: str, participant: object, session_id: str) -> None:
        """Re-apply a logged removal or session end to this node's relay (idempotent)."""
        if self._gate is None:
            return
        if event_type in ("participant.removed", "participant.denied"):
            if isinstance(participant, str):
                self._gate.apply("drop", participant)
        elif event_type == "session.ended" and session_id:
            self._gate.apply("end", session_id)

    async def _push(self, alert_id: str) -> int:
        alert = await self._store.alert(alert_id)
        if alert is None:
            return 0
        message = await self._safety.alert_message(alert)
        session = await self._store.session(alert.session_id)
        # The same audience as Safety's own emit: the session's staff room, its facilitators'
        # consoles wherever they are looking, and the leads on duty.
        rooms = [f"staff:{alert.session_id}", f"leads:{alert.service_id}"]
        rooms += [f"u:{user_id}" for user_id in (session.facilitator_ids if session else ())]
        pushed = 0
        for sid, _ in list(self._manager.get_participants(CONSOLE_NS, rooms)):
            event = "alert_update" if self._manager.ledger.known(sid, alert.id) else "alert"
            pushed += await self._manager.deliver_alert(
                event, message, namespace=CONSOLE_NS, room=sid
            )
        return pushed

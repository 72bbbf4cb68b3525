"""The Relay: owns every peer connection, forwards media and enforces the pause gate."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer, RTCSessionDescription

from .aiortc_hooks import check_aiortc, filter_ice_checks
from .errors import RelayError
from .forwarding import Context, Source
from .media import encode_blank_video
from .peer import Peer
from .sdp_filter import Section, filter_offer, is_public_address
from .settings import RelaySettings

logger = logging.getLogger(__name__)

BLANK_TICK = 0.02
"""Seconds between blank audio frames (one Opus frame); video blanks are sent every fifth."""

RenegotiateCallback = Callable[[str, str], Awaitable[None]]
PeerStateCallback = Callable[[str, str, str], Awaitable[None]]


class Relay:
    """A selective-forwarding relay for VP8 + Opus with a server-enforced pause gate."""

    def __init__(
        self,
        settings: RelaySettings,
        *,
        on_renegotiate: RenegotiateCallback | None = None,
        on_peer_state: PeerStateCallback | None = None,
    ) -> None:
        """Create an idle relay; no I/O happens until the first offer."""
        check_aiortc()
        self._settings = settings
        self._on_renegotiate = on_renegotiate
        self._on_peer_state = on_peer_state
        # aiortc 1.16 mis-bundles a second m-line of one kind under the default "balanced"
        # policy (it keeps a transport that is then stopped); max-bundle avoids that.
        self._config = RTCConfiguration(
            iceServers=[RTCIceServer(**server) for server in settings.ice_servers],
            bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
        )
        self._paused: set[str] = set()
        self._listeners: dict[str, Callable[[bytes, int], None]] = {}
        self._peers: dict[str, Peer] = {}
        self._sessions: dict[str, list[str]] = {}
        self._tasks: set[asyncio.Future[None]] = set()
        self._blanker: asyncio.Future[None] | None = None
        self._blank_wake = asyncio.Event()
        self._closed = False
        self._ctx = Context(
            paused=self._paused,
            listeners=self._listeners,
            blank=encode_blank_video(),
            max_bitrate_bps=settings.max_bitrate_bps,
            spawn=self._spawn,
        )
        self._ctx.wake_blanker = self._wake_blanker

    # -- negotiation -------------------------------------------------------------------------

    async def offer(self, session_id: str, participant_id: str, sdp: str) -> str:
        """Apply a participant's offer (first or renegotiation) and return the answer SDP."""
        if self._closed:
            raise RelayError("The relay is shutting down.")
        settings = self._settings
        filtered = filter_offer(
            sdp,
            max_bytes=settings.max_sdp_bytes,
            max_sections=settings.max_media_sections,
            allow_private_candidates=settings.allow_private_candidates,
        )
        peer = self._peers.get(participant_id)
        first = peer is None
        if peer is None:
            peer = self._admit(session_id, participant_id)
        elif peer.session_id != session_id:
            raise RelayError("This participant is already connected to another session.")
        if peer.busy or peer.pc.signalingState != "stable":
            raise RelayError("An offer from this participant is already being handled.")
        peer.busy = True
        try:
            answer = await self._negotiate(peer, filtered.sdp, filtered.sections)
        except RelayError:
            if first or peer.pc.signalingState != "stable":
                # A half-applied negotiation cannot be rolled back in aiortc: start over.
                await self.remove(participant_id)
            raise
        finally:
            peer.busy = False
        if peer.renegotiate_pending:
            peer.renegotiate_pending = False
            self._ask_to_renegotiate(peer)
        return answer

    def _admit(self, session_id: str, participant_id: str) -> Peer:
        """Create a peer for a new participant, enforcing the node and session caps."""
        if len(self._peers) >= self._settings.max_peers:
            raise RelayError("The relay is full at the moment; please try again later.")
        members = self._sessions.get(session_id, [])
        if len(members) >= self._settings.max_per_session:
            raise RelayError("This session already has as many participants as it allows.")
        peer = Peer(self._ctx, session_id, participant_id, self._config)
        self._peers[participant_id] = peer
        self._sessions.setdefault(session_id, []).append(participant_id)
        peer.timer = asyncio.get_running_loop().call_later(
            self._settings.connect_timeout, self._on_connect_timeout, peer
        )
        peer.pc.on("connectionstatechange", lambda: self._on_state(peer))
        logger.debug("peer %s admitted to session %s", participant_id, session_id)
        return peer

    async def _negotiate(self, peer: Peer, sdp: str, sections: tuple[Section, ...]) -> str:
        """Run one offer/answer exchange on ``peer``."""
        try:
            await peer.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as exc:
            logger.debug("offer rejected by aiortc: %r", exc)
            raise RelayError("The offer could not be used by the relay.") from exc
        if self._peers.get(peer.participant_id) is not peer:
            raise RelayError("The participant was removed while the offer was handled.")
        if not self._settings.allow_private_candidates:
            filter_ice_checks(peer.pc, is_public_address)
        sources_changed = peer.apply_sections(sections)
        peer.assign_slots(self._wanted_sources(peer))
        peer.refresh()
        try:
            answer = await peer.pc.createAnswer()
            await peer.pc.setLocalDescription(answer)
        except Exception as exc:
            logger.debug("answer failed: %r", exc)
            raise RelayError("The relay could not answer the offer.") from exc
        if sources_changed:
            self._renegotiate_others(peer)
        return str(peer.pc.localDescription.sdp)

    def _wanted_sources(self, peer: Peer) -> list[Source]:
        """Return every other participant's tracks in the session, in joining order."""
        wanted: list[Source] = []
        for pid in self._sessions.get(peer.session_id, []):
            other = self._peers.get(pid)
            if other is None or other is peer:
                continue
            wanted.extend(other.sources[k] for k in ("audio", "video") if k in other.sources)
        return wanted

    def _renegotiate_others(self, peer: Peer) -> None:
        """Ask every other participant of the peer's session to send a fresh offer."""
        for pid in self._sessions.get(peer.session_id, []):
            other = self._peers.get(pid)
            if other is not None and other is not peer:
                self._ask_to_renegotiate(other)

    def _ask_to_renegotiate(self, peer: Peer) -> None:
        """Call on_renegotiate for ``peer`` now, or after its offer in progress."""
        if peer.busy:
            peer.renegotiate_pending = True
        elif self._on_renegotiate is not None:
            self._spawn(self._on_renegotiate(peer.session_id, peer.participant_id))

    # -- the gate ----------------------------------------------------------------------------

    def pause(self, participant_id: str) -> None:
        """Close the gate now: none of their media reaches anyone, nobody's media reaches them."""
        if participant_id in self._paused:
            return
        self._paused.add(participant_id)
        peer = self._peers.get(participant_id)
        if peer is not None:
            peer.refresh()
        logger.debug("gate closed for %s", participant_id)

    def resume(self, participant_id: str) -> None:
        """Open the gate: forwarding restarts on fresh keyframes, numbering continuous."""
        if participant_id not in self._paused:
            return
        self._paused.discard(participant_id)
        peer = self._peers.get(participant_id)
        if peer is not None:
            peer.refresh()
        logger.debug("gate opened for %s", participant_id)

    def is_paused(self, participant_id: str) -> bool:
        """Whether the participant's gate is closed."""
        return participant_id in self._paused

    def set_audio_listener(
        self, participant_id: str, listener: Callable[[bytes, int], None] | None
    ) -> None:
        """Receive this participant's inbound Opus payloads (payload, RTP timestamp), or stop."""
        if listener is None:
            self._listeners.pop(participant_id, None)
        else:
            self._listeners[participant_id] = listener

    def _wake_blanker(self) -> None:
        """Send blank media now and keep sending it while any slot is blanked."""
        self._blank_wake.set()
        if self._blanker is None and not self._closed:
            with contextlib.suppress(RuntimeError):
                self._blanker = asyncio.get_running_loop().create_task(self._run_blanker())

    async def _run_blanker(self) -> None:
        """Feed every blanked slot black VP8 and Opus silence until none is left."""
        try:
            while self._ctx.blanking:
                self._blank_wake.clear()
                now = time.monotonic()
                for slot in list(self._ctx.blanking):
                    await slot.send_blank(now)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._blank_wake.wait(), BLANK_TICK)
        finally:
            self._blanker = None

    # -- lifecycle ---------------------------------------------------------------------------

    def _on_state(self, peer: Peer) -> None:
        """React to a peer connection's state: free failed peers, report to the callback."""
        state = peer.pc.connectionState
        if state == "connected" and peer.timer is not None:
            peer.timer.cancel()
            peer.timer = None
            peer.connected = True
        if self._peers.get(peer.participant_id) is not peer:
            return
        if state == "failed":
            self._spawn(self.remove(peer.participant_id))
        self._report_state(peer, state)

    def _on_connect_timeout(self, peer: Peer) -> None:
        """Free a peer that did not complete ICE and DTLS in time."""
        peer.timer = None
        if self._peers.get(peer.participant_id) is peer and not peer.connected:
            logger.info("freeing a peer that did not connect within the timeout")
            self._spawn(self.remove(peer.participant_id))
            self._report_state(peer, "failed")

    def _report_state(self, peer: Peer, state: str) -> None:
        """Pass a peer state to on_peer_state."""
        if self._on_peer_state is not None:
            self._spawn(self._on_peer_state(peer.session_id, peer.participant_id, state))

    async def remove(self, participant_id: str) -> None:
        """Disconnect a participant and ask the others to renegotiate (idempotent)."""
        peer = self._peers.pop(participant_id, None)
        if peer is None:
            return
        members = self._sessions.get(peer.session_id, [])
        if participant_id in members:
            members.remove(participant_id)
        if not members:
            self._sessions.pop(peer.session_id, None)
        peer.detach()
        if not self._closed:
            self._renegotiate_others(peer)
        await peer.pc.close()
        logger.debug("peer %s removed", participant_id)

    async def end_session(self, session_id: str) -> None:
        """Disconnect everyone in the session and forget their state (idempotent)."""
        members = list(self._sessions.pop(session_id, []))
        for pid in members:
            peer = self._peers.pop(pid, None)
            if peer is not None:
                peer.detach()
                await peer.pc.close()
            self._paused.discard(pid)
            self._listeners.pop(pid, None)

    async def close(self) -> None:
        """Disconnect everyone and stop every task the relay started (idempotent)."""
        self._closed = True
        for session_id in list(self._sessions):
            await self.end_session(session_id)
        if self._blanker is not None:
            self._blanker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._blanker
        while self._tasks:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._paused.clear()
        self._listeners.clear()

    def _spawn(self, coro: Awaitable[None]) -> None:
        """Run a coroutine as a task the relay owns and cancels on close."""
        task: asyncio.Future[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Future[None]) -> None:
        """Forget a finished task and log its failure."""
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("relay task failed", exc_info=task.exception())

    # -- statistics --------------------------------------------------------------------------

    def load(self) -> tuple[int, tuple[str, ...]]:
        """Return the number of peer connections and the ids of sessions with anyone connected."""
        return len(self._peers), tuple(s for s, members in self._sessions.items() if members)

    def decoders(self) -> int:
        """Return how many sources are being decoded for transcoded legs (0 when all forward)."""
        return len(self._ctx.transcoders)

    def stats(self, session_id: str) -> dict[str, dict[str, float]]:
        """Return per-participant bitrate in/out (bps), loss (0-1), RTT (ms) and transcoded legs."""
        result: dict[str, dict[str, float]] = {}
        now = time.monotonic()
        for pid in self._sessions.get(session_id, []):
            peer = self._peers.get(pid)
            if peer is None:
                continue
            result[pid] = _peer_stats(peer, now)
        return result


def _peer_stats(peer: Peer, now: float) -> dict[str, float]:
    """Compute one participant's figures since the previous call."""
    ep = peer.endpoint
    mark = peer.stats_mark or (peer.created, 0, 0)
    elapsed = max(1e-3, now - mark[0])
    peer.stats_mark = (now, ep.bytes_in, ep.bytes_out)
    expected = lost = 0
    for source in peer.sources.values():
        e, lo = source.hook.loss()
        expected += e
        lost += lo
    rtts = [r for slot in peer.slots.values() if (r := slot.sender.rtt()) is not None]
    return {
        "bitrate_in_bps": 8 * (ep.bytes_in - mark[1]) / elapsed,
        "bitrate_out_bps": 8 * (ep.bytes_out - mark[2]) / elapsed,
        "packet_loss": lost / expected if expected else 0.0,
        "rtt_ms": 1000 * sum(rtts) / len(rtts) if rtts else -1.0,
        "paused": 1.0 if ep.participant_id in peer.ctx.paused else 0.0,
        "connected": 1.0 if peer.connected else 0.0,
        "transcoded_legs": float(peer.transcoded_legs()),
    }

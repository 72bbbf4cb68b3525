"""One participant's peer connection to the relay: its sources and its consumer slots."""

from __future__ import annotations

import asyncio
import logging
import time

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpTransceiver

from .aiortc_hooks import ParkedTrack, check_transceiver, first_payload_type, set_msid
from .forwarding import Context, Endpoint, Slot, Source
from .sdp_filter import Section

logger = logging.getLogger(__name__)


class Peer:
    """A participant's RTCPeerConnection, the tracks it sends and the m-lines it receives on."""

    def __init__(
        self, ctx: Context, session_id: str, participant_id: str, config: RTCConfiguration
    ) -> None:
        """Create the (not yet negotiated) peer connection."""
        self.ctx = ctx
        self.session_id = session_id
        self.endpoint = Endpoint(participant_id)
        self.pc = RTCPeerConnection(config)
        self.sources: dict[str, Source] = {}
        self.slots: dict[str, Slot] = {}
        self.busy = False
        self.renegotiate_pending = False
        self.created = time.monotonic()
        self.connected = False
        self.timer: asyncio.TimerHandle | None = None
        self.stats_mark: tuple[float, int, int] | None = None

    @property
    def participant_id(self) -> str:
        """The participant this connection belongs to."""
        return self.endpoint.participant_id

    def apply_sections(self, sections: tuple[Section, ...]) -> bool:
        """Map the offer's m-lines to sources and slots; return whether the sources changed."""
        by_mid = {t.mid: t for t in self.pc.getTransceivers()}
        before = {kind: src.receiver for kind, src in self.sources.items()}
        sending: dict[str, RTCRtpTransceiver] = {}
        for section in sections:
            transceiver = by_mid.get(section.mid)
            if transceiver is None:
                continue
            check_transceiver(transceiver)
            if section.sends or not section.receives:
                transceiver.direction = "recvonly"
                self._drop_slot(section.mid)
                if section.sends:
                    sending[section.kind] = transceiver
            else:
                self._ensure_slot(section, transceiver)
        for kind in ("audio", "video"):
            transceiver = sending.get(kind)
            current = self.sources.get(kind)
            if transceiver is None:
                if current is not None:
                    self._drop_source(kind)
            elif current is None or current.receiver is not transceiver.receiver:
                if current is not None:
                    self._drop_source(kind)
                self.sources[kind] = Source(self.ctx, self.endpoint, kind, transceiver.receiver)
        after = {kind: src.receiver for kind, src in self.sources.items()}
        return before != after

    def _ensure_slot(self, section: Section, transceiver: RTCRtpTransceiver) -> None:
        """Create the consumer slot for a recvonly m-line, or follow a change of its codec."""
        slot = self.slots.get(section.mid)
        if slot is not None:
            if slot.codec != section.codec:
                slot.assign(None, 0)  # assign_slots feeds it again, through the right path
                slot.set_codec(section.codec)
            return
        transceiver.sender.replaceTrack(ParkedTrack(section.kind))
        self.slots[section.mid] = Slot(
            self.ctx, self.endpoint, section.kind, section.mid, transceiver.sender, section.codec
        )

    def _drop_slot(self, mid: str) -> None:
        """Forget a slot whose m-line no longer receives."""
        slot = self.slots.pop(mid, None)
        if slot is not None:
            slot.assign(None, 0)

    def _drop_source(self, kind: str) -> None:
        """Stop forwarding a track this participant no longer sends."""
        source = self.sources.pop(kind)
        for slot in source.consumers():
            slot.assign(None, 0)

    def assign_slots(self, wanted: list[Source]) -> None:
        """Feed free slots from ``wanted`` sources (in order), keeping existing assignments."""
        by_mid = {t.mid: t for t in self.pc.getTransceivers()}
        wanted_ids = {id(s) for s in wanted}
        fed = set()
        for slot in self.slots.values():
            if slot.source is not None and id(slot.source) not in wanted_ids:
                slot.assign(None, 0)
            elif slot.source is not None:
                fed.add(id(slot.source))
        free = [s for s in self.slots.values() if s.source is None]
        for source in wanted:
            if id(source) in fed:
                continue
            match = next((s for s in free if s.kind == source.kind), None)
            if match is None:
                logger.debug("no free %s slot for a source", source.kind)
                continue
            free.remove(match)
            match.assign(source, 0)
        for mid, slot in self.slots.items():
            transceiver = by_mid[mid]
            if slot.source is None:
                transceiver.direction = "recvonly"
                continue
            transceiver.direction = "sendonly"
            slot.payload_type = first_payload_type(transceiver)
            owner = slot.source.owner.participant_id
            set_msid(transceiver.sender, owner, f"{owner}-{slot.kind}")

    def transcoded_legs(self) -> int:
        """Return how many of the tracks this participant receives are transcoded for it."""
        return sum(1 for slot in self.slots.values() if slot.transcoder is not None)

    def detach(self) -> None:
        """Unhook every slot and source so nothing forwards to or from this peer."""
        for mid in list(self.slots):
            self._drop_slot(mid)
        for kind in list(self.sources):
            self._drop_source(kind)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def refresh(self) -> None:
        """Recompute the gates of this peer's slots and of every slot fed by its sources."""
        for slot in self.slots.values():
            slot.refresh()
        for source in self.sources.values():
            for slot in source.consumers():
                slot.refresh()

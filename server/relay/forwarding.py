"""Sources (a participant's inbound track) and slots (a consumer's outbound m-line)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.rtp import RtpPacket

from .aiortc_hooks import ForwardingSender, SourceReceiver
from .media import (
    OPUS_SILENCE,
    BlankMedia,
    BlankPayloads,
    encode_blank_h264,
    is_h264_keyframe,
    is_vp8_keyframe,
    vp8_payloads,
)
from .sequencing import OutStream
from .transcoding import Transcoder

logger = logging.getLogger(__name__)

CLOCK_RATES = {"audio": 48000, "video": 90000}
KEYFRAME_INTERVAL = 0.25
"""Least time between two keyframe requests sent upstream to one source."""
REMB_INTERVAL = 1.0
"""How often a source is told the bitrate its consumers can take."""
AUDIO_CAP_BPS = 256_000
BLANK_VIDEO_INTERVAL = 0.1
BLANK_KEYFRAME_INTERVAL = 1.0
SOURCE_CODECS = {"audio": "opus", "video": "vp8"}
"""What every source sends; a slot taking another codec is fed by a Transcoder."""
KEYFRAME_TESTS: dict[str, Callable[[bytes], bool]] = {
    "vp8": is_vp8_keyframe,
    "h264": is_h264_keyframe,
}


@dataclass
class Endpoint:
    """Per-participant traffic counters shared by its sources and slots."""

    participant_id: str
    bytes_in: int = 0
    bytes_out: int = 0
    packets_dropped: int = 0


@dataclass
class Context:
    """What sources and slots need from the relay that owns them."""

    paused: set[str]
    listeners: dict[str, Callable[[bytes, int], None]]
    blank: BlankMedia
    max_bitrate_bps: int
    spawn: Callable[[Awaitable[None]], None]
    blanking: set[Slot] = field(default_factory=set)
    wake_blanker: Callable[[], None] = lambda: None
    transcoders: set[Transcoder] = field(default_factory=set)
    blank_h264: BlankPayloads | None = None


class Source:
    """One participant's inbound audio or video track, fanned out to consumer slots."""

    def __init__(
        self, ctx: Context, owner: Endpoint, kind: str, receiver: RTCRtpReceiver
    ) -> None:
        """Hook ``receiver`` so every packet it parses is forwarded to this source's slots."""
        self.ctx = ctx
        self.owner = owner
        self.kind = kind
        self.receiver = receiver
        self.slots: list[Slot] = []
        self.transcoders: dict[str, Transcoder] = {}
        self.hook = SourceReceiver(receiver, kind, self._on_packet)
        self._last_keyframe_request = -1.0
        self._keyframe_pending = False
        self._last_remb = 0.0
        self._window_start = 0.0
        self._window_bytes = 0
        self._cap_bytes = (ctx.max_bitrate_bps if kind == "video" else AUDIO_CAP_BPS) // 8
        self._listener_failed = False

    async def _on_packet(self, packet: RtpPacket) -> None:
        """Count, police and fan out one packet from the source."""
        now = time.monotonic()
        size = len(packet.payload)
        self.owner.bytes_in += size
        if now - self._window_start >= 1.0:
            self._window_start = now
            self._window_bytes = 0
        self._window_bytes += size
        if self._window_bytes > 2 * self._cap_bytes:
            self.owner.packets_dropped += 1
            for slot in self.slots:
                slot.need_keyframe = self.kind == "video"
            for transcoder in self.transcoders.values():
                transcoder.skip_to_keyframe()
            return
        if self.kind == "audio":
            self._hear(packet)
        elif now - self._last_remb >= REMB_INTERVAL:
            self._last_remb = now
            self.ctx.spawn(self.hook.send_remb(self.bitrate_limit()))
        if self.owner.participant_id in self.ctx.paused:
            return
        for slot in self.slots:
            await slot.forward(packet, now)
        for transcoder in self.transcoders.values():
            transcoder.feed(packet)

    def consumers(self) -> list[Slot]:
        """Return every slot this source feeds, forwarded or transcoded."""
        slots = list(self.slots)
        for transcoder in self.transcoders.values():
            slots.extend(transcoder.slots)
        return slots

    def subscribe(self, slot: Slot) -> Transcoder | None:
        """Feed ``slot`` from now on; return the transcoder if its codec is not the source's."""
        if slot.codec == SOURCE_CODECS[self.kind]:
            self.slots.append(slot)
            return None
        transcoder = self.transcoders.get(slot.codec)
        if transcoder is None:
            if self.ctx.blank_h264 is None:
                self.ctx.blank_h264 = encode_blank_h264()
            transcoder = self.transcoders[slot.codec] = Transcoder(self, slot.codec)
            self.ctx.transcoders.add(transcoder)
            logger.info(
                "transcoding started for a source: VP8 -> %s (%d sources decoded on this relay)",
                slot.codec.upper(),
                len(self.ctx.transcoders),
            )
        transcoder.slots.append(slot)
        logger.info("transcoded leg started: VP8 -> %s", slot.codec.upper())
        logger.debug(
            "transcoded leg %s -> %s", self.owner.participant_id, slot.consumer.participant_id
        )
        return transcoder

    def unsubscribe(self, slot: Slot) -> None:
        """Stop feeding ``slot``; the last consumer of a transcoder tears it down."""
        if slot in self.slots:
            self.slots.remove(slot)
            return
        transcoder = slot.transcoder
        if transcoder is None or slot not in transcoder.slots:
            return
        transcoder.slots.remove(slot)
        if not transcoder.slots:
            transcoder.close()
            self.transcoders.pop(transcoder.codec, None)
            self.ctx.transcoders.discard(transcoder)
            logger.info("transcoding stopped for a source (%d left)", len(self.ctx.transcoders))

    def _hear(self, packet: RtpPacket) -> None:
        """Hand the Opus payload to this participant's audio listener, if any."""
        listener = self.ctx.listeners.get(self.owner.participant_id)
        if listener is None or not packet.payload:
            return
        try:
            listener(packet.payload, packet.timestamp)
        except Exception:
            if not self._listener_failed:
                logger.exception("audio listener failed; further failures are not logged")
            self._listener_failed = True

    def bitrate_limit(self) -> int:
        """Return the minimum of the consumers' estimates, capped by the configured maximum."""
        estimates = [s.remb for s in self.slots if s.remb is not None]
        return min([self.ctx.max_bitrate_bps, *estimates])

    def request_keyframe(self) -> None:
        """Ask the source for a keyframe, at most once per KEYFRAME_INTERVAL (later, not lost)."""
        if self.kind != "video" or self._keyframe_pending:
            return
        wait = self._last_keyframe_request + KEYFRAME_INTERVAL - time.monotonic()
        self._keyframe_pending = True
        self.ctx.spawn(self._send_keyframe_request(max(0.0, wait)))

    async def _send_keyframe_request(self, delay: float) -> None:
        """Send one PLI upstream after ``delay`` seconds."""
        if delay:
            await asyncio.sleep(delay)
        self._keyframe_pending = False
        self._last_keyframe_request = time.monotonic()
        await self.hook.request_keyframe()


class Slot:
    """One recvonly m-line of a consumer, fed by a source's packets or by blank media."""

    def __init__(
        self,
        ctx: Context,
        consumer: Endpoint,
        kind: str,
        mid: str,
        sender: RTCRtpSender,
        codec: str | None = None,
    ) -> None:
        """Wrap the consumer-side sender of this m-line, which takes ``codec`` (or the source's)."""
        self.ctx = ctx
        self.consumer = consumer
        self.kind = kind
        self.mid = mid
        self.codec = codec or SOURCE_CODECS[kind]
        self.transcoder: Transcoder | None = None
        self._is_keyframe = KEYFRAME_TESTS.get(self.codec, is_vp8_keyframe)
        self.sender = ForwardingSender(sender, mid, self._on_keyframe_request, self._on_remb)
        self.out = OutStream(CLOCK_RATES[kind])
        self.source: Source | None = None
        self.payload_type = 0
        self.mode = "off"
        self.need_keyframe = True
        self.remb: int | None = None
        self._blank_key_due = True
        self._next_blank = 0.0
        self._next_blank_key = 0.0
        self._picture_id = 0
        self.last_real_sent = 0.0
        self.first_blank_sent = 0.0

    def set_codec(self, codec: str) -> None:
        """Switch an unassigned slot to another codec (a renegotiated receive m-line)."""
        self.codec = codec
        self._is_keyframe = KEYFRAME_TESTS.get(codec, is_vp8_keyframe)

    def assign(self, source: Source | None, payload_type: int) -> None:
        """Feed this slot from ``source`` (None frees it)."""
        if self.source is source:
            self.payload_type = payload_type
            return
        if self.source is not None:
            self.source.unsubscribe(self)
            self.transcoder = None
        self.source = source
        self.payload_type = payload_type
        self.remb = None
        if source is not None:
            self.transcoder = source.subscribe(self)
        self.need_keyframe = True
        self.out.reanchor()  # a new source continues this slot's numbering
        self.refresh()

    def refresh(self) -> None:
        """Recompute the gate for this slot from the pause state of both ends."""
        paused = self.ctx.paused
        if self.source is None or self.consumer.participant_id in paused:
            mode = "off"
        elif self.source.owner.participant_id in paused:
            mode = "blank"
        else:
            mode = "forward"
        if mode == self.mode:
            return
        self.mode = mode
        if mode != "forward":
            self.sender.forget()
        if mode == "blank":
            self._blank_key_due = True
            self._next_blank = 0.0
            self.first_blank_sent = 0.0
            self.ctx.blanking.add(self)
            self.ctx.wake_blanker()
        else:
            self.ctx.blanking.discard(self)
        if mode == "forward":
            self.out.reanchor()
            self.need_keyframe = True
            if self.transcoder is not None:
                self.transcoder.resume_for(self)
            elif self.source is not None:
                self.source.request_keyframe()

    async def forward(self, packet: RtpPacket, now: float) -> None:
        """Rewrite and send one source packet if the gate is open."""
        if self.mode != "forward" or not self.sender.ready():
            return
        if self.need_keyframe and self.kind == "video":
            if not self._is_keyframe(packet.payload):
                if self.transcoder is not None:
                    self.transcoder.force_keyframe()
                elif self.source is not None:
                    self.source.request_keyframe()
                return
            self.need_keyframe = False
            self.out.reanchor()
        if not packet.payload:
            self.out.skip(packet.sequence_number)
            return
        mapped = self.out.rewrite(packet.sequence_number, packet.timestamp, now)
        if mapped is None:
            return
        out = RtpPacket(
            payload_type=self.payload_type,
            marker=packet.marker,
            sequence_number=mapped[0],
            timestamp=mapped[1],
            payload=packet.payload,
        )
        out.extensions.audio_level = packet.extensions.audio_level
        self.consumer.bytes_out += len(packet.payload)
        self.last_real_sent = time.perf_counter()
        await self.sender.send(out)

    async def send_blank(self, now: float) -> None:
        """Send the next blank frame (black VP8 or Opus silence) if one is due."""
        if self.mode != "blank" or not self.sender.ready():
            return
        if self.kind == "audio":
            payloads = [OPUS_SILENCE]
        elif self._blank_key_due or now >= self._next_blank_key:
            self._blank_key_due = False
            self._next_blank_key = now + BLANK_KEYFRAME_INTERVAL
            self._next_blank = now + BLANK_VIDEO_INTERVAL
            payloads = self._blank_video(key=True)
        elif now >= self._next_blank:
            self._next_blank = now + BLANK_VIDEO_INTERVAL
            payloads = self._blank_video(key=False)
        else:
            return
        seq, ts = self.out.own(now)
        for i, payload in enumerate(payloads):
            if i:
                seq = self.out.own(now)[0]
                self.out.last_ts = ts
            packet = RtpPacket(
                payload_type=self.payload_type,
                marker=int(i == len(payloads) - 1),
                sequence_number=seq,
                timestamp=ts,
                payload=payload,
            )
            self.consumer.bytes_out += len(payload)
            await self.sender.send(packet)
        if not self.first_blank_sent:
            self.first_blank_sent = time.perf_counter()

    def _blank_video(self, *, key: bool) -> list[bytes]:
        """Return the next black picture's payloads in this slot's codec."""
        h264 = self.ctx.blank_h264
        if self.codec == "h264" and h264 is not None:
            return list(h264.keyframe if key else h264.repeat)
        return self._vp8(self.ctx.blank.keyframe if key else self.ctx.blank.delta)

    def _vp8(self, frame: bytes) -> list[bytes]:
        """Packetise a blank VP8 frame with the next picture ID."""
        self._picture_id = (self._picture_id + 1) & 0x7FFF
        return vp8_payloads(frame, self._picture_id)

    def _on_keyframe_request(self) -> None:
        """Pass the consumer's PLI/FIR upstream, or answer it with a blank keyframe."""
        if self.mode == "blank":
            self._blank_key_due = True
            return
        if self.transcoder is not None:
            self.transcoder.force_keyframe()
        if self.source is not None:
            self.source.request_keyframe()

    def _on_remb(self, bitrate: int) -> None:
        """Remember the consumer's bandwidth estimate for its source."""
        self.remb = bitrate

"""The transcoding fallback: one source's VP8 decoded once, re-encoded for consumers that need it.

Only a consumer whose receive-only video m-line cannot take VP8 gets a transcoded leg; every other
consumer stays on the forwarding path.  A Transcoder exists per (source, target codec) while at
least one such consumer is assigned to the source, and decodes only while one of them is
receiving real media.  Decoding and encoding run in one worker thread owned by the Transcoder,
shut down with it; frames are only held in memory.  Its output is plain RTP that the consumer
slots forward (and gate) exactly like a source's packets.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from aiortc.rtp import RtpPacket

from .aiortc_hooks import (
    EncodedFrame,
    FrameAssembler,
    set_encoder_bitrate,
    video_decoder,
    video_encoder,
)
from .media import is_vp8_keyframe

if TYPE_CHECKING:
    from .forwarding import Slot, Source

logger = logging.getLogger(__name__)

MAX_BACKLOG = 15
"""Encoded frames waiting for the worker before the backlog is dropped (half a second at 30 fps)."""
FORCE_INTERVAL = 0.25
"""Least time between two keyframes forced on the encoder."""
ENCODER_START_BPS = 1_000_000

Encoded = list[tuple[list[bytes], int]]
"""What the worker returns: per output picture, its RTP payloads and its RTP timestamp."""


class Transcoder:
    """Decodes one VP8 source and re-encodes it to one codec for that codec's consumer slots."""

    def __init__(self, source: Source, codec: str) -> None:
        """Start the worker thread and the task that hands its output to the slots."""
        self.source = source
        self.codec = codec
        self.slots: list[Slot] = []
        self.frames_in = 0
        self.frames_out = 0
        self._assembler = FrameAssembler("vp8")
        self._decoder = video_decoder("vp8")
        self._encoder = video_encoder(codec)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="haven-transcode")
        self._queue: deque[EncodedFrame] = deque()
        self._wake = asyncio.Event()
        self._need_keyframe = True
        self._force = True
        self._last_forced = -1.0
        self._seq = random.randrange(0, 1 << 16)
        self._closed = False
        self._task = asyncio.get_running_loop().create_task(self._run())

    def active(self) -> bool:
        """Whether any of its consumers currently receives real media (not blank, not off)."""
        return any(slot.mode == "forward" for slot in self.slots)

    def feed(self, packet: RtpPacket) -> None:
        """Take one VP8 packet from the source (called only while the source's gate is open)."""
        if not self.active():
            self._need_keyframe = True
            return
        if self._need_keyframe:
            if not is_vp8_keyframe(packet.payload):
                self.source.request_keyframe()
                return
            self._need_keyframe = False
            self._assembler.reset()
            self._queue.clear()
        lost, frame = self._assembler.add(packet)
        if lost:
            self.source.request_keyframe()
        if frame is None:
            return
        self.frames_in += 1
        self._queue.append(frame)
        if len(self._queue) > MAX_BACKLOG:
            logger.debug("transcoder behind by %d frames; restarting on a keyframe", MAX_BACKLOG)
            self.restart()
        self._wake.set()

    def resume_for(self, slot: Slot) -> None:
        """Give a consumer that starts receiving real media a keyframe; restart decoding if idle."""
        if not any(s.mode == "forward" for s in self.slots if s is not slot):
            self.restart()
        else:
            self._last_forced = -1.0
            self.force_keyframe()

    def skip_to_keyframe(self) -> None:
        """Decode nothing more until the source's next keyframe (its packets were dropped)."""
        self._need_keyframe = True

    def restart(self) -> None:
        """Drop what is buffered and start again on the source's next keyframe."""
        self._queue.clear()
        self._need_keyframe = True
        self.source.request_keyframe()
        self._last_forced = -1.0
        self.force_keyframe()

    def force_keyframe(self) -> None:
        """Make the encoder's next picture a keyframe (at most once per FORCE_INTERVAL)."""
        now = time.monotonic()
        if now - self._last_forced >= FORCE_INTERVAL:
            self._last_forced = now
            self._force = True

    async def _run(self) -> None:
        """Transcode queued frames in the worker, in order, and fan the output out to the slots."""
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue and not self._closed:
                frame = self._queue.popleft()
                force, self._force = self._force, False
                try:
                    encoded = await loop.run_in_executor(
                        self._executor, self._transcode, frame, force, self._bitrate()
                    )
                except Exception as exc:  # a corrupt frame from the source, or a codec error
                    logger.debug("transcoding a frame failed: %r", exc)
                    self.restart()
                    continue
                await self._send(encoded)

    def _transcode(self, frame: EncodedFrame, force: bool, bitrate: int) -> Encoded:
        """Decode one VP8 frame and encode what it yields (runs in the worker thread)."""
        set_encoder_bitrate(self._encoder, bitrate)
        out: Encoded = []
        for picture in self._decoder.decode(frame):
            payloads, timestamp = self._encoder.encode(picture, force)
            force = False
            if payloads:
                out.append((payloads, timestamp))
        return out

    def _bitrate(self) -> int:
        """Return the lowest estimate of its consumers, capped like the source's own bitrate."""
        estimates = [slot.remb for slot in self.slots if slot.remb is not None]
        return min([self.source.ctx.max_bitrate_bps, ENCODER_START_BPS, *estimates])

    async def _send(self, encoded: Encoded) -> None:
        """Packetize each picture into this transcoder's own RTP numbering and forward it."""
        for payloads, timestamp in encoded:
            self.frames_out += 1
            for i, payload in enumerate(payloads):
                packet = RtpPacket(
                    payload_type=0,
                    marker=int(i == len(payloads) - 1),
                    sequence_number=self._seq,
                    timestamp=timestamp,
                    payload=payload,
                )
                self._seq = (self._seq + 1) & 0xFFFF
                now = time.monotonic()
                for slot in list(self.slots):
                    await slot.forward(packet, now)

    def close(self) -> None:
        """Stop the task and the worker thread; frames in flight are discarded (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._queue.clear()
        self._task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)

"""aiortc peers that play the browsers against a Relay, and helpers to await what they see."""

from __future__ import annotations

import asyncio
import fractions
import math
import os
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import av
import pytest
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtcpPsfbPacket, unpack_remb_fci

from server.relay import Relay, RelaySettings
from server.relay.media import OPUS_SILENCE, black_frame, encode_blank_h264, encode_blank_video

TIMEOUT = float(os.environ.get("HAVEN_TEST_TIMEOUT", "1")) * 10
"""One scaled unit for every wait in these tests, so slow CI can stretch it."""

WIDTH, HEIGHT, FPS = 160, 120, 15
BLANK = encode_blank_video()
BLANK_H264 = encode_blank_h264()


class ToneTrack(MediaStreamTrack):
    """A 440 Hz tone, paced in real time, so real audio is distinguishable from silence."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._pts = 0
        self._start: float | None = None
        samples = [int(8000 * math.sin(2 * math.pi * 440 * i / 48000)) for i in range(960)]
        self._pcm = struct.pack(f"<{len(samples)}h", *samples)

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._pts / 48000 - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        frame = av.AudioFrame(format="s16", layout="mono", samples=960)
        frame.planes[0].update(self._pcm)
        frame.sample_rate = 48000
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, 48000)
        self._pts += 960
        return frame


class BrightTrack(MediaStreamTrack):
    """A bright grey picture, paced in real time, so real video is distinguishable from black."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._n = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._n / FPS - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        frame = black_frame(WIDTH, HEIGHT)
        frame.planes[0].update(bytes([200]) * frame.planes[0].buffer_size)
        frame.pts = self._n * (90000 // FPS)
        frame.time_base = fractions.Fraction(1, 90000)
        self._n += 1
        return frame


class Seen:
    """What one client receiver saw: packets (arrival time, is real media) and decoded frames."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.packets: list[tuple[float, bool]] = []
        self.seqs: list[tuple[int, bool]] = []
        self.raw: list[tuple[int, int, bytes]] = []
        self.frames: list[tuple[float, bool]] = []
        self.stream_id = ""
        self.ssrc = 0
        self.changed = asyncio.Event()

    def real_packets_after(self, t: float) -> int:
        """Count packets carrying real (non-blank) media that arrived after ``t``."""
        return sum(1 for at, real in self.packets if at > t and real)

    def first_blank_seq(self, t: float) -> int | None:
        """Return the sequence number of the first blank packet that arrived after ``t``."""
        for (at, real), (seq, _) in zip(self.packets, self.seqs, strict=True):
            if at > t and not real:
                return seq
        return None

    def real_packets_sent_after(self, seq: int) -> int:
        """Count real packets (retransmissions included) numbered after ``seq``: sent later."""
        return sum(1 for s, real in self.seqs if real and 0 < (s - seq) % 65536 < 32768)

    def packets_after(self, t: float) -> int:
        """Count packets of any kind that arrived after ``t``."""
        return sum(1 for at, _ in self.packets if at > t)

    def real_frames_after(self, t: float = 0.0) -> int:
        """Count decoded frames of real media (the picture or the tone) after ``t``."""
        return sum(1 for at, real in self.frames if real and at > t)

    def blank_frames_after(self, t: float = 0.0) -> int:
        """Count decoded black or silent frames after ``t``."""
        return sum(1 for at, real in self.frames if not real and at > t)

    def real_frames_after_first_blank(self, t: float) -> int:
        """Count real frames decoded after the first blank one since ``t``.

        Decoded frames trail the packets by the jitter buffer's depth, so on a loaded machine the
        last real frame can land just before the first blank one; order, not a time window, tells.
        """
        since = [real for at, real in self.frames if at > t]
        return sum(since[since.index(False) :]) if False in since else 0


class Answerer(Protocol):
    """What a ``Browser`` offers to: the relay itself, or a media socket in front of it."""

    async def offer(self, session_id: str, participant_id: str, sdp: str) -> str:
        """Return the answer to ``sdp``."""
        ...


class Browser:
    """An aiortc peer that negotiates with the relay the way Haven's web client must."""

    def __init__(
        self, relay: Answerer, session_id: str, participant_id: str, receive: str | None = None
    ) -> None:
        self.relay = relay
        self.receive = receive  # e.g. "video/H264": offer only that codec on recvonly video
        self.session_id = session_id
        self.participant_id = participant_id
        self.pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.audio_sender: Any = None
        self.video_sender: Any = None
        self.seen: dict[str, Seen] = {}
        self.pli_received = asyncio.Event()
        self.remb: list[int] = []
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)

    def add_media(self, *, audio: bool = True, video: bool = True) -> None:
        """Add this participant's own tracks as sendonly transceivers."""
        if audio:
            self.audio_sender = self.pc.addTransceiver(ToneTrack(), direction="sendonly").sender
        if video:
            self.video_sender = self.pc.addTransceiver(BrightTrack(), direction="sendonly").sender
            self._watch_pli(self.video_sender)

    def add_receivers(self, others: int) -> None:
        """Ensure one recvonly audio and video transceiver per other participant."""
        have = sum(1 for t in self.pc.getTransceivers() if t.direction == "recvonly")
        for _ in range(others - have // 2):
            self.pc.addTransceiver("audio", direction="recvonly")
            video = self.pc.addTransceiver("video", direction="recvonly")
            if self.receive:
                caps = RTCRtpReceiver.getCapabilities("video")
                assert caps is not None
                video.setCodecPreferences([c for c in caps.codecs if c.mimeType == self.receive])

    async def negotiate(self) -> str:
        """Offer to the relay and apply its answer; return the answer SDP."""
        async with self._lock:
            return await self._negotiate()

    async def _negotiate(self) -> str:
        if self.pc.signalingState == "closed":
            return ""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await self.relay.offer(
            self.session_id, self.participant_id, self.pc.localDescription.sdp
        )
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        for t in self.pc.getTransceivers():
            if t.mid is not None and t.direction == "recvonly" and not self._hooked(t.receiver):
                rtx_pts = {c.payloadType for c in t._codecs if c.name == "rtx"}
                self._watch_receiver(t.mid, t.kind, t.receiver, rtx_pts)
        return answer

    @staticmethod
    def _hooked(receiver: Any) -> bool:
        return getattr(receiver._handle_rtp_packet, "__name__", "") == "handle"

    def _watch_receiver(self, mid: str, kind: str, receiver: Any, rtx_pts: set[int | None]) -> None:
        """Record every RTP packet this receiver gets, before aiortc processes it."""
        seen = self.seen.setdefault(mid, Seen(kind))
        original = receiver._handle_rtp_packet

        async def handle(packet: Any, arrival_time_ms: int) -> None:
            seen.ssrc = packet.ssrc
            seen.packets.append((time.monotonic(), not _is_blank(kind, packet.payload)))
            seen.raw.append((packet.payload_type, packet.sequence_number, packet.payload[:32]))
            if packet.payload_type in rtx_pts:  # a retransmission: its original number
                real = len(packet.payload) > 2 and not _is_blank(kind, packet.payload[2:])
                seen.seqs.append((int.from_bytes(packet.payload[:2], "big"), real))
            else:
                seen.seqs.append((packet.sequence_number, seen.packets[-1][1]))
            seen.changed.set()
            await original(packet, arrival_time_ms)

        receiver._handle_rtp_packet = handle

    def _watch_pli(self, sender: Any) -> None:
        """Set ``pli_received`` when the relay sends this source a PLI or FIR."""
        original = sender._handle_rtcp_packet

        async def handle(packet: Any) -> None:
            if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (1, 4):
                self.pli_received.set()
            elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == 15:
                self.remb.append(unpack_remb_fci(packet.fci)[0])
            await original(packet)

        sender._handle_rtcp_packet = handle

    def _on_track(self, track: MediaStreamTrack) -> None:
        """Decode every incoming track and classify each frame as real or blank."""
        mid = next(t.mid for t in self.pc.getTransceivers() if t.receiver.track is track)
        assert mid is not None
        seen = self.seen.setdefault(mid, Seen(track.kind))
        self._tasks.append(asyncio.ensure_future(self._consume(seen, track)))

    async def _consume(self, seen: Seen, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                seen.frames.append((time.monotonic(), _is_real_frame(frame)))
                seen.changed.set()
        except MediaStreamError:
            pass

    def receiving(self) -> list[Seen]:
        """Return the Seen records of m-lines the relay actually answered with media."""
        mids = {
            t.mid
            for t in self.pc.getTransceivers()
            if t.currentDirection in ("recvonly", "sendrecv")
        }
        return [s for mid, s in self.seen.items() if mid in mids]

    def from_participant(self, participant_id: str) -> dict[str, Seen]:
        """Return the Seen records, by kind, of the m-lines carrying one participant."""
        result = {}
        remote = self.pc.remoteDescription.sdp
        for mid, seen in self.seen.items():
            if _msid_of(remote, mid).startswith(participant_id + " "):
                result[seen.kind] = seen
        return result

    async def close(self) -> None:
        """Close the peer connection and its frame consumers."""
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _msid_of(sdp: str, mid: str) -> str:
    """Return the a=msid value of the m-line with ``mid`` in ``sdp``."""
    section = ""
    for chunk in sdp.split("m=")[1:]:
        if f"a=mid:{mid}\r\n" in chunk:
            section = chunk
    for line in section.splitlines():
        if line.startswith("a=msid:"):
            return line[7:]
    return ""


def _is_blank(kind: str, payload: bytes) -> bool:
    """Whether an RTP payload is the relay's blank media."""
    if kind == "audio":
        return payload == OPUS_SILENCE
    return payload[4:] in (BLANK.keyframe, BLANK.delta) or payload in (
        BLANK_H264.keyframe + BLANK_H264.repeat
    )


def _is_real_frame(frame: Any) -> bool:
    """Whether a decoded frame is the bright test picture or the tone, not black or silence."""
    if isinstance(frame, av.VideoFrame):
        luma = bytes(frame.planes[0])
        return sum(luma) / len(luma) > 100
    samples: tuple[int, ...] = struct.unpack(
        f"<{len(bytes(frame.planes[0])) // 2}h", bytes(frame.planes[0])
    )
    return max(abs(s) for s in samples) > 1000


async def real_video_both_ways(
    a: Browser, a_id: str, b: Browser, b_id: str
) -> tuple[dict[str, Seen], dict[str, Seen]]:
    """Wait until each peer decodes real video from the other; return what b saw of a, a of b."""
    await wait_for(lambda: bool(b.from_participant(a_id)) and bool(a.from_participant(b_id)))
    from_a, from_b = b.from_participant(a_id), a.from_participant(b_id)
    await wait_for(lambda: any(real for _, real in from_a["video"].frames))
    await wait_for(lambda: any(real for _, real in from_b["video"].frames))
    return from_a, from_b


async def wait_for(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Poll-free wait: re-check ``predicate`` whenever any seen record changes."""
    deadline = time.monotonic() + timeout
    while not predicate():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(min(0.02, remaining))


class Room:
    """The signalling layer's stand-in: tracks browsers and re-offers when the relay asks."""

    def __init__(self) -> None:
        self.browsers: dict[str, Browser] = {}
        self.renegotiations: list[str] = []
        self.states: list[tuple[str, str]] = []

    async def on_renegotiate(self, session_id: str, participant_id: str) -> None:
        self.renegotiations.append(participant_id)
        b = self.browsers.get(participant_id)
        if b is not None:
            b.add_receivers(len(self.browsers) - 1)
            await b.negotiate()

    async def on_peer_state(self, session_id: str, participant_id: str, state: str) -> None:
        self.states.append((participant_id, state))


@pytest.fixture
def room() -> Room:
    """The stand-in for the signalling layer."""
    return Room()


@pytest.fixture
async def relay(room: Room) -> AsyncIterator[Relay]:
    """A relay with small limits wired to the room, closed after the test."""
    r = Relay(
        RelaySettings(ice_servers=(), max_peers=6, max_per_session=4, connect_timeout=5),
        on_renegotiate=room.on_renegotiate,
        on_peer_state=room.on_peer_state,
    )
    yield r
    await r.close()


class BrowserFactory(Protocol):
    """The ``browsers`` fixture: connect a new Browser ``pid`` to session "s1"."""

    def __call__(
        self, pid: str, audio: bool = True, video: bool = True, receive: str | None = None
    ) -> Awaitable[Browser]: ...


@pytest.fixture
async def browsers(relay: Relay, room: Room) -> AsyncIterator[BrowserFactory]:
    """A factory of connected Browsers in session "s1"; all are closed after the test."""

    async def make(
        pid: str, audio: bool = True, video: bool = True, receive: str | None = None
    ) -> Browser:
        b = Browser(relay, "s1", pid, receive)
        b.add_media(audio=audio, video=video)
        room.browsers[pid] = b
        b.add_receivers(len(room.browsers) - 1)
        await b.negotiate()
        return b

    yield make
    for b in list(room.browsers.values()):
        await b.close()

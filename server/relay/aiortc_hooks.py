"""Every use of aiortc 1.16.0 private internals, in one place, checked at start-up.

The relay forwards encoded RTP: it reads parsed packets out of an ``RTCRtpReceiver`` before the
jitter buffer and decoder, and writes rewritten packets through an ``RTCRtpSender``'s transport
while keeping the sender's NACK history and RTCP sender-report counters right.  The transcoding
fallback reuses aiortc's jitter buffer, depayloader, VP8 decoder and H.264 encoder outside a
receiver/sender.  None of that is public API, so ``check_aiortc`` asserts the exact names exist
and ``tests/relay/test_hooks.py`` fails loudly if an upgrade moves them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiortc
from aiortc import (
    MediaStreamTrack,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
)
from aiortc.codecs import depayload, get_decoder, get_encoder, is_rtx
from aiortc.codecs.base import Decoder, Encoder
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import NackGenerator, StreamStatistics
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTP_HISTORY_SIZE,
    RtcpPsfbPacket,
    RtpPacket,
    pack_remb_fci,
    unpack_remb_fci,
    unwrap_rtx,
)

logger = logging.getLogger(__name__)

AIORTC_VERSION = "1.16.0"
_NTP_OFFSET = 2_208_988_800
"""Seconds from the NTP epoch (1900) to the Unix epoch."""
_NTP_SCALE = 1 << 32

_SENDER_METHODS = ("_handle_rtcp_packet", "_retransmit", "send", "stop", "replaceTrack")
_SENDER_FIELDS = (
    "_RTCRtpSender__started",
    "_RTCRtpSender__rtp_history",
    "_RTCRtpSender__rtp_header_extensions_map",
    "_RTCRtpSender__packet_count",
    "_RTCRtpSender__octet_count",
    "_RTCRtpSender__ntp_timestamp",
    "_RTCRtpSender__rtp_timestamp",
    "_RTCRtpSender__rtt",
    "_ssrc",
    "_stream_id",
    "_track_id",
)
_RECEIVER_METHODS = (
    "_handle_rtp_packet",
    "_send_rtcp",
    "_send_rtcp_nack",
    "_send_rtcp_pli",
    "_RTCRtpReceiver__stop_decoder",
    "receive",
)
_RECEIVER_FIELDS = (
    "_RTCRtpReceiver__codecs",
    "_RTCRtpReceiver__rtx_ssrc",
    "_RTCRtpReceiver__remote_streams",
    "_RTCRtpReceiver__rtcp_ssrc",
    "_RTCRtpReceiver__decoder_thread",
    "_enabled",
)
_TRANSCEIVER_FIELDS = ("_codecs",)
_VIDEO_MIME = {"vp8": "video/VP8", "h264": "video/H264"}
"""The video codecs the transcoding fallback decodes from or encodes to, by the relay's name."""


class HookError(RuntimeError):
    """The installed aiortc does not have the internals the relay hooks into."""


def check_aiortc() -> None:
    """Raise HookError unless aiortc is the pinned version with the expected methods."""
    if aiortc.__version__ != AIORTC_VERSION:
        raise HookError(f"The relay needs aiortc {AIORTC_VERSION}, found {aiortc.__version__}.")
    _require(RTCRtpSender, _SENDER_METHODS)
    _require(RTCRtpReceiver, _RECEIVER_METHODS)
    _require(JitterBuffer, ("add", "remove"))
    for name in _VIDEO_MIME:
        _require(video_encoder(name), ("encode", "target_bitrate"))


def check_transceiver(transceiver: RTCRtpTransceiver) -> None:
    """Raise HookError unless a live transceiver has the private fields the relay uses."""
    _require(transceiver, _TRANSCEIVER_FIELDS)
    _require(transceiver.sender, _SENDER_FIELDS)
    _require(transceiver.receiver, _RECEIVER_FIELDS)
    _require(transceiver.receiver.transport.transport, ("_connection",))
    _require(transceiver.receiver.transport.transport._connection, ("request_received",))


def _require(obj: object, names: tuple[str, ...]) -> None:
    """Raise HookError naming the first attribute ``obj`` lacks."""
    for name in names:
        if not hasattr(obj, name):
            raise HookError(f"aiortc internals changed: {name} is missing.")


class ParkedTrack(MediaStreamTrack):
    """A track that never yields, so a sender's own RTP loop sleeps while the relay writes."""

    def __init__(self, kind: str) -> None:
        """Create a parked track of the given kind."""
        super().__init__()
        self.kind = kind

    async def recv(self) -> Any:
        """Wait forever; the sender task is cancelled when the sender stops."""
        await asyncio.get_running_loop().create_future()


def first_payload_type(transceiver: RTCRtpTransceiver) -> int:
    """Return the negotiated payload type of the transceiver's main (non-RTX) codec."""
    codecs: list[Any] = transceiver._codecs
    return int(next(c.payloadType for c in codecs if not is_rtx(c)))


def set_msid(sender: RTCRtpSender, stream_id: str, track_id: str) -> None:
    """Set the a=msid the next answer announces for this sender."""
    sender._stream_id = stream_id
    sender._track_id = track_id


class ForwardingSender:
    """Writes already-encoded RTP packets through an aiortc sender, keeping its NACK history."""

    __slots__ = ("_history", "_map", "_sender", "mid", "ssrc")

    def __init__(
        self,
        sender: RTCRtpSender,
        mid: str,
        on_keyframe_request: Callable[[], None],
        on_remb: Callable[[int], None],
    ) -> None:
        """Wrap ``sender`` and route its consumer's PLI/FIR and REMB to the callbacks."""
        self._sender = sender
        self.mid = mid
        self.ssrc: int = sender._ssrc
        self._history: dict[int, RtpPacket] = sender._RTCRtpSender__rtp_history  # type: ignore[attr-defined]
        self._map = sender._RTCRtpSender__rtp_header_extensions_map  # type: ignore[attr-defined]
        original = sender._handle_rtcp_packet

        async def handle_rtcp(packet: Any) -> None:
            if isinstance(packet, RtcpPsfbPacket):
                if packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
                    on_keyframe_request()
                    return
                if packet.fmt == RTCP_PSFB_APP:
                    with contextlib.suppress(ValueError):
                        on_remb(unpack_remb_fci(packet.fci)[0])
                    return
            await original(packet)

        sender._handle_rtcp_packet = handle_rtcp  # type: ignore[method-assign]

    def ready(self) -> bool:
        """Whether the sender has started and its DTLS transport is connected."""
        return bool(self._sender._RTCRtpSender__started) and (  # type: ignore[attr-defined]
            self._sender.transport.state == "connected"
        )

    async def send(self, packet: RtpPacket) -> None:
        """Send one rewritten packet and remember it for retransmission."""
        packet.ssrc = self.ssrc
        packet.extensions.mid = self.mid
        ntp = int((time.time() + _NTP_OFFSET) * _NTP_SCALE)
        packet.extensions.abs_send_time = (ntp >> 14) & 0x00FFFFFF
        self._history[packet.sequence_number % RTP_HISTORY_SIZE] = packet
        data = packet.serialize(self._map)
        sender = self._sender
        try:
            await sender.transport._send_rtp(data)
        except ConnectionError:
            return
        sender._RTCRtpSender__ntp_timestamp = ntp  # type: ignore[attr-defined]
        sender._RTCRtpSender__rtp_timestamp = packet.timestamp  # type: ignore[attr-defined]
        sender._RTCRtpSender__octet_count += len(packet.payload)  # type: ignore[attr-defined]
        sender._RTCRtpSender__packet_count += 1  # type: ignore[attr-defined]

    def forget(self) -> None:
        """Drop the retransmission history so a NACK can never resend media from before now."""
        self._history.clear()

    def rtt(self) -> float | None:
        """Return the round-trip time estimated from the consumer's receiver reports."""
        value: float | None = self._sender._RTCRtpSender__rtt  # type: ignore[attr-defined]
        return value


class SourceReceiver:
    """Takes parsed RTP out of an aiortc receiver before its jitter buffer and decoder."""

    __slots__ = ("_receiver", "last_ssrc", "stats")

    def __init__(
        self,
        receiver: RTCRtpReceiver,
        kind: str,
        on_packet: Callable[[RtpPacket], Awaitable[None]],
    ) -> None:
        """Install the hook on ``receiver``; packets go to ``on_packet`` in arrival order."""
        self._receiver = receiver
        self.last_ssrc = 0
        self.stats: dict[int, StreamStatistics] = receiver._RTCRtpReceiver__remote_streams  # type: ignore[attr-defined]
        codecs: dict[int, Any] = receiver._RTCRtpReceiver__codecs  # type: ignore[attr-defined]
        rtx_ssrc: dict[int, int] = receiver._RTCRtpReceiver__rtx_ssrc  # type: ignore[attr-defined]
        nack = NackGenerator() if kind == "video" else None
        streams = self.stats

        async def handle_rtp(packet: RtpPacket, arrival_time_ms: int) -> None:
            if not receiver._enabled:
                return
            codec = codecs.get(packet.payload_type)
            if codec is None:
                return
            stream = streams.get(packet.ssrc)
            if stream is None:
                stream = streams[packet.ssrc] = StreamStatistics(codec.clockRate)
            stream.add(packet)
            if is_rtx(codec):
                original_ssrc = rtx_ssrc.get(packet.ssrc)
                apt = codec.parameters.get("apt")
                if original_ssrc is None or len(packet.payload) < 2 or apt not in codecs:
                    return
                packet = unwrap_rtx(packet, payload_type=apt, ssrc=original_ssrc)
            if nack is not None and nack.add(packet):
                await receiver._send_rtcp_nack(packet.ssrc, sorted(nack.missing))
            self.last_ssrc = packet.ssrc
            await on_packet(packet)

        receiver._handle_rtp_packet = handle_rtp  # type: ignore[method-assign]
        original_receive = receiver.receive

        async def receive(parameters: Any) -> None:
            await original_receive(parameters)
            # The relay never decodes: stop the decoder thread aiortc started.
            receiver._RTCRtpReceiver__stop_decoder()  # type: ignore[attr-defined]

        receiver.receive = receive  # type: ignore[method-assign]

    async def request_keyframe(self) -> None:
        """Send a PLI for the source's current SSRC."""
        if self.last_ssrc:
            await self._receiver._send_rtcp_pli(self.last_ssrc)

    async def send_remb(self, bitrate: int) -> None:
        """Ask the source to stay at or below ``bitrate`` bits per second."""
        rtcp_ssrc = self._receiver._RTCRtpReceiver__rtcp_ssrc  # type: ignore[attr-defined]
        if rtcp_ssrc is None or not self.last_ssrc:
            return
        packet = RtcpPsfbPacket(
            fmt=RTCP_PSFB_APP,
            ssrc=rtcp_ssrc,
            media_ssrc=0,
            fci=pack_remb_fci(bitrate, [self.last_ssrc]),
        )
        await self._receiver._send_rtcp(packet)

    def loss(self) -> tuple[int, int]:
        """Return (packets expected, packets lost) across the source's SSRCs."""
        expected = lost = 0
        for stream in list(self.stats.values()):
            if stream.max_seq is None:
                continue
            expected += stream.packets_expected
            lost += max(0, stream.packets_expected - stream.packets_received)
        return expected, lost


def _video_codec(name: str) -> RTCRtpCodecParameters:
    """Return aiortc codec parameters for a video codec the relay knows by name."""
    return RTCRtpCodecParameters(mimeType=_VIDEO_MIME[name], clockRate=90000, payloadType=0)


EncodedFrame = JitterFrame
"""One whole encoded frame (``data``, ``timestamp``) as aiortc's decoders take it."""


def set_encoder_bitrate(encoder: Encoder, bitrate: int) -> None:
    """Set the bitrate an aiortc video encoder aims at (it reconfigures on a >10 % change)."""
    encoder.target_bitrate = bitrate  # type: ignore[attr-defined]


def video_decoder(name: str) -> Decoder:
    """Create aiortc's decoder for ``name`` ("vp8" or "h264"); it decodes whole frames."""
    return get_decoder(_video_codec(name))


def video_encoder(name: str) -> Encoder:
    """Create aiortc's encoder for ``name``; ``encode(frame, force)`` returns RTP payloads."""
    return get_encoder(_video_codec(name))


class FrameAssembler:
    """Reassembles a source's RTP packets into whole encoded frames with aiortc's jitter buffer."""

    __slots__ = ("_buffer", "_codec")

    def __init__(self, name: str) -> None:
        """Start empty, for the video codec ``name``."""
        self._codec = _video_codec(name)
        self._buffer = JitterBuffer(capacity=128, is_video=True)

    def reset(self) -> None:
        """Forget every buffered packet (the next frame must be a keyframe)."""
        self._buffer = JitterBuffer(capacity=128, is_video=True)

    def add(self, packet: RtpPacket) -> tuple[bool, EncodedFrame | None]:
        """Add a packet; return (packets were lost, the frame it completed if any)."""
        try:
            # aiortc's jitter buffer reads the depayloaded bytes from this attribute.
            packet._data = depayload(self._codec, packet.payload) if packet.payload else b""  # type: ignore[attr-defined]
        except ValueError:
            return True, None
        return self._buffer.add(packet)


def filter_ice_checks(pc: RTCPeerConnection, is_allowed: Callable[[str], bool]) -> None:
    """Ignore ICE checks from hosts ``is_allowed`` rejects, on every ICE transport of ``pc``."""
    for transceiver in pc.getTransceivers():
        filter_connection_checks(transceiver.receiver.transport.transport._connection, is_allowed)


def filter_connection_checks(connection: Any, is_allowed: Callable[[str], bool]) -> None:
    """Make an aioice Connection drop STUN requests from rejected hosts (idempotent).

    The offer's candidates are filtered already; this stops aioice from answering a check that
    arrives from such an address and learning it as a peer-reflexive candidate (RFC 8445 7.3.1.3),
    which the relay could otherwise nominate and send media to.
    """
    if getattr(connection, "_haven_filtered", False):
        return
    original = connection.request_received

    def request_received(message: Any, addr: tuple[str, int], protocol: Any) -> None:
        if not is_allowed(addr[0]):
            logger.debug("ignoring an ICE check from a non-public address")
            return
        original(message, addr, protocol)

    connection.request_received = request_received
    connection._haven_filtered = True

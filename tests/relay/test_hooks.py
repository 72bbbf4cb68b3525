"""The aiortc private internals the relay depends on: fail loudly if an upgrade moves them.

Their behaviour (NACKs answered from the history, PLI and REMB upstream) is tested in test_media.
"""

from __future__ import annotations

import fractions

import aiortc
import av
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.codecs.h264 import h264_depayload as depayload_h264
from aiortc.rtp import RtpPacket

from server.relay.aiortc_hooks import (
    AIORTC_VERSION,
    EncodedFrame,
    FrameAssembler,
    check_aiortc,
    check_transceiver,
    set_encoder_bitrate,
    video_decoder,
    video_encoder,
)
from server.relay.media import black_frame, is_h264_keyframe


def test_aiortc_is_the_pinned_version() -> None:
    """The relay is only known to work with the aiortc version its hooks were written for."""
    assert aiortc.__version__ == AIORTC_VERSION
    check_aiortc()


async def test_live_transceivers_have_the_private_fields_the_relay_uses() -> None:
    """A negotiated transceiver exposes every private attribute aiortc_hooks reads."""
    client, server = RTCPeerConnection(), RTCPeerConnection()
    client.addTransceiver("video", direction="recvonly")
    await client.setLocalDescription(await client.createOffer())
    await server.setRemoteDescription(
        RTCSessionDescription(sdp=client.localDescription.sdp, type="offer")
    )
    transceiver = server.getTransceivers()[0]
    check_transceiver(transceiver)
    assert isinstance(transceiver.sender._RTCRtpSender__rtp_history, dict)  # type: ignore[attr-defined]
    assert transceiver.receiver._RTCRtpReceiver__codecs == {}  # type: ignore[attr-defined]
    await client.close()
    await server.close()


def test_transcoding_pipeline_built_from_aiortc_codecs_round_trips() -> None:
    """VP8 RTP → aiortc jitter buffer → VP8 decoder → H.264 encoder → decodable H.264 keyframe."""
    vp8 = video_encoder("vp8")
    assembler = FrameAssembler("vp8")
    frames: list[EncodedFrame] = []
    seq = 100
    for n in range(3):
        picture = black_frame(160, 120)
        picture.pts, picture.time_base = n * 3000, fractions.Fraction(1, 90000)
        payloads, timestamp = vp8.encode(picture, n == 0)
        for i, payload in enumerate(payloads):
            packet = RtpPacket(
                sequence_number=seq, timestamp=timestamp, marker=int(i == len(payloads) - 1)
            )
            packet.payload = payload
            seq += 1
            lost, frame = assembler.add(packet)
            assert not lost
            if frame is not None:
                frames.append(frame)
    assert len(frames) == 2  # a frame completes when the next one starts
    decoded = video_decoder("vp8").decode(frames[0])
    assert decoded and isinstance(decoded[0], av.VideoFrame) and decoded[0].width == 160
    h264 = video_encoder("h264")
    set_encoder_bitrate(h264, 300_000)
    payloads, _ = h264.encode(decoded[0], True)
    assert is_h264_keyframe(payloads[0])
    data = b"".join(depayload_h264(p) for p in payloads)
    decoded = video_decoder("h264").decode(EncodedFrame(data, 0))
    assert isinstance(decoded[0], av.VideoFrame) and decoded[0].height == 120

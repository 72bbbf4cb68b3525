"""VP8/H.264 payload helpers and the pre-encoded black video and silent audio sent while paused."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import av

from .aiortc_hooks import video_encoder

OPUS_SILENCE = b"\xf8\xff\xfe"
"""One 20 ms Opus frame of silence (CELT, fullband), as WebRTC stacks send for DTX."""

_MAX_PAYLOAD = 1200
_H264_KEY_NALS = (5, 7)
"""H.264 NAL unit types that start a decodable picture: IDR slice, sequence parameter set."""


def is_vp8_keyframe(payload: bytes) -> bool:
    """Whether an RTP payload starts a VP8 keyframe (RFC 7741 descriptor, then P bit 0)."""
    if len(payload) < 2:
        return False
    first = payload[0]
    if not first & 0x10 or first & 0x07:
        return False
    pos = 1
    if first & 0x80:
        ext = payload[1]
        pos = 2
        if ext & 0x80:
            if len(payload) <= pos:
                return False
            pos += 2 if payload[pos] & 0x80 else 1
        if ext & 0x40:
            pos += 1
        if ext & 0x30:
            pos += 1
    return len(payload) > pos and not payload[pos] & 0x01


def is_h264_keyframe(payload: bytes) -> bool:
    """Whether an RTP payload starts an H.264 IDR picture or its SPS (RFC 6184 packetization 1)."""
    if not payload:
        return False
    nal = payload[0] & 0x1F
    if nal == 24:  # STAP-A: 16-bit size, then a NAL unit, repeated
        pos = 1
        while pos + 2 < len(payload):
            if payload[pos + 2] & 0x1F in _H264_KEY_NALS:
                return True
            pos += 2 + int.from_bytes(payload[pos : pos + 2], "big")
        return False
    if nal == 28:  # FU-A: the start fragment carries the original type
        return len(payload) > 1 and bool(payload[1] & 0x80) and payload[1] & 0x1F in _H264_KEY_NALS
    return nal in _H264_KEY_NALS


def vp8_payloads(frame: bytes, picture_id: int) -> list[bytes]:
    """Split one encoded VP8 frame into RTP payloads carrying a 15-bit picture ID."""
    pid = picture_id & 0x7FFF
    tail = bytes([0x80 | (pid >> 8), pid & 0xFF])
    payloads = []
    for pos in range(0, len(frame), _MAX_PAYLOAD):
        start = 0x90 if pos == 0 else 0x80
        payloads.append(bytes([start, 0x80]) + tail + frame[pos : pos + _MAX_PAYLOAD])
    return payloads


@dataclass(frozen=True)
class BlankMedia:
    """A black VP8 keyframe and the delta frame that repeats it, encoded once."""

    keyframe: bytes
    delta: bytes


def encode_blank_video(width: int = 320, height: int = 240) -> BlankMedia:
    """Encode a black keyframe and a no-change delta frame with libvpx."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width = width
    codec.height = height
    codec.pix_fmt = "yuv420p"
    codec.bit_rate = 200_000
    codec.time_base = Fraction(1, 30)
    codec.options = {"deadline": "realtime", "lag-in-frames": "0", "cpu-used": "8"}
    encoded: list[bytes] = []
    for pts in range(3):
        frame = black_frame(width, height)
        frame.pts = pts
        frame.time_base = Fraction(1, 30)
        encoded.append(b"".join(bytes(p) for p in codec.encode(frame)))
    encoded.append(b"".join(bytes(p) for p in codec.encode(None)))
    frames = [e for e in encoded if e]
    return BlankMedia(keyframe=frames[0], delta=frames[-1])


@dataclass(frozen=True)
class BlankPayloads:
    """Black pictures already packetized as RTP payloads: a keyframe, and a small repeat."""

    keyframe: tuple[bytes, ...]
    repeat: tuple[bytes, ...]


def encode_blank_h264(width: int = 320, height: int = 240) -> BlankPayloads:
    """Encode black H.264 IDR pictures with aiortc's encoder (every blank frame is an IDR)."""
    encoder = video_encoder("h264")
    pictures = []
    for pts in range(2):
        frame = black_frame(width, height)
        frame.pts = pts * 3000
        frame.time_base = Fraction(1, 90000)
        payloads, _ = encoder.encode(frame, True)
        pictures.append(tuple(payloads))
    # The first IDR carries the encoder's SEI banner; later ones are ~300 B.
    return BlankPayloads(keyframe=pictures[0], repeat=pictures[1])


def black_frame(width: int, height: int) -> av.VideoFrame:
    """Return a black yuv420p frame (luma 16, neutral chroma)."""
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane, value in zip(frame.planes, (16, 128, 128), strict=True):
        plane.update(bytes([value]) * plane.buffer_size)
    return frame

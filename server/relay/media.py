"""VP8 payload helpers and the pre-encoded black video and silent audio sent while paused."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import av

OPUS_SILENCE = b"\xf8\xff\xfe"
"""One 20 ms Opus frame of silence (CELT, fullband), as WebRTC stacks send for DTX."""

_MAX_PAYLOAD = 1200


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


def black_frame(width: int, height: int) -> av.VideoFrame:
    """Return a black yuv420p frame (luma 16, neutral chroma)."""
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane, value in zip(frame.planes, (16, 128, 128), strict=True):
        plane.update(bytes([value]) * plane.buffer_size)
    return frame

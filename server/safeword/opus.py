"""Opus RTP payloads to 16 kHz mono s16 audio, and WAV files to Opus packets or an aiortc track."""

from __future__ import annotations

import asyncio
import fractions
import logging
import wave
from dataclasses import dataclass
from pathlib import Path

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from server.safeword.spotter import SAMPLE_RATE

logger = logging.getLogger(__name__)

OPUS_RATE = 48000
"""RTP clock rate of Opus."""
PACKET_SAMPLES = 960
"""Samples per 20 ms Opus packet at 48 kHz."""


class OpusToPcm:
    """Decode one stream's Opus payloads and resample them to 16 kHz mono s16."""

    def __init__(self) -> None:
        """Create the decoder and resampler for one stream."""
        self._codec = av.CodecContext.create("opus", "r")
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)

    def decode(self, payload: bytes) -> bytes:
        """Return the 16 kHz audio in one Opus payload (empty if the payload is damaged)."""
        try:
            frames = self._codec.decode(av.Packet(payload))
        except av.error.FFmpegError:
            logger.debug("dropped an Opus payload that would not decode")
            return b""
        chunks = []
        for frame in frames:
            for out in self._resampler.resample(frame):
                chunks.append(bytes(out.planes[0])[: out.samples * 2])
        return b"".join(chunks)


@dataclass(frozen=True)
class OpusPacket:
    """One encoded 20 ms Opus packet with its RTP timestamp."""

    payload: bytes
    """The RTP payload."""
    rtp_timestamp: int
    """Timestamp in 48 kHz units."""


def read_wav(path: Path) -> tuple[bytes, int, int]:
    """Return (s16 samples, sample rate, channels) of a 16-bit PCM WAV file."""
    with wave.open(str(path), "rb") as file:
        if file.getsampwidth() != 2:
            raise ValueError(f"{path} is not 16-bit PCM.")
        return file.readframes(file.getnframes()), file.getframerate(), file.getnchannels()


def pcm_frames(pcm: bytes, rate: int, channels: int) -> list[av.AudioFrame]:
    """Cut s16 audio into 20 ms 48 kHz stereo frames, as a browser would send them."""
    layout = "mono" if channels == 1 else "stereo"
    source = av.AudioFrame(format="s16", layout=layout, samples=len(pcm) // (2 * channels))
    source.planes[0].update(pcm)
    source.sample_rate = rate
    resampler = av.AudioResampler(
        format="s16", layout="stereo", rate=OPUS_RATE, frame_size=PACKET_SAMPLES
    )
    frames = list(resampler.resample(source)) + list(resampler.resample(None))
    for index, frame in enumerate(frames):
        frame.pts = index * PACKET_SAMPLES
        frame.time_base = fractions.Fraction(1, OPUS_RATE)
    return frames


def encode_opus(pcm: bytes, rate: int, channels: int = 1, bitrate: int = 32000) -> list[OpusPacket]:
    """Encode s16 audio to 20 ms Opus packets with consecutive RTP timestamps."""
    codec = av.CodecContext.create("libopus", "w")
    codec.bit_rate = bitrate
    codec.format = "s16"
    codec.layout = "stereo"
    codec.sample_rate = OPUS_RATE
    codec.time_base = fractions.Fraction(1, OPUS_RATE)
    codec.options = {"application": "voip"}
    payloads: list[bytes] = []
    for frame in pcm_frames(pcm, rate, channels):
        payloads += [bytes(p) for p in codec.encode(frame)]
    payloads += [bytes(p) for p in codec.encode(None)]
    return [OpusPacket(p, i * PACKET_SAMPLES) for i, p in enumerate(payloads)]


def encode_wav(path: Path, bitrate: int = 32000) -> list[OpusPacket]:
    """Encode a 16-bit WAV file to Opus packets."""
    pcm, rate, channels = read_wav(path)
    return encode_opus(pcm, rate, channels, bitrate)


class WavAudioTrack(MediaStreamTrack):
    """An aiortc audio track playing a WAV file in real time, then silence until stopped."""

    kind = "audio"

    def __init__(self, path: Path, *, tail_seconds: float = 1.0) -> None:
        """Load the file; ``tail_seconds`` of silence follow it before the track ends."""
        super().__init__()
        pcm, rate, channels = read_wav(path)
        silence = b"\0" * (2 * channels * int(rate * tail_seconds))
        self._frames = pcm_frames(pcm + silence, rate, channels)
        self._index = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        """Return the next 20 ms frame at its real-time moment."""
        if self.readyState != "live" or self._index >= len(self._frames):
            self.stop()
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        due = self._start + self._index * PACKET_SAMPLES / OPUS_RATE
        await asyncio.sleep(max(0.0, due - loop.time()))
        frame = self._frames[self._index]
        self._index += 1
        return frame

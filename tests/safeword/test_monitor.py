"""A monitor fed a client's Opus packets reports their phrase, and nothing else, on the loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import pytest

from server.safeword.model import Pronunciations, SpeechModel
from server.safeword.monitor import SpokenMonitor
from server.safeword.opus import OPUS_RATE, OpusPacket, WavAudioTrack, encode_opus
from server.safeword.pool import SpottingPool
from server.safeword.spotter import SpotterRecipe, SpotterSettings

Speak = Callable[..., bytes]

THRESHOLD = -20.0
"""Well below these clean sentences' scores, well above the plain sentence's (none at -60)."""
WITH_PHRASE = "Yesterday I walked to the market with a blue umbrella and bought some bread."
WITHOUT_PHRASE = "Yesterday I walked to the market with a friend and bought some bread."
TIMEOUT = 20.0


@pytest.fixture
async def pool() -> AsyncIterator[SpottingPool]:
    """A spotting pool of two lanes with worker processes, closed after the test."""
    pool = SpottingPool(workers=2)
    yield pool
    pool.close()


def monitor_for(
    pool: SpottingPool, model: SpeechModel, pronunciations: Pronunciations
) -> tuple[SpokenMonitor, list[tuple[float, float]]]:
    recipe = SpotterRecipe.of(
        ["blue", "umbrella"], pronunciations, model, SpotterSettings(threshold=THRESHOLD)
    )
    detections: list[tuple[float, float]] = []
    monitor = SpokenMonitor(recipe, pool, lambda score, at: detections.append((score, at)))
    return monitor, detections


async def hear(monitor: SpokenMonitor, packets: Sequence[OpusPacket]) -> None:
    """Feed packets one by one, as the relay does, and wait until all of them are spotted."""
    for packet in packets:
        monitor.feed(packet.payload, packet.rtp_timestamp)
    await asyncio.wait_for(monitor.flush(), TIMEOUT)


async def test_phrase_in_a_sentence_is_detected(
    pool: SpottingPool, model: SpeechModel, pronunciations: Pronunciations, speak: Speak
) -> None:
    """Packets of a sentence containing the phrase, fed one by one, produce one detection."""
    monitor, detections = monitor_for(pool, model, pronunciations)
    await hear(monitor, encode_opus(speak(WITH_PHRASE), 16000))
    assert len(detections) == 1
    score, at = detections[0]
    assert score >= THRESHOLD
    assert at > 0
    monitor.close()


async def test_same_speech_without_the_phrase_is_not_detected(
    pool: SpottingPool, model: SpeechModel, pronunciations: Pronunciations, speak: Speak
) -> None:
    """The same sentence with another word in place of the phrase produces nothing."""
    monitor, detections = monitor_for(pool, model, pronunciations)
    packets = encode_opus(speak(WITHOUT_PHRASE), 16000)
    await hear(monitor, packets)
    assert detections == []
    assert monitor.seconds_decoded == pytest.approx(len(packets) * 0.02, abs=0.1)
    monitor.close()


async def test_closed_monitor_decodes_nothing(
    pool: SpottingPool, model: SpeechModel, pronunciations: Pronunciations, speak: Speak
) -> None:
    """After close, fed packets are ignored: nothing is decoded and nothing is reported."""
    monitor, detections = monitor_for(pool, model, pronunciations)
    monitor.close()
    await hear(monitor, encode_opus(speak(WITH_PHRASE), 16000))
    assert monitor.seconds_decoded == 0.0
    assert detections == []
    monitor.close()


async def test_closing_mid_stream_stops_decoding(
    pool: SpottingPool, model: SpeechModel, pronunciations: Pronunciations, speak: Speak
) -> None:
    """Closing after the first second drops the rest, so the phrase later on is never heard."""
    monitor, detections = monitor_for(pool, model, pronunciations)
    packets = encode_opus(speak(WITH_PHRASE), 16000)
    await hear(monitor, packets[:50])
    monitor.close()
    for packet in packets[50:]:
        monitor.feed(packet.payload, packet.rtp_timestamp)
    assert monitor.seconds_decoded <= 1.1
    assert detections == []


async def test_wav_track_plays_browser_like_frames(tmp_path: Path, speak: Speak) -> None:
    """The WAV track helper yields 20 ms 48 kHz stereo frames with rising timestamps."""
    import wave

    path = tmp_path / "speech.wav"
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(16000)
        file.writeframes(speak("Hello there.")[:3200])
    track = WavAudioTrack(path, tail_seconds=0.0)
    frames = [await asyncio.wait_for(track.recv(), TIMEOUT) for _ in range(5)]
    assert [f.samples for f in frames] == [960] * 5
    assert [f.pts for f in frames] == [i * 960 for i in range(5)]
    assert frames[0].sample_rate == OPUS_RATE
    assert frames[0].layout.name == "stereo"
    track.stop()


async def test_flush_returns_when_the_pool_is_closed(
    model: SpeechModel, pronunciations: Pronunciations
) -> None:
    """A monitor whose pool was closed does not hang its callers."""
    pool = SpottingPool(workers=1)
    monitor, detections = monitor_for(pool, model, pronunciations)
    pool.close()
    monitor.feed(b"\xfc\xff\xfe", 0)
    await asyncio.wait_for(monitor.flush(), TIMEOUT)
    assert detections == []
    monitor.close()


async def test_in_thread_lanes_detect_too(
    model: SpeechModel, pronunciations: Pronunciations, speak: Speak
) -> None:
    """A pool without worker processes spots in its own threads and reports the same phrase."""
    pool = SpottingPool(workers=1, processes=False)
    try:
        monitor, detections = monitor_for(pool, model, pronunciations)
        await hear(monitor, encode_opus(speak(WITH_PHRASE), 16000))
        assert len(detections) == 1
        monitor.close()
    finally:
        pool.close()


async def test_monitors_on_both_lanes_hear_only_their_own_audio(
    pool: SpottingPool, model: SpeechModel, pronunciations: Pronunciations, speak: Speak
) -> None:
    """Two monitors sit on different worker processes; only the one fed the phrase reports it."""
    with_phrase, with_phrase_hits = monitor_for(pool, model, pronunciations)
    without, without_hits = monitor_for(pool, model, pronunciations)
    for a, b in zip(
        encode_opus(speak(WITH_PHRASE), 16000), encode_opus(speak(WITHOUT_PHRASE), 16000),
        strict=False,
    ):
        with_phrase.feed(a.payload, a.rtp_timestamp)
        without.feed(b.payload, b.rtp_timestamp)
    await asyncio.wait_for(asyncio.gather(with_phrase.flush(), without.flush()), TIMEOUT)
    assert len(with_phrase_hits) == 1
    assert without_hits == []
    with_phrase.close()
    without.close()


async def test_a_crashed_worker_is_replaced(
    model: SpeechModel, pronunciations: Pronunciations, speak: Speak
) -> None:
    """If a worker process dies, its lane starts another and the monitor still hears the phrase."""
    pool = SpottingPool(workers=1)
    try:
        monitor, detections = monitor_for(pool, model, pronunciations)
        packets = encode_opus(speak(WITHOUT_PHRASE), 16000)
        await hear(monitor, packets[:10])
        lane = pool._lanes[0]
        assert lane._process is not None
        lane._process.kill()
        lane._process.join(TIMEOUT)
        await hear(monitor, packets[10:20])  # lost with the worker: the lane restarts it
        await hear(monitor, encode_opus(speak(WITH_PHRASE), 16000))
        assert len(detections) == 1
        monitor.close()
    finally:
        pool.close()

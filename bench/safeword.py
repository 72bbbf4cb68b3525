"""Spoken safe word: detection per condition, false alarms per hour, latency and streams per core.

Held-out set: four phrases inside carrier sentences, five flite voices, tempo 0.8x-1.3x, clean and
mixed with six-talker babble at 20 and 10 dB SNR, all through an Opus round trip; thresholds are
calibrated on the ``calibration`` bank and false alarms counted on the separate ``heldout`` bank.
"""

from __future__ import annotations

import argparse
import audioop
import os
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from bench.report import percentile, print_figures, print_table
from server.safeword.bank import BankSpec, SpeechBank, bank_root, build_bank, synthesise
from server.safeword.calibrate import choose_threshold, scan
from server.safeword.corpus import template_sentences
from server.safeword.model import SpeechModel
from server.safeword.opus import OpusToPcm, encode_opus
from server.safeword.spotter import SAMPLE_RATE, Scanner, Spotter, SpotterSettings
from signals.spoken_phrase import phrase_words

PHRASES = ("kaleidoscope", "blue umbrella", "purple armadillo", "velvet hurricane")
CARRIERS = (
    ("Last week I kept thinking about the", "while I was cooking dinner."),
    ("She told me she had seen a", "near the station on Sunday."),
    ("Honestly, I never really liked that", "very much at all."),
    ("My neighbour bought a", "for her grandson yesterday."),
)
VOICES = ("awb", "rms", "slt", "kal16", "kal")
TEMPOS = (0.8, 0.9, 1.0, 1.15, 1.3)
CONDITIONS = (("clean", None), ("babble_20db", 20.0), ("babble_10db", 10.0))
CHUNK = 640  # 20 ms of 16 kHz s16, one Opus packet


@dataclass(frozen=True)
class Positive:
    """One held-out sentence containing a phrase."""

    phrase: int
    voice: str
    tempo: float
    pcm: bytes
    phrase_end: float


@dataclass(frozen=True)
class Variant:
    """A spotter configuration under test."""

    name: str
    settings: SpotterSettings
    margin: float = 5.0


def main(argv: list[str]) -> int:
    """Run the benchmark; ``--quick`` uses a sixth of the banks and fewer sentences."""
    parser = argparse.ArgumentParser(prog="python -m bench safeword")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--all-pronunciations",
        action="store_true",
        help="also evaluate spotting every dictionary pronunciation (doubles the run time)",
    )
    parser.add_argument(
        "--thresholds",
        type=lambda text: [float(x) for x in text.split(",")],
        help="skip calibration and false alarms; stream the positives at these thresholds",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    model = SpeechModel.bundled()
    pronunciations = model.load_pronunciations()
    with tempfile.TemporaryDirectory(prefix="haven-bench-") as tmp:
        positives = make_positives(Path(tmp), args.quick)
        babble = make_babble(Path(tmp), 60.0)
    conditions = {name: mix_all(positives, babble, snr) for name, snr in CONDITIONS}
    conditions = {name: [opus_round_trip(p) for p in ps] for name, ps in conditions.items()}

    if args.thresholds:
        return streaming_only(conditions, args.thresholds, pronunciations, model)
    root = bank_root(os.environ)
    calibration = build_bank(root / "calibration", BankSpec(1, 2.05))
    heldout = build_bank(root / "heldout", BankSpec(2, 2.05))
    if args.quick:
        calibration = SpeechBank(calibration.directory, calibration.utterances[::6])
        heldout = SpeechBank(heldout.directory, heldout.utterances[::6])
    variants = [Variant("main pronunciation", SpotterSettings())]
    if args.all_pronunciations:
        variants.append(Variant("all pronunciations", SpotterSettings(all_pronunciations=True)))
    rows, results = [], {}
    for variant in variants:
        result = evaluate(variant, calibration, heldout, conditions, pronunciations, model)
        results[variant.name] = result
        rows += result["rows"]
    print_table(
        f"Spoken safe word: {len(positives)} sentences per condition, "
        f"{heldout.hours:.2f} h held-out negatives x {len(PHRASES)} phrases, "
        f"thresholds from {calibration.hours:.2f} h calibration bank",
        ["variant", "margin", "clean", "babble 20 dB", "babble 10 dB", "FA/h", "FA count"],
        rows,
    )
    main_result = results[variants[0].name]
    thresholds = main_result["thresholds"][5.0]
    print_table(
        "Per phrase (main pronunciation, margin 5)",
        ["phrase", "threshold", "best FA on calibration bank", "clean", "babble 10 dB"],
        main_result["per_phrase"],
    )
    latency_rows, latency, streamed = [], {}, {}
    for delay in (10, 3):
        settings = SpotterSettings(kws_delay=delay)
        lat, rates = stream_latency(conditions, thresholds, settings, pronunciations, model)
        latency[delay], streamed[delay] = lat, rates
        latency_rows.append(
            [
                delay,
                f"{rates['clean']:.1%}",
                f"{rates['babble_20db']:.1%}",
                f"{rates['babble_10db']:.1%}",
                percentile(lat, 50) * 1000,
                percentile(lat, 95) * 1000,
            ]
        )
    print_table(
        "Streaming in 20 ms packets as deployed (main pronunciation, margin 5): detection, and "
        "end of phrase to detection in audio time",
        ["kws_delay", "clean", "babble 20 dB", "babble 10 dB", "p50 ms", "p95 ms"],
        latency_rows,
    )
    rtf = real_time_factor(heldout, pronunciations, model)
    print_table(
        "Cost per stream (Opus decode + resample + spotting, one thread)",
        ["real-time factor", "streams per core", "bench seconds"],
        [[f"{rtf:.4f}", f"{1 / rtf:.1f}", f"{time.monotonic() - started:.0f}"]],
    )
    lag_rows = [[n, *loop_lag(heldout, pronunciations, model, n)] for n in (1, 10, 20)]
    print_table(
        "Event loop while N monitors are fed in real time (SpottingPool of 2 threads)",
        ["streams", "loop lag p50 ms", "loop lag p99 ms", "backlog after feeding s"],
        lag_rows,
    )
    detect = streamed[10]
    print_figures(
        {
            "quick": args.quick,
            "detect_clean": round(detect["clean"], 4),
            "detect_babble_20db": round(detect["babble_20db"], 4),
            "detect_babble_10db": round(detect["babble_10db"], 4),
            "false_alarms_per_hour": round(main_result["fa_per_hour"][5.0], 4),
            "latency_p50_ms": round(percentile(latency[10], 50) * 1000, 1),
            "latency_p95_ms": round(percentile(latency[10], 95) * 1000, 1),
            "real_time_factor": round(rtf, 5),
            "streams_per_core": round(1 / rtf, 1),
            "negative_hours": round(heldout.hours * len(PHRASES), 2),
        }
    )
    return 0


def streaming_only(
    conditions: dict[str, list[Positive]],
    thresholds: list[float],
    pronunciations: dict[str, list[tuple[str, ...]]],
    model: SpeechModel,
) -> int:
    """Report streamed detection and latency at given thresholds (no false-alarm figures)."""
    rows, lat, rates = [], [], {}
    for index, phrase in enumerate(PHRASES):
        subset = {n: [p for p in ps if p.phrase == index] for n, ps in conditions.items()}
        settings = SpotterSettings()
        lat_i, rates_i = stream_latency(subset, thresholds, settings, pronunciations, model)
        lat += lat_i
        for name, rate in rates_i.items():
            rates[name] = rates.get(name, 0.0) + rate / len(PHRASES)
        rows.append([phrase, thresholds[index], *(f"{rates_i[n]:.1%}" for n, _ in CONDITIONS)])
    print_table(
        f"Streaming at given thresholds, {len(conditions['clean'])} sentences per condition",
        ["phrase", "threshold", *(n for n, _ in CONDITIONS)],
        rows,
    )
    print_table(
        "All phrases",
        ["clean", "babble 20 dB", "babble 10 dB", "p50 ms", "p95 ms"],
        [
            [
                f"{rates['clean']:.1%}",
                f"{rates['babble_20db']:.1%}",
                f"{rates['babble_10db']:.1%}",
                percentile(lat, 50) * 1000,
                percentile(lat, 95) * 1000,
            ]
        ],
    )
    print_figures(
        {
            "detect_clean": round(rates["clean"], 4),
            "detect_babble_20db": round(rates["babble_20db"], 4),
            "detect_babble_10db": round(rates["babble_10db"], 4),
            "latency_p50_ms": round(percentile(lat, 50) * 1000, 1),
            "latency_p95_ms": round(percentile(lat, 95) * 1000, 1),
            "thresholds_given": thresholds,
        }
    )
    return 0


def evaluate(
    variant: Variant,
    calibration: SpeechBank,
    heldout: SpeechBank,
    conditions: dict[str, list[Positive]],
    pronunciations: dict[str, list[tuple[str, ...]]],
    model: SpeechModel,
) -> dict[str, object]:
    """Calibrate, count held-out false alarms and score the positives for one variant."""
    scanning = replace(variant.settings, threshold=-60.0)
    calib_scores = scan(PHRASES, calibration, pronunciations, model, settings=scanning)
    fa_scores = scan(PHRASES, heldout, pronunciations, model, settings=scanning)
    positive_scores = {
        name: score_positives(ps, scanning, pronunciations, model)
        for name, ps in conditions.items()
    }
    rows: list[list[object]] = []
    thresholds, detect, fa_per_hour, per_phrase = {}, {}, {}, []
    for margin in (3.0, 4.0, 5.0):
        th = [choose_threshold(s, calibration.hours, margin)[0] for s in calib_scores]
        fas = sum(sum(1 for s in scores if s >= t) for scores, t in zip(fa_scores, th, strict=True))
        rates = {
            name: sum(
                1
                for p, s in zip(conditions[name], scores, strict=True)
                if s is not None and s >= th[p.phrase]
            )
            / len(scores)
            for name, scores in positive_scores.items()
        }
        thresholds[margin], detect[margin] = th, rates
        fa_per_hour[margin] = fas / (heldout.hours * len(PHRASES))
        rows.append(
            [
                variant.name,
                margin,
                f"{rates['clean']:.1%}",
                f"{rates['babble_20db']:.1%}",
                f"{rates['babble_10db']:.1%}",
                f"{fa_per_hour[margin]:.3f}",
                fas,
            ]
        )
    for index, phrase in enumerate(PHRASES):

        def rate(name: str, i: int = index) -> str:
            pairs = [
                (p, s)
                for p, s in zip(conditions[name], positive_scores[name], strict=True)
                if p.phrase == i
            ]
            hits = sum(1 for _, s in pairs if s is not None and s >= thresholds[5.0][i])
            return f"{hits / len(pairs):.1%}"

        best = max(calib_scores[index], default=None)
        per_phrase.append(
            [
                phrase,
                f"{thresholds[5.0][index]:.1f}",
                "none" if best is None else f"{best:.1f}",
                rate("clean"),
                rate("babble_10db"),
            ]
        )
    return {
        "rows": rows,
        "thresholds": thresholds,
        "detect": detect,
        "fa_per_hour": fa_per_hour,
        "per_phrase": per_phrase,
    }


def score_positives(
    positives: Sequence[Positive],
    settings: SpotterSettings,
    pronunciations: dict[str, list[tuple[str, ...]]],
    model: SpeechModel,
    workers: int = 2,
) -> list[float | None]:
    """Return each sentence's best score for its own phrase (None if no candidate)."""
    shards = [list(range(i, len(positives), workers)) for i in range(workers)]
    needed = {w: pronunciations[w] for p in PHRASES for w in phrase_words(p)}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        parts = list(
            pool.map(
                _score_shard,
                [[positives[i] for i in s] for s in shards],
                [settings] * workers,
                [needed] * workers,
                [model] * workers,
            )
        )
    scores: list[float | None] = [None] * len(positives)
    for shard, part in zip(shards, parts, strict=True):
        for i, score in zip(shard, part, strict=True):
            scores[i] = score
    return scores


def _score_shard(
    positives: list[Positive],
    settings: SpotterSettings,
    pronunciations: dict[str, list[tuple[str, ...]]],
    model: SpeechModel,
) -> list[float | None]:
    scanner = Scanner([phrase_words(p) for p in PHRASES], pronunciations, model, settings)
    return [scanner.best_scores(p.pcm)[p.phrase] for p in positives]


def stream_latency(
    conditions: dict[str, list[Positive]],
    thresholds: list[float],
    settings: SpotterSettings,
    pronunciations: dict[str, list[tuple[str, ...]]],
    model: SpeechModel,
) -> tuple[list[float], dict[str, float]]:
    """Stream every positive in 20 ms packets at its threshold; return latencies and rates."""
    jobs = [(name, p) for name, ps in conditions.items() for p in ps]
    needed = {w: pronunciations[w] for p in PHRASES for w in phrase_words(p)}
    with ProcessPoolExecutor(max_workers=2) as pool:
        outcomes = list(
            pool.map(
                _stream_one,
                [p for _, p in jobs],
                [thresholds] * len(jobs),
                [settings] * len(jobs),
                [needed] * len(jobs),
                [model] * len(jobs),
                chunksize=20,
            )
        )
    latencies = [lat for lat in outcomes if lat is not None]
    rates = {
        name: sum(
            1 for (n, _), lat in zip(jobs, outcomes, strict=True) if n == name and lat is not None
        )
        / len(ps)
        for name, ps in conditions.items()
    }
    return latencies, rates


def _stream_one(
    positive: Positive,
    thresholds: list[float],
    settings: SpotterSettings,
    pronunciations: dict[str, list[tuple[str, ...]]],
    model: SpeechModel,
) -> float | None:
    spotter = Spotter(
        phrase_words(PHRASES[positive.phrase]),
        pronunciations,
        model,
        replace(settings, threshold=thresholds[positive.phrase]),
    )
    for start in range(0, len(positive.pcm), CHUNK):
        for detection in spotter.process(positive.pcm[start : start + CHUNK]):
            return max(0.0, detection.at - positive.phrase_end)
    return None


def real_time_factor(
    bank: SpeechBank, pronunciations: dict[str, list[tuple[str, ...]]], model: SpeechModel
) -> float:
    """Return CPU seconds per audio second of the full per-stream path on 60 s of speech."""
    pcm = b""
    for utterance in bank.utterances:
        pcm += bank.pcm(utterance)
        if len(pcm) >= 60 * SAMPLE_RATE * 2:
            break
    packets = encode_opus(pcm, SAMPLE_RATE)
    spotter = Spotter(phrase_words(PHRASES[0]), pronunciations, model, SpotterSettings())
    decoder = OpusToPcm()
    started = time.thread_time()
    for packet in packets:
        spotter.process(decoder.decode(packet.payload))
    return (time.thread_time() - started) / (len(packets) * 0.02)


def make_positives(directory: Path, quick: bool) -> list[Positive]:
    """Synthesise every phrase in carrier sentences by each voice at each tempo."""
    tempos = (0.8, 1.0, 1.3) if quick else TEMPOS
    plans = []
    for phrase_index, phrase in enumerate(PHRASES):
        for voice_index, voice in enumerate(VOICES):
            for tempo_index, tempo in enumerate(tempos):
                count = 1 if quick else 2
                for k in range(count):
                    carrier = CARRIERS[(voice_index + tempo_index + 2 * k) % len(CARRIERS)]
                    plans.append((phrase_index, phrase, voice, tempo, carrier))
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda plan: _positive(directory, *plan), plans))


def _positive(
    directory: Path, index: int, phrase: str, voice: str, tempo: float, carrier: tuple[str, str]
) -> Positive:
    stem = f"{index}-{voice}-{tempo}-{CARRIERS.index(carrier)}"
    first, second = directory / f"{stem}-a.raw", directory / f"{stem}-b.raw"
    synthesise(f"{carrier[0]} {phrase}", voice, tempo, 0, first)
    synthesise(carrier[1], voice, tempo, 0, second)
    head = _trim_end(first.read_bytes())
    lead = b"\0" * int(0.3 * SAMPLE_RATE) * 2
    gap = b"\0" * int(0.15 * SAMPLE_RATE) * 2
    pcm = lead + head + gap + second.read_bytes() + gap
    return Positive(index, voice, tempo, pcm, (len(lead) + len(head)) / 2 / SAMPLE_RATE)


def _trim_end(pcm: bytes, level: int = 300) -> bytes:
    """Drop trailing near-silence, so the end of the audio is the end of the phrase."""
    end = len(pcm) // 2
    while end > 0 and abs(audioop.getsample(pcm, 2, end - 1)) < level:
        end -= 1
    return pcm[: end * 2]


def make_babble(directory: Path, seconds: float) -> bytes:
    """Mix six flite talkers (different voices, tempos and sentences) into babble with sox."""
    talkers = []
    for talker in range(6):
        sentences = template_sentences(1000 + talker)
        pcm = b""
        part = directory / f"babble{talker}.raw"
        while len(pcm) < seconds * SAMPLE_RATE * 2:
            synthesise(
                next(sentences), VOICES[talker % len(VOICES)], (0.9, 1.0, 1.1)[talker % 3], 0, part
            )
            pcm += part.read_bytes()
        pcm = pcm[: int(seconds * SAMPLE_RATE) * 2]
        level = max(1, audioop.rms(pcm, 2))
        path = directory / f"talker{talker}.raw"
        path.write_bytes(audioop.mul(pcm, 2, 2000 / level))
        talkers.append(path)
    raw = ["-t", "raw", "-r", str(SAMPLE_RATE), "-e", "signed-integer", "-b", "16", "-c", "1"]
    out = directory / "babble.raw"
    sox = shutil.which("sox") or "sox"
    command = [sox, "-m"]
    for path in talkers:
        command += [*raw, str(path)]
    subprocess.run([*command, *raw, str(out)], check=True, capture_output=True)
    return out.read_bytes()


def mix_all(positives: list[Positive], babble: bytes, snr: float | None) -> list[Positive]:
    """Return the positives mixed with babble at ``snr`` dB (unchanged when None)."""
    if snr is None:
        return positives
    rng = random.Random(int(snr))
    mixed = []
    for positive in positives:
        length = len(positive.pcm)
        offset = rng.randrange(0, (len(babble) - length) // 2) * 2
        noise = babble[offset : offset + length]
        gain = audioop.rms(positive.pcm, 2) / max(1, audioop.rms(noise, 2)) / 10 ** (snr / 20)
        pcm = audioop.add(positive.pcm, audioop.mul(noise, 2, gain), 2)
        mixed.append(replace(positive, pcm=pcm))
    return mixed


def opus_round_trip(positive: Positive) -> Positive:
    """Encode to Opus at 32 kbit/s and decode as the relay does."""
    decoder = OpusToPcm()
    packets = encode_opus(positive.pcm, SAMPLE_RATE)
    return replace(positive, pcm=b"".join(decoder.decode(p.payload) for p in packets))


def loop_lag(
    bank: SpeechBank,
    pronunciations: dict[str, list[tuple[str, ...]]],
    model: SpeechModel,
    streams: int,
    seconds: float = 10.0,
) -> tuple[float, float, float]:
    """Feed ``streams`` monitors in real time; return loop lag p50/p99 (ms) and backlog (s)."""
    import asyncio

    from server.safeword.monitor import SpokenMonitor
    from server.safeword.pool import SpottingPool

    pcm = b""
    for utterance in bank.utterances:
        pcm += bank.pcm(utterance)
        if len(pcm) >= seconds * SAMPLE_RATE * 2:
            break
    packets = encode_opus(pcm, SAMPLE_RATE)[: int(seconds / 0.02)]

    async def run() -> tuple[float, float, float]:
        pool = SpottingPool(2)
        monitors = [
            SpokenMonitor(
                Spotter(phrase_words(PHRASES[0]), pronunciations, model),
                pool,
                lambda score, at: None,
            )
            for _ in range(streams)
        ]
        loop = asyncio.get_running_loop()
        lags: list[float] = []

        async def ticker() -> None:
            while True:
                due = loop.time() + 0.005
                await asyncio.sleep(0.005)
                lags.append(max(0.0, loop.time() - due))

        tick = asyncio.create_task(ticker())
        start = loop.time()
        for index, packet in enumerate(packets):
            await asyncio.sleep(max(0.0, start + index * 0.02 - loop.time()))
            for monitor in monitors:
                monitor.feed(packet.payload, packet.rtp_timestamp)
        fed_at = loop.time()
        await asyncio.gather(*(m.flush() for m in monitors))
        backlog = loop.time() - fed_at
        tick.cancel()
        for monitor in monitors:
            monitor.close()
        pool.close()
        return percentile(lags, 50) * 1000, percentile(lags, 99) * 1000, backlog

    return asyncio.run(run())

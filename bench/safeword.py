"""Spoken safe word: detection per condition, false alarms per hour, latency and streams per core.

Held-out set: four phrases inside carrier sentences, five flite voices, tempo 0.8x-1.3x, clean and
mixed with six-talker babble at 20 and 10 dB SNR, all through an Opus round trip; thresholds are
calibrated on the ``calibration`` bank and false alarms counted on the separate ``heldout`` bank.
Each test sentence follows two ordinary sentences by the same speaker (mid-conversation, as a
monitor that runs through a session hears it); the cold start (the phrase in the first sentence a
fresh monitor hears) is reported as well. ``--dev`` measures other phrases and carrier sentences,
with thresholds from half of the calibration bank and false alarms on the other half, so that
choices are made without looking at the held-out set.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import subprocess
import tempfile
import time
import zlib
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from bench import pcm as pcm16
from bench.report import percentile, print_figures, print_table
from server.safeword.bank import BankSpec, SpeechBank, bank_root, build_bank, synthesise
from server.safeword.calibrate import choose_threshold, scan
from server.safeword.corpus import template_sentences
from server.safeword.model import SpeechModel
from server.safeword.opus import OpusToPcm, encode_opus
from server.safeword.spotter import SAMPLE_RATE, Scanner, Spotter, SpotterRecipe, SpotterSettings
from signals.spoken_phrase import phrase_words

PHRASES = ("kaleidoscope", "blue umbrella", "purple armadillo", "velvet hurricane")
CARRIERS = (
    ("Last week I kept thinking about the", "while I was cooking dinner."),
    ("She told me she had seen a", "near the station on Sunday."),
    ("Honestly, I never really liked that", "very much at all."),
    ("My neighbour bought a", "for her grandson yesterday."),
)
DEV_PHRASES = ("saxophone", "silver pelican", "lavender tortoise", "crimson lighthouse")
DEV_CARRIERS = (
    ("I was sure I had put the", "back on the shelf this morning."),
    ("Nobody at work believed me about the", "until they saw it."),
    ("We could hardly hear the", "over all the noise outside."),
    ("He keeps a little", "on the windowsill in the kitchen."),
)
VOICES = ("awb", "rms", "slt", "kal16", "kal")
TEMPOS = (0.8, 0.9, 1.0, 1.15, 1.3)
CONDITIONS = (("clean", None), ("babble_20db", 20.0), ("babble_10db", 10.0))
CHUNK = 640  # 20 ms of 16 kHz s16, one Opus packet
WARM_SENTENCES = 2  # ordinary sentences by the same speaker before each test sentence
HELDOUT_HOURS = 7.6  # x 4 phrases = 30 phrase-hours of negative speech


@dataclass(frozen=True)
class Positive:
    """One held-out sentence containing a phrase."""

    phrase: int
    voice: str
    tempo: float
    pcm: bytes
    start: float
    """Seconds of the same speaker's ordinary speech before the test sentence."""
    phrase_end: float
    """Seconds from the start of ``pcm`` to the end of the phrase."""

    @property
    def cold(self) -> Positive:
        """The test sentence alone, as a monitor that has just started hears it."""
        cut = round(self.start * SAMPLE_RATE) * 2
        return replace(self, pcm=self.pcm[cut:], start=0.0, phrase_end=self.phrase_end - self.start)


@dataclass(frozen=True)
class Variant:
    """A spotter configuration under test."""

    name: str
    settings: SpotterSettings
    margin: float = 5.0


@dataclass(frozen=True)
class Evaluation:
    """One variant's results: table rows, and per calibration margin its thresholds and FAs."""

    rows: list[list[object]]
    thresholds: dict[float, list[float]]
    """Per margin, one threshold per phrase."""
    fa_count: dict[float, int]
    """Per margin, false alarms on the held-out bank (all phrases together)."""
    per_phrase: list[list[object]]


def main(argv: list[str]) -> int:
    """Run the benchmark; ``--quick`` uses fewer sentences and a slice of each bank."""
    parser = argparse.ArgumentParser(prog="python -m bench safeword")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--dev",
        action="store_true",
        help="development set: other phrases and sentences, calibration bank only",
    )
    parser.add_argument(
        "--all-pronunciations",
        action="store_true",
        help="also evaluate spotting every dictionary pronunciation (doubles the run time)",
    )
    parser.add_argument(
        "--phone-loop",
        type=lambda text: [float(x) for x in text.split(",")],
        default=[],
        help="also evaluate these phone-loop probabilities (kws_plp; default 0.1)",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    phrases, carriers = (DEV_PHRASES, DEV_CARRIERS) if args.dev else (PHRASES, CARRIERS)
    model = SpeechModel.bundled()
    pronunciations = model.load_pronunciations()
    with tempfile.TemporaryDirectory(prefix="haven-bench-") as tmp:
        positives = make_positives(Path(tmp), args.quick, phrases, carriers)
        babble = make_babble(Path(tmp), 60.0)
    conditions = {name: mix_all(positives, babble, snr) for name, snr in CONDITIONS}
    conditions = {name: [opus_round_trip(p) for p in ps] for name, ps in conditions.items()}

    root = bank_root(os.environ)
    calibration = build_bank(root / "calibration", BankSpec(1, 2.05))
    if args.dev:
        negatives = _slice(calibration, 1, 2)
        calibration = _slice(calibration, 0, 2)
    else:
        negatives = build_bank(root / "heldout", BankSpec(2, HELDOUT_HOURS))
    if args.quick:
        calibration = _slice(calibration, 0, 2)
        negatives = _slice(negatives, 0, 12)
    variants = [Variant("main pronunciation", SpotterSettings())]
    if args.all_pronunciations:
        variants.append(Variant("all pronunciations", SpotterSettings(all_pronunciations=True)))
    variants += [
        Variant(f"phone loop {plp:g}", SpotterSettings(phone_loop=plp)) for plp in args.phone_loop
    ]
    rows: list[list[object]] = []
    results: dict[str, Evaluation] = {}
    for variant in variants:
        result = evaluate(
            variant, phrases, calibration, negatives, conditions, pronunciations, model
        )
        results[variant.name] = result
        rows += result.rows
    negative_hours = negatives.hours * len(phrases)
    print_table(
        f"Spoken safe word{' (DEV SET)' if args.dev else ''}: {len(positives)} sentences per "
        f"condition, whole-utterance scores after two sentences by the same speaker; "
        f"{negatives.hours:.2f} h negatives x {len(phrases)} phrases = {negative_hours:.1f} "
        f"phrase-hours; thresholds from {calibration.hours:.2f} h calibration bank",
        ["variant", "margin", "clean", "babble 20 dB", "babble 10 dB", "FA/h", "FA count",
         "FA/h 95% upper"],
        rows,
    )
    main_result = results[variants[0].name]
    thresholds = main_result.thresholds[5.0]
    print_table(
        "Per phrase (main pronunciation, margin 5)",
        ["phrase", "threshold", "best FA on calibration bank", "clean", "babble 10 dB"],
        main_result.per_phrase,
    )
    runs = {
        "mid-conversation, kws_delay 10": (conditions, SpotterSettings(kws_delay=10)),
        "mid-conversation, kws_delay 3": (conditions, SpotterSettings(kws_delay=3)),
        "cold start, kws_delay 10": (
            {n: [p.cold for p in ps] for n, ps in conditions.items()},
            SpotterSettings(kws_delay=10),
        ),
        "cold start, old CMN start 40,3,-1": (
            {n: [p.cold for p in ps] for n, ps in conditions.items()},
            SpotterSettings(kws_delay=10, cmninit="40,3,-1"),
        ),
    }
    streamed: dict[str, tuple[list[float], dict[str, float], int]] = {}
    for name, (positives_by_condition, settings) in runs.items():
        streamed[name] = stream_latency(
            positives_by_condition, phrases, thresholds, settings, pronunciations, model
        )
    print_table(
        "Streaming in 20 ms packets as deployed (main pronunciation, margin 5): detection, "
        "end of phrase to detection in audio time, and false alarms in the lead-in sentences "
        f"({sum(p.start for ps in conditions.values() for p in ps) / 3600:.2f} h of speech)",
        ["run", "clean", "babble 20 dB", "babble 10 dB", "p50 ms", "p95 ms", "lead-in FA"],
        [
            [
                name,
                f"{rates['clean']:.1%}",
                f"{rates['babble_20db']:.1%}",
                f"{rates['babble_10db']:.1%}",
                percentile(lat, 50) * 1000,
                percentile(lat, 95) * 1000,
                early,
            ]
            for name, (lat, rates, early) in streamed.items()
        ],
    )
    rtf = real_time_factor(negatives, phrases, pronunciations, model)
    print_table(
        "Cost per stream (Opus decode + resample + spotting, CPU time of one thread)",
        ["real-time factor", "streams per core", "bench seconds so far"],
        [[f"{rtf:.4f}", f"{1 / rtf:.1f}", f"{time.monotonic() - started:.0f}"]],
    )
    lag_rows = [
        [mode, n, *loop_lag(negatives, phrases, pronunciations, model, n, mode == "processes")]
        for mode in ("threads", "processes")
        for n in ((20, 40) if args.quick else (20, 40, 60))
    ]
    print_table(
        f"Event loop while N monitors are fed in real time (SpottingPool of 2 lanes; "
        f"{os.cpu_count()} cores shared with everything else on this machine)",
        ["pool", "streams", "loop lag p50 ms", "loop lag p99 ms", "backlog after feeding s"],
        lag_rows,
    )
    lat, detect, _ = streamed["mid-conversation, kws_delay 10"]
    cold = streamed["cold start, kws_delay 10"][1]
    false_alarms = main_result.fa_count[5.0]
    print_figures(
        {
            "quick": args.quick,
            "dev": args.dev,
            "detect_clean": round(detect["clean"], 4),
            "detect_babble_20db": round(detect["babble_20db"], 4),
            "detect_babble_10db": round(detect["babble_10db"], 4),
            "detect_clean_cold_start": round(cold["clean"], 4),
            "false_alarms": false_alarms,
            "false_alarms_per_hour": round(false_alarms / negative_hours, 4),
            "false_alarms_per_hour_upper_95": round(upper_95(false_alarms) / negative_hours, 4),
            "negative_hours": round(negative_hours, 2),
            "latency_p50_ms": round(percentile(lat, 50) * 1000, 1),
            "latency_p95_ms": round(percentile(lat, 95) * 1000, 1),
            "real_time_factor": round(rtf, 5),
            "streams_per_core": round(1 / rtf, 1),
            "bench_seconds": round(time.monotonic() - started),
        }
    )
    return 0


def upper_95(count: int) -> float:
    """Return the one-sided 95 % upper bound on a Poisson mean after observing ``count``."""
    # Exact (Garwood) bound: the mean at which P(X <= count) = 0.05, found by bisection.
    low, high = 0.0, 10.0 + 5.0 * count
    for _ in range(60):
        mid = (low + high) / 2
        term, total = math.exp(-mid), 0.0
        for k in range(count + 1):
            total += term
            term *= mid / (k + 1)
        low, high = (mid, high) if total > 0.05 else (low, mid)
    return high


def _slice(bank: SpeechBank, start: int, step: int) -> SpeechBank:
    return SpeechBank(bank.directory, bank.utterances[start::step])


def evaluate(
    variant: Variant,
    phrases: Sequence[str],
    calibration: SpeechBank,
    heldout: SpeechBank,
    conditions: dict[str, list[Positive]],
    pronunciations: dict[str, list[tuple[str, ...]]],
    model: SpeechModel,
) -> Evaluation:
    """Calibrate, count held-out false alarms and score the positives for one variant."""
    scanning = replace(variant.settings, threshold=-60.0)
    calib_scores = scan_each(phrases, calibration, pronunciations, model, scanning)
    fa_scores = scan_each(phrases, heldout, pronunciations, model, scanning)
    positive_scores = {
        name: score_positives(ps, phrases, scanning, pronunciations, model)
        for name, ps in conditions.items()
    }
    rows: list[list[object]] = []
    thresholds: dict[float, list[float]] = {}
    fa_count: dict[float, int] = {}
    per_phrase: list[list[object]] = []
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
        thresholds[margin], fa_count[margin] = th, fas
        rows.append(
            [
                variant.name,
                margin,
                f"{rates['clean']:.1%}",
                f"{rates['babble_20db']:.1%}",
                f"{rates['babble_10db']:.1%}",
                f"{fas / (heldout.hours * len(phrases)):.3f}",
                fas,
                f"{upper_95(fas) / (heldout.hours * len(phrases)):.3f}",
            ]
        )
    for index, phrase in enumerate(phrases):

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
    return Evaluation(rows, thresholds, fa_count, per_phrase)


def scan_each(
    phrases: Sequence[str],
    bank: SpeechBank,
    pronunciations: dict[str, list[tuple[str, ...]]],
    model: SpeechModel,
    settings: SpotterSettings,
) -> list[list[float]]:
    """Scan ``bank`` once per phrase, each with a decoder of its own, as Haven calibrates.

    Keyphrases that share a pocketsphinx decoder change one another's scores (they share its
    search), and a client's monitor listens for one phrase only.
    """
    return [scan([phrase], bank, pronunciations, model, settings=settings)[0] for phrase in phrases]


def score_positives(
    positives: Sequence[Positive],
    phrases: Sequence[str],
    settings: SpotterSettings,
    pronunciations: dict[str, list[tuple[str, ...]]],
    model: SpeechModel,
    workers: int = 2,
) -> list[float | None]:
    """Return each sentence's best score for its own phrase (None if no candidate)."""
    shards = [list(range(i, len(positives), workers)) for i in range(workers)]
    needed = {w: pronunciations[w] for p in phrases for w in phrase_words(p)}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        parts = list(
            pool.map(
                _score_shard,
                [[positives[i] for i in s] for s in shards],
                [tuple(phrases)] * workers,
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
    phrases: tuple[str, ...],
    settings: SpotterSettings,
    pronunciations: dict[str, list[tuple[str, ...]]],
    model: SpeechModel,
) -> list[float | None]:
    # One scanner per phrase, as a client's monitor listens for one phrase only.
    scanners = [Scanner([phrase_words(p)], pronunciations, model, settings) for p in phrases]
    scores = []
    for positive in positives:
        scanner = scanners[positive.phrase]
        cut = round(positive.start * SAMPLE_RATE) * 2
        scanner.best_scores(positive.pcm[:cut])  # the speaker's lead-in adapts the CMN
        scores.append(scanner.best_scores(positive.pcm[cut:])[0])
    return scores


def stream_latency(
    conditions: dict[str, list[Positive]],
    phrases: Sequence[str],
    thresholds: list[float],
    settings: SpotterSettings,
    pronunciations: dict[str, list[tuple[str, ...]]],
    model: SpeechModel,
) -> tuple[list[float], dict[str, float], int]:
    """Stream every positive in 20 ms packets; return latencies, rates and lead-in detections."""
    jobs = [(name, p) for name, ps in conditions.items() for p in ps]
    needed = {w: pronunciations[w] for p in phrases for w in phrase_words(p)}
    recipes = [
        SpotterRecipe.of(phrase_words(phrase), needed, model, replace(settings, threshold=th))
        for phrase, th in zip(phrases, thresholds, strict=True)
    ]
    with ProcessPoolExecutor(max_workers=2) as pool:
        outcomes = list(
            pool.map(
                _stream_one,
                [p for _, p in jobs],
                [recipes[p.phrase] for _, p in jobs],
                chunksize=20,
            )
        )
    latencies = [lat for lat, _ in outcomes if lat is not None]
    rates = {
        name: sum(
            1 for (n, _), (lat, _) in zip(jobs, outcomes, strict=True)
            if n == name and lat is not None
        )
        / len(ps)
        for name, ps in conditions.items()
    }
    return latencies, rates, sum(early for _, early in outcomes)


def _stream_one(positive: Positive, recipe: SpotterRecipe) -> tuple[float | None, int]:
    """Return (latency or None, detections during the lead-in) for one streamed positive."""
    spotter = recipe.build()
    early = 0
    for start in range(0, len(positive.pcm), CHUNK):
        for detection in spotter.process(positive.pcm[start : start + CHUNK]):
            if detection.at <= positive.start:
                early += 1
                continue
            return max(0.0, detection.at - positive.phrase_end), early
    return None, early


def real_time_factor(
    bank: SpeechBank,
    phrases: Sequence[str],
    pronunciations: dict[str, list[tuple[str, ...]]],
    model: SpeechModel,
) -> float:
    """Return CPU seconds per audio second of the full per-stream path on 60 s of speech."""
    packets = encode_opus(_speech(bank, 60.0), SAMPLE_RATE)
    spotter = Spotter(phrase_words(phrases[0]), pronunciations, model, SpotterSettings())
    decoder = OpusToPcm()
    started = time.thread_time()
    for packet in packets:
        spotter.process(decoder.decode(packet.payload))
    return (time.thread_time() - started) / (len(packets) * 0.02)


def _speech(bank: SpeechBank, seconds: float) -> bytes:
    pcm = b""
    for utterance in bank.utterances:
        pcm += bank.pcm(utterance)
        if len(pcm) >= seconds * SAMPLE_RATE * 2:
            break
    return pcm


def make_positives(
    directory: Path, quick: bool, phrases: Sequence[str], carriers: Sequence[tuple[str, str]]
) -> list[Positive]:
    """Synthesise every phrase in carrier sentences by each voice at each tempo."""
    tempos = (0.8, 1.0, 1.3) if quick else TEMPOS
    plans = []
    for phrase_index, phrase in enumerate(phrases):
        for voice_index, voice in enumerate(VOICES):
            for tempo_index, tempo in enumerate(tempos):
                count = 1 if quick else 2
                for k in range(count):
                    carrier = (voice_index + tempo_index + 2 * k) % len(carriers)
                    plans.append((phrase_index, phrase, voice, tempo, carriers[carrier], carrier))
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda plan: _positive(directory, *plan), plans))


def _positive(
    directory: Path,
    index: int,
    phrase: str,
    voice: str,
    tempo: float,
    carrier: tuple[str, str],
    carrier_index: int,
) -> Positive:
    stem = f"{index}-{voice}-{tempo}-{carrier_index}"
    first, second = directory / f"{stem}-a.raw", directory / f"{stem}-b.raw"
    synthesise(f"{carrier[0]} {phrase}", voice, tempo, 0, first)
    synthesise(carrier[1], voice, tempo, 0, second)
    lead_in = b""
    sentences = template_sentences(zlib.crc32(stem.encode()))
    for _ in range(WARM_SENTENCES):
        synthesise(next(sentences), voice, tempo, 0, first.with_suffix(".warm"))
        lead_in += first.with_suffix(".warm").read_bytes()
    head = _trim_end(first.read_bytes())
    lead = b"\0" * int(0.3 * SAMPLE_RATE) * 2
    gap = b"\0" * int(0.15 * SAMPLE_RATE) * 2
    pcm = lead_in + lead + head + gap + second.read_bytes() + gap
    start = len(lead_in) / 2 / SAMPLE_RATE
    return Positive(
        index, voice, tempo, pcm, start, (len(lead_in) + len(lead) + len(head)) / 2 / SAMPLE_RATE
    )


def _trim_end(pcm: bytes, level: int = 300) -> bytes:
    """Drop trailing near-silence, so the end of the audio is the end of the phrase."""
    values = pcm16.samples(pcm)
    end = len(values)
    while end > 0 and abs(values[end - 1]) < level:
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
        level = max(1, pcm16.rms(pcm))
        path = directory / f"talker{talker}.raw"
        path.write_bytes(pcm16.scale(pcm, 2000 / level))
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
        gain = pcm16.rms(positive.pcm) / max(1, pcm16.rms(noise)) / 10 ** (snr / 20)
        pcm = pcm16.add_scaled(positive.pcm, noise, gain)
        mixed.append(replace(positive, pcm=pcm))
    return mixed


def opus_round_trip(positive: Positive) -> Positive:
    """Encode to Opus at 32 kbit/s and decode as the relay does."""
    decoder = OpusToPcm()
    packets = encode_opus(positive.pcm, SAMPLE_RATE)
    return replace(positive, pcm=b"".join(decoder.decode(p.payload) for p in packets))


def loop_lag(
    bank: SpeechBank,
    phrases: Sequence[str],
    pronunciations: dict[str, list[tuple[str, ...]]],
    model: SpeechModel,
    streams: int,
    processes: bool,
    seconds: float = 10.0,
) -> tuple[float, float, float]:
    """Feed ``streams`` monitors in real time; return loop lag p50/p99 (ms) and backlog (s)."""
    import asyncio

    from server.safeword.monitor import SpokenMonitor
    from server.safeword.pool import SpottingPool

    packets = encode_opus(_speech(bank, seconds), SAMPLE_RATE)[: int(seconds / 0.02)]
    recipe = SpotterRecipe.of(phrase_words(phrases[0]), pronunciations, model)

    async def run() -> tuple[float, float, float]:
        pool = SpottingPool(2, processes=processes)
        monitors = [SpokenMonitor(recipe, pool, lambda score, at: None) for _ in range(streams)]
        # A first flush waits for the worker processes to start and build every spotter.
        await asyncio.gather(*(m.flush() for m in monitors))
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

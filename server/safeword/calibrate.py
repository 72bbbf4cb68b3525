"""Choose a phrase's detection threshold so ordinary speech sets it off at most once in 10 hours."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from server.safeword.bank import SpeechBank, Utterance
from server.safeword.model import SpeechModel
from server.safeword.spotter import PERMISSIVE_SCORE, SCANNING, Scanner, SpotterSettings
from signals.spoken_phrase import phrase_words

logger = logging.getLogger(__name__)

MARGIN = 5.0
"""Orders of magnitude between the best false alarm on the bank and the threshold."""
TARGET_PER_HOUR = 0.1
"""Highest acceptable expected false alarms per hour of ordinary speech."""
_TAIL = 20


@dataclass(frozen=True)
class Calibration:
    """The chosen threshold for one phrase and what the bank says about it."""

    phrase: str
    """The phrase calibrated."""
    threshold: float
    """Minimum detection score (log10 of pocketsphinx's kws_threshold)."""
    false_alarms_per_hour_expected: float
    """False alarms per hour at ``threshold``, extrapolated from the bank's highest scores."""
    best_false_alarm_score: float | None
    """Highest score any sentence of the bank reached (None if none came close)."""
    candidates_per_hour: float
    """Bank sentences per hour that reached the permissive scanning threshold."""
    bank_hours: float
    """Hours of speech scanned."""
    seconds: float
    """Wall-clock time the calibration took."""


def scan(
    phrases: Sequence[str],
    bank: SpeechBank,
    pronunciations: Mapping[str, Sequence[Sequence[str]]],
    model: SpeechModel,
    *,
    settings: SpotterSettings = SCANNING,
    workers: int = 2,
) -> list[list[float]]:
    """Return, per phrase, the best score of every bank sentence that came close to it."""
    word_lists = [phrase_words(p) for p in phrases]
    needed = {w: [tuple(x) for x in pronunciations.get(w, ())] for ws in word_lists for w in ws}
    # Each shard hears one voice at a time, as a client's monitor does, so that live cepstral
    # mean normalisation has adapted to the speaker the way it has when a session is under way.
    shards = [sorted(bank.utterances[i::workers], key=_speaker) for i in range(workers)]
    # pocketsphinx 5.1.1 holds the GIL while decoding, so only processes use both cores.
    with ProcessPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(
            _scan_shard,
            [word_lists] * workers, [needed] * workers, [model] * workers,
            [settings] * workers, [bank.directory] * workers, shards,
        ))
    return [sorted(s for part in parts for s in part[i]) for i in range(len(phrases))]


def _scan_shard(
    word_lists: list[tuple[str, ...]],
    pronunciations: Mapping[str, Sequence[Sequence[str]]],
    model: SpeechModel,
    settings: SpotterSettings,
    directory: Path,
    shard: Sequence[Utterance],
) -> list[list[float]]:
    scanner = Scanner(word_lists, pronunciations, model, settings)
    found: list[list[float]] = [[] for _ in word_lists]
    for utterance in shard:
        spoken = f" {' '.join(phrase_words(utterance.text))} "
        scores = scanner.best_scores((directory / utterance.file).read_bytes())
        for index, score in enumerate(scores):
            # A sentence that really contains the phrase is not a false alarm.
            if score is not None and f" {' '.join(word_lists[index])} " not in spoken:
                found[index].append(score)
    return found


def _speaker(utterance: Utterance) -> tuple[str, int, float, str]:
    return utterance.voice, utterance.pitch, utterance.tempo, utterance.file


def choose_threshold(
    scores: Sequence[float], hours: float, margin: float = MARGIN
) -> tuple[float, float]:
    """Return (threshold, expected false alarms per hour) from false-alarm scores on a bank."""
    if not scores:
        # Nothing survived the search beam: assume at most one candidate at the scanning level.
        return PERMISSIVE_SCORE + margin, float(10.0 ** -margin / hours)
    threshold = max(scores) + margin
    expected = expected_rate(scores, hours, threshold)
    while expected > TARGET_PER_HOUR:
        threshold += 0.5
        expected = expected_rate(scores, hours, threshold)
    return threshold, expected


def expected_rate(scores: Sequence[float], hours: float, threshold: float) -> float:
    """Extrapolate false alarms per hour at ``threshold`` from the tail of the bank's scores."""
    top = sorted(scores, reverse=True)[:_TAIL]
    observed = sum(1 for s in scores if s >= threshold) / hours
    if len(top) < 3 or top[0] - top[-1] < 1e-6:
        # Too few points for a slope: assume the rate falls tenfold per order of magnitude.
        return max(observed, float(len(top) / hours * 10.0 ** -(threshold - top[-1])))
    xs = top
    ys = [math.log10((rank + 1) / hours) for rank in range(len(top))]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mean_x) ** 2 for x in xs
    )
    slope = min(slope, -0.2)  # a flat tail must not promise a tiny rate
    return max(observed, float(10.0 ** (mean_y + slope * (threshold - mean_x))))


def calibrate(
    phrase: str,
    bank: SpeechBank,
    pronunciations: Mapping[str, Sequence[Sequence[str]]],
    model: SpeechModel,
    *,
    margin: float = MARGIN,
    all_pronunciations: bool = False,
    workers: int = 2,
) -> Calibration:
    """Scan the bank once with a permissive spotter and place the threshold above it."""
    started = time.monotonic()
    settings = SpotterSettings(threshold=PERMISSIVE_SCORE, all_pronunciations=all_pronunciations)
    (scores,) = scan([phrase], bank, pronunciations, model, settings=settings, workers=workers)
    hours = bank.hours
    threshold, expected = choose_threshold(scores, hours, margin)
    result = Calibration(
        phrase=phrase,
        threshold=threshold,
        false_alarms_per_hour_expected=expected,
        best_false_alarm_score=max(scores, default=None),
        candidates_per_hour=len(scores) / hours,
        bank_hours=hours,
        seconds=time.monotonic() - started,
    )
    logger.debug("calibrated a phrase: threshold %.1f", threshold)
    return result

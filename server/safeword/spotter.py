"""One pocketsphinx keyword spotter listening for one client's phrase in 16 kHz mono audio."""

from __future__ import annotations

import itertools
import logging
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pocketsphinx

from server.safeword.model import SpeechModel

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
"""Samples per second of the audio a spotter takes (mono, signed 16-bit)."""

PERMISSIVE_SCORE = -60.0
"""A threshold low enough to report nearly every candidate, for calibration."""

# pocketsphinx 5.1.1 reports a detection's probability as (path score - phone-loop score
# - KWS_MAX) in log-base-1.0001 units, after shifting the scores right by SENSCR_SHIFT bits;
# the threshold it compares with is log(kws_threshold) shifted the same way.
_KWS_MAX = 1500
_SENSCR_SHIFT = 10
_LOG10_BASE = math.log10(1.0001)
_MAX_VARIANTS = 4

SPEECH_CMN = "51.60,12.37,-1.89,23.83,-4.74,-1.32,5.36,-9.41,-0.71,-2.84,2.99,2.85,0.81"
"""Mean cepstrum of ordinary speech (the calibration bank's voices), to start live CMN from.

pocketsphinx's own starting point (``40,3,-1``) is far from speech at normal levels, and live
cepstral mean normalisation only moves every few seconds, so a fresh spotter scored the phrase
about 8 orders of magnitude lower during its first seconds than one that had heard the speaker.
"""


@dataclass(frozen=True)
class Detection:
    """The phrase was heard: how sure the spotter is, and where in the stream it decided."""

    score: float
    """log10 of the pocketsphinx keyword score; higher is more certain (about -60 to +80)."""
    at: float
    """Seconds of audio processed by this spotter when it reported the phrase."""


@dataclass(frozen=True)
class SpotterSettings:
    """How a spotter listens: threshold, reporting delay and pronunciation variants."""

    threshold: float = -20.0
    """Minimum score (log10 of pocketsphinx's kws_threshold) for a detection."""
    kws_delay: int = 10
    """Frames (10 ms each) pocketsphinx waits for a better match before reporting."""
    all_pronunciations: bool = False
    """Listen for every dictionary pronunciation, not only the main one."""
    phone_loop: float = 0.1
    """Phone-loop probability (pocketsphinx's ``kws_plp``): how freely garbage competes."""
    cmninit: str = SPEECH_CMN
    """Initial cepstral mean (13 comma-separated values) before the spotter adapts to a voice."""


SCANNING = SpotterSettings(threshold=PERMISSIVE_SCORE)
"""Settings for scanning a bank: report nearly every candidate."""


def build_decoder(
    phrases: Sequence[Sequence[str]],
    pronunciations: Mapping[str, Sequence[Sequence[str]]],
    model: SpeechModel,
    settings: SpotterSettings,
) -> tuple[pocketsphinx.Decoder, dict[str, int]]:
    """Build a keyword-spotting decoder for ``phrases``; also map each keyphrase to its phrase."""
    variants = {
        " ".join(alias for alias, _ in variant): (index, variant)
        for index, words in enumerate(phrases)
        for variant in keyphrase_variants(words, pronunciations, settings.all_pronunciations)
    }
    decoder = pocketsphinx.Decoder(
        hmm=str(model.hmm), dict=None, lm=None, loglevel="FATAL",
        kws_delay=settings.kws_delay, kws_threshold=10.0 ** settings.threshold,
        kws_plp=settings.phone_loop, cmninit=settings.cmninit,
    )
    for alias, phones in {a: p for _, v in variants.values() for a, p in v}.items():
        decoder.add_word(alias, " ".join(phones), True)
    if len(variants) == 1:
        decoder.add_keyphrase("phrase", next(iter(variants)))
    else:
        fd, path = tempfile.mkstemp(prefix="haven-kws-", suffix=".txt")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.writelines(f"{k} /{10.0 ** settings.threshold:.6e}/\n" for k in variants)
            decoder.add_kws("phrase", path)
        finally:
            os.unlink(path)
    decoder.activate_search("phrase")
    return decoder, {k: index for k, (index, _) in variants.items()}


@dataclass(frozen=True)
class SpotterRecipe:
    """A spotter's ingredients; unlike a decoder it pickles, so a worker process can build one."""

    words: tuple[str, ...]
    """The phrase's words."""
    pronunciations: Mapping[str, tuple[tuple[str, ...], ...]]
    """Pronunciations of those words only."""
    model: SpeechModel
    """Where the acoustic model is."""
    settings: SpotterSettings = SpotterSettings()
    """Threshold, delay and variants."""

    @classmethod
    def of(
        cls,
        words: Sequence[str],
        pronunciations: Mapping[str, Sequence[Sequence[str]]],
        model: SpeechModel,
        settings: SpotterSettings = SpotterSettings(),
    ) -> SpotterRecipe:
        """Keep only the pronunciations the phrase needs (the dictionary is 130,000 words)."""
        keyphrase_variants(words, pronunciations, settings.all_pronunciations)  # unknown words
        needed = {w: tuple(tuple(p) for p in pronunciations.get(w, ())) for w in words}
        return cls(tuple(words), needed, model, settings)

    def build(self) -> Spotter:
        """Build the spotter; raise ValueError if a word has no pronunciation."""
        return Spotter(self.words, self.pronunciations, self.model, self.settings)


class Spotter:
    """Keyword spotter for one phrase (lm=None, a dictionary of only the phrase's words)."""

    def __init__(
        self,
        words: Sequence[str],
        pronunciations: Mapping[str, Sequence[Sequence[str]]],
        model: SpeechModel,
        settings: SpotterSettings = SpotterSettings(),
    ) -> None:
        """Build the decoder; raise ValueError if a word has no pronunciation."""
        self.settings = settings
        self._decoder, _ = build_decoder([words], pronunciations, model, settings)
        self._samples = 0
        self._decoder.start_utt()

    @property
    def seconds(self) -> float:
        """Seconds of audio processed so far."""
        return self._samples / SAMPLE_RATE

    def process(self, pcm: bytes) -> list[Detection]:
        """Feed 16 kHz mono s16 audio; return the detections it completes (usually none)."""
        self._decoder.process_raw(pcm, False, False)
        self._samples += len(pcm) // 2
        if self._decoder.hyp() is None:
            return []
        scores = [score_of(self._decoder, s.prob) for s in self._decoder.seg() or []]
        self._decoder.end_utt()
        self._decoder.start_utt()
        return [Detection(score=max(scores, default=self.settings.threshold), at=self.seconds)]

    def close(self) -> None:
        """End the current utterance; the spotter must not be used afterwards."""
        self._decoder.end_utt()


class Scanner:
    """Scores whole utterances for several phrases at once (calibration and benchmarks)."""

    def __init__(
        self,
        phrases: Sequence[Sequence[str]],
        pronunciations: Mapping[str, Sequence[Sequence[str]]],
        model: SpeechModel,
        settings: SpotterSettings = SCANNING,
    ) -> None:
        """Build one decoder listening for all ``phrases``, usually with a permissive threshold."""
        self._count = len(phrases)
        self._decoder, self._index = build_decoder(phrases, pronunciations, model, settings)

    def best_scores(self, pcm: bytes) -> list[float | None]:
        """Return each phrase's best candidate score in one utterance (None if no candidate)."""
        best: list[float | None] = [None] * self._count
        self._decoder.start_utt()
        self._decoder.process_raw(pcm, False, False)
        for segment in self._decoder.seg() or []:
            index = self._index.get(segment.word.strip())
            if index is None:
                continue
            score = score_of(self._decoder, segment.prob)
            current = best[index]
            best[index] = score if current is None else max(current, score)
        self._decoder.end_utt()
        return best


def score_of(decoder: pocketsphinx.Decoder, prob: float) -> float:
    """Convert a detection's reported probability to the log10 threshold scale."""
    shifted = decoder.logmath.log(prob) + _KWS_MAX
    return float(shifted * (1 << _SENSCR_SHIFT) * _LOG10_BASE)


def keyphrase_variants(
    words: Sequence[str],
    pronunciations: Mapping[str, Sequence[Sequence[str]]],
    every: bool,
) -> list[list[tuple[str, tuple[str, ...]]]]:
    """Return keyphrase variants as lists of (dictionary alias, phones)."""
    if not words:
        raise ValueError("The phrase has no words.")
    choices: list[list[tuple[str, tuple[str, ...]]]] = []
    for word in words:
        prons = pronunciations.get(word)
        if not prons:
            raise ValueError(f"The word {word!r} is not in the pronunciation dictionary.")
        used = prons if every else prons[:1]
        choices.append([(f"{word}__{i}", tuple(p)) for i, p in enumerate(used)])
    return [list(v) for v in itertools.islice(itertools.product(*choices), _MAX_VARIANTS)]

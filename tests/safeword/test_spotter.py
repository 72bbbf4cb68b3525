"""A reported score is on the threshold's own scale: just above it the phrase is not reported."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from server.safeword.model import Pronunciations, SpeechModel
from server.safeword.spotter import Scanner, Spotter, SpotterSettings

Speak = Callable[..., bytes]
SENTENCE = "Yesterday I walked to the market with a blue umbrella and bought some bread."


def stream(spotter: Spotter, pcm: bytes) -> list[float]:
    found = []
    for start in range(0, len(pcm), 640):
        found += [d.score for d in spotter.process(pcm[start:start + 640])]
    return found


def test_score_matches_threshold_scale(
    model: SpeechModel, pronunciations: Pronunciations, speak: Speak
) -> None:
    """A spotter set 0.1 below the reported score fires; one set 0.1 above stays silent."""
    pcm = speak(SENTENCE)
    words = ["blue", "umbrella"]
    (score,) = Scanner([words], pronunciations, model).best_scores(pcm)
    assert score is not None
    below = Spotter(words, pronunciations, model, SpotterSettings(threshold=score - 0.1))
    above = Spotter(words, pronunciations, model, SpotterSettings(threshold=score + 0.1))
    assert stream(below, pcm) == [pytest.approx(score)]
    assert stream(above, pcm) == []


def test_unknown_word_is_refused(model: SpeechModel, pronunciations: Pronunciations) -> None:
    """A phrase with a word missing from the dictionary cannot be listened for."""
    with pytest.raises(ValueError, match="zorbleflax"):
        Spotter(["zorbleflax"], pronunciations, model)


def test_several_pronunciations_are_listened_for(
    model: SpeechModel, pronunciations: Pronunciations, speak: Speak
) -> None:
    """With every pronunciation, a word said either way is found ('either' as EE or EYE)."""
    pcm = speak("I do not mind either way, honestly.")
    scanner = Scanner([["either"]], pronunciations, model,
                      SpotterSettings(threshold=-60.0, all_pronunciations=True))
    assert scanner.best_scores(pcm)[0] is not None

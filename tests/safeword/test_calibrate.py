"""Calibration places a phrase's threshold above everything ordinary speech in the bank scored."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from server.safeword.bank import BankSpec, bank_root, build_bank, load_bank, main
from server.safeword.calibrate import (
    MARGIN,
    TARGET_PER_HOUR,
    calibrate,
    choose_threshold,
    expected_rate,
)
from server.safeword.model import Pronunciations, SpeechModel

Speak = Callable[..., bytes]


def test_threshold_is_margin_above_best_false_alarm() -> None:
    """The threshold is the best false-alarm score plus the margin, and meets the target."""
    scores = [-40.0, -35.0, -33.0, -30.0, -28.0, -25.0]
    threshold, expected = choose_threshold(scores, hours=2.0)
    assert threshold >= -25.0 + MARGIN
    assert expected <= TARGET_PER_HOUR


def test_slow_falling_tail_raises_threshold_further() -> None:
    """Frequent high-scoring false alarms push the threshold further than the margin."""
    scores = [-30.0 + i * 0.1 for i in range(101)]
    threshold, expected = choose_threshold(scores, hours=0.1, margin=1.0)
    assert expected <= TARGET_PER_HOUR
    assert threshold > max(scores) + 1.0


def test_expected_rate_falls_with_threshold() -> None:
    """Extrapolated false alarms per hour fall as the threshold rises."""
    scores = [-40.0, -38.0, -35.0, -31.0, -30.0]
    assert expected_rate(scores, 1.0, -20.0) < expected_rate(scores, 1.0, -30.0)
    assert expected_rate(scores, 1.0, -30.0) >= 1.0


def test_no_candidates_gives_tiny_rate() -> None:
    """A phrase nothing in the bank came near gets the permissive level plus the margin."""
    threshold, expected = choose_threshold([], hours=2.0)
    assert expected < 1e-3
    assert threshold > -60.0


def test_bank_root_from_environment() -> None:
    """HAVEN_SPEECH_BANK overrides the default cache directory."""
    assert bank_root({"HAVEN_SPEECH_BANK": "/x/bank"}) == Path("/x/bank")
    assert bank_root({"HOME": "/home/a"}) == Path("/home/a/.cache/haven/speech-bank")


def test_missing_bank_explains_how_to_build_it(tmp_path: Path) -> None:
    """Loading a bank that was never built says which command builds it."""
    with pytest.raises(FileNotFoundError, match=r"python -m server\.safeword\.bank"):
        load_bank(tmp_path)


def test_small_bank_is_reproducible_and_calibrates(
    tmp_path: Path, model: SpeechModel, pronunciations: Pronunciations, speak: Speak
) -> None:
    """A tiny bank builds the same twice, and calibration over it returns a usable threshold."""
    spec = BankSpec(seed=7, hours=0.01)
    first = build_bank(tmp_path / "a", spec)
    second = build_bank(tmp_path / "b", spec)
    assert [u.text for u in first.utterances] == [u.text for u in second.utterances]
    assert first.pcm(first.utterances[0]) == second.pcm(second.utterances[0])
    result = calibrate("either", first, pronunciations, model)
    assert result.best_false_alarm_score is not None  # "either" hides in "weather", "neither"
    assert result.threshold >= result.best_false_alarm_score + MARGIN
    assert result.bank_hours == pytest.approx(first.hours)


def test_the_bank_command_builds_the_calibration_bank_when_no_name_is_given(
    tmp_path: Path,
) -> None:
    """``python -m server.safeword.bank`` with no bank named builds ``calibration``."""
    assert main(["--root", str(tmp_path), "--hours", "0.002", "--workers", "1"]) == 0
    assert load_bank(tmp_path / "calibration").utterances
    assert not (tmp_path / "heldout").exists()
    with pytest.raises(SystemExit):
        main(["--root", str(tmp_path), "nonsense"])


@pytest.mark.slow
def test_full_bank_calibration(model: SpeechModel, pronunciations: Pronunciations) -> None:
    """On the installed 2-hour bank a good phrase calibrates to at most 0.1 expected FA/h."""
    directory = bank_root(os.environ) / "calibration"
    if not (directory / "manifest.json").is_file():
        pytest.skip("the speech bank is not built; run python -m server.safeword.bank")
    bank = load_bank(directory)
    assert bank.hours >= 2.0
    result = calibrate("blue umbrella", bank, pronunciations, model)
    assert result.false_alarms_per_hour_expected <= TARGET_PER_HOUR

"""Tests for typed safe-word matching and advice, driven mostly by the shared JSON vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signals import (
    SAFE_WORD_PROBLEM_MESSAGES,
    SAFE_WORD_PROBLEMS,
    matches_safe_word,
    normalise_words,
    safe_word_problems,
    validate_safe_word,
)

VECTORS = json.loads(
    (Path(__file__).parent.parent / "vectors" / "safeword.json").read_text("utf-8")
)


def test_the_vector_file_describes_its_format() -> None:
    """The shared vector file explains its own format for other implementations."""
    assert "Damerau-Levenshtein" in VECTORS["description"]


@pytest.mark.parametrize("case", VECTORS["match"], ids=[c["why"] for c in VECTORS["match"]])
def test_match_vector(case: dict[str, Any]) -> None:
    """The message matches the safe word exactly when the shared vector says so."""
    assert matches_safe_word(case["message"], case["safe_word"]) is case["expected"]


@pytest.mark.parametrize("case", VECTORS["advice"], ids=[c["safe_word"] for c in VECTORS["advice"]])
def test_advice_vector(case: dict[str, Any]) -> None:
    """A safe word has exactly the problems the shared vector lists, in order."""
    assert list(safe_word_problems(case["safe_word"])) == case["problems"]


def test_validation_returns_plain_sentences() -> None:
    """Each problem is reported as a whole sentence, never repeating the safe word itself."""
    assert validate_safe_word("kaleidoscope") == []
    messages = validate_safe_word("the")
    assert messages == [
        SAFE_WORD_PROBLEM_MESSAGES["too_short"],
        SAFE_WORD_PROBLEM_MESSAGES["common"],
    ]
    for problem in SAFE_WORD_PROBLEMS:
        message = SAFE_WORD_PROBLEM_MESSAGES[problem]
        assert message[0].isupper() and message.endswith(".")
        assert "the safe word" in message.lower()


def test_normalisation_folds_case_accents_and_punctuation() -> None:
    """Text is split into bare lower-case words, with apostrophes joining."""
    assert normalise_words("Kaléidoscope! Don't-STOP, Æsir") == (
        "kaleidoscope",
        "dont",
        "stop",
        "aesir",
    )


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéüß", min_size=1, max_size=12)


@given(st.lists(words, min_size=1, max_size=3), st.text(max_size=20), st.text(max_size=20))
def test_the_safe_word_always_matches_itself_among_punctuation(
    phrase: list[str], before: str, after: str
) -> None:
    """A safe word surrounded by any text, separated by punctuation, always matches."""
    safe_word = " ".join(phrase)
    assert matches_safe_word(f"{before}, {safe_word.upper()}! {after}", safe_word)


@given(st.text(max_size=40), st.text(max_size=20))
def test_matching_never_fails_on_any_input(message: str, safe_word: str) -> None:
    """Any text at all, as message or safe word, gives an answer rather than an error."""
    assert matches_safe_word(message, safe_word) in (True, False)
    assert isinstance(validate_safe_word(safe_word), list)

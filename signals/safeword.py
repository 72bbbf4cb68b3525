"""Typed safe-word matching and the advice given when a safe word is chosen."""

from __future__ import annotations

import re
import unicodedata
from typing import Final, Literal

from signals.common_words import COMMON_WORDS

SafeWordProblem = Literal["empty", "too_short", "digits_only", "common"]
SAFE_WORD_PROBLEMS: Final[tuple[SafeWordProblem, ...]] = (
    "empty",
    "too_short",
    "digits_only",
    "common",
)
MIN_SAFE_WORD_LETTERS: Final = 4
TYPO_MIN_LETTERS: Final = 6
"""A safe-word word this long or longer tolerates one typo (Damerau-Levenshtein distance 1)."""

# Messages never repeat the safe word: they may end up in a log that others can read.
SAFE_WORD_PROBLEM_MESSAGES: Final[dict[SafeWordProblem, str]] = {
    "empty": "The safe word is empty; choose a word you would not use in ordinary conversation.",
    "too_short": f"The safe word is too short; use at least {MIN_SAFE_WORD_LETTERS} letters.",
    "digits_only": "The safe word is only digits; numbers come up in ordinary chat, choose a word.",
    "common": (
        "The safe word is a very common word and could be typed by accident; choose a rarer one."
    ),
}

# Letters that NFKD does not decompose but that people routinely type without their mark.
_FOLDS: Final = str.maketrans(
    {"ø": "o", "đ": "d", "ð": "d", "ł": "l", "\u0131": "i", "æ": "ae", "œ": "oe", "þ": "th"}
)
_APOSTROPHES: Final = re.compile(r"['\u2019\u02bc`\u00b4]")
_WORD: Final = re.compile(r"[^\W_]+")


def normalise_words(text: str) -> tuple[str, ...]:
    """Split text into words compared case-, accent- and punctuation-insensitively."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(char for char in folded if not unicodedata.combining(char))
    # Apostrophes join ("o'brien" is "obrien"); every other non-alphanumeric character splits.
    joined = _APOSTROPHES.sub("", bare.translate(_FOLDS))
    return tuple(_WORD.findall(joined))


def matches_safe_word(message: str, safe_word: str) -> bool:
    """Return whether the message contains the safe word as whole words, in sequence."""
    wanted = normalise_words(safe_word)
    if not wanted:
        return False
    words = normalise_words(message)
    size = len(wanted)
    return any(_phrase_matches(words[i : i + size], wanted) for i in range(len(words) - size + 1))


def safe_word_problems(safe_word: str) -> tuple[SafeWordProblem, ...]:
    """Return the codes of what makes this a poor safe word, in SAFE_WORD_PROBLEMS order."""
    words = normalise_words(safe_word)
    if not words:
        return ("empty",)
    found: list[SafeWordProblem] = []
    if sum(len(word) for word in words) < MIN_SAFE_WORD_LETTERS:
        found.append("too_short")
    if all(word.isdigit() for word in words):
        found.append("digits_only")
    if all(word in COMMON_WORDS for word in words):
        found.append("common")
    return tuple(found)


def validate_safe_word(safe_word: str) -> list[str]:
    """Return plain-words problems with a safe word, or an empty list if it is a good one."""
    return [SAFE_WORD_PROBLEM_MESSAGES[problem] for problem in safe_word_problems(safe_word)]


def _phrase_matches(words: tuple[str, ...], wanted: tuple[str, ...]) -> bool:
    """Match word by word, allowing one typo in the whole phrase, in a long enough word."""
    typos = 0
    for word, target in zip(words, wanted, strict=True):
        if word == target:
            continue
        if len(target) < TYPO_MIN_LETTERS or typos or not _one_edit_apart(word, target):
            return False
        typos += 1
    return True


def _one_edit_apart(a: str, b: str) -> bool:
    """Return whether a and b differ by one insertion, deletion, substitution or transposition."""
    if len(a) > len(b):
        a, b = b, a
    if len(b) - len(a) > 1:
        return False
    start = 0
    while start < len(a) and a[start] == b[start]:
        start += 1
    if len(a) != len(b):
        return a[start:] == b[start + 1 :]
    if a[start + 1 :] == b[start + 1 :]:
        return True
    swapped = start + 1 < len(a) and a[start] == b[start + 1] and a[start + 1] == b[start]
    return swapped and a[start + 2 :] == b[start + 2 :]

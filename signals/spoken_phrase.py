"""Checks on a proposed spoken safe phrase, explained in words a facilitator understands."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

ProblemCode = Literal[
    "empty",
    "too_many_words",
    "unknown_word",
    "too_short",
    "common_word",
    "sincere_phrase",
    "homophone",
]

MIN_PHONEMES = 8
"""Fewer sounds than this and ordinary speech matches the phrase by chance too often."""

MIN_SYLLABLES = 3
"""Fewer syllables than this and the phrase is too short to tell apart from other words."""

MAX_WORDS = 3
"""The spotter listens for one to three words."""

SINCERE_PHRASES: tuple[str, ...] = (
    "help",
    "help me",
    "stop",
    "stop it",
    "please stop",
    "wait",
    "hold on",
    "i need a break",
    "i need a moment",
    "i need a minute",
    "give me a minute",
    "take a break",
    "leave me alone",
    "go away",
    "get out",
    "i am scared",
    "i'm scared",
    "i am not okay",
    "i'm not okay",
    "i am fine",
    "i'm fine",
    "call the police",
    "emergency",
    "i want to go",
    "i have to go",
    "i need to go",
    "not now",
    "no",
    "yes",
    "sorry",
    "please",
    "goodbye",
    "safe word",
    "safe",
    "danger",
    "hurt",
    "panic",
)
"""Things a client may say and mean during a session, so they must never be the safe phrase."""

_VOWELS = frozenset({"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY",
                     "UH", "UW"})
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


@dataclass(frozen=True)
class PhraseProblem:
    """One reason a proposed phrase would work badly, with a plain explanation."""

    code: ProblemCode
    """Which kind of problem this is."""
    message: str
    """A whole sentence for the facilitator, naming the word concerned."""


def phrase_words(phrase: str) -> tuple[str, ...]:
    """Return the phrase as lower-case words, without punctuation."""
    return tuple(_WORD.findall(phrase.lower().replace("\u2019", "'")))


def syllable_count(phones: Sequence[str]) -> int:
    """Return the number of syllables in a pronunciation (one per vowel sound)."""
    return sum(1 for phone in phones if phone.rstrip("012") in _VOWELS)


def check_phrase(
    phrase: str,
    pronunciations: Mapping[str, Sequence[Sequence[str]]],
    common_words: frozenset[str],
) -> list[PhraseProblem]:
    """Return every problem with ``phrase`` as a safe phrase; an empty list means it looks good."""
    words = phrase_words(phrase)
    if not words:
        return [PhraseProblem("empty", "Please type the phrase the client would like to say.")]
    problems: list[PhraseProblem] = []
    if len(words) > MAX_WORDS:
        problems.append(PhraseProblem(
            "too_many_words",
            f"The phrase has {len(words)} words; the listener handles at most {MAX_WORDS}. "
            "Choose one to three unusual words.",
        ))
    problems += _sincere(words)
    problems += _unknown(words, pronunciations)
    problems += _common(words, common_words)
    known = [pronunciations[w][0] for w in words if pronunciations.get(w)]
    if len(known) == len(words):
        problems += _too_short(known)
        problems += _homophones(words, pronunciations)
    return problems


def _sincere(words: tuple[str, ...]) -> list[PhraseProblem]:
    text = " ".join(words)
    for sincere in SINCERE_PHRASES:
        if f" {sincere} " in f" {text} ":
            return [PhraseProblem(
                "sincere_phrase",
                f"\u201c{sincere}\u201d is something a client might say and mean during a "
                "session, so the session would be cut off when they did not intend it. "
                "Choose words nobody would say by accident.",
            )]
    return []


def _unknown(
    words: tuple[str, ...], pronunciations: Mapping[str, Sequence[Sequence[str]]]
) -> list[PhraseProblem]:
    return [
        PhraseProblem(
            "unknown_word",
            f"\u201c{word}\u201d is not in the pronunciation dictionary, so it cannot be "
            "listened for. Check the spelling or choose another word.",
        )
        for word in dict.fromkeys(words)
        if not pronunciations.get(word)
    ]


def _common(words: tuple[str, ...], common_words: frozenset[str]) -> list[PhraseProblem]:
    # One rare word carries a phrase ("blue umbrella"); only all-common phrases are a problem.
    if not all(word in common_words for word in words):
        return []
    listed = ", ".join(f"\u201c{w}\u201d" for w in dict.fromkeys(words))
    verb = "is a very common word" if len(set(words)) == 1 else "are all very common words"
    return [PhraseProblem(
        "common_word",
        f"{listed} {verb}, so the phrase comes up in ordinary conversation. "
        "Include at least one rare word.",
    )]


def _too_short(known: list[Sequence[str]]) -> list[PhraseProblem]:
    phones = sum(len(p) for p in known)
    syllables = sum(syllable_count(p) for p in known)
    if phones >= MIN_PHONEMES and syllables >= MIN_SYLLABLES:
        return []
    return [PhraseProblem(
        "too_short",
        f"The phrase is short ({_plural(syllables, 'syllable')}, {_plural(phones, 'sound')}), "
        "so ordinary speech would match it by chance. Use at least "
        f"{MIN_SYLLABLES} syllables and {MIN_PHONEMES} sounds, for example two unusual words.",
    )]


def _homophones(
    words: tuple[str, ...], pronunciations: Mapping[str, Sequence[Sequence[str]]]
) -> list[PhraseProblem]:
    by_sound: dict[tuple[str, ...], list[str]] = {}
    for word, prons in pronunciations.items():
        for pron in prons:
            by_sound.setdefault(tuple(pron), []).append(word)
    alike = {
        word: sorted({w for w in by_sound.get(tuple(pronunciations[word][0]), []) if w != word})
        for word in dict.fromkeys(words)
    }
    problems: list[PhraseProblem] = []
    # One word with a homophone is harmless inside a longer phrase; the whole phrase is not.
    if all(alike.values()):
        reading = " ".join(alike[w][0] for w in words)
        problems.append(PhraseProblem(
            "homophone",
            f"\u201c{' '.join(words)}\u201d sounds the same as \u201c{reading}\u201d, and the "
            "listener cannot tell them apart.",
        ))
    for word in dict.fromkeys(words):
        split = _compound(word, tuple(pronunciations[word][0]), by_sound)
        if split is not None:
            problems.append(PhraseProblem(
                "homophone",
                f"\u201c{word}\u201d is made of two everyday words (\u201c{split}\u201d), so "
                "a sentence that happens to contain both could set it off.",
            ))
    return problems


def _compound(
    word: str, sounds: tuple[str, ...], by_sound: Mapping[tuple[str, ...], list[str]]
) -> str | None:
    """Return the two words ``word`` is spelled and pronounced as, if it is a compound."""
    for cut in range(2, len(sounds) - 1):
        lefts = [w for w in by_sound.get(sounds[:cut], []) if word.startswith(w)]
        rights = [w for w in by_sound.get(sounds[cut:], []) if word.endswith(w)]
        for left in lefts:
            for right in rights:
                if len(left) + len(right) == len(word) and len(left) > 1 and len(right) > 1:
                    return f"{left} {right}"
    return None


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"

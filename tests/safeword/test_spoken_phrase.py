"""The phrase checks explain, in plain words, why a proposed safe phrase would work badly."""

from __future__ import annotations

from signals.spoken_phrase import check_phrase, phrase_words, syllable_count

PRONUNCIATIONS: dict[str, list[tuple[str, ...]]] = {
    "kaleidoscope": [("K", "AH", "L", "AY", "D", "AH", "S", "K", "OW", "P")],
    "blue": [("B", "L", "UW")],
    "blew": [("B", "L", "UW")],
    "umbrella": [("AH", "M", "B", "R", "EH", "L", "AH")],
    "stop": [("S", "T", "AA", "P")],
    "break": [("B", "R", "EY", "K")],
    "brake": [("B", "R", "EY", "K")],
    "i": [("AY",)],
    "need": [("N", "IY", "D")],
    "a": [("AH",)],
    "water": [("W", "AO", "T", "ER")],
    "melon": [("M", "EH", "L", "AH", "N")],
    "watermelon": [("W", "AO", "T", "ER", "M", "EH", "L", "AH", "N")],
    "the": [("DH", "AH")],
}
COMMON = frozenset({"i", "need", "a", "break", "stop", "blue", "the", "water"})


def codes(phrase: str) -> list[str]:
    return [p.code for p in check_phrase(phrase, PRONUNCIATIONS, COMMON)]


def test_a_long_rare_word_passes() -> None:
    """A rare word of four syllables and ten sounds raises no problem."""
    assert codes("Kaleidoscope") == []


def test_one_rare_word_carries_a_common_one() -> None:
    """'blue umbrella' is fine: one rare word makes the phrase rare."""
    assert codes("blue umbrella") == []


def test_empty_phrase() -> None:
    """An empty phrase asks the facilitator to type one."""
    assert codes("  ?! ") == ["empty"]


def test_unknown_word_is_named() -> None:
    """A word missing from the dictionary is named in the message."""
    problems = check_phrase("blue zorbleflax", PRONUNCIATIONS, COMMON)
    assert [p.code for p in problems] == ["unknown_word"]
    assert "zorbleflax" in problems[0].message


def test_short_common_sincere_word() -> None:
    """'stop' is sincere, common and too short, and each is explained."""
    problems = check_phrase("Stop!", PRONUNCIATIONS, COMMON)
    assert [p.code for p in problems] == ["sincere_phrase", "common_word", "too_short"]
    assert all(p.message.endswith(".") for p in problems)


def test_sincere_phrase_inside_longer_text() -> None:
    """A sincere phrase is caught even with other words around it, and long phrases too."""
    assert "sincere_phrase" in codes("I need a break")
    assert "too_many_words" in codes("I need a break")


def test_whole_phrase_homophone() -> None:
    """A single word that sounds like another word is flagged."""
    assert "homophone" in codes("brake")


def test_compound_word_flagged() -> None:
    """A compound of two everyday words is flagged as a possible accidental match."""
    problems = check_phrase("watermelon", PRONUNCIATIONS, COMMON)
    assert any(p.code == "homophone" and "water melon" in p.message for p in problems)


def test_words_and_syllables() -> None:
    """Words are lower-cased without punctuation; syllables are counted from vowels."""
    assert phrase_words("Blue, UMBRELLA!") == ("blue", "umbrella")
    assert syllable_count(PRONUNCIATIONS["kaleidoscope"][0]) == 4


def test_real_dictionary(pronunciations: dict[str, list[tuple[str, ...]]]) -> None:
    """With the bundled dictionary and word list, good and bad phrases are told apart."""
    from server.safeword.model import load_common_words

    common = load_common_words()
    assert check_phrase("purple armadillo", pronunciations, common) == []
    assert "too_short" in [p.code for p in check_phrase("giraffe", pronunciations, common)]

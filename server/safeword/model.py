"""The English acoustic model and pronunciation dictionary shipped inside the pocketsphinx wheel."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pocketsphinx

logger = logging.getLogger(__name__)

Pronunciations = dict[str, list[tuple[str, ...]]]


@dataclass(frozen=True)
class SpeechModel:
    """Where the acoustic model and the pronunciation dictionary live on disk."""

    hmm: Path
    """Directory of the en-us acoustic model."""
    dictionary: Path
    """The CMU pronouncing dictionary file."""

    @classmethod
    def bundled(cls) -> SpeechModel:
        """Return the model shipped in the pocketsphinx wheel; nothing is downloaded."""
        root = Path(pocketsphinx.get_model_path()) / "en-us"
        model = cls(hmm=root / "en-us", dictionary=root / "cmudict-en-us.dict")
        if not (model.hmm / "mdef").is_file() or not model.dictionary.is_file():
            raise FileNotFoundError(
                f"The pocketsphinx package at {root} has no English model; reinstall pocketsphinx."
            )
        return model

    def load_pronunciations(self) -> Pronunciations:
        """Read the dictionary into word -> list of pronunciations (first is the main one)."""
        return parse_dictionary(self.dictionary.read_text(encoding="utf-8"))


def parse_dictionary(text: str) -> Pronunciations:
    """Parse CMU dictionary lines such as ``tomato(2) T AH M AA T OW``."""
    result: Pronunciations = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2 or parts[0].startswith(";;;"):
            continue
        word = parts[0].split("(", 1)[0].lower()
        phones = tuple(p for p in parts[1:] if not p.startswith("#"))
        if phones:
            result.setdefault(word, []).append(phones)
    return result


def load_common_words() -> frozenset[str]:
    """Return the list of very common English words shipped with Haven."""
    text = resources.files(__package__).joinpath("common_words.txt").read_text(encoding="utf-8")
    return frozenset(
        w.strip().lower() for w in text.split() if w.strip() and not w.startswith("#")
    )

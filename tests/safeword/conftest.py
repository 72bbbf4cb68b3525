"""Shared fixtures for the spoken safe-word tests: the bundled model and synthetic speech."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from server.safeword.bank import synthesise
from server.safeword.model import Pronunciations, SpeechModel

Speak = Callable[..., bytes]


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``slow`` marker used by the longer safe-word tests."""
    config.addinivalue_line("markers", "slow: a longer test (deselect with -m 'not slow')")


@pytest.fixture(scope="session")
def model() -> SpeechModel:
    """The acoustic model shipped in the pocketsphinx wheel."""
    return SpeechModel.bundled()


@pytest.fixture(scope="session")
def pronunciations(model: SpeechModel) -> Pronunciations:
    """The CMU dictionary shipped in the pocketsphinx wheel."""
    return model.load_pronunciations()


@pytest.fixture
def speak(tmp_path: Path) -> Speak:
    """Return a function that speaks text with flite and returns 16 kHz mono s16 audio."""
    if shutil.which("flite") is None or shutil.which("sox") is None:
        pytest.skip("flite and sox are needed to synthesise test speech")
    counter = iter(range(1_000_000))

    def run(text: str, voice: str = "slt", tempo: float = 1.0, pitch: int = 0) -> bytes:
        out = tmp_path / f"speech{next(counter)}.raw"
        synthesise(text, voice, tempo, pitch, out)
        return out.read_bytes()

    return run


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``slow`` tests unless HAVEN_SLOW_TESTS=1 or ``-m`` names them."""
    if os.environ.get("HAVEN_SLOW_TESTS") == "1" or "slow" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="slow; set HAVEN_SLOW_TESTS=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)

"""A bank of ordinary synthetic speech, generated reproducibly with flite and sox at install time.

Run ``python -m server.safeword.bank`` once after installing (needs Debian's ``flite`` and ``sox``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from server.safeword.corpus import mixed_sentences
from server.safeword.model import SpeechModel
from server.safeword.spotter import SAMPLE_RATE

logger = logging.getLogger(__name__)

BANK_VERSION = 2
"""Bumped whenever generation changes, so an old cache is rebuilt."""
VOICES = ("awb", "rms", "slt", "kal16", "kal")
"""flite's built-in voices (awb, rms and slt are CMU ARCTIC speakers)."""
TEMPOS = (0.85, 0.95, 1.0, 1.1, 1.2)
"""Speaking-rate changes applied with sox ``tempo``."""
PITCHES = (-200, 0, 0, 150)
"""Pitch shifts in cents applied with sox ``pitch``, for more voice variety."""
SEEDS = {"calibration": 1, "heldout": 2}
"""Named banks: thresholds are calibrated on one and benchmarked on the other."""


@dataclass(frozen=True)
class BankSpec:
    """What a bank contains; the same spec always produces the same bank."""

    seed: int
    """Seed of the sentence and voice choices."""
    hours: float
    """Minimum hours of speech."""
    word_share: float = 0.15
    """Share of sentences that are strings of dictionary words rather than templates."""
    version: int = BANK_VERSION
    """Generation version."""


@dataclass(frozen=True)
class Utterance:
    """One sentence in the bank."""

    file: str
    """File name, relative to the bank directory (16 kHz mono s16, headerless)."""
    text: str
    """What was said."""
    voice: str
    """flite voice."""
    tempo: float
    """sox tempo factor."""
    pitch: int
    """sox pitch shift in cents."""
    seconds: float
    """Duration."""


@dataclass(frozen=True)
class SpeechBank:
    """A generated bank on disk."""

    directory: Path
    """Where its files are."""
    utterances: tuple[Utterance, ...]
    """Every sentence."""

    @property
    def hours(self) -> float:
        """Total hours of audio."""
        return sum(u.seconds for u in self.utterances) / 3600

    def pcm(self, utterance: Utterance) -> bytes:
        """Return one utterance's 16 kHz mono s16 audio."""
        return (self.directory / utterance.file).read_bytes()


def bank_root(environ: Mapping[str, str]) -> Path:
    """Return the cache directory for banks: $HAVEN_SPEECH_BANK or ~/.cache/haven/speech-bank."""
    configured = environ.get("HAVEN_SPEECH_BANK")
    if configured:
        return Path(configured)
    return Path(environ.get("HOME", "~")).expanduser() / ".cache" / "haven" / "speech-bank"


def load_bank(directory: Path) -> SpeechBank:
    """Load a bank built by ``build_bank``; raise FileNotFoundError with advice if missing."""
    manifest = directory / "manifest.json"
    if not manifest.is_file():
        raise FileNotFoundError(
            f"No speech bank at {directory}. Build it once with `python -m server.safeword.bank`."
        )
    data = json.loads(manifest.read_text(encoding="utf-8"))
    return SpeechBank(directory, tuple(Utterance(**u) for u in data["utterances"]))


def synthesise(text: str, voice: str, tempo: float, pitch: int, out: Path) -> float:
    """Speak ``text`` with flite and write 16 kHz mono s16 raw audio; return its duration."""
    with tempfile.TemporaryDirectory(prefix="haven-tts-") as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(  # noqa: S603 - fixed argument list, no shell; text is ours
            [_tool("flite"), "-voice", voice, "-t", text, "-o", str(wav)],
            check=True, capture_output=True,
        )
        effects = ["tempo", "-s", f"{tempo}"] if tempo != 1.0 else []
        effects += ["pitch", str(pitch)] if pitch else []
        subprocess.run(  # noqa: S603 - fixed argument list, no shell; text is ours
            [_tool("sox"), "-D", str(wav), "-t", "raw", "-r", str(SAMPLE_RATE), "-c", "1",
             "-b", "16", "-e", "signed-integer", str(out), *effects],
            check=True, capture_output=True,
        )
    return out.stat().st_size / 2 / SAMPLE_RATE


def build_bank(directory: Path, spec: BankSpec, workers: int = 2) -> SpeechBank:
    """Generate the bank in ``directory`` unless an identical one is already there."""
    manifest = directory / "manifest.json"
    if manifest.is_file():
        data = json.loads(manifest.read_text(encoding="utf-8"))
        if data.get("spec") == asdict(spec):
            return load_bank(directory)
    directory.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    plans = _plans(spec)
    utterances: list[Utterance] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while sum(u.seconds for u in utterances) < spec.hours * 3600:
            batch = [next(plans) for _ in range(workers * 8)]
            utterances += pool.map(lambda plan: _make(directory, plan), batch)
    manifest.write_text(
        json.dumps({"spec": asdict(spec), "utterances": [asdict(u) for u in utterances]}),
        encoding="utf-8",
    )
    bank = SpeechBank(directory, tuple(utterances))
    logger.info("built %.2f h speech bank in %.0f s", bank.hours, time.monotonic() - started)
    return bank


def _plans(spec: BankSpec) -> Iterator[Utterance]:
    rng = random.Random(spec.seed)
    vocabulary = sorted(
        w for w in SpeechModel.bundled().load_pronunciations() if w.isalpha() and 3 <= len(w) <= 10
    )
    sentences = mixed_sentences(spec.seed, vocabulary, spec.word_share)
    for index in range(sys.maxsize):
        yield Utterance(
            file=f"u{index:05d}.raw", text=next(sentences), voice=rng.choice(VOICES),
            tempo=rng.choice(TEMPOS), pitch=rng.choice(PITCHES), seconds=0.0,
        )


def _make(directory: Path, plan: Utterance) -> Utterance:
    seconds = synthesise(plan.text, plan.voice, plan.tempo, plan.pitch, directory / plan.file)
    return Utterance(plan.file, plan.text, plan.voice, plan.tempo, plan.pitch, round(seconds, 3))


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"`{name}` is not installed; run `apt-get install flite sox`.")
    return path


def main(argv: list[str]) -> int:
    """Build the named speech banks (calibration, and heldout for the benchmark)."""
    parser = argparse.ArgumentParser(prog="python -m server.safeword.bank", description=__doc__)
    parser.add_argument("--root", type=Path, default=bank_root(os.environ))
    parser.add_argument("--hours", type=float, default=2.05)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    # Checked here, not with ``choices``: Python 3.11's argparse refuses an empty list against them.
    parser.add_argument("names", nargs="*", help="calibration (the default) and/or heldout")
    args = parser.parse_args(argv)
    if unknown := sorted(set(args.names) - SEEDS.keys()):
        parser.error(f"unknown bank {', '.join(unknown)}; choose from {', '.join(sorted(SEEDS))}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name in args.names or ["calibration"]:
        bank = build_bank(args.root / name, BankSpec(SEEDS[name], args.hours), args.workers)
        print(f"{name}: {len(bank.utterances)} sentences, {bank.hours:.2f} h at {bank.directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

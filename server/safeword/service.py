"""One object per app holding the spoken safe-word resources: model, dictionary, word list, pool."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from server.safeword.bank import load_bank
from server.safeword.calibrate import Calibration, calibrate
from server.safeword.model import Pronunciations, SpeechModel, load_common_words
from server.safeword.monitor import OnDetect, SpokenMonitor
from server.safeword.pool import SpottingPool
from server.safeword.spotter import SpotterRecipe, SpotterSettings
from signals.spoken_phrase import PhraseProblem, check_phrase, phrase_words

logger = logging.getLogger(__name__)


class SafeWordService:
    """Checks and calibrates phrases and creates per-client monitors sharing one pool."""

    def __init__(
        self,
        model: SpeechModel,
        pronunciations: Pronunciations,
        common_words: frozenset[str],
        pool: SpottingPool,
        bank_dir: Path,
    ) -> None:
        """Wrap already-loaded resources (use ``load`` to read them from disk)."""
        self.model = model
        self.pronunciations = pronunciations
        self.common_words = common_words
        self.pool = pool
        self.bank_dir = bank_dir

    @classmethod
    def load(cls, bank_dir: Path, workers: int = 2) -> SafeWordService:
        """Read the bundled model and dictionary (about a second) and start the worker processes."""
        model = SpeechModel.bundled()
        return cls(model, model.load_pronunciations(), load_common_words(),
                   SpottingPool(workers), bank_dir)

    def check(self, phrase: str) -> list[PhraseProblem]:
        """Return the problems with a proposed phrase, in plain words."""
        return check_phrase(phrase, self.pronunciations, self.common_words)

    async def calibrate(self, phrase: str) -> Calibration:
        """Calibrate the phrase's threshold on the speech bank without blocking the loop."""
        bank = await asyncio.to_thread(load_bank, self.bank_dir)
        return await asyncio.to_thread(
            calibrate, phrase, bank, self.pronunciations, self.model
        )

    def monitor(self, phrase: str, threshold: float, on_detect: OnDetect) -> SpokenMonitor:
        """Create a monitor for one client's phrase; call from the event loop."""
        recipe = SpotterRecipe.of(
            phrase_words(phrase), self.pronunciations, self.model,
            SpotterSettings(threshold=threshold),
        )
        return SpokenMonitor(recipe, self.pool, on_detect)

    def close(self) -> None:
        """Stop the pool; monitors still open stop being served."""
        self.pool.close()

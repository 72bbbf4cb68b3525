"""Spoken safe word: offline keyword spotting of a client's phrase in their inbound audio."""

from __future__ import annotations

from server.safeword.bank import SpeechBank, bank_root, load_bank
from server.safeword.calibrate import Calibration, calibrate
from server.safeword.model import SpeechModel, load_common_words
from server.safeword.monitor import OnDetect, SpokenMonitor
from server.safeword.pool import SpottingPool
from server.safeword.service import SafeWordService
from server.safeword.spotter import Detection, Spotter, SpotterRecipe, SpotterSettings

__all__ = [
    "Calibration",
    "Detection",
    "OnDetect",
    "SafeWordService",
    "SpeechBank",
    "SpeechModel",
    "SpokenMonitor",
    "Spotter",
    "SpotterRecipe",
    "SpotterSettings",
    "SpottingPool",
    "bank_root",
    "calibrate",
    "load_bank",
    "load_common_words",
]
